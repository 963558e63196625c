"""Bulk-load synthetic callers straight into a SQLite data dir through the product's own store adapter.

Ingesting 100k calls through HTTP and the worker would take hours on 2 cores, so the scale levels are
loaded with `SqliteMemoryStore.save_call(CallUpdate(...))`, the call the worker itself ends with. Memory
texts are what the worker would store (caller facts as the rule extractor phrases them, 3-turn chunks from
the product's `chunk_turns`); vectors come from the real OnnxEmbedder over the texts of the first
POOL_CALLERS callers and are reused, kind by kind, for the others. The loader's own connection runs with
synchronous=OFF (a crash mid-load only means reloading); the server later opens the file with its
normal FULL durability.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench import synth

POOL_CALLERS = 64
GENERATOR_VERSION = 2
BASE_TIME = datetime(2026, 11, 1, 15, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Planned:
    conversation_id: str
    started_at: datetime
    facts: list[tuple[str, str, str | None]]  # text, category, slot
    chunks: list  # domain Chunk objects


def _plan(c: synth.Caller) -> list[Planned]:
    from agentic_memory.domain.chunking import chunk_turns
    from agentic_memory.domain.models import Turn

    rng = random.Random(c.index)
    n_calls = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    calls = []
    for k in range(n_calls):
        script = synth.call_turns(c, rng.choice((6, 8, 10)))
        turns = tuple(Turn(index=i, role="agent" if r == "agent" else "user", text=t, time_in_call_secs=5.0 * i)
                      for i, (r, t) in enumerate(script))
        facts: list[tuple[str, str, str | None]] = [(synth.summary(c), "summary", None),
                                                    (f"Caller's order number is {c.order_no}.", "identifier",
                                                     "identifier:order")]
        extra = [(f"Caller prefers {c.preference}.", "preference", "preference:" + c.preference.split()[-1]),
                 (f"Caller is allergic to {c.allergen}.", "preference", "preference:allergy:" + c.allergen),
                 ("Caller wants a text message, not a phone call.", "contact", "contact:channel"),
                 (f"Caller has an appointment on {c.day2} at {c.time} in {c.city}.", "plan", None)]
        facts += rng.sample(extra, rng.choice((1, 2)))
        started = BASE_TIME - timedelta(days=30 * (n_calls - 1 - k) + rng.randrange(0, 20), minutes=c.index % 600)
        calls.append(Planned(f"conv_bulk_{c.index}_{k}", started, facts, chunk_turns(turns)))
    return calls


def _top_facts(facts: list, index: int) -> tuple[str, ...]:
    """The product's card for the pool callers; the same shape, without its text cleaning, for the rest
    (cleaning every caller's facts was a third of the load time, and these texts are clean already)."""
    from agentic_memory.domain import card

    if index < POOL_CALLERS:
        return card.top_facts(facts)
    return tuple(m.text for m in facts if m.category != "summary")[: card.TOP_FACTS]


def _pool_vectors(embedder: object, seed: int) -> list[dict[str, np.ndarray]]:
    pools = []
    texts: list[str] = []
    spans = []
    for i in range(POOL_CALLERS):
        plan = _plan(synth.caller(i, seed))
        facts = [f[0] for call in plan for f in call.facts]
        chunks = [ch.text for call in plan for ch in call.chunks]
        spans.append((len(texts), len(facts), len(chunks)))
        texts += facts + chunks
    vectors = embedder.embed(texts)
    for start, n_facts, n_chunks in spans:
        pools.append({"fact": vectors[start:start + n_facts],
                      "chunk": vectors[start + n_facts:start + n_facts + n_chunks]})
    return pools


def load(data_dir: Path, n_callers: int, *, embedder: object, seed: int = 7, log: object = print) -> dict[str, float]:
    """Create `data_dir/agentic_memory.sqlite3` holding `n_callers` callers; returns counts and timings."""
    from agentic_memory.adapters.sqlite.database import Database
    from agentic_memory.adapters.sqlite.memory_store import SqliteMemoryStore
    from agentic_memory.domain.models import CallerProfile, Memory
    from agentic_memory.ports import CallUpdate, StoredMemory

    started = time.perf_counter()
    pools = _pool_vectors(embedder, seed)
    embed_secs = time.perf_counter() - started
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(data_dir / "agentic_memory.sqlite3")
    db.migrate()
    conn = db.connection()
    # Loader-only settings (the server reopens the file with WAL + synchronous=FULL): no journal at all,
    # and a large page cache, so a page is written once instead of to the WAL and again at checkpoint.
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    store = SqliteMemoryStore(db)
    n_memories = n_calls = 0
    for i in range(n_callers):
        c = synth.caller(i, seed)
        pool = pools[i % POOL_CALLERS]
        plan = _plan(c)
        fact_memories: list[Memory] = []
        updates = []
        nf = nc = 0
        for call in plan:
            new = []
            for j, (text, category, slot) in enumerate(call.facts):
                m = Memory(id=f"mem_b{i}_{call.conversation_id[-1]}_f{j}", caller_id=c.phone, type="factual",
                           text=text, conversation_id=call.conversation_id, agent_id="agent_bench",
                           created_at=call.started_at, category=category, slot=slot)
                fact_memories.append(m)
                new.append(StoredMemory(m, pool["fact"][nf % len(pool["fact"])]))
                nf += 1
            for j, chunk in enumerate(call.chunks):
                m = Memory(id=f"mem_b{i}_{call.conversation_id[-1]}_c{j}", caller_id=c.phone, type="semantic",
                           text=chunk.text, conversation_id=call.conversation_id, agent_id="agent_bench",
                           created_at=call.started_at + timedelta(seconds=chunk.turns[0].time_in_call_secs),
                           category="transcript", turn_start=chunk.start, turn_end=chunk.end)
                new.append(StoredMemory(m, pool["chunk"][nc % len(pool["chunk"])],
                                        keywords=f"{call.started_at:%B %Y %A}"))
                nc += 1
            updates.append((call, new))
        total = sum(len(new) for _, new in updates)
        profile = CallerProfile(caller_id=c.phone, first_seen=plan[0].started_at, last_seen=plan[-1].started_at,
                                call_count=len(plan), first_name=c.first_name, name_source="self_introduction",
                                language=c.language, last_call_summary=synth.summary(c)[:300], memory_count=total,
                                top_facts=_top_facts(fact_memories, i))
        for call, new in updates:
            store.save_call(CallUpdate(conversation_id=call.conversation_id, caller_id=c.phone,
                                       agent_id="agent_bench", started_at=call.started_at, profile=profile,
                                       new_memories=new))
        n_memories += total
        n_calls += len(plan)
        if i and i % 20000 == 0:
            log(f"  bulk load: {i}/{n_callers} callers, {n_memories} memories, "
                f"{time.perf_counter() - started:.0f} s")
    conn.execute("PRAGMA journal_mode=WAL")
    db.close()
    return {"callers": n_callers, "calls": n_calls, "memories": n_memories,
            "pool_embed_secs": round(embed_secs, 1), "load_secs": round(time.perf_counter() - started, 1)}
