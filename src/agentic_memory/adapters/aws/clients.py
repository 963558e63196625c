"""boto3 clients with bounded timeouts and retries, and one translation of boto errors into ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from agentic_memory.errors import StorageError

# A webhook ack waits on these calls: fail fast (ElevenLabs retries a 503) rather than hang the function.
CONFIG = Config(connect_timeout=3, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"})


def client(service: str, *, endpoint_url: str = "", region: str = "") -> Any:
    """A boto3 client; `endpoint_url` points it at a local or compatible server (tests, MinIO)."""
    session = boto3.session.Session()
    return session.client(service, endpoint_url=endpoint_url or None, region_name=region or None, config=CONFIG)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn any boto error into StorageError (HTTP 503, the worker retries); the message carries AWS's
    error code, never the request (which may hold a key or a body)."""
    try:
        yield
    except ClientError as exc:
        raise StorageError(f"{what}: {error_code(exc) or 'client error'}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"{what}: {exc.__class__.__name__}") from exc
