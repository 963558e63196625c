"""/dashboard: login, overview, callers, one caller (and its actions), search playground, dead letters.

Every read and change goes through the admin services (services/admin.py, erasure.py, dead_letters.py,
dashboard.py), which also write the audit trail; this module only parses forms and renders templates.
A phone number never appears in a URL: callers are addressed by a keyed hash (services/dashboard.handle).
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from importlib import resources
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qs, urlencode

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import escape

from agentic_memory.bootstrap import Deps
from agentic_memory.domain.greeting import GreetingPolicy
from agentic_memory.domain.scope import owner_key, split_key
from agentic_memory.elevenlabs.responses import client_data_response
from agentic_memory.errors import InvalidInput, NotFound, StorageError
from agentic_memory.http.admin import _matching_key
from agentic_memory.http.dashboard import charts, session
from agentic_memory.offload import run_blocking
from agentic_memory.services import admin, dashboard, dead_letters, erasure
from agentic_memory.services.admin import AdminDeps
from agentic_memory.services.client_data import brief_caller
from agentic_memory.services.search import SearchQuery, explain

log = logging.getLogger(__name__)
T = TypeVar("T")
PREFIX = "/dashboard"
MAX_FORM = 16_384
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
STATIC = {"style.css": "text/css", "app.js": "text/javascript"}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
SORTS = {"name": lambda c: (c["first_name"] or "~").lower(), "last_seen": lambda c: c["last_seen"] or "",
         "calls": lambda c: c["call_count"], "language": lambda c: c["language"] or "~"}


class LoginRequired(Exception):
    pass


class CsrfFailed(Exception):
    pass


class PageRoute(APIRoute):
    """A page's expected failures (bad input, gone caller, storage down) answered as a page, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except (InvalidInput, NotFound, StorageError) as exc:
                status = 400 if isinstance(exc, InvalidInput) else 404 if isinstance(exc, NotFound) else 503
                body = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{status}</title>"
                        f'<link rel="stylesheet" href="{PREFIX}/static/style.css"><main id="main">'
                        f'<h1>{status}</h1><p class="error" role="alert">{escape(str(exc))}</p>'
                        f'<p><a href="{PREFIX}">Back to the dashboard</a></p></main></html>')
                return _secure(HTMLResponse(body, status_code=status))

        return page


def mask(number: str) -> str:
    """Only the last four digits: enough to tell callers apart on screen, not enough to dial."""
    return "••• " + number[-4:] if len(number) > 4 else "••••"


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def current(request: Request) -> session.Session:
    found = session.verify(request.cookies.get(session.COOKIE, ""), request.app.state.admin_keys)
    if found is None:
        raise LoginRequired
    return found


Current = Annotated[session.Session, Depends(current)]


async def form(request: Request) -> dict[str, str]:
    """The urlencoded form (first value of each field); bounded, so a huge body is refused early."""
    raw = await request.body()
    if len(raw) > MAX_FORM:
        raise InvalidInput("form too large")
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


async def checked_form(request: Request, who: Current) -> dict[str, str]:
    """Every POST of a logged-in page carries the session's CSRF token."""
    fields = await form(request)
    if not who.csrf_ok(fields.get("csrf", "")):
        raise CsrfFailed
    return fields


Form = Annotated[dict[str, str], Depends(checked_form)]


