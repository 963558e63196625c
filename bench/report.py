"""Machine facts, the targets read off the results, and the Markdown report."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.bulk import POOL_CALLERS

PACKAGES = ("agentic-memory", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic", "onnxruntime",
            "tokenizers", "numpy", "orjson")


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpu": cpu or platform.processor(),
            "cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)),
            "load_avg_at_start": [round(x, 2) for x in load], "os": platform.platform(),
            "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version, "versions": versions}


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target: what it says, the measured value, the limit, pass/fail (None when not measured)."""
    out: list[dict[str, Any]] = []

    def add(name: str, measured: float | None, limit: float | None, *, at_most: bool = True, how: str = "") -> None:
        measured = None if measured is None else round(measured, 2)
        ok = None if measured is None or limit is None else (measured <= limit if at_most else measured >= limit)
        out.append({"target": name, "measured": measured, "limit": limit, "pass": ok, "how": how})

    lat = results.get("latency") or {}
    eps = lat.get("endpoints", {})
    health = _get(eps, "health", "1", "p50")
    embed = _get(lat, "embed_floor_ms", "p50")
    fsync = _get(lat, "fsync_floor_ms", "p50")
    retrieve = _get(eps, "retrieve", "1", "p50")
    floor = _get(lat, "embed_floor_ms") or {}
    add("/retrieve p50 ≤ 2.5× fastest query embedding", None if retrieve is None or not embed
        else round(retrieve / embed, 2), 2.5,
        how=f"c=1: {retrieve} ms / embed {embed} ms ({floor.get('setting', '?')}; the service's 1-thread "
            f"setting: {floor.get('service_p50', '?')} ms)")
    ceiling = lat.get("embed_ceiling") or {}
    wait = ceiling.get("min_mean_ms_at_c32")
    add("/retrieve p99 at c=32 ≤ 2× the model-bound wait", _get(eps, "retrieve", "32", "p99"),
        None if wait is None else round(2 * wait, 1),
        how=f"ms; model-bound wait = 32 / {ceiling.get('best_qps')} queries/s (the model alone, "
            f"{ceiling.get('best')}) = {wait} ms")
    rps32 = _get(eps, "retrieve", "32", "rps")
    add("/retrieve throughput at c=32 ≥ 50% of the model's", None if rps32 is None or not ceiling
        else round(100 * rps32 / ceiling["best_qps"], 1), 50.0, at_most=False,
        how=f"%: {rps32} req/s of {ceiling.get('best_qps')} queries/s")
    client = _get(eps, "client-data", "1", "p50")
    add("/client-data p50 ≤ 2× /health p50", None if client is None or not health else round(client / health, 2),
        2.0, how=f"c=1: {client} ms / {health} ms")
    rps = max((r["rps"] for r in eps.get("client-data", {}).values()), default=None)
    add("/client-data ≥ 800 req/s", rps, 800.0, at_most=False, how="best of c=1/8/32")
    ack = _get(eps, "post-call", "1", "p50")
    limit = None if health is None or fsync is None else round(2 * health + fsync, 3)
    add("/post-call ack p50 ≤ 2× /health p50 + one fsync", ack, limit,
        how=f"c=1, ms; limit = 2×{health} + {fsync}")
    add("hang-up to searchable p95 ≤ 2 s (20-turn call)", _get(results, "ingest", "searchable_p95_ms"), 2000.0,
        how="ms")
    scale = results.get("scale") or {}
    if scale:
        low, high = min(scale, key=int), max(scale, key=int)
        backend = " on PostgreSQL" if scale[high].get("database") == "postgresql" else ""
        for endpoint in ("retrieve", "client-data"):
            a = _get(scale, low, "endpoints", endpoint, "1", "p50")
            b = _get(scale, high, "endpoints", endpoint, "1", "p50")
            add(f"/{endpoint} p50 at {int(high):,} callers ≤ 1.5× {int(low):,}{backend}", None if not a or b is None
                else round(b / a, 2), 1.5 if int(high) >= 100_000 else None, how=f"c=1: {b} ms / {a} ms")
    servers = [lat, results.get("ingest") or {}, *scale.values(), results.get("locomo") or {},
               results.get("voice-dev") or {}]
    rss = [r["rss_mb"]["VmRSS"] for r in servers if r.get("rss_mb")]
    add("server RSS ≤ 400 MB (model loaded)", max(rss) if rss else None, 400.0, how="largest VmRSS of any server after its load (latency, ingest, each scale level, LoCoMo, voice-dev), MB")
    held = locomo_held_out(results.get("locomo"))
    add("LoCoMo held-out recall within 250 words ≥ 72%", held.get("@250"), 72.0, at_most=False,
        how="% mean over the two conversations, each scored by code not tuned on it")
    add("LoCoMo held-out recall within 600 words ≥ 82%", held.get("@600"), 82.0, at_most=False, how="%")
    vd = _get(results, "voice-dev", "measures") or {}
    for measure, limit, what in (("names", 95.0, "after-call name checks"),
                                 ("questions", 92.0, "questions answered in the top 5"),
                                 ("newest_preference", 93.3, "newest preference ranked above the stale one"),
                                 ("duplicate_free", 100.0, "top-5 lists without a duplicate memory"),
                                 ("isolation", 100.0, "isolation probes"),
                                 ("new_callers", 100.0, "never-seen numbers treated as new")):
        add(f"voice-dev held-out: {what} ≥ {limit:g}%", _get(vd, measure, "held_out"), limit, at_most=False,
            how="% mean of the two halves (split by business)")
    cold = results.get("aws") or {}
    add("Lambda cold start: import + first /client-data ≤ 1000 ms", cold.get("greeting_cold_start_ms"), 1000.0,
        how=(f"import {cold.get('import_ms')} ms + first event {cold.get('first_client_data_ms')} ms (deps "
             f"{cold.get('deps_ms')}, app and answer {cold.get('app_and_answer_ms')}); first "
             f"/retrieve (model load) {cold.get('first_retrieve_ms')} ms" if cold else ""))
    if results.get("proxy"):
        from bench import proxy

        for name, measured, limit, how in proxy.targets(results["proxy"]):
            add(name, measured, limit, how=how)
    return out


