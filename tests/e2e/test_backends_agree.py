"""The same calls ingested into SQLite and PostgreSQL give the same /retrieve answers, in the same order.

Dense scores, keyword scores (domain/keyword_score.py: BM25 over the caller's own memories, the same index
terms on both) and the fusion are the same code on both backends; the databases only find candidates. So
every list must be identical, memory for memory: texts, types and order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from agentic_memory.bootstrap import build, migrate
from agentic_memory.http.app import create_app
from tests.conftest import drain, make_settings, post_signed
from tests.e2e.test_replay import LIZ, MARIA, OMAR, PRIYA, STEFAN, call, replay, search

NORA = "+14155550134"  # a caller with many calls on the same few topics: BM25's statistics matter here

NORA_CALLS = [
    ("conv_nora_1", 30, [("user", "I ordered two bags of dark roast, order number N-5510, to 12 Elm Street."),
                         ("agent", "Got it, order N-5510 ships to 12 Elm Street.")]),
    ("conv_nora_2", 25, [("user", "My order N-5510 never arrived. The delivery was supposed to be Tuesday."),
                         ("agent", "I'm sorry, I'll check the delivery of order N-5510 with the courier.")]),
    ("conv_nora_3", 20, [("user", "Please send my deliveries to my office now, 400 Market Street, suite 9."),
                         ("agent", "Updated: deliveries go to 400 Market Street, suite 9.")]),
    ("conv_nora_4", 15, [("user", "I'd like a refund for the dark roast, it was stale. Email me the receipt."),
                         ("agent", "Refund started for order N-5510; the receipt goes to your email.")]),
    ("conv_nora_5", 10, [("user", "My dog Biscuit is allergic to chicken, so no chicken treats in the box."),
                         ("agent", "Noted: no chicken treats for Biscuit.")]),
    ("conv_nora_6", 5, [("user", "Can you text me instead of email from now on? My order N-7720 is a gift."),
                        ("agent", "Sure, texts from now on. Order N-7720 will be gift-wrapped.")]),
]

QUERIES: list[tuple[str, str, dict[str, Any]]] = [
    (STEFAN, "what was my order number?", {}), (STEFAN, "what milk do I take in my latte?", {}),
    (STEFAN, "text me when it's ready", {"type": "semantic"}), (MARIA, "¿cuál es mi número de pedido?", {}),
    (MARIA, "¿cuándo prefiere que la llamen?", {}), (PRIYA, "claim number", {}), (PRIYA, "update", {}),
    (OMAR, "which room am I staying in?", {}), (OMAR, "itinerary item 12", {"limit": 20}),
    (OMAR, "Sarah booked the table", {}), (LIZ, "when is my appointment", {}), (LIZ, "what should I call you", {}),
    (NORA, "order N-5510", {"limit": 20}), (NORA, "where should my deliveries go now?", {}),
    (NORA, "delivery", {"type": "semantic", "limit": 20}), (NORA, "how do you contact me", {}),
    (NORA, "what can't the dog eat?", {"type": "factual"}), (NORA, "refund receipt email", {}),
]


def answers(data_dir: Path, embedder: Any, **overrides: Any) -> list[list[tuple[str, str]]]:
    settings = make_settings(data_dir, **overrides)
    migrate(settings)
    deps = build(settings, embedder=embedder, with_worker=False)
    try:
        with TestClient(create_app(deps), raise_server_exceptions=False) as client:
            worker = deps.make_worker()
            replay(client, worker)
            for cid, days_ago, turns in NORA_CALLS:
                assert post_signed(client, call(cid, NORA, turns, days_ago=days_ago)).status_code == 200
            drain(worker)
            return [[(m["memory"], m["metadata"]["type"]) for m in search(client, caller, query, **kw)]
                    for caller, query, kw in QUERIES]
    finally:
        deps.close()


def test_sqlite_and_postgresql_answer_alike(tmp_path, embedder, pg_url):
    on_sqlite = answers(tmp_path / "sqlite", embedder)
    on_postgres = answers(tmp_path / "pg", embedder, database_url=pg_url)
    assert all(on_sqlite)  # every query finds something, so the comparison means something
    assert sum(len(found) for found in on_sqlite) > 5 * len(QUERIES)  # and ranks more than a couple
    for (caller, query, _), expected, got in zip(QUERIES, on_sqlite, on_postgres, strict=True):
        assert got == expected, (caller[-4:], query)
