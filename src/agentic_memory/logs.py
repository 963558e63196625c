"""Structured JSON logs with request ids. Callers must never pass secrets, numbers or transcript text."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

import orjson

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
# Fields a route adds to its request's single access-log line (one line per request is cheaper than two).
access_fields: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar("access_fields", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def annotate(**fields: object) -> None:
    """Add fields to the current request's access-log line (no-op outside a request)."""
    target = access_fields.get()
    if target is not None:
        target.update(fields)


def _timestamp(created: float, _cache: dict[int, str] = {}) -> str:  # noqa: B006 - deliberate one-entry cache
    """ISO 8601 UTC with milliseconds; the part up to the second is formatted once per second (datetime
    formatting was the largest single cost of a log line under load)."""
    second = int(created)
    prefix = _cache.get(second)
    if prefix is None:
        _cache.clear()
        prefix = _cache[second] = datetime.fromtimestamp(second, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{prefix}.{int((created - second) * 1000):03d}+00:00"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        try:  # orjson: a few microseconds per line on the request path (json.dumps took several times more)
            return orjson.dumps(entry, default=str).decode()
        except TypeError:  # e.g. an int beyond 64 bits, which orjson refuses
            return json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]  # generic in typeshed only
    """Writes to whatever sys.stderr is at the moment of the record, not at configuration time (a CLI run
    in-process, as the tests and embedders do, may swap and close the stream it started with)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # we log requests ourselves, without query strings
