"""Answer API Gateway events from an unpacked Lambda artifact alone, timing the cold start.

    python -I -S deploy/aws/smoke.py <unpacked artifact> <scratch dir>

`-I -S`: no environment variables, no user or site packages, so everything beyond the standard library
must come from the artifact (a broken package cannot pass on the dev environment's back). State is
SQLite and files in the scratch dir (this checks the package, not AWS). Prints one JSON line.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time

PACKAGE, SCRATCH = sys.argv[1], sys.argv[2]
sys.path.insert(0, PACKAGE)
WORKSPACE_KEY = "amk_smoke_workspace_key_0123456789abcdef"
HMAC_KEY = "wsec_smoke_hmac_key_0123456789abcdefghij"
os.environ.update({"AGENTIC_MEMORY_DATA_DIR": SCRATCH, "AGENTIC_MEMORY_LOG_LEVEL": "WARNING",
                   "ORT_DISABLE_TELEMETRY": "1"})
if not os.environ.get("AGENTIC_MEMORY_SECRET_ARN"):
    # Alone. With the SAM template's configuration (bench/aws.py: the settings secret, s3:// blobs and the
    # sqs:// queue on a local AWS API), the keys and the database URL come from the secret instead.
    os.environ.update({"ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
                       "AGENTIC_MEMORY_DATABASE_URL": f"sqlite:///{SCRATCH}/am.sqlite3",
                       "AGENTIC_MEMORY_BLOB_URL": f"file://{SCRATCH}/files"})


def event(path: str, body: bytes, headers: dict[str, str], *, b64: bool) -> dict[str, object]:
    return {"version": "2.0", "routeKey": f"POST {path}", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": "abc.execute-api.us-east-1.amazonaws.com",
                        **headers},
            "requestContext": {"accountId": "123456789012", "apiId": "abc", "domainName": "abc.example",
                               "domainPrefix": "abc", "requestId": "r", "routeKey": f"POST {path}",
                               "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0,
                               "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "203.0.113.9", "userAgent": "smoke"}},
            "body": base64.b64encode(body).decode() if b64 else body.decode(), "isBase64Encoded": b64}


def answer(handler: object, path: str, payload: object, headers: dict[str, str], *, b64: bool) -> tuple[int, object]:
    raw = json.dumps(payload).encode()
    if "elevenlabs-signature" in headers:
        from agentic_memory.elevenlabs.signature import sign

        headers = {"elevenlabs-signature": sign(raw, HMAC_KEY)}
    response = handler(event(path, raw, headers, b64=b64), None)  # type: ignore[operator]
    body = response["body"]
    body = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
    return response["statusCode"], json.loads(body)


def main() -> None:
    started = time.perf_counter()
    from agentic_memory.adapters.aws import handlers

    imported = time.perf_counter()
    handlers.deps()  # what the first event builds first (settings, database), timed apart
    built = time.perf_counter()
    key = {"x-workspace-key": WORKSPACE_KEY}
    caller = "+14155550123"
    greet = {"caller_id": caller, "agent_id": "a", "called_number": "+1", "call_sid": "CA1"}
    first_status, _ = answer(handlers.http_handler, "/Prod/client-data", greet, key, b64=False)
    greeted = time.perf_counter()
    greeting_modules = set(sys.modules)
    aws_clients_made = [getattr(client, "made", True) for client in  # None: no S3 or SQS configured
                        (getattr(handlers.deps().blobs, "s3", None), getattr(handlers.deps().queue, "sqs", None))
                        if client is not None]
    model_loaded_by_greeting = handlers.deps().embedder.loaded  # type: ignore[attr-defined]
    cold_status, _ = answer(handlers.http_handler, "/retrieve", {"query": "allergies", "user_id": caller},
                            key, b64=True)
    retrieved = time.perf_counter()  # the first /retrieve of a container: loads the model
    from agentic_memory.elevenlabs import builders

    webhook = builders.transcription(conversation_id="conv_smoke_1", caller=caller, start_time=1767225600, turns=[
        ("agent", "Who am I speaking with?"), ("user", "This is Maria, I'm allergic to peanuts.")])
    post_status, _ = answer(handlers.http_handler, "/post-call", webhook, {"elevenlabs-signature": ""}, b64=True)
    ran = handlers.deps().make_worker().run_once()
    retrieve_status, found = answer(handlers.http_handler, "/retrieve", {"query": "allergies", "user_id": caller},
                                    key, b64=True)
    _, card = answer(handlers.http_handler, "/client-data", greet, key, b64=True)
    embedding_stack = sorted(name for name in greeting_modules
                             if name.split(".")[0] in ("numpy", "onnxruntime", "tokenizers")
                             or name.startswith("agentic_memory.adapters.embeddings.onnx"))
    outside = sorted({name.split(".")[0] for name, module in list(sys.modules.items())
                      if getattr(module, "__file__", None) and not str(module.__file__).startswith(PACKAGE)
                      and "site-packages" in str(module.__file__)})
    print(json.dumps({"import_ms": round((imported - started) * 1000, 1),
                      "first_client_data_ms": round((greeted - imported) * 1000, 1),
                      "deps_ms": round((built - imported) * 1000, 1),  # part of the first /client-data
                      "app_and_answer_ms": round((greeted - built) * 1000, 1),  # the rest of it
                      "first_retrieve_ms": round((retrieved - greeted) * 1000, 1),
                      "statuses": [first_status, cold_status, post_status, retrieve_status], "worker_ran": ran,
                      "model_loaded_by_greeting": model_loaded_by_greeting,
                      "imported_by_greeting": embedding_stack,  # numpy, onnxruntime, the embedder module
                      "boto3_imported_by_greeting": "boto3" in greeting_modules,
                      "aws_clients_made_by_greeting": aws_clients_made,  # S3, SQS (when configured)
                      "found": [m["memory"] for m in found["memories"]],  # type: ignore[index]
                      "caller_name": card["dynamic_variables"].get("caller_name"),  # type: ignore[index]
                      "site_packages_outside_artifact": outside}))


main()
