"""Dense-only screen of a sentence-embedding model on both dev sets, before any product work.

Each question is ranked against its caller's raw turns by the model alone (no keywords, no facts, no
fusion): voice-dev answer-in-top-5 per half and per kind, LoCoMo turn recall within 250 / 600 words per
conversation, and one-query embedding p50. Nothing is tuned, so every figure is held-out. A candidate that
does not beat the shipped model here will not help the product; one that does must still fit the service
budgets (RSS, `/retrieve` p50) through `python -m bench`.

    python -m bench.dense_screen                       # the shipped MiniLM
    python -m bench.dense_screen --onnx-dir DIR        # any folder OnnxEmbedder loads (same signature)
    python -m bench.dense_screen --python mod:Class    # an object with query(list[str]) and passage(list[str])

Results of the candidates tried are in bench/LOCOMO_NOTES.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bench import locomo as lc
from bench.voice_dev import DATASET, check_question, load

LOCOMO = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "locomo-dev.json"


class Model(Protocol):
    def query(self, texts: list[str]) -> np.ndarray: ...
    def passage(self, texts: list[str]) -> np.ndarray: ...


class Onnx:
    """The product's embedder: queries and passages embedded alike."""

    def __init__(self, model_dir: Path | None = None) -> None:
        from agentic_memory.adapters.embeddings.onnx import OnnxEmbedder

        self.inner = OnnxEmbedder(model_dir, threads=2)

    def query(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed(texts)

    def passage(self, texts: list[str]) -> np.ndarray:
        return self.inner.embed(texts)


def _turns(path: Path) -> list[str]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    turns = raw["data"]["transcript"] if "data" in raw else raw.get("transcript") or raw.get("messages") or []
    return [f"{t.get('role', '')}: {text}" for t in turns if (text := t.get("message") or t.get("content"))]


def voice_dev(model: Model, root: Path = DATASET) -> dict[str, float]:
    dev = load(root)
    by_caller: dict[str, list[str]] = {}
    for path, phone, _ in dev.calls:
        by_caller.setdefault(phone, []).extend(_turns(path))
    vectors = {phone: model.passage(texts) for phone, texts in by_caller.items()}
    rows: dict[str, list[bool]] = {}
    for q in dev.questions:
        texts = by_caller.get(q["caller"], [])
        scores = vectors[q["caller"]] @ model.query([q["query"]])[0] if texts else np.zeros(0)
        top = [texts[i] for i in np.argsort(-scores, kind="stable")[: q.get("k", 5)]]
        hit = check_question(q, top)
        for key in (dev.callers[q["caller"]].half, q["kind"]):
            rows.setdefault(key, []).append(hit)
    return {key: round(100 * sum(v) / len(v), 1) for key, v in sorted(rows.items())}


def locomo(model: Model, path: Path = LOCOMO) -> list[dict[str, float]]:
    out = []
    for sample in lc.load(path):
        docs = lc._turn_docs(sample)  # the same turn documents as the product's baselines
        parts = [[(dia_id, lc.words(text))] for dia_id, text in docs]
        vectors = model.passage([text for _, text in docs])
        queries = model.query([q.text for q in sample.questions])
        ranked = [(q, [parts[i] for i in np.argsort(-(vectors @ qv), kind="stable")[: lc.LIMIT]])
                  for q, qv in zip(sample.questions, queries, strict=True)]
        out.append({budget: row["overall"] for budget, row in lc.summarise(ranked).items()})
    return out


def p50_ms(model: Model) -> float:
    queries = ["what's his current address?", "Why did her basement flood?", "¿qué farmacia usa ahora?"] * 10
    model.query(queries[:1])
    times = []
    for q in queries:
        started = time.perf_counter()
        model.query([q])
        times.append(1000 * (time.perf_counter() - started))
    return round(float(np.percentile(times, 50)), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--onnx-dir", type=Path, help="an ONNX model folder (model.onnx, tokenizer.json, SHA256SUMS)")
    parser.add_argument("--python", help="module:Class with query() and passage()")
    parser.add_argument("--no-locomo", action="store_true")
    args = parser.parse_args(argv)
    model: Any
    if args.python:
        module, _, name = args.python.partition(":")
        model = getattr(importlib.import_module(module), name)()
    else:
        model = Onnx(args.onnx_dir)
    result: dict[str, Any] = {"voice_dev_top5": voice_dev(model), "query_p50_ms": p50_ms(model)}
    if not args.no_locomo:
        result["locomo_by_conversation"] = locomo(model)
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
