"""Lambda cold start: the artifact for this machine's Python (`scripts/package_lambda.py --local`), unzipped
and run by a bare interpreter (`python -I -S -B deploy/aws/smoke.py`), as Lambda runs a new container:
import the handler module, answer the first /client-data event (settings and database, then app, Mangum
and the answer, each timed), then the first /retrieve event (loads the embedding model). Each run is a fresh
process and a fresh database. `-B`: like Lambda's read-only code folder, nothing compiled during a run is
kept for the next, so the bytecode is what the artifact ships (see scripts/package_lambda.py).

Configured as the SAM template configures the HTTP function: the settings secret (keys and database URL,
read from Secrets Manager at cold start), s3:// blobs and the sqs:// queue, all on a local AWS API (moto
server on 127.0.0.1, the `aws` test extra), so the greeting figure includes what AWS configuration costs.
The database stays SQLite in a scratch dir (the template's is PostgreSQL: not measured here).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDA_ZIP = ROOT / "build" / "lambda" / "agentic-memory-lambda-py312-x86_64.zip"
REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep botocore from looking for real ones.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
               "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
SMOKE_KEYS = {"ELEVENLABS_WORKSPACE_KEY": "amk_smoke_workspace_key_0123456789abcdef",  # what smoke.py signs with
              "ELEVENLABS_HMAC_KEY": "wsec_smoke_hmac_key_0123456789abcdefghij"}


@contextmanager
def local_aws() -> Iterator[Callable[[Path], dict[str, str]]]:
    """A moto server on 127.0.0.1; yields a function that makes one run's bucket, queue (with its DLQ) and
    settings secret and returns the HTTP function's environment, as the SAM template sets it."""
    import botocore.session
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server.start()

    def environment(scratch: Path) -> dict[str, str]:
        name = f"am-bench-{uuid.uuid4().hex[:12]}"
        session = botocore.session.get_session()
        session.set_credentials(CREDENTIALS["AWS_ACCESS_KEY_ID"], CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

        def client(service: str) -> Any:
            return session.create_client(service, endpoint_url=url, region_name=REGION)

        s3, sqs = client("s3"), client("sqs")
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})
        secret = client("secretsmanager").create_secret(
            Name=name, SecretString=json.dumps({**SMOKE_KEYS,
                                                "AGENTIC_MEMORY_DATABASE_URL": f"sqlite:///{scratch}/am.sqlite3"}))
        return {**CREDENTIALS, "AGENTIC_MEMORY_SECRET_ARN": secret["ARN"], "AGENTIC_MEMORY_BLOB_URL": f"s3://{name}/am",
                "AGENTIC_MEMORY_QUEUE_URL": f"sqs://{name}", "AGENTIC_MEMORY_AWS_ENDPOINT_URL": url,
                "PATH": os.environ.get("PATH", "")}

    try:
        yield environment
    finally:
        server.stop()


def run(*, runs: int = 5, log: Callable[[str], None] = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="agentic-bench-aws-") as tmp:
        artifact = Path(tmp) / "lambda.zip"
        log("   building the local Lambda artifact")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "package_lambda.py"), "--local", "--out",
                        str(artifact)], check=True, capture_output=True, timeout=600)
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(artifact) as archive:
            archive.extractall(unpacked)
            unpacked_mb = sum(i.file_size for i in archive.infolist()) / 2**20
        bare = getattr(sys, "_base_executable", sys.executable)
        samples = []
        with local_aws() as environment:
            for i in range(runs):
                scratch = Path(tmp) / f"scratch{i}"
                scratch.mkdir()
                out = subprocess.run([bare, "-I", "-S", "-B", str(ROOT / "deploy" / "aws" / "smoke.py"),
                                      str(unpacked), str(scratch)], check=False, capture_output=True, text=True,
                                     timeout=300, env=environment(scratch))
                if out.returncode:
                    raise RuntimeError(f"smoke.py failed: {out.stderr[-2000:]}")
                samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
                s = samples[-1]
                if s["statuses"] != [200, 200, 200, 200] or not s["worker_ran"]:
                    raise RuntimeError(f"smoke.py: unexpected answers {s['statuses']}, worker ran {s['worker_ran']}")
                log(f"   run {i + 1}: import {s['import_ms']} ms, first /client-data {s['first_client_data_ms']} ms "
                    f"(deps {s['deps_ms']} + app and answer {s['app_and_answer_ms']}), first /retrieve "
                    f"{s['first_retrieve_ms']} ms; boto3 imported by the greeting: {s['boto3_imported_by_greeting']}, "
                    f"S3/SQS clients made: {s['aws_clients_made_by_greeting']}")
        warm = samples[1:] or samples  # the first run reads the files from disk

        def median(key: str) -> float:
            return round(statistics.median(s[key] for s in warm), 1)

        return {"runs": samples, "import_ms": median("import_ms"),
                "first_client_data_ms": median("first_client_data_ms"), "deps_ms": median("deps_ms"),
                "app_and_answer_ms": median("app_and_answer_ms"),
                "first_retrieve_ms": median("first_retrieve_ms"),
                "greeting_cold_start_ms": round(median("import_ms") + median("first_client_data_ms"), 1),
                "boto3_imported_by_greeting": any(s["boto3_imported_by_greeting"] for s in samples),
                "aws_clients_made_by_greeting": samples[-1]["aws_clients_made_by_greeting"],
                "local_zip_mb": round(artifact.stat().st_size / 2**20, 1), "local_unpacked_mb": round(unpacked_mb, 1),
                "lambda_zip_mb": round(LAMBDA_ZIP.stat().st_size / 2**20, 1) if LAMBDA_ZIP.exists() else None}
