"""`agentic-memory elevenlabs connect | check | disconnect | call | backfill`.

The ElevenLabs API key comes from ELEVENLABS_API_KEY (never an option, so it stays out of shell history);
ELEVENLABS_BASE_URL points the SDK at another region or a test server. The SDK is imported only here,
inside the commands, through adapters/elevenlabs_api.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from agentic_memory.cli_common import bad_config, err, exit_on, keyed_settings, out
from agentic_memory.config import Settings, ensure_keys, load_settings, save_key
from agentic_memory.errors import ConfigurationError, ElevenLabsApiError, InvalidInput

if TYPE_CHECKING:
    from agentic_memory.adapters.elevenlabs_api.client import SdkAdmin
    from agentic_memory.services.elevenlabs_setup import Change, Target

elevenlabs_app = typer.Typer(help="Wire ElevenLabs agents to this server (needs the `elevenlabs` extra).",
                             no_args_is_help=True)

AgentId = Annotated[str, typer.Option("--agent-id", help="The ElevenLabs agent (agent_...)")]
PublicUrl = Annotated[str, typer.Option("--public-url", help="HTTPS base URL where ElevenLabs reaches this server")]
Workspace = Annotated[bool, typer.Option("--workspace", help="Set the webhooks workspace-wide (every agent) "
                                                             "instead of as this agent's own overrides")]
Proxy = Annotated[bool, typer.Option("--proxy", help="The memory proxy as the agent's LLM: Custom LLM at "
                                                     "{public-url}/v1 with the custom_llm_extra_body override")]


@contextmanager
def _admin(*, offline: bool = False) -> Iterator[SdkAdmin]:
    try:
        from agentic_memory.adapters.elevenlabs_api.client import SdkAdmin
    except ImportError as exc:  # the optional extra is missing
        err.print("[red]The elevenlabs SDK is not installed:[/red] pip install 'agentic-memory[elevenlabs]'")
        raise typer.Exit(2) from exc
    api_key = os.environ.get("ELEVENLABS_API_KEY", "").strip()
    if not api_key and not offline:
        err.print("[red]Set ELEVENLABS_API_KEY[/red] (an API key with agents and workspace-webhook access)")
        raise typer.Exit(2)
    admin = SdkAdmin(api_key=api_key or "dry-run", base_url=os.environ.get("ELEVENLABS_BASE_URL") or None,
                     offline=offline)
    try:
        with (exit_on(ElevenLabsApiError, 1, "[red]ElevenLabs API error:[/red] {}"),
              exit_on(InvalidInput, 2, "[red]{}[/red]")):
            yield admin
    finally:
        admin.close()


def _target(agent_id: str, public_url: str, workspace: bool, settings: Settings, *, proxy: bool = False,
            proxy_model: str | None = None, restore_llm: str | None = None) -> Target:
    from agentic_memory.services.elevenlabs_setup import Target, validate_public_url

    try:
        url = validate_public_url(public_url)
    except InvalidInput as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    extra = {"restore_llm": restore_llm} if restore_llm else {}
    return Target(agent_id=agent_id.strip(), public_url=url, prompt_override=bool(settings.prompt_template),
                  workspace=workspace, extra_body=bool(settings.upstream_url), proxy=proxy,
                  # The proxy sends AGENTIC_MEMORY_UPSTREAM_MODEL upstream anyway: a good default model id.
                  proxy_model=(proxy_model or "").strip() or settings.upstream_model or None, **extra)


def _table(title: str, changes: list[Change]) -> None:
    if not changes:
        out.print(f"{title}: nothing to change, already connected.")
        return
    table = Table(title=title)
    for column in ("resource", "action", "detail"):
        table.add_column(column)
    for change in changes:
        table.add_row(change.resource, change.action, change.detail)
    out.print(table)


@elevenlabs_app.command()
def connect(agent_id: AgentId, public_url: PublicUrl, workspace: Workspace = False, proxy: Proxy = False,
            proxy_model: Annotated[str | None, typer.Option(
                "--proxy-model", help="With --proxy: the Custom LLM's model id (default: "
                                      "AGENTIC_MEMORY_UPSTREAM_MODEL, else the agent's current one)")] = None,
            dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the requests as JSON; no API key, "
                                                                    "no network, nothing changed")] = False,
            rotate_secret: Annotated[bool, typer.Option(
                "--rotate-secret", help="Replace the post-call webhook to get a new HMAC secret; the old secret "
                                        "stays accepted until you remove it")] = False) -> None:
    """Create or update the search tool, the webhooks and the agent's overrides (idempotent)."""
    from agentic_memory.services.elevenlabs_setup import connect as run_connect

    if dry_run:
        settings = load_settings()
        try:  # the secret's name carries the key's fingerprint; the key itself is never printed
            keys = settings.workspace_keys or ensure_keys(settings, create=False)[0].workspace_keys
        except ConfigurationError:
            keys = ()
        key = keys[0] if keys else "<ELEVENLABS_WORKSPACE_KEY>"
        target = _target(agent_id, public_url, workspace, settings, proxy=proxy,
                         proxy_model=proxy_model or (None if settings.upstream_model else "<model_id>"))
        with _admin(offline=True) as admin:
            run_connect(admin, target, workspace_key=key)
            document = {
                "agent_id": target.agent_id, "public_url": target.public_url,
                "note": ("Requests for a workspace where nothing is connected yet. <..._id> is the id the "
                         "creating request returns; PATCH bodies are merge patches, and tool_ids replaces the "
                         "agent's list, so keep the agent's other tool ids in it."),
                "requests": [{"method": r.method, "path": r.path, "body": r.body} for r in admin.sent]}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    settings = keyed_settings(create=True)
    target = _target(agent_id, public_url, workspace, settings, proxy=proxy, proxy_model=proxy_model)
    if proxy and not settings.upstream_url:
        err.print("[yellow]AGENTIC_MEMORY_UPSTREAM_URL is not set here: the proxy answers 503 until the server "
                  "runs with it[/yellow]")
    with _admin() as admin:
        result = run_connect(admin, target, workspace_key=settings.workspace_keys[0], rotate_secret=rotate_secret,
                             keep_hmac_secret=lambda secret: _store_hmac_secret(secret, settings))
    _table(f"ElevenLabs agent {target.agent_id}", result.changes)