def locomo_held_out(loc: dict[str, Any] | None) -> dict[str, float]:
    """Mean over LoCoMo's conversations of each one's recall: each is held out from tuning on the other."""
    per = _get(loc, "result", "recall_by_sample", "agentic-memory") or []
    out = {}
    for budget in ("@250", "@600"):
        values = [_get(s, budget, "overall") for s in per]
        if values and None not in values:
            out[budget] = round(sum(values) / len(values), 1)
    return out


def _ceiling_lines(ceiling: dict[str, Any] | None) -> list[str]:
    if not ceiling:
        return []
    layouts = "; ".join(f"{layout}: " + ", ".join(f"batch {b} {q:,.0f}/s" for b, q in rows.items())
                        for layout, rows in ceiling["queries_per_s"].items())
    return [(f"Ceiling in the same run: the embedding model alone embeds at most **{ceiling['best_qps']:,.0f} "
             f"queries/s** ({ceiling['best']}; {layouts}). By Little's law a closed loop of 32 clients then waits "
             f"at least 32 / {ceiling['best_qps']:,.0f} = **{ceiling['min_mean_ms_at_c32']} ms** on average per "
             "`/retrieve` (the model-bound wait), before any HTTP or search work."), ""]


def _floor_settings(floor: dict[str, Any]) -> str:
    by = floor.get("by_setting_p50") or {}
    return "best of " + ", ".join(f"{name} {ms} ms" for name, ms in by.items()) if by else "service setting"


