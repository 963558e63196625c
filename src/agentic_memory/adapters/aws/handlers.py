"""Lambda entry points, each building its Deps once per container (on the first event, not at import).

- `http_handler`: API Gateway HTTP API (payload 2.0) -> Mangum -> the same FastAPI app as `serve`.
  Lifespan is off (Mangum would run it on every event; the app's lifespan only starts the in-process
  worker, which Lambda replaces with `worker_handler`). The original's `/Prod/...` paths map to the same
  routes. Mangum hands the app the exact bytes API Gateway delivered (base64 bodies decoded), and the
  HMAC is checked over those. The embedding model loads on the first `/retrieve`, never for a greeting.
- `worker_handler`: SQS batches of pointer messages -> `process_job`; failed records are reported in
  `batchItemFailures` (ReportBatchItemFailures) so only they return to the queue, with a backoff, and
  SQS's redrive policy moves one to the DLQ after its max receives. An unusable payload goes to the DLQ
  at once.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from agentic_memory.bootstrap import Deps, build
from agentic_memory.config import load_settings
from agentic_memory.errors import ConfigurationError, InvalidInput, StorageError
from agentic_memory.logs import configure_logging

if TYPE_CHECKING:
    from agentic_memory.adapters.aws.sqs_queue import SqsJobQueue

log = logging.getLogger(__name__)
BASE_PATH = "/Prod"  # the original deployment's stage path: /Prod/client-data is /client-data
_built: dict[str, Any] = {}


def deps() -> Deps:
    """This container's Deps, built on first use from the environment and the settings secret."""
    if "deps" not in _built:
        environ = dict(os.environ)
        if environ.get("AGENTIC_MEMORY_SECRET_ARN"):  # botocore costs ~0.5 s to import: only when needed
            from agentic_memory.adapters.aws.secrets import secret_settings

            environ.update(secret_settings(environ))
        settings = load_settings(environ, env_file=None)
        configure_logging(settings.log_level)
        _built["deps"] = build(settings, with_worker=False, lazy_embedder=True)
    built: Deps = _built["deps"]
    return built


def http_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "http" not in _built:
        from mangum import Mangum

        from agentic_memory.http.app import create_app

        try:
            current = deps()
        except StorageError:  # the database or AWS is down at cold start: a 503 ElevenLabs retries
            log.exception("could not start: storage unavailable")
            return {"statusCode": 503, "headers": {"content-type": "application/json"},
                    "body": '{"error":"storage unavailable; retry"}', "isBase64Encoded": False}
        _built["http"] = Mangum(create_app(current, webhooks_only=True), lifespan="off",
                                api_gateway_base_path=BASE_PATH)
    response: dict[str, Any] = _built["http"](event, context)
    return response


def worker_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    from agentic_memory.adapters.aws.sqs_queue import SqsJobQueue, job_from_message
    from agentic_memory.services.process_call import process_job

    current = deps()
    queue = current.queue
    if not isinstance(queue, SqsJobQueue):
        raise ConfigurationError("worker_handler needs AGENTIC_MEMORY_QUEUE_URL=sqs://...")
    worker_deps = current.worker_deps()
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        attempts = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        receipt = str(record.get("receiptHandle", ""))
        try:
            job = job_from_message(0, record["body"], attempts, receipt, queue.inbox)
            try:
                outcome = process_job(job, worker_deps)
            except InvalidInput as exc:  # retrying cannot help: dead-letter now, with the reason
                log.warning("job dead-lettered", extra={"event_type": job.event_type, "error": str(exc)})
                queue.bury_message(record["body"], lease=receipt, error=f"invalid payload: {exc}")
                continue
            log.info("job done", extra={"event_type": job.event_type, "outcome": outcome.summary})
        except Exception:  # this record only: the rest of the batch goes on
            log.exception("job failed, will retry", extra={"attempts": attempts})
            failures.append({"itemIdentifier": str(record.get("messageId", ""))})
            _delay(queue, receipt, attempts, current.settings.max_attempts)
    return {"batchItemFailures": failures}


def _delay(queue: SqsJobQueue, receipt: str, attempts: int, max_attempts: int) -> None:
    """Back off before the next receive (the queue's visibility timeout would otherwise decide)."""
    from agentic_memory.worker import backoff

    if attempts >= max_attempts or not receipt:
        return  # the redrive policy takes it to the DLQ on its next receive
    try:
        queue.change_visibility(receipt, backoff(attempts))
    except Exception:  # the message still comes back, only sooner
        log.exception("could not delay the retry")