def _store_hmac_secret(secret: str, settings: Settings) -> None:
    """ElevenLabs shows a webhook's secret once. Keep the old secrets beside it (rotation: a call signed
    with the old one may still be retried); the operator removes them later."""
    keys = [secret, *(k for k in settings.hmac_keys if k != secret)]
    from_environment = load_settings().hmac_key is not None  # the environment or .env overrides keys.json
    if from_environment:
        out.print("[bold yellow]ElevenLabs created the post-call webhook; its secret is shown only now.[/bold "
                  "yellow] ELEVENLABS_HMAC_KEY is set in your environment (or .env), which overrides "
                  "data/keys.json, so set it there (the current value after a comma stays accepted until you "
                  "remove it) and restart the server:")
        # Only the new secret is printed; the operator already has the current one.
        out.print(f"  ELEVENLABS_HMAC_KEY={secret},<current value>", highlight=False)
    else:
        path = save_key(settings.data_dir, "ELEVENLABS_HMAC_KEY", ",".join(keys))
        out.print(f"The new post-call webhook secret is stored in {path} (beside the previous one); restart the "
                  "server to accept it.")


@elevenlabs_app.command()
def check(agent_id: AgentId, public_url: PublicUrl, proxy: Proxy = False) -> None:
    """Report every problem in the agent's wiring; exit code 1 when there is any."""
    from agentic_memory.services.elevenlabs_setup import check as run_check

    settings = load_settings()
    target = _target(agent_id, public_url, False, settings, proxy=proxy)
    with _admin() as admin:
        problems = run_check(admin, target)
    if not problems:
        out.print(f"Agent {target.agent_id}: memory is wired correctly to {target.public_url}.")
        return
    table = Table(title=f"Agent {target.agent_id}: {len(problems)} problem(s)")
    table.add_column("where")
    table.add_column("problem")
    for problem in problems:
        table.add_row(problem.where, problem.message)
    out.print(table)
    out.print("Fix them with: agentic-memory elevenlabs connect --agent-id ... --public-url ..."
              + (" --proxy" if proxy else ""))
    raise typer.Exit(1)