def _mark(ok: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[ok]


def _latency_table(eps: dict[str, Any], floors: dict[str, float | None]) -> list[str]:
    lines = ["| endpoint | conc. | p50 ms | p95 ms | p99 ms | req/s | p50 ÷ floor | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for endpoint, rows in eps.items():
        floor = floors.get(endpoint)
        for c, r in rows.items():
            ratio = f"{r['p50'] / floor:.2f}×" if floor else ""
            lines.append(f"| `{endpoint}` | {c} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} | "
                         f"{ratio} | {r['errors']} |")
    return lines


def markdown(results: dict[str, Any], *, notes: str = "") -> str:
    m = results["machine"]
    v = m["versions"]
    lines = ["# Benchmarks", "",
             ("Generated by `python -m bench` (`make bench`). Numbers are from one run on a shared machine: read "
             "the ratios, which were measured side by side in the same run, rather than absolute values."), "",
             "## Machine", "",
             (f"- date: {m['date']}; CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
             f"load average at start {m['load_avg_at_start']}"),
             f"- {m['os']}; Python {m['python']}; SQLite {m['sqlite']}",
             "- " + ", ".join(f"{k} {val}" for k, val in v.items()),
             f"- command: `{results.get('command', '')}`; total {results.get('total_secs', '?')} s", "",
             "## Targets", "", "| target | measured | limit | result | how |", "|---|---:|---:|---|---|"]
    for t in results.get("targets", []):
        lines.append(f"| {t['target']} | {t['measured'] if t['measured'] is not None else '–'} | "
                     f"{t['limit'] if t['limit'] is not None else '–'} | {_mark(t['pass'])} | {t['how']} |")
    lat = results.get("latency")
    if lat:
        eps = lat["endpoints"]
        health = _get(eps, "health", "1", "p50")
        floors = {"health": health, "client-data": health, "post-call": health,
                  "retrieve": lat["embed_floor_ms"]["p50"]}
        lines += ["", "## 1. Latency and throughput", "",
                  (f"Servers on copies of the {lat['callers']:,}-caller database, API only (`serve --no-worker`, so "
                  "acknowledged webhooks leave no embedding work behind for the next rows); `/post-call` goes to a "
                  "second identical server, because its acks grow the inbox that `/health` counts. Closed-loop load "
                  "from a separate process (`bench/load.py`: raw HTTP/1.1 over asyncio+uvloop, keep-alive, one "
                  "connection per concurrent client). Rounds are interleaved across endpoints (health, client-data, "
                  "retrieve, post-call, health, ...; 0.5 s warm-up each) so noise from other tenants lands on all "
                  "of them alike; every value is the median of an endpoint's rounds. Each `/post-call` is a distinct signed 20-turn `post_call_transcription`."), "",
                  (f"Floors in the same run: `/health` p50 at c=1 **{health} ms**; the fastest bare query "
                  f"embedding of the shipped model in the bench process **{lat['embed_floor_ms']['p50']} ms** "
                  f"(p95 {lat['embed_floor_ms']['p95']}; {_floor_settings(lat['embed_floor_ms'])}); one 512-byte write+fsync on the data disk "
                  f"**{lat['fsync_floor_ms']['p50']} ms** (appending a 4 KB page then fsync, as a WAL commit does: "
                  f"{lat['fsync_floor_ms'].get('append_p50', '–')} ms). Server RSS after the run: {lat.get('rss_mb')}."), "",
                  *_ceiling_lines(lat.get("embed_ceiling")),
                  ("Floors in the ratio column: `/health` p50 at c=1 for `/health`, `/client-data`, `/post-call`; "
                  "the query embedding for `/retrieve`."), ""]
        lines += _latency_table(eps, floors)
    ing = results.get("ingest")
    if ing:
        s = ing["sustained"]
        lines += ["", "## 2. Hang-up to searchable", "",
                  (f"{ing['samples']} signed 20-turn calls, one at a time, on an idle server with the worker "
                  "in-process: from the 200 of `/post-call` to the first `/retrieve` that returns the order number "
                  f"said in the call (the probe waits on `/health`'s queue count, then asks `/retrieve` every "
                  f"{ing['poll_ms']:.0f} ms, so it does not steal the worker's CPU). Sustained: webhooks posted back "
                  "to back, throughput = calls / time until the queue is empty; ack p50 measured meanwhile."), "",
                  "| p50 ms | p95 ms | max ms | sustained calls/s | ack p50 during ingest ms |", "|---:|---:|---:|---:|---:|",
                  (f"| {ing['searchable_p50_ms']} | {ing['searchable_p95_ms']} | {ing['searchable_max_ms']} | "
                  f"{s['calls_per_sec']} ({s['calls']} calls back to back, drained in {s['drain_secs']} s) | "
                  f"{s['ack_p50_ms']} |")]
    scale = results.get("scale")
    if scale:
        lines += ["", "## 3. Scale", "",
                  ("Each level is bulk-loaded once (`bench/bulk.py`) straight into SQLite through the product's own "
                  "`SqliteMemoryStore.save_call(CallUpdate(...))` — ingesting 100k calls over HTTP would take hours on "
                  "2 cores — with texts shaped like the worker's (rule-extractor style facts, 3-turn transcript "
                  "chunks from `chunk_turns`) in en/es/fr/de, and vectors from the real OnnxEmbedder over the "
                  f"texts of the first {POOL_CALLERS} callers, reused kind by kind for the rest. The server is the default "
                  "`serve` (worker in-process, idle); all queries go through HTTP. The three servers run at once and "
                  "rounds alternate between levels, so the ratios between levels see the same noise. Each server is "
                  "first warmed with 3 s of each endpoint at c=8 (not measured), as a server in steady state would be. Building all "
                  "three levels from scratch takes ~7 minutes (once; cached under bench/results/cache/)."), "",
                  "| callers | calls | memories | DB MB | endpoint | conc. | p50 ms | p95 ms | p99 ms | req/s | RSS MB |",
                  "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
        for n, row in scale.items():
            for endpoint, rows in row["endpoints"].items():
                for c, r in rows.items():
                    lines.append(f"| {int(n):,} | {row['load']['calls']:,} | {row['load']['memories']:,} | "
                                 f"{row['db_mb']} | `{endpoint}` | {c} | {r['p50']:.2f} | {r['p95']:.2f} | "
                                 f"{r['p99']:.2f} | {r['rps']:.0f} | {row['rss_mb'].get('VmRSS')} |")
        if any("sqlite" in row for row in scale.values()):
            lines += ["", ("PostgreSQL above (each level copied from the SQLite level with `agentic-memory copy`'s "
                           "service into a cluster cached under bench/results/cache/), SQLite beside it in the same "
                           "alternating rounds:"), "",
                      "| callers | endpoint | conc. | SQLite p50 ms | PostgreSQL p50 ms | SQLite req/s | "
                      "PostgreSQL req/s |", "|---:|---|---:|---:|---:|---:|---:|"]
            for n, row in scale.items():
                for endpoint, rows in row["endpoints"].items():
                    for c, r in rows.items():
                        lite = _get(row, "sqlite", "endpoints", endpoint, c) or {}
                        lines.append(f"| {int(n):,} | `{endpoint}` | {c} | {lite.get('p50', 0):.2f} | {r['p50']:.2f} | "
                                     f"{lite.get('rps', 0):.0f} | {r['rps']:.0f} |")
            lines += ["", "Copy into PostgreSQL: " + "; ".join(
                f"{int(n):,}: {row['load'].get('copy_secs')} s" for n, row in scale.items())]
        lines += ["", "Bulk-load times: " + "; ".join(
            f"{int(n):,}: {row['load'].get('load_secs')} s" + (" (cached from an earlier run)"
                                                               if row['load'].get('reused_cache') else "")
            for n, row in scale.items())]
    loc = results.get("locomo")
    if loc:
        lines += ["", "## 4. Retrieval quality (LoCoMo)", ""]
        if loc.get("error") or loc.get("skipped"):
            lines.append(f"Not measured in this run: {loc.get('error') or loc.get('skipped')}")
        else:
            lines.append(loc.get("table", ""))
            r = loc["result"]
            d = r.get("dataset") or {}
            questions = d.get("questions") or {}
            shown = (f"{d.get('samples')} conversations, {d.get('sessions')} sessions, {d.get('turns')} turns, "
                     f"{sum(questions.values())} questions ("
                     + ", ".join(f"{k} {v}" for k, v in questions.items()) + ")") if d else "?"
            lines += ["", (f"Dataset: {shown}; ingested through signed `/post-call` webhooks in "
                           f"{r.get('ingest_secs')} s; mean `/retrieve` {r.get('retrieve_mean_ms')} ms "
                           f"(limit {r.get('limit')}). Method and notes: `bench/LOCOMO_NOTES.md`.")]
            per = _get(r, "recall_by_sample", "agentic-memory") or []
            held = locomo_held_out(loc)
            if per:
                lines += ["", "Held-out: tune on one conversation, report the other; per conversation @250 / @600: "
                          + ", ".join(f"{_get(s, '@250', 'overall')} / {_get(s, '@600', 'overall')}" for s in per)
                          + f"; mean **{held.get('@250')} / {held.get('@600')}**."]
    vd = results.get("voice-dev")
    if vd:
        lines += ["", "## 5. Voice calls (voice-dev)", ""]
        if vd.get("error") or vd.get("skipped"):
            lines.append(f"Not measured in this run: {vd.get('error') or vd.get('skipped')}")
        else:
            halves = "; ".join(f"{h}: " + ", ".join(b.split(" - ")[0] for b in bs) for h, bs in vd["halves"].items())
            lines += [(f"{vd['calls']} calls of {vd['callers']} callers replayed in order as signed `/post-call` "
                       "webhooks (real envelope and the seed's flat format, as stored), `/client-data` checked after "
                       f"every call; {vd['questions']} questions and {vd['probes']} isolation probes through "
                       f"`/retrieve` (top 5). Halves by business ({halves}); held-out = mean of the two halves. "
                       "Method: `bench/voice_dev.py`; notes: `bench/LOCOMO_NOTES.md`."), "", vd.get("table", "")]
    if results.get("proxy") and "normal" in results["proxy"]:
        from bench import proxy

        lines += proxy.markdown(results["proxy"])
    if results.get("processes") and "by_processes" in results["processes"]:
        from bench import processes

        lines += processes.markdown(results["processes"])
    if notes:
        lines += ["", notes.strip()]
    cold = results.get("aws")
    if cold and "runs" in cold:
        lines += ["", "## 5. Lambda cold start", "",
                  ("The Lambda artifact built for this machine's Python, unzipped and run by a bare interpreter "
                   "(`python -I -S -B deploy/aws/smoke.py`, `bench/aws.py`): each run a new process and database, "
                   "as a new container, with only the bytecode the zip ships (Lambda's code folder is read-only). "
                   "Medians of runs 2+. The first /client-data is the dependencies (settings, database) plus "
                   "the app (FastAPI, Mangum) and the answer."), "",
                  "| import handler | first /client-data | of which deps | of which app + answer | first /retrieve "
                  "(loads the model) | zip | unpacked | Lambda py3.12 zip |", "|---:|---:|---:|---:|---:|---:|---:|---:|",
                  f"| {cold['import_ms']} ms | {cold['first_client_data_ms']} ms | {cold.get('deps_ms', '–')} ms | "
                  f"{cold.get('app_and_answer_ms', '–')} ms | {cold['first_retrieve_ms']} ms | "
                  f"{cold['local_zip_mb']} MB | {cold['local_unpacked_mb']} MB | {cold['lambda_zip_mb'] or '–'} MB |"]
    return "\n".join(lines) + "\n"
