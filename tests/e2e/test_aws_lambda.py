"""The whole AWS path on this machine: API Gateway v2 events (plain and base64 bodies, root and /Prod/
paths) into the HTTP Lambda handler; SQS messages received from a local AWS API (moto server) into the
worker Lambda handler; state in PostgreSQL, files and webhook bodies in S3, settings from Secrets Manager,
audio fetched from a fake ElevenLabs."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from agentic_memory.adapters.aws import handlers
from agentic_memory.adapters.aws.sqs_queue import inbox_key
from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign
from tests.aws_events import FakeElevenLabs, http_event, response_body, sqs_event
from tests.conftest import HMAC_KEY, WORKSPACE_KEY

CALLER = "+14155550123"
MAX_RECEIVES = 2
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_elevenlabs() -> Iterator[FakeElevenLabs]:
    fake = FakeElevenLabs()
    yield fake
    fake.close()


@pytest.fixture
def lambda_env(aws_server: Any, pg_url: str, fake_elevenlabs: FakeElevenLabs,
               monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[dict[str, Any]]:
    bucket = aws_server.bucket()
    queue, dlq = aws_server.queues(max_receives=MAX_RECEIVES)
    secret = aws_server.client("secretsmanager").create_secret(Name=f"am-{queue}", SecretString=json.dumps({
        "ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
        "AGENTIC_MEMORY_DATABASE_URL": pg_url, "ELEVENLABS_API_KEY": "xi_test_api_key_0123456789"}))
    for name, value in {"AGENTIC_MEMORY_SECRET_ARN": secret["ARN"], "AGENTIC_MEMORY_BLOB_URL": f"s3://{bucket}/am",
                        "AGENTIC_MEMORY_QUEUE_URL": f"sqs://{queue}", "AGENTIC_MEMORY_AWS_ENDPOINT_URL": aws_server.url,
                        "AGENTIC_MEMORY_FETCH_AUDIO": "true", "AGENTIC_MEMORY_MAX_ATTEMPTS": str(MAX_RECEIVES),
                        "AGENTIC_MEMORY_ELEVENLABS_API_URL": fake_elevenlabs.url,
                        "AGENTIC_MEMORY_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    sqs = aws_server.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    env = {"s3": aws_server.client("s3"), "bucket": bucket, "sqs": sqs, "queue_url": queue_url,
           "dlq_url": sqs.get_queue_url(QueueName=dlq)["QueueUrl"],
           "arn": f"arn:aws:sqs:us-east-1:123456789012:{queue}"}
    handlers._built.clear()
    yield env
    if "deps" in handlers._built:
        handlers._built["deps"].close()
    handlers._built.clear()


def call(path: str, payload: Any, *, base64_body: bool, signed: bool = False) -> tuple[int, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"elevenlabs-signature": sign(raw, HMAC_KEY)} if signed else {"x-workspace-key": WORKSPACE_KEY}
    response = handlers.http_handler(http_event(path, raw, headers, base64_body=base64_body), None)
    return response["statusCode"], orjson.loads(response_body(response))


def deliver(env: dict[str, Any]) -> list[str]:
    """What Lambda's SQS event source does: receive a batch, invoke the worker, delete what succeeded.
    Returns the failed message ids (made visible again at once, so the test need not wait)."""
    messages = env["sqs"].receive_message(QueueUrl=env["queue_url"], MaxNumberOfMessages=10, VisibilityTimeout=60,
                                          MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    if not messages:
        return []
    result = handlers.worker_handler(sqs_event(messages, env["arn"]), None)
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] in failed:
            env["sqs"].change_message_visibility(QueueUrl=env["queue_url"], ReceiptHandle=message["ReceiptHandle"],
                                                 VisibilityTimeout=0)
        else:
            env["sqs"].delete_message(QueueUrl=env["queue_url"], ReceiptHandle=message["ReceiptHandle"])
    return sorted(failed)


def count(env: dict[str, Any], url_key: str) -> int:
    attributes = env["sqs"].get_queue_attributes(QueueUrl=env[url_key], AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def transcription(conversation_id: str) -> dict[str, Any]:
    return builders.transcription(conversation_id=conversation_id, caller=CALLER, start_time=1767225600, turns=[
        ("agent", "Hi, thanks for calling. Who am I speaking with?"),
        ("user", "Hi, this is Maria. I'm allergic to peanuts and I prefer oat milk in my coffee.")])


def test_the_whole_aws_path(lambda_env: dict[str, Any], fake_elevenlabs: FakeElevenLabs) -> None:
    env = lambda_env
    status, body = call("/client-data", {"caller_id": CALLER, "agent_id": "a", "called_number": "+1",
                                         "call_sid": "CA1"}, base64_body=False)
    assert status == 200
    assert "Maria" not in json.dumps(body)
    assert handlers.deps().embedder.loaded is False  # type: ignore[attr-defined]  # a greeting loads no model
    health = handlers.http_handler(http_event("/health", b"", {}, base64_body=False, method="GET"), None)
    assert health["statusCode"] == 200, response_body(health)  # database, S3 and both queues answer

    fake_elevenlabs.audio["conv_aws_1"] = builders.FAKE_MP3
    payload = transcription("conv_aws_1")
    status, body = call("/Prod/post-call", payload, base64_body=True, signed=True)
    assert (status, body) == (200, {"status": "ok"})
    stored = env["s3"].get_object(Bucket=env["bucket"], Key="am/" + inbox_key("post_call_transcription", "conv_aws_1"))
    assert stored["Body"].read() == json.dumps(payload).encode()  # the exact bytes, stored before the 200
    assert stored["ServerSideEncryption"] == "AES256"

    assert deliver(env) == []
    assert count(env, "queue_url") == 0
    audio = env["s3"].get_object(Bucket=env["bucket"], Key="am/calls/conv_aws_1/audio.mp3")["Body"].read()
    assert audio == builders.FAKE_MP3
    assert fake_elevenlabs.keys == ["xi_test_api_key_0123456789"]
    keys = [o["Key"] for o in env["s3"].list_objects_v2(Bucket=env["bucket"])["Contents"]]
    assert not any(CALLER.lstrip("+") in key for key in keys)  # no phone number in any object key

    status, body = call("/retrieve", {"query": "what is the caller allergic to", "user_id": CALLER},
                        base64_body=True)
    assert status == 200
    assert any("peanut" in m["memory"].lower() for m in body["memories"])
    status, body = call("/Prod/client-data", {"caller_id": CALLER, "agent_id": "a", "called_number": "+1",
                                              "call_sid": "CA2"}, base64_body=False)
    assert status == 200
    assert body["dynamic_variables"]["caller_name"] == "Maria"
    calls_before = body["dynamic_variables"]

    # A duplicate webhook (ElevenLabs retried): 200, and nothing changes.
    status, _ = call("/post-call", payload, base64_body=False, signed=True)
    assert status == 200
    assert deliver(env) == []
    status, body = call("/client-data", {"caller_id": CALLER, "agent_id": "a", "called_number": "+1",
                                         "call_sid": "CA3"}, base64_body=True)
    assert body["dynamic_variables"] == calls_before

    # A forged webhook is refused through Lambda too.
    raw = json.dumps(transcription("conv_forged")).encode()
    forged = http_event("/post-call", raw, {"elevenlabs-signature": sign(raw, "wsec_not_the_key_0123456789abc")},
                        base64_body=True)
    assert handlers.http_handler(forged, None)["statusCode"] == 401


@pytest.mark.usefixtures("lambda_env")
def test_storage_down_at_cold_start_is_a_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTIC_MEMORY_AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    raw = json.dumps(transcription("conv_down")).encode()
    response = handlers.http_handler(http_event("/post-call", raw, {"elevenlabs-signature": sign(raw, HMAC_KEY)},
                                                base64_body=True), None)
    assert response["statusCode"] == 503


def test_a_failed_job_stays_queued_and_a_poison_one_ends_in_the_dlq(lambda_env: dict[str, Any],
                                                                    fake_elevenlabs: FakeElevenLabs) -> None:
    env = lambda_env
    fake_elevenlabs.failing.add("conv_aws_2")
    assert call("/post-call", transcription("conv_aws_2"), base64_body=True, signed=True)[0] == 200
    assert len(deliver(env)) == 1  # the audio fetch failed: reported, not deleted
    assert count(env, "queue_url") == 1
    assert count(env, "dlq_url") == 0
    fake_elevenlabs.failing.clear()
    fake_elevenlabs.audio["conv_aws_2"] = builders.FAKE_MP3
    assert deliver(env) == []  # the retry succeeds (the transcript itself was saved once)
    assert count(env, "queue_url") == 0

    # Poison that keeps failing: after MAX_RECEIVES receives SQS moves it to the DLQ.
    fake_elevenlabs.failing.add("conv_aws_3")
    assert call("/post-call", transcription("conv_aws_3"), base64_body=False, signed=True)[0] == 200
    for _ in range(MAX_RECEIVES):
        assert len(deliver(env)) == 1
    assert deliver(env) == []
    assert count(env, "queue_url") == 0
    assert count(env, "dlq_url") == 1

    # An unusable message (its body is missing) goes to the DLQ at once, with the reason.
    env["sqs"].send_message(QueueUrl=env["queue_url"], MessageBody=json.dumps(
        {"v": 1, "key": "inbox/post_call_transcription/missing.json", "event_type": "post_call_transcription",
         "conversation_id": "missing", "received_at": "2026-01-01T00:00:00+00:00"}))
    assert deliver(env) == []
    assert count(env, "dlq_url") == 2
    queue = handlers.deps().queue
    letters = queue.dead_letters()
    assert {letter.conversation_id for letter in letters} <= {"conv_aws_3", "missing"}
    assert queue.redrive() == 2
    assert count(env, "dlq_url") == 0
    assert count(env, "queue_url") == 2


# A fresh interpreter (this one has imported everything already): import the HTTP handler, answer one
# /client-data event, list what got imported.
GREET_ONLY = """
import json, sys
from agentic_memory.adapters.aws import handlers
from tests.aws_events import http_event
body = json.dumps({"caller_id": "+14155550123", "agent_id": "a", "called_number": "+1", "call_sid": "CA1"}).encode()
event = http_event("/Prod/client-data", body, {"x-workspace-key": sys.argv[1]}, base64_body=False)
status = handlers.http_handler(event, None)["statusCode"]
made = [handlers.deps().blobs.s3.made, handlers.deps().queue.sqs.made]
print(json.dumps({"status": status, "modules": sorted(sys.modules), "s3_sqs_clients_made": made}))
"""
# What a container that only greets callers must not load: the embedding stack (numpy alone is ~0.2 s of
# a cold start), the worker's, the operator surfaces API Gateway does not route to Lambda, and boto3 (the
# settings secret is read with a single botocore client; the S3 and SQS clients wait for the first webhook).
NOT_FOR_A_GREETING = ("numpy", "onnxruntime", "tokenizers", "agentic_memory.adapters.embeddings.onnx",
                      "agentic_memory.adapters.embeddings.batching", "agentic_memory.services.process_call",
                      "agentic_memory.worker", "agentic_memory.http.admin", "agentic_memory.http.dashboard.routes",
                      "agentic_memory.http.proxy", "jinja2", "httpx", "boto3", "s3transfer")


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("lambda_env")  # its environment (PostgreSQL, S3, SQS, the secret) is the child's
def test_a_cold_start_that_only_greets_never_imports_the_embedding_stack() -> None:
    """Structural, not timed (`make bench` times it): the same PostgreSQL, S3, SQS and secret as above."""
    result = subprocess.run([sys.executable, "-c", GREET_ONLY, WORKSPACE_KEY], capture_output=True, text=True,
                            timeout=150, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 200
    assert report["s3_sqs_clients_made"] == [False, False]  # nor any S3 or SQS call
    loaded = [name for name in report["modules"] if name.split(".")[0] in NOT_FOR_A_GREETING
              or name in NOT_FOR_A_GREETING]
    assert loaded == []
