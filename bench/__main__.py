"""`python -m bench [--only latency,ingest,scale,locomo,voice-dev,proxy,aws] [--scale 1000,10000,100000]
[--out docs/benchmarks.md] [--processes N]`

`--processes N` also measures `/retrieve` and `/client-data` at c=32 against 1..N API processes on one
database (`bench/processes.py`); the servers get AGENTIC_MEMORY_DATABASE_URL when it is set here.

`python -m bench voice-dev [--show A|B|all]` runs only the voice-dev quality part and prints its table
(no report is written): the quick loop for name and retrieval work.

Runs the parts in order, each against its own real server on 127.0.0.1, and writes the Markdown report
plus a JSON twin (same name, .json). One part failing is recorded in the report; the others still run.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import report

PARTS = ("latency", "ingest", "scale", "locomo", "voice-dev", "proxy", "aws")
ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT.parent / "shared" / "datasets" / "locomo-dev.json"
VOICE_DEV = ROOT.parent / "shared" / "datasets" / "voice-dev"
PERF_NOTES = Path(__file__).resolve().parent / "PERF_NOTES.md"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _latency(args: argparse.Namespace) -> dict[str, Any]:
    from bench import latency, scale

    with tempfile.TemporaryDirectory(prefix="agentic-bench-latency-") as tmp:
        data_dir = scale.fresh_copy(args.latency_callers, Path(tmp) / "data", log=log)
        ack_dir = scale.fresh_copy(args.latency_callers, Path(tmp) / "acks", log=log)
        if args.database == "postgresql":
            from bench import postgres

            return postgres.latency(data_dir, ack_dir, callers=args.latency_callers, rounds=args.rounds,
                                    round_secs=args.round_secs, log=log)
        return latency.run(data_dir, ack_dir, callers=args.latency_callers, rounds=args.rounds,
                           round_secs=args.round_secs, log=log)


def _ingest(args: argparse.Namespace) -> dict[str, Any]:
    from bench import ingest

    return ingest.run(samples=args.ingest_samples, calls=args.ingest_calls, log=log)


def _scale(args: argparse.Namespace) -> dict[str, Any]:
    from bench import scale

    return scale.run(tuple(args.scale), rounds=args.rounds, database=args.database, log=log)


def _locomo(args: argparse.Namespace) -> dict[str, Any]:
    from bench.server import Server

    try:
        from bench import locomo
    except Exception as exc:  # noqa: BLE001 - owned by another module; the report says why it is missing
        return {"error": f"bench/locomo.py could not be imported: {exc.__class__.__name__}: {exc}"}
    if not args.dataset.exists():
        log(f"SKIPPED locomo: data set {args.dataset} not found (it lives in ../shared, outside the repository)")
        return {"skipped": f"data set {args.dataset} not found"}
    with Server() as server:
        result = locomo.run_locomo(server.url, server.workspace_key, server.hmac_key, args.dataset)
        rss = server.rss()
    table = locomo.table(result) if hasattr(locomo, "table") else ""
    return {"result": result, "table": table, "rss_mb": rss}


def _voice_dev(args: argparse.Namespace) -> dict[str, Any]:
    from bench import voice_dev

    result = voice_dev.run(args.voice_dev, show=args.show, log=log)
    if "skipped" in result:
        log(f"SKIPPED voice-dev: {result['skipped']} (it lives in ../shared, outside the repository)")
    return result


def _proxy(args: argparse.Namespace) -> dict[str, Any]:
    from bench import proxy

    return proxy.run(secs=args.proxy_secs, log=log)


def _aws(_args: argparse.Namespace) -> dict[str, Any]:
    from bench import aws

    return aws.run(log=log)


def _processes(args: argparse.Namespace) -> dict[str, Any]:
    import os

    from bench import processes, scale

    env = {k: os.environ[k] for k in ("AGENTIC_MEMORY_DATABASE_URL",) if os.environ.get(k)}
    with tempfile.TemporaryDirectory(prefix="agentic-bench-processes-") as tmp:
        data_dir = None if env else scale.fresh_copy(args.latency_callers, Path(tmp) / "data", log=log)
        return processes.run(args.processes, data_dir, callers=args.latency_callers, env=env, rounds=args.rounds,
                             round_secs=args.round_secs, log=log)


RUNNERS = {"processes": _processes, "latency": _latency, "ingest": _ingest, "scale": _scale, "locomo": _locomo,
           "voice-dev": _voice_dev, "proxy": _proxy, "aws": _aws}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {','.join(PARTS)}")
    p.add_argument("--scale", default="1000,10000,100000", help="caller counts of the scale part")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="Markdown report")
    p.add_argument("--json", type=Path, help="JSON results (default: --out with .json)")
    p.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite",
                   help="backend of the latency and scale parts (postgresql: a temporary server, the same callers "
                        "copied in; the scale part caches each level's copy and measures SQLite beside it)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--round-secs", type=float, default=2.0)
    p.add_argument("--latency-callers", type=int, default=1000, help="database size of the latency part")
    p.add_argument("--ingest-samples", type=int, default=20)
    p.add_argument("--ingest-calls", type=int, default=60)
    p.add_argument("--dataset", type=Path, default=DATASET, help="LoCoMo dev JSON")
    p.add_argument("--voice-dev", type=Path, default=VOICE_DEV, help="the voice-dev folder")
    p.add_argument("--show", choices=("", "A", "B", "all"), default="",
                   help="voice-dev: print the failures of one half (tune on it, read the other)")
    p.add_argument("--proxy-secs", type=float, default=8.0, help="load time of the proxy part's side-by-side run")
    p.add_argument("--processes", type=int, default=0,
                   help="also measure 1..N API processes on one database (req/s and p99 at c=32)")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite the Markdown from the existing JSON (after editing bench/PERF_NOTES.md)")
    args = p.parse_args(argv)
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        p.error(f"unknown parts: {', '.join(sorted(unknown))}")
    args.scale = [int(n) for n in args.scale.split(",") if n.strip()]
    args.json = args.json or args.out.with_suffix(".json")
    return args


def render(results: dict[str, Any], failed: list[str], out: Path) -> None:
    notes = PERF_NOTES.read_text(encoding="utf-8") if PERF_NOTES.exists() else ""
    errors = "\n".join(f"- **{p}** failed: {results[p]['error']}" for p in failed)
    if errors:
        notes = "## Parts that failed in this run\n\n" + errors + "\n\n" + notes
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.markdown(results, notes=notes), encoding="utf-8")


def voice_dev_only(argv: list[str]) -> int:
    """`python -m bench voice-dev [...]`: the voice-dev part alone, its table on stdout."""
    from bench import voice_dev

    return voice_dev.main(argv)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["voice-dev"]:
        return voice_dev_only(raw[1:])
    args = parse(argv)
    if args.render_only:
        results = json.loads(args.json.read_text(encoding="utf-8"))
        results["targets"] = report.targets({k: v for k, v in results.items() if not _errored(v)})
        render(results, [p for p in PARTS if _errored(results.get(p))], args.out)
        log(f"rewrote {args.out} from {args.json}")
        return 0
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": report.machine(),
                               "command": "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)}
    failed = []
    for part in (*PARTS, "processes"):
        if part not in args.only and not (part == "processes" and args.processes > 0):
            continue
        log(f"== {part}")
        t = time.perf_counter()
        try:
            results[part] = RUNNERS[part](args)
        except Exception as exc:  # noqa: BLE001 - one part failing must not lose the others' numbers
            traceback.print_exc()
            results[part] = {"error": f"{exc.__class__.__name__}: {exc}"}
            failed.append(part)
        results.setdefault("part_secs", {})[part] = round(time.perf_counter() - t, 1)
        log(f"   {part} took {results['part_secs'][part]} s")
    results["total_secs"] = round(time.perf_counter() - started, 1)
    results["targets"] = report.targets({k: v for k, v in results.items() if not _errored(v)})
    render(results, failed, args.out)
    args.json.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    for t in results["targets"]:
        log(f"{'PASS' if t['pass'] else 'FAIL' if t['pass'] is False else 'n/a ':4s}  {t['target']}: "
            f"{t['measured']} (limit {t['limit']})")
    log(f"wrote {args.out} and {args.json} in {results['total_secs']} s")
    return 0


def _errored(value: Any) -> bool:
    return isinstance(value, dict) and "error" in value and len(value) == 1


if __name__ == "__main__":
    sys.exit(main())
