"""The dashboard over HTTP on a real SQLite data dir seeded with signed webhooks: every page and action,
and the failures of login, session and CSRF."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agentic_memory.bootstrap import Deps
from agentic_memory.http.app import create_app
from agentic_memory.services.search import SearchQuery, search
from tests.conftest import WORKSPACE_KEY, app_client, auth, built_deps, drain, make_settings
from tests.dashboard_seed import ANN, MP3, seed

ADMIN_KEY = "amadm_test_admin_key_0123456789abcdef"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
LOGIN = re.compile(r'name="login_token" value="([0-9a-f]+)"')


@pytest.fixture
def seeded(tmp_path: Path, embedder: Any) -> Iterator[Deps]:
    with built_deps(make_settings(tmp_path / "data", admin_key=ADMIN_KEY), embedder=embedder) as built:
        yield built


@pytest.fixture
def web(seeded: Deps) -> Iterator[TestClient]:
    with app_client(seeded) as client:
        seed(client, seeded)
        yield client


def login(client: TestClient, key: str = ADMIN_KEY) -> str:
    """Logs in; returns the session's CSRF token."""
    page = client.get("/dashboard/login")
    token = LOGIN.search(page.text)
    assert token is not None
    done = client.post("/dashboard/login", data={"key": key, "login_token": token.group(1)}, follow_redirects=False)
    assert done.status_code == 303
    overview = client.get("/dashboard")
    assert overview.status_code == 200
    found = CSRF.search(overview.text)
    assert found is not None
    return found.group(1)


def find(client: TestClient, query: str, **fields: str) -> str:
    """The callers page's search (a POST, so that the number stays out of the URL)."""
    csrf = CSRF.search(client.get("/dashboard/callers").text).group(1)
    response = client.post("/dashboard/callers", data={"q": query, "csrf": csrf, **fields})
    assert response.status_code == 200
    return response.text


def handle_of(client: TestClient, query: str) -> str:
    page = find(client, query)
    found = re.findall(r'href="/dashboard/callers/(c_[0-9a-f]+)"', page)
    assert len(found) == 1, page
    return found[0]


