"""Re-rank the voice-dev questions offline over a kept database, with other fusion weights.

Ranking-only changes need no re-ingest: replay once (`python -m bench.voice_dev --keep DIR`), then

    python -m bench.voice_rerank DIR [--weights '{"summary": 0.5}'] [--show A|B] [--depth 20]

prints questions at top 5 and newest preference per half (seconds, not minutes), and with `--show` the
failing questions of that half with each candidate's score parts (`*` marks an accepted answer). Read only
the half you tune on; the other half is a figure. The final figures still come from `python -m bench`.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections import defaultdict
from pathlib import Path

from agentic_memory.adapters.local_engine import LocalMemoryEngine
from agentic_memory.bootstrap import build
from agentic_memory.config import load_settings
from agentic_memory.domain.ranking import FusionWeights
from bench.voice_dev import DATASET, check_question, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voice_rerank", description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path, help="the folder `bench.voice_dev --keep` wrote")
    parser.add_argument("--weights", default="{}", help="FusionWeights fields as JSON")
    parser.add_argument("--show", choices=("", "A", "B"), default="")
    parser.add_argument("--depth", type=int, default=20, help="candidates listed per failing question")
    parser.add_argument("--dataset", type=Path, default=DATASET)
    args = parser.parse_args(argv)
    env = {"ELEVENLABS_WORKSPACE_KEY": secrets.token_urlsafe(32), "ELEVENLABS_HMAC_KEY": secrets.token_urlsafe(32),
           "AGENTIC_MEMORY_DATA_DIR": str(args.data_dir)}
    deps = build(load_settings(env, env_file=None), with_worker=False)
    if deps.embedder is None:
        print("the kept database needs the local engine", file=sys.stderr)
        return 2
    engine = LocalMemoryEngine(deps.store, deps.embedder, weights=FusionWeights(**json.loads(args.weights)))
    dev = load(args.dataset)
    questions: dict[str, list[bool]] = defaultdict(list)
    newest: dict[str, list[bool]] = defaultdict(list)
    for q in dev.questions:
        half = dev.callers[q["caller"]].half
        hits = engine.explain(q["caller"], q["query"], limit=max(args.depth, 5), type=None)
        ok = check_question(q, [hit.memory.text for hit in hits[:q.get("k", 5)]])
        questions[half].append(ok)
        if q["kind"] == "preference-latest":
            newest[half].append(ok)
        if half == args.show and not ok:
            print(f"{q['id']} [{q['kind']}] {q['query']!r} expect {q['expect_any']}")
            for i, hit in enumerate(hits[:args.depth]):
                p, m = hit.parts, hit.memory
                mark = "*" if check_question(q, [m.text]) else " "
                print(f"  {mark}{i:2d} {p.score:.3f} dense {p.dense:.2f} kw {p.keyword:.2f} prior {p.prior:.2f}"
                      f"{' pinned' if p.pinned else ''} {m.category}: {m.text[:100]!r}")
    for half in sorted(questions):
        q_rows, n_rows = questions[half], newest[half]
        print(f"{half}: questions {100 * sum(q_rows) / len(q_rows):.1f} ({len(q_rows)}), newest preference "
              f"{100 * sum(n_rows) / max(len(n_rows), 1):.1f} ({len(n_rows)})")
    deps.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
