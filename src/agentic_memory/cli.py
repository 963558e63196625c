"""Command line: serve | proxy | worker | demo | migrate | copy-to-mem0 | elevenlabs ... | callers ... (see --help)."""

from __future__ import annotations

import logging
import signal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agentic_memory.cli_admin import register as register_admin_commands
from agentic_memory.cli_common import bad_config, cannot_start
from agentic_memory.cli_elevenlabs import elevenlabs_app
from agentic_memory.cli_tools import register as register_tool_commands
from agentic_memory.config import Settings, ensure_keys, load_settings
from agentic_memory.errors import ConfigurationError

if TYPE_CHECKING:
    from agentic_memory.bootstrap import Deps

app = typer.Typer(help="AgenticMemory: per-caller memory for ElevenLabs voice agents.", no_args_is_help=True)
console = Console(stderr=True)  # errors
out = Console(soft_wrap=True)  # the banner: stdout, so stderr carries only JSON log lines
log = logging.getLogger(__name__)
app.add_typer(elevenlabs_app, name="elevenlabs")


def _settings() -> Settings:
    with bad_config():
        settings, generated = ensure_keys(load_settings())
        settings.validate_secrets()
    if generated:
        out.print("[bold yellow]First run: generated secrets[/bold yellow] (kept in "
                      f"{settings.data_dir / 'keys.json'}, shown only this once):")
        for name, value in generated.items():
            out.print(f"  {name}={value}")
        out.print("Use ELEVENLABS_WORKSPACE_KEY as the X-Workspace-Key header of the client-data webhook and "
                      "the retrieve tool, and ELEVENLABS_HMAC_KEY as the post-call webhook secret (or set both "
                      "to ElevenLabs' own secret in the environment or .env).")
    return settings


def _build(settings: Settings, *, with_worker: bool = True) -> Deps:
    from agentic_memory.bootstrap import build

    with cannot_start():
        return build(settings, with_worker=with_worker)


@app.command()
def serve(host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port")] = 8000,
          worker: Annotated[bool, typer.Option(help="Run the post-call worker in this process (--no-worker: "
                                                    "API only; run `agentic-memory worker` beside it)")] = True,
          workers: Annotated[int, typer.Option(min=1, max=64, help="API processes (each with its own pool and "
                                                                   "model); the post-call worker still runs once, "
                                                                   "in the supervisor")] = 1,
          ) -> None:
    """Run the HTTP API, with the worker in-process unless --no-worker."""
    import uvicorn

    from agentic_memory.bootstrap import uses_postgres
    from agentic_memory.http.app import create_app
    from agentic_memory.http.processes import FACTORY, SQLITE_WARNING
    from agentic_memory.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)
    if workers > 1 and not uses_postgres(settings):
        console.print(f"[yellow]Note:[/yellow] {SQLITE_WARNING.format(n=workers)}")
    deps = _build(settings, with_worker=worker)
    out.print(f"AgenticMemory listening on http://{host}:{port}  (docs: http://{host}:{port}/docs)"
              + (f", {workers} API processes" if workers > 1 else ""))
    thread = deps.worker.start_thread() if workers > 1 and deps.worker else None
    # Keep-alive longer than clients' idle pools, so a reused connection is not closed under them.
    run = partial(uvicorn.run, host=host, port=port, log_config=None, access_log=False,
                  timeout_graceful_shutdown=10, timeout_keep_alive=75)
    try:
        if workers > 1:
            run(FACTORY, factory=True, workers=workers)
        else:
            run(create_app(deps))
    finally:
        if thread is not None and deps.worker is not None:
            deps.worker.stop()
            thread.join(timeout=30)
        deps.close()


