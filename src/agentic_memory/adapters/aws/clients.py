"""botocore clients with bounded timeouts and retries, made on first use, and one translation of boto
errors into ours.

botocore directly, not boto3: a client is all we use, and boto3 adds ~0.2-0.5 s of imports (s3transfer,
its resource layer) to a Lambda cold start. The credential chain is botocore's, the same one boto3 uses.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from agentic_memory.errors import ConfigurationError, StorageError

# A webhook ack waits on these calls: fail fast (ElevenLabs retries a 503) rather than hang the function.
CONFIG = Config(connect_timeout=3, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"})


def client(service: str, *, endpoint_url: str = "", region: str = "") -> Any:
    """A botocore client; `endpoint_url` points it at a local or compatible server (tests, MinIO)."""
    import botocore.session  # ~0.3 s: only when a client is made

    session = botocore.session.get_session()
    return session.create_client(service, endpoint_url=endpoint_url or None, region_name=region or None,
                                 config=CONFIG)


class LazyClient:
    """A client made on its first call, once, whichever thread calls first. A greeting on Lambda needs
    neither S3 nor SQS: their clients (and botocore's session, endpoint and API-model loading) wait for
    the first webhook. Attribute access is forwarded, so adapters use it as the client itself."""

    def __init__(self, service: str, *, endpoint_url: str = "", region: str = "") -> None:
        self.service = service
        self._options = {"endpoint_url": endpoint_url, "region": region}
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        return self._client is not None

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = client(self.service, **self._options)
                    except Exception as exc:  # botocore's NoRegionError and kin: no AWS settings here
                        raise ConfigurationError(
                            f"cannot create the AWS {self.service} client ({exc.__class__.__name__}): "
                            "set AWS_REGION (Lambda sets it)") from exc
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


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
