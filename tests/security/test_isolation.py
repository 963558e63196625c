"""Isolation: whatever the query, type filter or limit, a search only ever returns the caller's own memories."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentic_memory.adapters.sqlite.database import Database
from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore
from agentic_memory.bootstrap import Deps, local_engine
from agentic_memory.domain.models import Memory
from agentic_memory.domain.phone import normalise_phone
from agentic_memory.ports import CallUpdate, StoredMemory
from agentic_memory.services.search import SearchQuery, search
from agentic_memory.testing import HashEmbedder
from tests.security.conftest import auth_headers

# Numbers chosen to look alike: shared prefixes, one a prefix of another, same digits in other countries.
NUMBERS = ["+14155550111", "+14155550112", "+14155550121", "+12125550111", "+441415550111", "+4915112345678",
           "+491511234567", "+33612345678", "+34612345678", "+61412345678", "+5511912345678", "+819012345678"]
WORDS = ["order", "milk", "oat", "almond", "email", "phone", "booking", "table", "friday", "refund", "dentist",
         "allergy", "peanut", "A-48213", "Z-99999", "4155550111", "4155550112", "o14155550111", "owner", "OR",
         "NOT", "NEAR", "*", '"', "'", ":", "(", ")", "^", "-", "ünïcode", "日本", "\u202e", "%", "_"]
EMBEDDER = HashEmbedder()
START = datetime(2026, 1, 1, tzinfo=UTC)

texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)
memories = st.lists(st.tuples(st.sampled_from(NUMBERS), st.sampled_from(["factual", "semantic"]), texts,
                              st.booleans()), min_size=1, max_size=40)
queries = st.lists(st.tuples(st.sampled_from(NUMBERS), texts, st.sampled_from([None, "factual", "semantic"]),
                             st.integers(1, 50), st.sampled_from(["e164", "digits", "spaced"])),
                   min_size=1, max_size=8)


def _as_typed(number: str, style: str) -> str:
    """The same caller as a tool might pass it."""
    if style == "digits":
        return "00" + number[1:]
    if style == "spaced":
        return " ".join([number[:3], number[3:7], number[7:]])
    return number


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as path:
        yield Path(path)


def _load(store: SqliteMemoryStore, rows: list[tuple[str, str, str, bool]]) -> dict[str, tuple[str, str, bool]]:
    """Write the memories, one conversation per row; returns id -> (owner, type, active)."""
    truth: dict[str, tuple[str, str, bool]] = {}
    previous: dict[tuple[str, str], str] = {}
    for i, (caller, kind, text, supersede) in enumerate(rows):
        memory = Memory(id=f"mem_{i}", caller_id=caller, type=kind, text=text,
                        conversation_id=f"conv_{i}", agent_id="agent", created_at=START + timedelta(minutes=i))
        old = previous.get((caller, kind)) if supersede else None
        store.save_call(CallUpdate(conversation_id=f"conv_{i}", caller_id=caller, agent_id="agent",
                                   started_at=memory.created_at, profile=None,
                                   new_memories=[StoredMemory(memory, EMBEDDER.embed([text])[0], keywords=text)],
                                   superseded=[(old, memory.id)] if old else []))
        if old:
            truth[old] = (truth[old][0], truth[old][1], False)
        truth[memory.id] = (caller, kind, True)
        previous[(caller, kind)] = memory.id
    return truth


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=memories, searches=queries)
def test_search_never_returns_another_callers_memory(workdir: Path, rows, searches):
    with tempfile.TemporaryDirectory(dir=workdir) as path:
        db = Database(Path(path) / "db.sqlite3")
        db.migrate()
        try:
            store = SqliteMemoryStore(db)
            truth = _load(store, rows)
            for caller, text, kind, limit, style in searches:
                e164, hits = search(SearchQuery(query=text, user_id=_as_typed(caller, style), limit=limit,
                                                type=kind), engine=local_engine(store, EMBEDDER))
                assert e164 == caller
                returned = [hit.memory.id for hit in hits]
                assert len(returned) <= limit
                assert len(set(returned)) == len(returned)
                for memory_id in returned:
                    owner, memory_type, active = truth[memory_id]
                    assert owner == caller, f"{caller} got {owner}'s memory for {text!r}"
                    assert active, "a superseded memory was returned"
                    assert kind is None or memory_type == kind
                mine = [m for m, (o, t, a) in truth.items() if o == caller and a and (kind is None or t == kind)]
                assert len(returned) == min(limit, len(mine))  # isolation is not bought by returning nothing
        finally:
            db.close()


def test_retrieve_over_http_is_scoped_to_the_user_id(fast_client: TestClient, fast_deps: Deps):
    store = fast_deps.store
    rows = [(number, kind, f"order {number[-4:]} {kind} note for {number}", False)
            for number in NUMBERS for kind in ("factual", "semantic")]
    truth = _load(store, rows)
    for number in NUMBERS:
        for style in ("e164", "digits", "spaced"):
            for body in ({"query": f"order {number[-4:]}", "user_id": _as_typed(number, style), "limit": 50},
                         {"query": "note for " + NUMBERS[0], "user_id": _as_typed(number, style), "type": "factual"},
                         {"query": '" OR owner:* OR "', "user_id": _as_typed(number, style)}):
                response = fast_client.post("/retrieve", json=body, headers=auth_headers())
                assert response.status_code == 200, response.text
                found = response.json()["memories"]
                assert found
                assert all(m["user_id"] == normalise_phone(number) for m in found)
                assert all(truth[m["id"]][0] == number for m in found)


@pytest.fixture(scope="module")
def populated(workdir: Path) -> Iterator[tuple[SqliteMemoryStore, dict[str, tuple[str, str, bool]]]]:
    db = Database(workdir / "shared.sqlite3")
    db.migrate()
    store = SqliteMemoryStore(db)
    rows = [(number, kind, f"{' '.join(WORDS[i % len(WORDS):][:6])} {number}", False)
            for i, number in enumerate(NUMBERS * 3) for kind in ("factual", "semantic")]
    yield store, _load(store, rows)
    db.close()


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.text(min_size=1, max_size=2000) | st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(
    " ".join), limit=st.integers(1, 50), kind=st.sampled_from([None, "factual", "semantic"]))
def test_any_query_text_searches_safely(populated, query: str, limit: int, kind: str | None):
    """The keyword path (FTS5 MATCH) only runs when the caller has memories: feed it any text."""
    store, truth = populated
    caller = NUMBERS[len(query) % len(NUMBERS)]
    _, hits = search(SearchQuery(query=query, user_id=caller, limit=limit, type=kind),
                     engine=local_engine(store, EMBEDDER))
    assert hits
    assert len(hits) <= limit
    assert all(truth[h.memory.id][0] == caller and (kind is None or h.memory.type == kind) for h in hits)