def dashboard_router(deps: Deps) -> APIRouter:
    ops: AdminDeps = deps.admin_deps()
    settings = deps.settings
    greeting = GreetingPolicy.of(settings.first_message, settings.first_message_templates)
    env = Environment(loader=PackageLoader("agentic_memory.http.dashboard", "templates"),
                      autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
    env.globals["mask"] = mask
    router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PageRoute)

    def render(name: str, who: session.Session | None, status: int = 200, **context: Any) -> Response:
        html = env.get_template(name).render(csrf=who.csrf() if who else "", logged_in=who is not None,
                                             prefix=PREFIX, **context)
        return _secure(HTMLResponse(html, status_code=status))

    async def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await run_blocking(fn, ops, *args, **kwargs)

    def back(path: str, notice: str = "") -> Response:
        query = f"?{urlencode({'notice': notice})}" if notice else ""
        return _secure(RedirectResponse(f"{PREFIX}{path}{query}", status_code=303))

    @router.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise NotFound("no such file")
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        response = Response(data, media_type=STATIC[name])
        response.headers["Cache-Control"] = "max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @router.get("/login")
    async def login_page(request: Request) -> Response:
        token = request.cookies.get(session.LOGIN_COOKIE) or secrets.token_hex(16)
        response = render("login.html", None, login_token=token, error=request.query_params.get("error", ""))
        response.set_cookie(session.LOGIN_COOKIE, token, httponly=True, samesite="strict", path=PREFIX,
                            secure=request.url.scheme == "https", max_age=3600)
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await form(request)
        token = request.cookies.get(session.LOGIN_COOKIE, "")
        if not token or not secrets.compare_digest(fields.get("login_token", "").encode("utf-8", "replace"),
                                                   token.encode()):
            raise CsrfFailed
        keys: tuple[str, ...] = request.app.state.admin_keys
        key = _matching_key(fields.get("key", ""), keys)
        if key is None:
            await call(admin.audit, "dashboard", "dashboard.login_failed")
            error = "wrong admin key" if keys else "dashboard disabled: AGENTIC_MEMORY_ADMIN_KEY is not set"
            return _secure(RedirectResponse(f"{PREFIX}/login?{urlencode({'error': error})}", status_code=303))
        response = back("")
        response.set_cookie(session.COOKIE, session.issue(key), httponly=True, samesite="strict", path=PREFIX,
                            secure=request.url.scheme == "https", max_age=session.LIFETIME_SECS)
        response.delete_cookie(session.LOGIN_COOKIE, path=PREFIX)
        await call(admin.audit, f"key:{session.fingerprint(key)}/dashboard", "dashboard.login")
        return response

    @router.post("/logout")
    async def logout(who: Current, _: Form) -> Response:
        await call(admin.audit, who.actor, "dashboard.logout")
        response = _secure(RedirectResponse(f"{PREFIX}/login", status_code=303))
        response.delete_cookie(session.COOKIE, path=PREFIX)
        return response

    @router.get("")
    async def overview(who: Current) -> Response:
        data = await call(dashboard.overview, actor=who.actor)
        labels = [d.day for d in data.days]
        graphs = {
            "calls": charts.stacked_bars("Calls per day", labels, [("calls", [d.calls for d in data.days])]),
            "callers": charts.stacked_bars("New and returning callers per day", labels, [
                ("new", [d.new_callers for d in data.days]), ("returning", [d.returning_callers for d in data.days])]),
            "latency": charts.lines("Processing latency per day (seconds)", labels, [
                ("p50", [d.p50_secs for d in data.days]), ("p95", [d.p95_secs for d in data.days])], unit=" s"),
            "memories": charts.stacked_bars("Callers by number of active memories",
                                            [label for label, _ in data.memories_per_caller],
                                            [("callers", [n for _, n in data.memories_per_caller])]),
        }
        return render("overview.html", who, data=data, graphs=graphs)

    async def callers_page(who: session.Session, q: str, sort_by: str, notice: str = "") -> Response:
        q = q.strip()[:100]
        sort, _, direction = sort_by.partition(":")
        sort = sort if sort in SORTS else "last_seen"
        descending = (direction or ("desc" if sort in ("last_seen", "calls") else "asc")) == "desc"
        by_number = any(ch.isdigit() for ch in q)
        error = ""
        try:
            found = await call(admin.list_callers, actor=who.actor, query=q if by_number else "",
                               name="" if by_number else q, limit=admin.MAX_PAGE)
            rows = found["callers"]
        except InvalidInput as exc:
            rows, error = [], str(exc)
        rows.sort(key=SORTS[sort], reverse=descending)
        for row in rows:
            row["handle"] = dashboard.handle(owner_key(row["number"], row["agent_id"], settings.scope), ops)
        return render("callers.html", who, rows=rows, q=q, sort=sort, descending=descending, error=error,
                      notice=notice)

    @router.get("/callers")
    async def callers(who: Current, request: Request) -> Response:
        return await callers_page(who, "", request.query_params.get("sort", ""),
                                  request.query_params.get("notice", ""))

    @router.post("/callers")
    async def search_callers(who: Current, fields: Form) -> Response:
        """A search is a POST: the number typed stays out of URLs (access logs, history, Referer)."""
        return await callers_page(who, fields.get("q", ""), fields.get("sort", ""))

    async def caller_data(who: session.Session, caller_handle: str) -> tuple[str, str | None, dict[str, Any]]:
        profile = await call(dashboard.resolve, caller_handle)
        number, agent = split_key(profile.caller_id)
        shown = await call(admin.show_caller, number, actor=who.actor, transcripts=True, agent_id=agent or None)
        return number, agent or None, shown

    @router.get("/callers/{caller_handle}")
    async def caller(who: Current, caller_handle: str, request: Request) -> Response:
        number, agent, shown = await caller_data(who, caller_handle)
        briefing = await run_blocking(brief_caller, number, store=deps.store, default_region=settings.default_region,
                                      agent_id=agent, scope=settings.scope)
        preview = client_data_response(briefing, prompt_template=settings.prompt_template,
                                       base_prompt=settings.base_prompt, greeting=greeting)
        groups = {kind: [m for m in shown["memories"] if m["type"] == kind] for kind in ("factual", "semantic")}
        return render("caller.html", who, handle=caller_handle, shown=shown, groups=groups,
                      preview=preview, preview_json=orjson.dumps(preview, option=orjson.OPT_INDENT_2).decode(),
                      notice=request.query_params.get("notice", ""))

    @router.post("/callers/{caller_handle}/name")
    async def rename(who: Current, caller_handle: str, fields: Form) -> Response:
        profile = await call(dashboard.resolve, caller_handle)
        number, agent = split_key(profile.caller_id)
        await call(admin.rename_caller, number, fields.get("name", ""), actor=who.actor, agent_id=agent or None)
        return back(f"/callers/{caller_handle}", "Name corrected.")

    @router.post("/callers/{caller_handle}/memories/{memory_id}/delete")
    async def delete_memory(who: Current, caller_handle: str, memory_id: str, _: Form) -> Response:
        profile = await call(dashboard.resolve, caller_handle)
        memory = deps.store.memories([memory_id]).get(memory_id)
        if memory is None or memory.caller_id != profile.caller_id:
            raise NotFound("no such memory for this caller")
        await call(admin.delete_memory, memory_id, actor=who.actor)
        return back(f"/callers/{caller_handle}", "Memory deleted.")

    @router.get("/callers/{caller_handle}/export")
    async def export(who: Current, caller_handle: str) -> Response:
        profile = await call(dashboard.resolve, caller_handle)
        data = await call(erasure.export_caller, split_key(profile.caller_id)[0], actor=who.actor)
        response = Response(orjson.dumps(data, option=orjson.OPT_INDENT_2), media_type="application/json")
        response.headers["Content-Disposition"] = f'attachment; filename="caller-{caller_handle}.json"'
        return _secure(response)

    @router.get("/callers/{caller_handle}/erase")
    async def erase_page(who: Current, caller_handle: str) -> Response:
        _, _, shown = await caller_data(who, caller_handle)
        files = sum(len(c["files"]) for c in shown["calls"])
        return render("erase.html", who, handle=caller_handle, shown=shown, files=files)

    @router.post("/callers/{caller_handle}/erase")
    async def erase(who: Current, caller_handle: str, _: Form) -> Response:
        profile = await call(dashboard.resolve, caller_handle)
        receipt = await call(erasure.erase_caller, split_key(profile.caller_id)[0], actor=who.actor)
        return back("/callers", f"Caller erased (receipt {receipt['receipt_id']}).")

    @router.get("/calls/{conversation_id}/audio")
    async def audio(who: Current, conversation_id: str, request: Request) -> Response:
        data = await call(admin.call_audio, conversation_id, actor=who.actor)
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
        match = _RANGE.match(request.headers.get("range", ""))
        if match is None or not any(match.groups()):
            return Response(data, media_type="audio/mpeg", headers=headers)
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
        else:  # a suffix range: the last N bytes
            start, end = max(len(data) - int(last), 0), len(data) - 1
        if start > end or start >= len(data):
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{len(data)}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return Response(data[start:end + 1], status_code=206, media_type="audio/mpeg", headers=headers)

    @router.get("/search")
    async def playground(who: Current, request: Request) -> Response:
        caller_handle = request.query_params.get("caller", "")
        query = request.query_params.get("q", "").strip()[:500]
        listed = await call(admin.list_callers, actor=who.actor, limit=admin.MAX_PAGE)
        options = [{"handle": dashboard.handle(owner_key(c["number"], c["agent_id"], settings.scope), ops),
                    "label": f"{c['first_name'] or 'unnamed'} ({mask(c['number'])})"}
                   for c in listed["callers"]]
        hits: list[Any] = []
        if caller_handle and query:
            profile = await call(dashboard.resolve, caller_handle)
            number, agent = split_key(profile.caller_id)
            _, hits = await run_blocking(explain, SearchQuery(query=query, user_id=number, limit=20,
                                                              agent_id=agent or None),
                                         engine=deps.engine, default_region=settings.default_region,
                                         scope=settings.scope)
            await call(admin.audit, who.actor, "dashboard.search", profile.caller_id, results=len(hits))
        return render("search.html", who, options=options, caller=caller_handle, query=query, hits=hits)

    @router.get("/dead")
    async def dead(who: Current, request: Request) -> Response:
        jobs = await call(dead_letters.list_jobs, actor=who.actor, status="dead", limit=admin.MAX_PAGE)
        return render("dead.html", who, jobs=jobs["jobs"], notice=request.query_params.get("notice", ""))

    def _ids(fields: dict[str, str], raw: bytes) -> list[int] | None:
        if fields.get("all") == "1":
            return None
        ids = [int(v) for k, values in parse_qs(raw.decode("utf-8", "replace")).items() if k == "id"
               for v in values if v.isdigit() and 0 < int(v) < 2**63]
        if not ids:
            raise InvalidInput("select at least one dead letter")
        return ids

    @router.post("/dead/replay")
    async def replay(who: Current, fields: Form, request: Request) -> Response:
        done = await call(dead_letters.replay, _ids(fields, await request.body()), actor=who.actor)
        return back("/dead", f"{done['replayed']} job(s) queued again.")

    @router.post("/dead/purge")
    async def purge(who: Current, fields: Form, request: Request) -> Response:
        done = await call(dead_letters.purge, _ids(fields, await request.body()), actor=who.actor)
        return back("/dead", f"{done['purged']} dead letter(s) deleted.")

    return router


def include_dashboard(app: FastAPI, deps: Deps) -> None:
    """Mount /dashboard (where the backend has an admin store) and answer its auth failures as pages."""
    if deps.admin is None:
        return
    app.include_router(dashboard_router(deps))

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _: LoginRequired) -> Response:
        if request.method == "GET":
            return _secure(RedirectResponse(f"{PREFIX}/login", status_code=303))
        return _secure(HTMLResponse("<!doctype html><title>Login required</title><p>Log in again.</p>",
                                    status_code=401))

    @app.exception_handler(CsrfFailed)
    async def _csrf(_: Request, __: CsrfFailed) -> Response:
        return _secure(HTMLResponse("<!doctype html><title>Forbidden</title><p>Missing or wrong CSRF token: "
                                    "reload the page and try again.</p>", status_code=403))