def test_pages_need_a_session_from_the_admin_key_never_the_workspace_key(web):
    for path in ("/dashboard", "/dashboard/callers", "/dashboard/search", "/dashboard/dead",
                 "/dashboard/callers/cref_x", "/dashboard/calls/conv_a2/audio"):
        response = web.get(path, headers={"X-Admin-Key": ADMIN_KEY, **auth()}, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/dashboard/login"
    assert web.post("/dashboard/dead/purge", data={"all": "1"}, follow_redirects=False).status_code == 401
    token = LOGIN.search(web.get("/dashboard/login").text).group(1)
    for key in (WORKSPACE_KEY, ADMIN_KEY + "x", ""):
        wrong = web.post("/dashboard/login", data={"key": key, "login_token": token}, follow_redirects=False)
        assert wrong.status_code == 303
        assert "error=" in wrong.headers["location"]
        assert "am_dashboard" not in wrong.headers.get("set-cookie", "")
    forged = web.post("/dashboard/login", data={"key": ADMIN_KEY, "login_token": "0" * 32}, follow_redirects=False)
    assert forged.status_code == 403  # login CSRF: the token must match the login cookie
    web.cookies.set("am_dashboard", "9999999999.abc.def.0123", path="/dashboard")
    assert web.get("/dashboard", follow_redirects=False).status_code == 303  # a forged cookie is no session


def test_session_cookie_flags_headers_and_audit(web, seeded):
    page = web.get("/dashboard/login")
    token = LOGIN.search(page.text).group(1)
    done = web.post("/dashboard/login", data={"key": ADMIN_KEY, "login_token": token}, follow_redirects=False)
    cookie = done.headers["set-cookie"]
    assert "am_dashboard=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http here; https below
    assert ADMIN_KEY not in cookie
    overview = web.get("/dashboard")
    assert "default-src 'none'" in overview.headers["content-security-policy"]
    assert overview.headers["cache-control"] == "no-store"
    with TestClient(create_app(seeded), base_url="https://testserver") as secure:
        token = LOGIN.search(secure.get("/dashboard/login").text).group(1)
        done = secure.post("/dashboard/login", data={"key": ADMIN_KEY, "login_token": token}, follow_redirects=False)
        assert "Secure" in done.headers["set-cookie"]
    actions = [e.action for e in seeded.admin.audit_events(limit=50)]
    assert "dashboard.login" in actions
    assert "dashboard.overview" in actions
    csrf = CSRF.search(overview.text).group(1)
    assert web.post("/dashboard/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert web.get("/dashboard", follow_redirects=False).status_code == 303


def test_overview_charts_and_numbers_come_from_the_database(web):
    login(web)
    page = web.get("/dashboard").text
    assert page.count("<svg") == 4
    assert "<strong>2</strong> callers" in page
    assert "<strong>1</strong> dead letters" in page
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert re.search(rf"<td>{today}</td><td>\d+</td>", page)
    assert "p50" in page
    assert "p95" in page
    assert "<title>" in page  # the numbers on hover


def test_callers_search_any_format_sort_and_masked_numbers(web):
    login(web)
    for query in ("(415) 555-0142", "415.555.0142", "+1 415 555 0142", "0142", "liz"):
        page = find(web, query)
        assert ">Liz</a>" in page, query
        assert "Bob" not in page, query
    listed = web.get("/dashboard/callers", params={"sort": "name:asc"}).text
    assert listed.index(">Bob</a>") < listed.index(">Liz</a>")
    assert "••• 0142" in listed
    assert "5550142" not in listed
    assert "555-0142" not in listed
    assert "Calls" in web.get("/dashboard/callers", params={"sort": "calls"}).text
    assert "No callers" in find(web, "zelda")
    sorted_search = find(web, "415", sort="name:desc")
    assert sorted_search.index(">Liz</a>") < sorted_search.index(">Bob</a>")
    csrf = CSRF.search(listed).group(1)
    assert web.post("/dashboard/callers", data={"q": "liz"}).status_code == 403
    assert csrf


def test_caller_page_shows_greeting_history_calls_transcript_and_audio(web):
    login(web)
    page = web.get(f"/dashboard/callers/{handle_of(web, '4155550142')}").text
    answer = web.post("/client-data", json={"caller_id": ANN, "agent_id": "a", "called_number": "+1",
                                            "call_sid": "x"}, headers=auth()).json()
    first = answer["conversation_config_override"]["agent"]["first_message"]
    assert f'id="first-message">{first}<' in page.replace("&#39;", "'")
    assert "<del>" in page  # the oat milk preference, superseded by almond
    assert 'href="#call-conv_a1"' in page
    assert 'src="/dashboard/calls/conv_a2/audio"' in page
    assert "almond milk" in page
    assert "Transcript" in page
    assert ANN not in page.split("<pre")[0]  # the number appears only inside the /client-data preview


def test_audio_is_streamed_with_range_requests(web):
    login(web)
    full = web.get("/dashboard/calls/conv_a2/audio")
    assert full.status_code == 200
    assert full.content == MP3
    assert full.headers["accept-ranges"] == "bytes"
    part = web.get("/dashboard/calls/conv_a2/audio", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == MP3[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(MP3)}"
    assert web.get("/dashboard/calls/conv_a2/audio", headers={"Range": "bytes=-10"}).content == MP3[-10:]
    assert web.get("/dashboard/calls/conv_a2/audio", headers={"Range": f"bytes={len(MP3)}-"}).status_code == 416
    assert web.get("/dashboard/calls/conv_b1/audio").status_code == 404


def test_rename_delete_export_need_the_csrf_token(web, seeded):
    csrf = login(web)
    handle = handle_of(web, "liz")
    for data in ({"name": "Elizabeth"}, {"name": "Elizabeth", "csrf": "0" * 64}, {"name": "Elizabeth", "csrf": ""}):
        forged = web.post(f"/dashboard/callers/{handle}/name", data=data, follow_redirects=False)
        assert forged.status_code == 403
    assert seeded.store.caller(ANN).first_name == "Liz"
    done = web.post(f"/dashboard/callers/{handle}/name", data={"name": "Elizabeth", "csrf": csrf})
    assert done.status_code == 200
    assert "Name corrected." in done.text
    assert 'id="first-message">' in done.text
    assert "Elizabeth" in done.text.split('id="first-message">')[1].split("<")[0]
    assert seeded.store.caller(ANN).name_source == "operator"
    unusable = web.post(f"/dashboard/callers/{handle}/name", data={"name": "12345", "csrf": csrf})
    assert unusable.status_code == 400
    assert "not a usable name" in unusable.text
    assert unusable.headers["content-type"].startswith("text/html")
    memory_id = re.findall(r"/memories/(mem_[0-9a-f]+)/delete", done.text)[0]
    deleted = web.post(f"/dashboard/callers/{handle}/memories/{memory_id}/delete", data={"csrf": csrf})
    assert "Memory deleted." in deleted.text
    assert f"/memories/{memory_id}/delete" not in deleted.text
    other = handle_of(web, "bob")
    assert web.post(f"/dashboard/callers/{other}/memories/{memory_id}/delete",
                    data={"csrf": csrf}).status_code == 404
    export = web.get(f"/dashboard/callers/{handle}/export")
    assert export.headers["content-disposition"].startswith("attachment")
    assert export.json()["caller"]["first_name"] == "Elizabeth"
    actions = [e.action for e in seeded.admin.audit_events(limit=50)]
    assert {"callers.rename", "memories.delete", "callers.export"} <= set(actions)


def test_erase_confirms_what_goes_then_the_caller_is_gone(web, seeded):
    csrf = login(web)
    handle = handle_of(web, "liz")
    confirm = web.get(f"/dashboard/callers/{handle}/erase").text
    assert "Erase Liz" in confirm
    assert "2 stored call(s)" in confirm
    assert web.post(f"/dashboard/callers/{handle}/erase", data={}, follow_redirects=False).status_code == 403
    erased = web.post(f"/dashboard/callers/{handle}/erase", data={"csrf": csrf})
    assert "Caller erased" in erased.text
    assert ">Liz</a>" not in erased.text
    assert seeded.store.caller(ANN) is None
    assert web.get(f"/dashboard/callers/{handle}").status_code == 404


def test_search_playground_shows_each_signals_part_and_the_services_ranking(web, seeded):
    login(web)
    handle = handle_of(web, "liz")
    page = web.get("/dashboard/search", params={"caller": handle, "q": "what milk do I take?"}).text
    assert "result(s) for" in page
    rows = re.findall(r"<tr><td>(\d+)</td>\s*<td>(.*?) <span", page)
    _, hits = search(SearchQuery(query="what milk do I take?", user_id=ANN, limit=20), engine=seeded.engine)
    assert [text for _, text in rows] == [h.memory.text.replace("'", "&#39;") for h in hits]
    assert "+1" in page  # the almond-milk fact is pinned by its slot
    assert "Liz (••• 0142)" in web.get("/dashboard/search").text


def test_dead_letters_list_replay_purge(web, seeded):
    csrf = login(web)
    page = web.get("/dashboard/dead").text
    assert "conv_bad" in page
    assert "base64" in page
    job_id = re.findall(r'name="id" value="(\d+)"', page)[0]
    assert web.post("/dashboard/dead/replay", data={"id": job_id}, follow_redirects=False).status_code == 403
    replayed = web.post("/dashboard/dead/replay", data={"id": job_id, "csrf": csrf})
    assert "1 job(s) queued again." in replayed.text
    drain(seeded.make_worker())
    assert web.post("/dashboard/dead/purge", data={"csrf": csrf}).status_code == 400  # nothing selected
    purged = web.post("/dashboard/dead/purge", data={"all": "1", "csrf": csrf})
    assert "dead letter(s) deleted." in purged.text
    assert "No dead letters" in web.get("/dashboard/dead").text


def test_no_phone_number_in_any_url(web):
    login(web)
    urls = []
    for path in ("/dashboard", "/dashboard/callers", "/dashboard/search", "/dashboard/dead"):
        urls += re.findall(r'(?:href|src|action|formaction)="([^"]+)"', web.get(path).text)
    urls += re.findall(r'(?:href|src|action)="([^"]+)"', web.get(f"/dashboard/callers/{handle_of(web, 'liz')}").text)
    assert urls
    assert not [u for u in urls if re.search(r"\d{4}", re.sub(r"c_[0-9a-f]{32}|(?:conv|mem)_\w+", "", u))]
