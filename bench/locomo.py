"""Retrieval quality on LoCoMo through the real service, against single-turn BM25 and dense baselines.

Each session of each sample becomes a signed `post_call_transcription` webhook (speaker A = the caller,
role "user", one synthetic phone number per sample; speaker B = the agent), is posted to /post-call, and
every question of categories 1-4 is asked through /retrieve (limit 50, the caller's number). Recall is
LoCoMo's own (share of a question's evidence turns found), read within a word budget of the ranked
results so that chunks and single turns compare fairly: a turn counts if it starts inside the budget;
factual memories use budget and hold no turns.

The dataset is CC BY-NC: it is read at run time from its path and nothing of it is stored here.

    python -m bench.locomo --dataset ../shared/datasets/locomo-dev.json [--url URL] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from agentic_memory.elevenlabs import builders
from agentic_memory.elevenlabs.signature import sign
from bench.server import Server

BUDGETS = (250, 600)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
LIMIT = 50
TURN_ID = 'dia_id'  # the dataset's turn-id field name (the data itself is only ever read at run time)
_TOKEN = re.compile(r"\w+", re.UNICODE)
_LABEL = re.compile(r"^(Caller|Agent): ")


@dataclass(frozen=True, slots=True)
class Session:
    conversation_id: str
    caller: str
    started_at: datetime
    turns: tuple[tuple[str, str, str], ...]  # (speaker, evidence id, text), in transcript order
    summary: str


@dataclass(frozen=True, slots=True)
class Question:
    caller: str
    text: str
    category: int
    evidence: frozenset[str]


@dataclass(slots=True)
class Sample:
    speaker_a: str
    speaker_b: str
    caller: str
    sessions: list[Session] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


# A ranked result as the scorer sees it: the evidence id of each of its turns (None for a factual
# memory or a turn we cannot map) with that turn's word count.
Ranked = list[list[tuple[str | None, int]]]


def parse_date(text: str) -> datetime:
    """LoCoMo session dates look like "1:56 pm on 8 May, 2023"."""
    return datetime.strptime(text.replace(",", ""), "%I:%M %p on %d %B %Y").replace(tzinfo=UTC)


def load(path: str | Path) -> list[Sample]:
    samples = []
    for i, raw in enumerate(json.loads(Path(path).read_text(encoding="utf-8"))):
        conv = raw["conversation"]
        sample = Sample(conv["speaker_a"], conv["speaker_b"], caller=f"+1202555{100 + i:04d}")
        summaries = raw.get("session_summary") or {}
        numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k))
        for n in numbers:
            turns = tuple((t["speaker"], t[TURN_ID], t["text"]) for t in conv[f"session_{n}"])
            if not turns:
                continue
            sample.sessions.append(Session(
                conversation_id=f"conv_locomo_{i:03d}_s{n:02d}", caller=sample.caller,
                started_at=parse_date(conv[f"session_{n}_date_time"]), turns=turns,
                summary=summaries.get(f"session_{n}_summary", "")))
        known = {dia_id for s in sample.sessions for _, dia_id, _ in s.turns}
        for q in raw["qa"]:
            # A few evidence entries hold several ids ("D1:2; D3:4"); ids that match no turn are dropped.
            evidence = frozenset(e for item in q.get("evidence") or () for e in re.split(r"[;,\s]+", item)) & known
            if q["category"] in CATEGORIES and evidence:
                sample.questions.append(Question(sample.caller, q["question"], q["category"], evidence))
        samples.append(sample)
    return samples


def webhook(sample: Sample, session: Session) -> dict[str, Any]:
    turns = [("user" if speaker == sample.speaker_a else "agent", text) for speaker, _, text in session.turns]
    return builders.transcription(
        conversation_id=session.conversation_id, caller=sample.caller, turns=turns,
        start_time=int(session.started_at.timestamp()), summary=session.summary,
        data={"caller_name": sample.speaker_a}, agent_name=sample.speaker_b)


# -- scoring ----------------------------------------------------------------------------------------

def words(text: str) -> int:
    return len(text.split())


def recall_at(ranked: Ranked, evidence: frozenset[str], budget: int) -> float:
    used, found = 0, set()
    for result in ranked:
        for dia_id, n in result:
            if used >= budget:
                return len(found & evidence) / len(evidence)
            if dia_id is not None:
                found.add(dia_id)
            used += n
    return len(found & evidence) / len(evidence)


def summarise(per_question: Sequence[tuple[Question, Ranked]]) -> dict[str, dict[str, float]]:
    """{"@250": {"overall": r, "multi-hop": r, ...}, ...} in percent."""
    out: dict[str, dict[str, float]] = {}
    for budget in BUDGETS:
        by_cat: dict[str, list[float]] = defaultdict(list)
        for question, ranked in per_question:
            r = recall_at(ranked, question.evidence, budget)
            by_cat[CATEGORIES[question.category]].append(r)
            by_cat["overall"].append(r)
        out[f"@{budget}"] = {k: round(100 * sum(v) / len(v), 1) for k, v in by_cat.items()}
    return out


def memory_turns(memory: dict[str, Any], sessions: dict[str, Session]) -> list[tuple[str | None, int]]:
    """Split a returned memory into its turns (evidence id, words); a factual memory is one unmapped part."""
    meta = memory.get("metadata") or {}
    session = sessions.get(meta.get("conversation_id", ""))
    text = memory["memory"]
    if meta.get("type") != "semantic" or session is None or meta.get("turn_start") is None:
        return [(None, words(text))]
    lines: list[str] = []
    for line in text.split("\n"):
        if _LABEL.match(line) or not lines:
            lines.append(line)
        else:
            lines[-1] += "\n" + line
    spoken = [i for i in range(meta["turn_start"], meta["turn_end"] + 1)
              if i < len(session.turns) and session.turns[i][2].strip()]
    if len(spoken) != len(lines):  # cannot align: count the words, credit nothing
        return [(None, words(text))]
    return [(session.turns[i][1], words(line)) for i, line in zip(spoken, lines, strict=True)]


# -- the service ------------------------------------------------------------------------------------

def ingest(client: httpx.Client, samples: Sequence[Sample], hmac_key: str, *, timeout: float = 900) -> float:
    started = time.perf_counter()
    for sample in samples:
        for session in sample.sessions:
            body = json.dumps(webhook(sample, session)).encode()
            response = client.post("/post-call", content=body, headers={
                "ElevenLabs-Signature": sign(body, hmac_key), "Content-Type": "application/json"})
            response.raise_for_status()
    while time.perf_counter() - started < timeout:
        queue = client.get("/health").json()["queue"]
        if queue["pending"] == 0:
            if queue["dead"]:
                raise RuntimeError(f"{queue['dead']} webhooks went to the dead letter")
            return time.perf_counter() - started
        time.sleep(0.2)
    raise TimeoutError("the queue did not drain")


def ask_service(client: httpx.Client, samples: Sequence[Sample]) -> list[tuple[Question, Ranked]]:
    sessions = {s.conversation_id: s for sample in samples for s in sample.sessions}
    out = []
    for sample in samples:
        for q in sample.questions:
            response = client.post("/retrieve", json={"query": q.text, "user_id": q.caller, "limit": LIMIT})
            response.raise_for_status()
            out.append((q, [memory_turns(m, sessions) for m in response.json()["memories"]]))
    return out


# -- baselines over single turns ----------------------------------------------------------------------

def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25:
    """Okapi BM25 (k1 1.5, b 0.75) with the usual non-negative idf."""

    def __init__(self, docs: Sequence[list[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [Counter(d) for d in docs]
        self.lengths = [len(d) for d in docs]
        self.avg = sum(self.lengths) / max(len(docs), 1)
        df = Counter(term for d in self.docs for term in d)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(self.docs))
        for i, (doc, length) in enumerate(zip(self.docs, self.lengths, strict=True)):
            norm = self.k1 * (1 - self.b + self.b * length / self.avg)
            out[i] = sum(self.idf[t] * doc[t] * (self.k1 + 1) / (doc[t] + norm) for t in query if t in doc)
        return out


def _turn_docs(sample: Sample) -> list[tuple[str, str]]:
    return [(dia_id, f"{speaker}: {text}") for s in sample.sessions for speaker, dia_id, text in s.turns]


def baselines(samples: Sequence[Sample]) -> dict[str, list[tuple[Question, Ranked]]]:
    from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

    embedder = OnnxEmbedder()
    out: dict[str, list[tuple[Question, Ranked]]] = {"bm25": [], "dense": []}
    for sample in samples:
        docs = _turn_docs(sample)
        parts = [[(dia_id, words(text))] for dia_id, text in docs]
        bm25 = BM25([tokens(text) for _, text in docs])
        vectors = embedder.embed([text for _, text in docs])
        queries = embedder.embed([q.text for q in sample.questions])
        for q, qv in zip(sample.questions, queries, strict=True):
            for name, scores in (("bm25", bm25.scores(tokens(q.text))), ("dense", vectors @ qv)):
                order = np.argsort(-scores, kind="stable")[:LIMIT]
                out[name].append((q, [parts[i] for i in order]))
    return out


# -- running --------------------------------------------------------------------------------------------

def run_locomo(base_url: str, workspace_key: str, hmac_key: str, dataset_path: str | Path,
               *, details: Callable[[str, list[tuple[Question, Ranked]]], None] | None = None) -> dict[str, Any]:
    """Ingest the dataset into the service at `base_url`, ask its questions, score it and the baselines."""
    samples = load(dataset_path)
    headers = {"X-Workspace-Key": workspace_key}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        ingest_secs = ingest(client, samples, hmac_key)
        started = time.perf_counter()
        product = ask_service(client, samples)
        ask_secs = time.perf_counter() - started
    systems = {"agentic-memory": product, **baselines(samples)}
    if details is not None:
        for name, per_question in systems.items():
            details(name, per_question)
    return {
        "dataset": {"samples": len(samples), "sessions": sum(len(s.sessions) for s in samples),
                    "turns": sum(len(x.turns) for s in samples for x in s.sessions),
                    "questions": Counter(CATEGORIES[q.category] for q, _ in product)},
        "budgets_words": list(BUDGETS), "limit": LIMIT,
        "ingest_secs": round(ingest_secs, 2), "retrieve_mean_ms": round(1000 * ask_secs / max(len(product), 1), 2),
        "recall": {name: summarise(per_question) for name, per_question in systems.items()},
        "recall_by_sample": {name: [summarise([(q, r) for q, r in per_question if q.caller == sample.caller])
                                    for sample in samples] for name, per_question in systems.items()},
    }


def table(result: dict[str, Any]) -> str:
    columns = ["overall", *CATEGORIES.values()]
    lines = ["| system | budget | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for name, by_budget in result["recall"].items():
        for budget, row in by_budget.items():
            lines.append(f"| {name} | {budget} words | " + " | ".join(f"{row.get(c, 0):.1f}" for c in columns) + " |")
    return "\n".join(lines)


def _dump_details(path: Path) -> Callable[[str, list[tuple[Question, Ranked]]], None]:
    def write(name: str, per_question: list[tuple[Question, Ranked]]) -> None:
        rows = [{"q": i, "category": q.category, "evidence": sorted(q.evidence),
                 **{f"r{b}": recall_at(r, q.evidence, b) for b in BUDGETS},
                 "ranked": [[d for d, _ in res] for res in r[:20]],
                 "words": [sum(n for _, n in res) for res in r[:20]]} for i, (q, r) in enumerate(per_question)]
        (path / f"{name}.json").write_text(json.dumps(rows))
    return write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="path to locomo-dev.json (never committed)")
    parser.add_argument("--url", help="a running server; without it one is started on a free port")
    parser.add_argument("--workspace-key", default=os.environ.get("ELEVENLABS_WORKSPACE_KEY", ""))
    parser.add_argument("--hmac-key", default=os.environ.get("ELEVENLABS_HMAC_KEY", ""))
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--details", type=Path, help="folder for per-question rankings (outside the repo)")
    args = parser.parse_args(argv)
    details = None
    if args.details:
        args.details.mkdir(parents=True, exist_ok=True)
        details = _dump_details(args.details)
    if args.url:
        result = run_locomo(args.url, args.workspace_key, args.hmac_key, args.dataset, details=details)
    else:
        with Server(env={"AGENTIC_MEMORY_LOG_LEVEL": "WARNING"}) as server:
            result = run_locomo(server.url, server.workspace_key, server.hmac_key, args.dataset, details=details)
    print(table(result))
    print(f"ingest {result['ingest_secs']} s, /retrieve mean {result['retrieve_mean_ms']} ms")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
