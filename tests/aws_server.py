"""A local AWS API (moto in server mode) on 127.0.0.1 and a free port, for S3, SQS and Secrets Manager
through real boto3 over HTTP. No AWS account, no network."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any

REGION = "us-east-1"
# moto accepts any credentials; fixed ones keep boto3 from looking for real ones.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
               "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AwsServer:
    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def start(self) -> AwsServer:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        os.environ.update(CREDENTIALS)
        self._server.start()
        return self

    def close(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        import boto3

        return boto3.session.Session().client(service, endpoint_url=self.url, region_name=REGION)

    def bucket(self, *, versioned: bool = True) -> str:
        """A new private, encrypted (and versioned) bucket, as the SAM template makes."""
        name = f"am-test-{uuid.uuid4().hex[:12]}"
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name)
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def queues(self, *, max_receives: int = 3, visibility_secs: int = 30) -> tuple[str, str]:
        """A work queue and its dead-letter queue (redrive after `max_receives`); returns their names."""
        sqs = self.client("sqs")
        name = f"am-test-{uuid.uuid4().hex[:12]}"
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.create_queue(QueueName=name, Attributes={
            "VisibilityTimeout": str(visibility_secs),
            "RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "{max_receives}"}}'})
        return name, f"{name}-dlq"
