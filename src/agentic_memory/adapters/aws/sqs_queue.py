"""SqsJobQueue: the work queue on AWS. Bodies in S3, pointers in SQS, dead letters in the queue's DLQ.

`accept` (the webhook ack) writes the raw body to S3 under a key derived from (event type, conversation
id) with a conditional PUT, then sends a small pointer message; the future resolves only after both, so
the 200 follows durable storage. A repeat of an accepted webhook finds the object already there: it
changes nothing and still re-sends the pointer (the worker is idempotent per conversation), so a crash
between the PUT and the send of the first attempt cannot lose the call.

A message is a job: its receipt handle is the lease, its visibility timeout the lease expiry, its
receive count the attempts. After `maxReceiveCount` receives SQS itself moves it to the dead-letter queue
named in the queue's redrive policy; `bury` (an unusable payload) moves it there at once.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from agentic_memory.adapters.aws.clients import error_code, translated
from agentic_memory.adapters.aws.s3_blobs import S3BlobStore
from agentic_memory.domain.keys import safe_id
from agentic_memory.errors import StorageError
from agentic_memory.ports import DeadLetter, Job, QueueStats

MAX_VISIBILITY_SECS = 43_200  # SQS's limit (12 h)
GONE = frozenset({"ReceiptHandleIsInvalid", "InvalidParameterValue", "AWS.SimpleQueueService.NonExistentQueue"})


def inbox_key(event_type: str, conversation_id: str) -> str:
    return f"inbox/{safe_id(event_type)}/{safe_id(conversation_id)}.json"


def pointer(event_type: str, conversation_id: str, received_at: datetime) -> str:
    return json.dumps({"v": 1, "key": inbox_key(event_type, conversation_id), "event_type": event_type,
                       "conversation_id": conversation_id, "received_at": received_at.isoformat()})


def job_from_message(job_id: int, message: str, receive_count: int, lease: str, inbox: S3BlobStore) -> Job:
    """The job a pointer message names, its body read from S3. A malformed pointer or a missing body
    yields an empty body, which the worker refuses as an invalid payload (dead letter), not a retry loop."""
    try:
        data = json.loads(message)
        key, event_type, conversation_id = str(data["key"]), str(data["event_type"]), str(data["conversation_id"])
        received_at = datetime.fromisoformat(str(data["received_at"]))
    except (ValueError, KeyError, TypeError):
        return Job(job_id, "unknown", "unknown", b"", receive_count, datetime.now(UTC), lease)
    try:
        body = inbox.get(key)
    except KeyError:
        body = b""
    return Job(job_id, event_type, conversation_id, body, receive_count, received_at, lease)


class SqsJobQueue:
    def __init__(self, sqs: Any, queue_url: str, inbox: S3BlobStore, *, queue_name: str = "", dlq_url: str = "",
                 ack_threads: int = 8) -> None:
        """`queue_url`, or `queue_name` alone: its URL is then looked up (GetQueueUrl) on first use, not
        here, so a Lambda cold start that only greets makes no SQS call."""
        if not (queue_url or queue_name):
            raise ValueError("SqsJobQueue needs a queue URL or name")
        self.sqs = sqs
        self._queue_url = queue_url
        self._queue_name = queue_name
        self._url_lock = threading.Lock()
        self.inbox = inbox
        self._dlq_url = dlq_url
        self._ids = itertools.count(1)
        self._claimed: dict[int, str] = {}  # job id -> its message, for bury (this process's claims only)
        self._acks = ThreadPoolExecutor(max_workers=ack_threads, thread_name_prefix="sqs-ack")
        self._closed = False

    @property
    def queue_url(self) -> str:
        if not self._queue_url:
            with self._url_lock:
                if not self._queue_url:
                    with translated("could not find the SQS queue"):
                        self._queue_url = str(self.sqs.get_queue_url(QueueName=self._queue_name)["QueueUrl"])
        return self._queue_url

    # -- the ack path -------------------------------------------------------------------------------
    def accept(self, *, event_type: str, conversation_id: str, body: bytes,
               received_at: datetime) -> Future[bool]:
        if self._closed:
            refused: Future[bool] = Future()
            refused.set_exception(StorageError("the job queue is closed"))
            return refused
        return self._acks.submit(self._accept, event_type, conversation_id, body, received_at)

    def _accept(self, event_type: str, conversation_id: str, body: bytes, received_at: datetime) -> bool:
        fresh = self.inbox.put_new(inbox_key(event_type, conversation_id), body)
        self.send(pointer(event_type, conversation_id, received_at))
        return fresh

    def send(self, message: str) -> None:
        with translated("could not queue the job"):
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message)

    def close(self) -> None:
        self._closed = True
        self._acks.shutdown(wait=True)

    # -- the worker side (a long-running `agentic-memory worker`; Lambda uses handlers.worker_handler) ----
    def claim(self, *, worker: str, now: datetime, lease_secs: int) -> Job | None:  # noqa: ARG002 - the JobQueue port's signature
        with translated("could not receive a job"):
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=1, WaitTimeSeconds=1,
                VisibilityTimeout=min(lease_secs, MAX_VISIBILITY_SECS),
                MessageSystemAttributeNames=["ApproximateReceiveCount"])
        messages = response.get("Messages", [])
        if not messages:
            return None
        message = messages[0]
        count = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        job_id = next(self._ids)
        self._claimed[job_id] = message["Body"]
        return job_from_message(job_id, message["Body"], count, message["ReceiptHandle"], self.inbox)

    def change_visibility(self, lease: str, seconds: float) -> bool:
        with translated("could not change the job's lease"):
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=lease,
                    VisibilityTimeout=max(0, min(int(seconds), MAX_VISIBILITY_SECS)))
            except ClientError as exc:
                if error_code(exc) in GONE:
                    return False
                raise
        return True

    def heartbeat(self, job_id: int, *, lease: str, now: datetime, lease_secs: int) -> bool:  # noqa: ARG002 - the JobQueue port's signature
        return self.change_visibility(lease, lease_secs)

    def complete(self, job_id: int, *, lease: str, drop_body: bool = False) -> bool:  # noqa: ARG002 - the JobQueue port's signature
        # The body stays in S3 (the bucket's lifecycle rule expires inbox/): its key is what turns a
        # retried webhook into a no-op.
        self._claimed.pop(job_id, None)
        with translated("could not complete the job"):
            try:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=lease)
            except ClientError as exc:
                if error_code(exc) in GONE:
                    return False
                raise
        return True

    def retry(self, job_id: int, *, lease: str, error: str, run_after: datetime) -> bool:  # noqa: ARG002 - the JobQueue port's signature
        self._claimed.pop(job_id, None)
        return self.change_visibility(lease, (run_after - datetime.now(UTC)).total_seconds())

    def bury(self, job_id: int, *, lease: str, error: str) -> bool:
        message = self._claimed.pop(job_id, None)
        if message is None:
            return False
        self.bury_message(message, lease=lease, error=error)
        return True

    def bury_message(self, message: str, *, lease: str, error: str) -> None:
        """Send `message` to the dead-letter queue with `error`, then delete it from the work queue."""
        with translated("could not dead-letter the job"):
            self.sqs.send_message(QueueUrl=self.dlq_url(), MessageBody=message, MessageAttributes={
                "error": {"DataType": "String", "StringValue": error[:1000] or "unknown"}})
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=lease)

    def stats(self) -> QueueStats:
        return QueueStats(pending=self._count(self.queue_url, with_in_flight=True),
                          dead=self._count(self.dlq_url(), with_in_flight=False))

    def _count(self, url: str, *, with_in_flight: bool) -> int:
        names = ["ApproximateNumberOfMessages"] + (["ApproximateNumberOfMessagesNotVisible"] if with_in_flight else [])
        with translated("could not read the queue"):
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attributes.get(name, 0)) for name in names)

    def release_orphans(self, is_alive: Callable[[str], bool]) -> int:  # noqa: ARG002 - the JobQueue port's signature
        return 0  # a dead worker's message reappears when its visibility timeout ends

    def ping(self) -> None:
        self._count(self.queue_url, with_in_flight=False)

    # -- the dead-letter queue ----------------------------------------------------------------------
    def dlq_url(self) -> str:
        """The DLQ named by the queue's redrive policy (or given), looked up once."""
        if not self._dlq_url:
            with translated("could not read the queue's redrive policy"):
                attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url,
                                                           AttributeNames=["RedrivePolicy"])["Attributes"]
                if "RedrivePolicy" not in attributes:
                    raise StorageError("the SQS queue has no dead-letter queue (RedrivePolicy)")
                arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
                self._dlq_url = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
        return self._dlq_url

    def dead_letters(self, *, limit: int = 10) -> list[DeadLetter]:
        """Peek at up to `limit` dead letters (they stay in the DLQ, visible again at once)."""
        with translated("could not read the dead-letter queue"):
            response = self.sqs.receive_message(
                QueueUrl=self.dlq_url(), MaxNumberOfMessages=min(limit, 10), VisibilityTimeout=0,
                MessageAttributeNames=["All"], MessageSystemAttributeNames=["ApproximateReceiveCount"])
        letters = []
        for message in response.get("Messages", []):
            try:
                data = json.loads(message["Body"])
            except ValueError:
                data = {}
            error = message.get("MessageAttributes", {}).get("error", {}).get("StringValue", "")
            letters.append(DeadLetter(message["MessageId"], str(data.get("event_type", "?")),
                                      str(data.get("conversation_id", "?")), error or "max receives exceeded",
                                      int(message.get("Attributes", {}).get("ApproximateReceiveCount", "0"))))
        return letters

    def redrive(self, *, limit: int = 1000) -> int:
        """Move up to `limit` dead letters back to the work queue; returns how many moved."""
        moved = 0
        with translated("could not redrive the dead-letter queue"):
            while moved < limit:
                response = self.sqs.receive_message(QueueUrl=self.dlq_url(), MaxNumberOfMessages=10,
                                                    VisibilityTimeout=60)
                messages = response.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=message["Body"])
                    self.sqs.delete_message(QueueUrl=self.dlq_url(), ReceiptHandle=message["ReceiptHandle"])
                    moved += 1
        return moved
