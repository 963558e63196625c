"""Error mapping: every failure leaves as JSON `{"error", "detail"?}` with the status its cause deserves."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentic_memory.errors import AgenticMemoryError, EmbeddingError, InvalidInput, StorageError, Unauthorized

log = logging.getLogger(__name__)
# Handlers are async: Starlette runs plain-def handlers on the thread pool.


def error_response(status: int, message: str, detail: object = None) -> JSONResponse:
    body: dict[str, Any] = {"error": message}
    if detail is not None:
        body["detail"] = detail
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _ours(_: Request, exc: Exception) -> JSONResponse:
    return known_error(exc)


def known_error(exc: Exception) -> JSONResponse:
    """The answer to one of our own errors (AgenticMemoryError); 500 for anything else."""
    if isinstance(exc, Unauthorized):
        return error_response(401, str(exc))
    if isinstance(exc, InvalidInput):
        return error_response(400, str(exc))
    # Outages, not bugs: 503 tells ElevenLabs (and any client) to retry.
    if isinstance(exc, StorageError):
        log.error("storage unavailable", extra={"error": str(exc)})
        return error_response(503, "storage unavailable, retry later")
    if isinstance(exc, EmbeddingError):
        log.error("embedding model unavailable", extra={"error": str(exc)})
        return error_response(503, "embedding model unavailable, retry later")
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal error")


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in errors]
    return error_response(400, "invalid request", detail)


async def _http(_: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):
        return await _unexpected(_, exc)
    return error_response(exc.status_code, str(exc.detail))


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AgenticMemoryError, _ours)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