@app.command()
def proxy(host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port")] = 8000) -> None:
    """Run the memory proxy alone (POST /v1/chat/completions, ElevenLabs' Custom LLM): no webhooks, no worker."""
    import uvicorn

    from agentic_memory.http.proxy import create_proxy_app
    from agentic_memory.logs import configure_logging

    settings = _settings()
    if not settings.upstream_url:
        console.print("[red]Configuration error:[/red] set AGENTIC_MEMORY_UPSTREAM_URL (the upstream LLM's "
                      "OpenAI-compatible base URL, e.g. https://api.openai.com/v1)")
        raise typer.Exit(2)
    configure_logging(settings.log_level)
    deps = _build(settings, with_worker=False)
    out.print(f"AgenticMemory proxy listening on http://{host}:{port}/v1/chat/completions")
    try:
        uvicorn.run(create_proxy_app(deps), host=host, port=port, log_config=None, access_log=False,
                    timeout_graceful_shutdown=10, timeout_keep_alive=75)
    finally:
        deps.close()


@app.command()
def worker(concurrency: Annotated[int, typer.Option(
        min=1, max=64, help="Jobs run at once by this process, each on its own thread (keep it at most "
                            "AGENTIC_MEMORY_DATABASE_POOL_SIZE on PostgreSQL; on SQLite their writes take turns)")] = 1,
           ) -> None:
    """Run the post-call worker alone (several may run against the same database)."""
    from agentic_memory.logs import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)
    deps = _build(settings)
    workers = [deps.worker or deps.make_worker(), *(deps.make_worker() for _ in range(concurrency - 1))]
    for number, each in enumerate(workers[1:], start=2):
        each.name = f"{each.name}-{number}"  # one name per thread: leases and logs tell them apart

    def stop(*_: object) -> None:
        for each in workers:
            each.stop()

    signal.signal(signal.SIGTERM, stop)
    threads = [each.start_thread() for each in workers[1:]]
    try:
        workers[0].run()
    except KeyboardInterrupt:
        pass
    finally:
        stop()
        for thread in threads:
            thread.join(timeout=60)
        deps.close()


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from agentic_memory.bootstrap import migrate as migrate_database

    with cannot_start():
        migrate_database(load_settings())
    out.print("database is up to date")


@app.command("dead-letters")
def dead_letters(redrive: Annotated[bool, typer.Option(help="Send them all back to the work queue")] = False,
                 limit: Annotated[int, typer.Option(help="How many to show or move")] = 10) -> None:
    """List the SQS dead-letter queue's jobs (--redrive: send them back to be processed again)."""
    from agentic_memory.ports import DeadLetterQueue

    settings = _settings()
    deps = _build(settings, with_worker=False)
    try:
        if not isinstance(deps.queue, DeadLetterQueue):
            console.print("dead letters of the database's own queue stay in its table (status 'dead'); this "
                          "command is for AGENTIC_MEMORY_QUEUE_URL=sqs://...")
            raise typer.Exit(2)
        if redrive:
            out.print(f"moved {deps.queue.redrive(limit=limit)} dead letters back to the work queue")
            return
        for letter in deps.queue.dead_letters(limit=limit):
            out.print(f"{letter.message_id}  {letter.event_type}  {letter.conversation_id}  "
                      f"received {letter.receive_count}x  {letter.error}")
    finally:
        deps.close()


@app.command()
def demo(url: Annotated[str, typer.Option(help="Base URL of a running server")] = "http://127.0.0.1:8000",
         data_dir: Annotated[Path | None, typer.Option(help="Where the server keeps keys.json")] = None) -> None:
    """Play a realistic two-call flow against a running server."""
    from agentic_memory.demo import run_demo

    settings = load_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    try:
        settings, _ = ensure_keys(settings, create=False)
    except ConfigurationError as exc:
        console.print(f"[red]{exc}[/red] (start the server with `make run` first, or set the keys)")
        raise typer.Exit(2) from exc
    raise typer.Exit(run_demo(url, workspace_key=settings.workspace_keys[0], hmac_key=settings.hmac_keys[0],
                              console=Console()))


@app.command("copy-to-mem0")
def copy_to_mem0() -> None:
    """Copy the local engine's memories into Mem0 Cloud (MEM0_API_KEY); safe to stop and run again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from agentic_memory.bootstrap import copy_to_mem0 as run
    from agentic_memory.errors import StorageError

    settings = _settings()
    columns = (TextColumn("copying memories to Mem0"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("copy", total=None)
            copied = run(settings, on_total=lambda n: progress.update(task, total=n),
                         on_copied=lambda n: progress.advance(task, n))
    except ConfigurationError as exc:
        console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc
    except StorageError as exc:
        console.print(f"[red]Stopped:[/red] {exc}. Run the command again to resume.")
        raise typer.Exit(1) from exc
    out.print(f"{copied} memories copied to Mem0")
register_admin_commands(app)
register_tool_commands(app)


def main() -> None:
    app()
