"""The AWS adapters against a local AWS API (moto server) through real boto3: S3 erasure of every version
past the 1,000-keys-per-call limit, encryption on every object, errors translated to ours; the SQS queue's
ack, idempotency, leases, dead letters and redrive."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from agentic_memory.adapters.aws.clients import LazyClient, client
from agentic_memory.adapters.aws.s3_blobs import S3BlobStore
from agentic_memory.adapters.aws.sqs_queue import SqsJobQueue, inbox_key
from agentic_memory.bootstrap import open_blobs
from agentic_memory.errors import ConfigurationError, StorageError
from tests.aws_server import free_port
from tests.conftest import make_settings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def s3_store(aws_server):
    return S3BlobStore(aws_server.client("s3"), aws_server.bucket(), "am")


@pytest.fixture
def sqs_queue(aws_server, s3_store):
    name, _ = aws_server.queues(max_receives=3)
    # As bootstrap makes it: the client and the queue URL come on first use.
    queue = SqsJobQueue(LazyClient("sqs", endpoint_url=aws_server.url), "", s3_store, queue_name=name)
    yield queue
    queue.close()


def all_versions(store: S3BlobStore) -> list[dict]:
    pages = store.s3.get_paginator("list_object_versions").paginate(Bucket=store.bucket)
    return [v for page in pages for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]]


def test_erasure_deletes_every_version_past_the_1000_key_limit(s3_store):
    def two_versions(i: int) -> None:
        s3_store.put(f"calls/c1/part{i}.json", b"a")
        s3_store.put(f"calls/c1/part{i}.json", b"b")

    with ThreadPoolExecutor(8) as pool:  # 1,040 versions: erasure needs two DeleteObjects calls
        list(pool.map(two_versions, range(520)))
    s3_store.s3.delete_object(Bucket=s3_store.bucket, Key="am/calls/c1/part0.json")  # a delete marker
    s3_store.put("calls/keep/audio.mp3", b"kept")
    assert s3_store.delete_prefix("calls/c1") == 1041
    left = all_versions(s3_store)
    assert [v["Key"] for v in left] == ["am/calls/keep/audio.mp3"]


def test_objects_are_encrypted_and_keys_are_prefixed(s3_store):
    s3_store.put("calls/c1/audio.mp3", b"mp3")
    head = s3_store.s3.head_object(Bucket=s3_store.bucket, Key="am/calls/c1/audio.mp3")
    assert head["ServerSideEncryption"] == "AES256"
    assert s3_store.put_new("calls/c1/audio.mp3", b"other") is False
    assert s3_store.get("calls/c1/audio.mp3") == b"mp3"


def test_errors_are_translated(aws_server):
    missing_bucket = S3BlobStore(aws_server.client("s3"), "no-such-bucket-am", "")
    with pytest.raises(StorageError):
        missing_bucket.put("calls/c1/a.json", b"x")
    with pytest.raises(StorageError):
        missing_bucket.ping()
    down = S3BlobStore(client("s3", endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1"), "b", "")
    with pytest.raises(StorageError):
        down.get("calls/c1/a.json")


def test_bootstrap_chooses_s3_from_the_blob_url(aws_server, tmp_path):
    bucket = aws_server.bucket()
    settings = make_settings(tmp_path, blob_url=f"s3://{bucket}/p/q", aws_endpoint_url=aws_server.url)
    store = open_blobs(settings)
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == (bucket, "p/q")
    store.ping()
    with pytest.raises(ConfigurationError, match="sse"):
        open_blobs(make_settings(tmp_path, blob_url=f"s3://{bucket}/p?sse=none"))


def test_accept_stores_the_body_before_it_resolves_and_repeats_change_nothing(sqs_queue, s3_store):
    body = b'{"type": "post_call_transcription", "data": {"conversation_id": "conv_1"}}'
    assert sqs_queue.accept(event_type="post_call_transcription", conversation_id="conv_1", body=body,
                            received_at=T0).result(timeout=10) is True
    assert s3_store.get(inbox_key("post_call_transcription", "conv_1")) == body
    assert sqs_queue.accept(event_type="post_call_transcription", conversation_id="conv_1", body=b"changed",
                            received_at=T0).result(timeout=10) is False
    assert s3_store.get(inbox_key("post_call_transcription", "conv_1")) == body
    job = sqs_queue.claim(worker="w", now=T0, lease_secs=30)
    assert job is not None
    assert job.body == body
    assert job.conversation_id == "conv_1"
    assert job.attempts == 1
    assert sqs_queue.complete(job.id, lease=job.lease)


def test_clients_and_the_queue_url_come_on_first_use_once_across_threads(aws_server, s3_store):
    name, _ = aws_server.queues()
    sqs = LazyClient("sqs", endpoint_url=aws_server.url)
    queue = SqsJobQueue(sqs, "", s3_store, queue_name=name)
    assert not sqs.made
    with ThreadPoolExecutor(8) as pool:
        urls = set(pool.map(lambda _: queue.queue_url, range(16)))
        clients = set(pool.map(lambda _: id(sqs.get()), range(16)))
    assert len(urls) == 1
    assert urls.pop().endswith(f"/{name}")
    assert len(clients) == 1
    queue.close()
    missing = SqsJobQueue(sqs, "", s3_store, queue_name="no-such-queue-am")
    with pytest.raises(StorageError, match="could not find the SQS queue"):
        missing.ping()
    missing.close()
    with pytest.raises(ValueError, match="queue URL or name"):
        SqsJobQueue(sqs, "", s3_store)


def test_a_client_without_a_region_fails_on_first_use_with_a_clear_error(monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    sqs = LazyClient("sqs")  # no AWS settings read yet
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        sqs.get_queue_url(QueueName="q")


def test_accept_fails_with_storage_error_when_aws_is_down(s3_store):
    down = client("sqs", endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1")
    queue = SqsJobQueue(down, "http://127.0.0.1:1/000000000000/none", s3_store)
    future = queue.accept(event_type="post_call_transcription", conversation_id="conv_2", body=b"{}",
                          received_at=T0)
    with pytest.raises(StorageError):
        future.result(timeout=60)
    queue.close()


def test_retry_hides_the_job_and_a_buried_job_can_be_inspected_and_redriven(sqs_queue):
    sqs_queue.accept(event_type="post_call_transcription", conversation_id="conv_3", body=b"{}",
                     received_at=T0).result(timeout=10)
    job = sqs_queue.claim(worker="w", now=T0, lease_secs=30)
    assert job is not None
    assert sqs_queue.retry(job.id, lease=job.lease, error="boom", run_after=datetime.now(UTC) + timedelta(seconds=30))
    assert sqs_queue.claim(worker="w", now=T0, lease_secs=30) is None  # hidden until run_after
    assert sqs_queue.stats().pending == 1
    sqs_queue.change_visibility(job.lease, 0)
    again = sqs_queue.claim(worker="w", now=T0, lease_secs=30)
    assert again is not None
    assert again.attempts == 2
    assert sqs_queue.bury(again.id, lease=again.lease, error="invalid payload: no data")
    assert sqs_queue.stats().dead == 1
    [letter] = sqs_queue.dead_letters()
    assert (letter.conversation_id, letter.error) == ("conv_3", "invalid payload: no data")
    assert sqs_queue.redrive() == 1
    assert sqs_queue.stats().dead == 0
    redriven = sqs_queue.claim(worker="w", now=T0, lease_secs=30)
    assert redriven is not None
    assert redriven.conversation_id == "conv_3"


def test_malformed_pointer_becomes_an_empty_job(sqs_queue):
    sqs_queue.send(json.dumps({"v": 1}))
    job = sqs_queue.claim(worker="w", now=T0, lease_secs=30)
    assert job is not None
    assert job.body == b""


def test_cli_lists_and_redrives_dead_letters(aws_server, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from agentic_memory.cli import app
    from tests.conftest import HMAC_KEY, WORKSPACE_KEY

    monkeypatch.chdir(tmp_path)  # no .env here
    bucket = aws_server.bucket()
    name, dlq = aws_server.queues()
    sqs = aws_server.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=dlq)["QueueUrl"], MessageBody=json.dumps(
        {"v": 1, "key": "inbox/x/conv_9.json", "event_type": "post_call_transcription", "conversation_id": "conv_9",
         "received_at": T0.isoformat()}))
    env = {"ELEVENLABS_WORKSPACE_KEY": WORKSPACE_KEY, "ELEVENLABS_HMAC_KEY": HMAC_KEY,
           "AGENTIC_MEMORY_DATA_DIR": str(tmp_path / "data"), "AGENTIC_MEMORY_BLOB_URL": f"s3://{bucket}/am",
           "AGENTIC_MEMORY_QUEUE_URL": f"sqs://{name}", "AGENTIC_MEMORY_AWS_ENDPOINT_URL": aws_server.url}
    listed = CliRunner().invoke(app, ["dead-letters"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "conv_9" in listed.output
    moved = CliRunner().invoke(app, ["dead-letters", "--redrive"], env=env)
    assert moved.exit_code == 0, moved.output
    assert "moved 1" in moved.output
    assert int(sqs.get_queue_attributes(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], AttributeNames=[
        "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]) == 1