@elevenlabs_app.command()
def disconnect(agent_id: AgentId, public_url: PublicUrl, workspace: Workspace = False,
               proxy: Annotated[bool, typer.Option("--proxy", help="Also stop using the memory proxy as the "
                                                                   "agent's LLM (left alone otherwise)")] = False,
               llm: Annotated[str | None, typer.Option(
                   "--llm", help="With --proxy: the built-in ElevenLabs LLM to switch back to "
                                 "(default gpt-4o-mini)")] = None) -> None:
    """Remove what `connect` added (anything still used by other agents is kept)."""
    from agentic_memory.services.elevenlabs_setup import disconnect as run_disconnect

    target = _target(agent_id, public_url, workspace, load_settings(), proxy=proxy, restore_llm=llm)
    with _admin() as admin:
        changes = run_disconnect(admin, target)
    if not changes:
        out.print("Nothing to remove.")
        return
    _table(f"ElevenLabs agent {target.agent_id}", changes)


@elevenlabs_app.command()
def call(agent_id: AgentId,
         to: Annotated[str, typer.Option("--to", help="The number to call, E.164 (+14155550123)")],
         phone_number_id: Annotated[str | None, typer.Option(
             help="The agent's phone number to call from (default: the only one assigned to the agent)")] = None,
         server_url: Annotated[str, typer.Option(help="Where the dialer reaches this server's /client-data")
                               ] = "http://127.0.0.1:8000") -> None:
    """Outbound call: ask /client-data about the callee, then start the call with those variables."""
    import httpx

    from agentic_memory.domain.phone import normalise_phone
    from agentic_memory.services.elevenlabs_setup import place_call

    settings = keyed_settings(create=False)
    try:
        number = normalise_phone(to, settings.default_region)
    except InvalidInput as exc:
        err.print(f"[red]--to: {exc}[/red]")
        raise typer.Exit(2) from exc
    try:
        response = httpx.post(server_url.rstrip("/") + "/client-data", timeout=10.0,
                              json={"caller_id": number, "agent_id": agent_id},
                              headers={"X-Workspace-Key": settings.workspace_keys[0]})
        response.raise_for_status()
        client_data: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        err.print(f"[red]Could not get the callee's client data from {server_url}:[/red] {exc}")
        raise typer.Exit(1) from exc
    with _admin() as admin:
        answer = place_call(admin, agent_id=agent_id, to_number=number, client_data=client_data,
                            phone_number_id=phone_number_id)
    out.print(f"Call started: conversation {answer.get('conversation_id') or '?'} "
              f"(returning caller: {client_data.get('dynamic_variables', {}).get('returning_caller', '?')})")


@elevenlabs_app.command()
def backfill(agent_id: AgentId,
             since: Annotated[str | None, typer.Option(help="Only calls that started on or after this date "
                                                            "(YYYY-MM-DD, UTC)")] = None,
             audio: Annotated[bool, typer.Option("--audio", help="Also fetch each call's recording")] = False,
             ) -> None:
    """Store the agent's past conversations as if their webhooks had arrived (idempotent, resumable)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from agentic_memory.bootstrap import build
    from agentic_memory.services.elevenlabs_setup import backfill as run_backfill

    since_unix = None
    if since:
        try:
            since_unix = int(datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC).timestamp())
        except ValueError as exc:
            err.print("[red]--since must be a date like 2026-01-31[/red]")
            raise typer.Exit(2) from exc
    settings = keyed_settings(create=True)
    with bad_config():
        deps = build(settings, with_worker=False)
    try:
        with _admin() as admin, Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                         TextColumn("{task.completed} calls"), console=err) as bar:
            task = bar.add_task("backfilling", total=None)
            result = run_backfill(admin, agent_id=agent_id, since_unix=since_unix, with_audio=audio,
                                  queue=deps.queue, store=deps.store, clock=deps.clock,
                                  progress=lambda n, _id: bar.advance(task, n))
    finally:
        deps.close()
    out.print(f"Queued {result.stored} call(s) ({result.audio} recording(s)); skipped {result.skipped} already "
              "stored or unfinished. The worker (`agentic-memory serve` or `worker`) processes them.")
    for failure in result.failed:
        err.print(f"[yellow]not stored:[/yellow] {failure}")
    if result.failed:
        raise typer.Exit(1)
