"""The voice-dev set through the documented HTTP contract: names, greetings, questions, isolation.

The calls of `../shared/datasets/voice-dev/` are posted in their global order (`NNN_...json`), each as
stored and signed like ElevenLabs does, to a server this module starts; after each call has been
processed the caller's `/client-data` is checked against the expected name after that call. Then every
question is asked through `/retrieve` (top 5), the isolation probes too, and the five never-seen numbers
are looked up. Nothing of the set is stored in the repository; it is read at run time.

Held-out: the businesses (one ElevenLabs agent each) are split into two halves, A and B (sorted by name,
alternating). Tune while looking at one half's failures only (`--show A`), read the other half's figure,
then swap; the reported number of each measure is the mean of the two halves.

    python -m bench voice-dev [--show A|B|all]
    python -m bench.voice_dev [--dataset DIR] [--show A|B|all] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agentic_memory.elevenlabs.signature import sign
from bench.server import Server

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT.parent / "shared" / "datasets" / "voice-dev"
HALVES = ("A", "B")
_FILE = re.compile(r"^(\d{3})_(.+)_(\d+)\.json$")


def fold(text: str) -> str:
    """Case- and accent-insensitive comparison key ("Zoë" == "zoe")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().strip())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@dataclass(slots=True)
class Caller:
    phone: str
    business: str
    half: str
    first_name: str | None
    also_ok: list[str]
    must_not_be: list[str]
    after_each_call: list[str | None]
    language: str
    files: list[str]

    def accepted(self, expected: str | None) -> set[str]:
        if expected is None:
            return set()
        return {fold(n) for n in (expected, *self.also_ok)}


@dataclass(slots=True)
class DevSet:
    root: Path
    callers: dict[str, Caller]
    new_callers: list[str]
    calls: list[tuple[Path, str, int]]  # (file, caller phone, k), in replay order
    questions: list[dict[str, Any]]
    probes: list[dict[str, Any]]
    halves: dict[str, list[str]] = field(default_factory=dict)  # half -> businesses


def missing(root: Path) -> list[str]:
    need = ("profiles.json", "questions.jsonl", "isolation.jsonl", "calls")
    return [str(root / n) for n in need if not (root / n).exists()]


def load(root: Path) -> DevSet:
    profiles = json.loads((root / "profiles.json").read_text(encoding="utf-8"))
    businesses = sorted({c["business"] for c in profiles["callers"]})
    half_of = {b: HALVES[i % 2] for i, b in enumerate(businesses)}
    callers = {}
    for c in profiles["callers"]:
        callers[c["phone"]] = Caller(
            phone=c["phone"], business=c["business"], half=half_of[c["business"]], first_name=c["first_name"],
            also_ok=list(c.get("first_name_also_ok") or ()), must_not_be=list(c.get("first_name_must_not_be") or ()),
            after_each_call=list(c["first_name_after_each_call"]), language=c.get("language") or "en",
            files=list(c["files"]))
    by_file = {f: phone for phone, c in callers.items() for f in c.files}
    calls = []
    for path in sorted((root / "calls").glob("*.json")):
        m = _FILE.match(path.name)
        if m and path.name in by_file:
            calls.append((path, by_file[path.name], int(m.group(3))))
    halves = {h: [b for b in businesses if half_of[b] == h] for h in HALVES}
    return DevSet(root, callers, [n["phone"] for n in profiles.get("new_callers", [])], calls,
                  _jsonl(root / "questions.jsonl"), _jsonl(root / "isolation.jsonl"), halves)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- the rule that src/ names nobody of the set ---------------------------------------------------------

_COMMON_WORDS = """mrs mr dr ms the and of for animal hospital heating plumbing credit union travel agency
pharmacy property management physiotherapy bookings desk line office owner captain mark dev wild valley"""
_COMMON = frozenset(_COMMON_WORDS.split())


def dev_terms(dev: DevSet) -> set[str]:
    """Names of people, pets, businesses and codes from the set (words of 3+ letters, and whole codes)."""
    terms: set[str] = set()
    for c in dev.callers.values():
        names = [c.first_name or "", *c.also_ok, *c.must_not_be, c.business.split(" - ")[0],
                 *(_FILE.match(f).group(2).replace("-", " ") for f in c.files if _FILE.match(f))]
        for name in names:
            terms.update(w for w in re.findall(r"[^\W\d_]{3,}", name) if w.lower() not in _COMMON)
    for q in dev.questions:
        if q["kind"] == "identifier":
            terms.update(q["expect_any"])
    for p in dev.probes:
        terms.update(f for f in p["forbidden"] if re.search(r"\d", f))
    return terms


def leaks(dev: DevSet, src: Path = ROOT / "src") -> list[str]:
    """`file: term` for every dev-set term found as a whole word in src/ (case-insensitive for names)."""
    terms = dev_terms(dev)
    patterns = [(t, re.compile(rf"(?<![\w-]){re.escape(t)}(?![\w-])", re.IGNORECASE)) for t in sorted(terms)]
    out = []
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".py", ".sql", ".md", ".txt", ".json") or "minilm" in path.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        out.extend(f"{path.relative_to(src.parent)}: {t}" for t, p in patterns if p.search(text))
    return out


# -- the service -------------------------------------------------------------------------------------------

def _post_call(client: httpx.Client, path: Path, hmac_key: str) -> None:
    body = path.read_bytes()  # exactly as stored: both the real envelope and the seed's flat format
    response = client.post("/post-call", content=body, headers={
        "ElevenLabs-Signature": sign(body, hmac_key), "Content-Type": "application/json"})
    response.raise_for_status()


def _drain(client: httpx.Client, timeout: float = 120) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        queue = client.get("/health").json()["queue"]
        if queue["pending"] == 0:
            if queue["dead"]:
                raise RuntimeError(f"{queue['dead']} webhooks went to the dead letter")
            return
        time.sleep(0.05)
    raise TimeoutError("the queue did not drain")


def _client_data(client: httpx.Client, phone: str) -> dict[str, Any]:
    response = client.post("/client-data", json={"caller_id": phone, "agent_id": "agent_bench",
                                                 "called_number": "+12025550100", "call_sid": "CA_bench"})
    response.raise_for_status()
    return dict(response.json())


def _retrieve(client: httpx.Client, phone: str, query: str, k: int) -> list[str]:
    response = client.post("/retrieve", json={"query": query, "user_id": phone, "limit": k})
    response.raise_for_status()
    return [m["memory"] for m in response.json()["memories"]]


# -- checks ------------------------------------------------------------------------------------------------

def check_name(caller: Caller, expected: str | None, data: dict[str, Any]) -> tuple[bool, bool, str]:
    """(name right, greeting right, what was seen) for one lookup after a call."""
    variables = data["dynamic_variables"]
    name = variables.get("caller_name", "")
    greeting = data["conversation_config_override"]["agent"].get("first_message", "")
    returning = variables.get("returning_caller") == "yes"
    forbidden = {fold(n) for n in caller.must_not_be}
    greeting_words = {fold(w) for w in re.findall(r"[^\W\d_]+", greeting)}
    name_ok = returning and (fold(name) in caller.accepted(expected) if expected else name == "")
    if expected:
        greeting_ok = returning and any(a in greeting_words for a in caller.accepted(expected))
    else:
        greeting_ok = returning and not name and not (greeting_words & forbidden)
    greeting_ok = greeting_ok and not (greeting_words & forbidden)
    return name_ok, greeting_ok, f"name={name!r} greeting={greeting!r}"


def contains(text: str, needles: Iterable[str]) -> bool:
    low = text.casefold()
    return any(n.casefold() in low for n in needles)


def check_question(q: dict[str, Any], texts: list[str]) -> bool:
    hits = [i for i, t in enumerate(texts) if contains(t, q["expect_any"])]
    if not hits:
        return False
    if q["kind"] == "preference-latest":
        best = hits[0]
        stale_first = [i for i, t in enumerate(texts)
                       if contains(t, q.get("stale", ())) and not contains(t, q["expect_any"]) and i < best]
        return not stale_first
    return True


def duplicates(texts: list[str]) -> int:
    """Pairs in one result list that repeat each other (same text, or one inside the other)."""
    norm = [re.sub(r"\W+", " ", t.casefold()).strip() for t in texts]
    return sum(1 for i in range(len(norm)) for j in range(i + 1, len(norm))
               if norm[i] == norm[j] or (min(len(norm[i]), len(norm[j])) > 20 and
                                         (norm[i] in norm[j] or norm[j] in norm[i])))


# -- running -----------------------------------------------------------------------------------------------

def _ratio(rows: list[bool]) -> float | None:
    return round(100 * sum(rows) / len(rows), 1) if rows else None


def run_voice_dev(base_url: str, workspace_key: str, hmac_key: str, root: Path = DATASET, *,
                  log: Callable[[str], None] = print, show: str = "") -> dict[str, Any]:
    dev = load(root)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)  # measure -> [{half, ok, ...}]
    headers = {"X-Workspace-Key": workspace_key}
    started = time.perf_counter()
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for path, phone, k in dev.calls:
            _post_call(client, path, hmac_key)
            _drain(client)
            caller = dev.callers[phone]
            expected = caller.after_each_call[k - 1]
            name_ok, greeting_ok, seen = check_name(caller, expected, _client_data(client, phone))
            detail = f"{path.name}: expected {expected!r}, {seen}"
            rows["names"].append({"half": caller.half, "ok": name_ok, "detail": detail})
            rows["greetings"].append({"half": caller.half, "ok": greeting_ok, "detail": detail})
        replay_secs = time.perf_counter() - started
        for phone, caller in dev.callers.items():
            data = _client_data(client, phone)
            ok = check_name(caller, caller.first_name, data)[1] and (
                data["conversation_config_override"]["agent"].get("language", "en") == caller.language)
            if caller.after_each_call and caller.first_name is not None:
                rows["returning_greeted_by_name"].append({"half": caller.half, "ok": ok,
                                                          "detail": f"{phone}: "
                                                                    f"{data['dynamic_variables'].get('caller_name')!r}"})
        for phone in dev.new_callers:
            data = _client_data(client, phone)
            variables = data["dynamic_variables"]
            ok = (variables.get("returning_caller") == "no" and not variables.get("caller_name")
                  and not _retrieve(client, phone, "what do we know about this caller?", 5))
            rows["new_callers"].append({"half": "-", "ok": ok, "detail": f"{phone}: {variables.get('caller_name')!r}"})
        dupes = 0
        lists = 0
        for q in dev.questions:
            texts = _retrieve(client, q["caller"], q["query"], q.get("k", 5))
            caller = dev.callers[q["caller"]]
            ok = check_question(q, texts)
            detail = f"{q['id']} [{q['kind']}] {q['query']!r} expect {q['expect_any']}" + (
                f" stale {q['stale']}" if q.get("stale") else "") + "\n      " + "\n      ".join(
                t.replace("\n", " | ")[:160] for t in texts)
            rows["questions"].append({"half": caller.half, "ok": ok, "kind": q["kind"], "detail": detail})
            if q["kind"] == "preference-latest":
                rows["newest_preference"].append({"half": caller.half, "ok": ok, "detail": detail})
            d = duplicates(texts)
            dupes += d
            lists += 1
            if d:
                rows["duplicate_free"].append({"half": caller.half, "ok": False, "detail": detail})
            else:
                rows["duplicate_free"].append({"half": caller.half, "ok": True, "detail": ""})
        for p in dev.probes:
            texts = _retrieve(client, p["caller"], p["query"], p.get("k", 5))
            ok = not any(contains(t, p["forbidden"]) for t in texts)
            rows["isolation"].append({"half": dev.callers[p["caller"]].half, "ok": ok,
                                      "detail": f"{p['id']}: {p['query']!r}"})
    result = summarise(rows)
    result.update({"calls": len(dev.calls), "callers": len(dev.callers), "questions": len(dev.questions),
                   "probes": len(dev.probes), "halves": dev.halves, "replay_secs": round(replay_secs, 1),
                   "duplicate_pairs": dupes, "result_lists": lists})
    for measure, items in rows.items():
        bad = [r for r in items if not r["ok"] and (show == "all" or r["half"] in (show, "-"))]
        if show and bad:
            log(f"-- {measure}: {len(bad)} failing in {show}")
            for r in bad:
                log("   " + r["detail"])
    return result


def summarise(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per measure: each half's % and count, and the held-out figure (mean of the halves)."""
    out: dict[str, Any] = {"measures": {}, "by_kind": {}}
    for measure, items in rows.items():
        entry: dict[str, Any] = {"all": _ratio([r["ok"] for r in items]),
                                 "passed": sum(r["ok"] for r in items), "total": len(items)}
        halves = {h: [r["ok"] for r in items if r["half"] == h] for h in HALVES}
        if all(halves.values()):
            entry.update({h: _ratio(v) for h, v in halves.items()})
            entry["held_out"] = round(sum(_ratio(v) or 0 for v in halves.values()) / len(halves), 1)
        else:
            entry["held_out"] = entry["all"]
        out["measures"][measure] = entry
    kinds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows.get("questions", []):
        kinds[r["kind"]].append(r)
    out["by_kind"] = {k: {h: _ratio([r["ok"] for r in v if r["half"] == h]) for h in HALVES} | {
        "passed": sum(r["ok"] for r in v), "total": len(v)} for k, v in sorted(kinds.items())}
    return out


def proxy_rankings(data_dir: Path, workspace_key: str, hmac_key: str, dev: DevSet) -> dict[str, Any]:
    """Every question as the memory proxy ranks it, with the query embedding (its `ok` turns) and without it
    (its `keywords` turns, when the embedder is busy): is an expected memory among what it would inject
    (score >= MIN_SCORE, or KEYWORD_MIN_SCORE for keywords; at most MAX_MEMORIES of its CANDIDATES), and in
    the plain top k as `/retrieve` has it. `full_int8`: the full ranking with the query embedded by the
    proxy's own query model (the int8 copy, bootstrap.py), as a proxy turn has it; `full`: by the fp32 model
    that embedded the memories. In process, on the server's database (read only: the questions write nothing)."""
    from agentic_memory.bootstrap import build
    from agentic_memory.config import load_settings
    from agentic_memory.domain.recall import MAX_MEMORIES
    from agentic_memory.services.proxy import CANDIDATES, KEYWORD_MIN_SCORE, MIN_SCORE

    settings = load_settings({"AGENTIC_MEMORY_DATA_DIR": str(data_dir), "ELEVENLABS_WORKSPACE_KEY": workspace_key,
                              "ELEVENLABS_HMAC_KEY": hmac_key, "AGENTIC_MEMORY_LOG_LEVEL": "WARNING",
                              # the proxy on (never called here): the composition root adds its query model
                              "AGENTIC_MEMORY_UPSTREAM_URL": "http://127.0.0.1:9/v1"}, env_file=None)
    deps = build(settings, with_worker=False)
    try:
        engine = deps.engine
        keywords = getattr(engine, "recall_keywords", None)
        if keywords is None:
            return {"skipped": "the engine has no keyword-only ranking"}
        query_model = getattr(engine, "query_embedder", None)
        rankings: list[tuple[str, Callable[..., Any], float]] = [("full", engine.recall, MIN_SCORE)]
        if query_model is not None:
            def int8(caller: str, query: str, **kw: Any) -> Any:
                return engine.recall(caller, query, vector=query_model.embed([query])[0], **kw)

            rankings.append(("full_int8", int8, MIN_SCORE))
        rankings.append(("keywords", keywords, KEYWORD_MIN_SCORE))
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for q in dev.questions:
            half, k = dev.callers[q["caller"]].half, q.get("k", 5)
            for name, rank, floor in rankings:
                hits = rank(q["caller"], q["query"], limit=max(CANDIDATES, k), type=None)
                injected = [h.memory.text for h in hits if h.score >= floor][:MAX_MEMORIES]
                rows[f"{name}_injected"].append({"half": half, "ok": check_question(q, injected),
                                                 "kind": q["kind"]})
                rows[f"{name}_top{k}"].append({"half": half, "ok": check_question(q, [h.memory.text for h in hits][:k]),
                                               "kind": q["kind"]})
    finally:
        deps.close()
    out = summarise(rows)["measures"]
    kinds = sorted({r["kind"] for r in rows["full_injected"]})
    out["by_kind"] = {kind: {name: sum(r["ok"] for r in rows[name] if r["kind"] == kind)
                             for name in ("full_injected", "full_int8_injected", "keywords_injected") if name in rows}
                      | {"total": sum(1 for r in rows["full_injected"] if r["kind"] == kind)} for kind in kinds}
    return out


def proxy_table(ranked: dict[str, Any]) -> str:
    if "skipped" in ranked:
        return f"Proxy rankings: skipped ({ranked['skipped']})."
    lines = ["The same questions ranked as the memory proxy ranks a turn (`bench/voice_dev.py` `proxy_rankings`): "
             "with the query embedding (`ok` turns) and on keywords, recency and priors alone (`keywords` turns, "
             "while the embedder is busy); `full int8`: the query embedded by the proxy's own int8 query model, as a "
             "proxy turn has it. Injected: an expected memory among what the proxy would inject.", "",
             "| ranking | half A | half B | held-out (mean) | all |", "|---|---:|---:|---:|---:|"]
    for name, m in ranked.items():
        if name != "by_kind":
            lines.append(f"| {name.replace('_', ' ')} | {m.get('A', '–')} | {m.get('B', '–')} | **{m['held_out']}** | "
                         f"{m['passed']} / {m['total']} |")
    lines += ["", "| question kind | injected, full | injected, full (int8 query) | injected, keywords only "
              "| questions |", "|---|---:|---:|---:|---:|"]
    for kind, m in ranked["by_kind"].items():
        lines.append(f"| {kind} | {m['full_injected']} | {m.get('full_int8_injected', '–')} | {m['keywords_injected']} "
                     f"| {m['total']} |")
    return "\n".join(lines)


def table(result: dict[str, Any]) -> str:
    lines = ["| measure | half A | half B | held-out (mean) | all |", "|---|---:|---:|---:|---:|"]
    for name, m in result["measures"].items():
        lines.append(f"| {name.replace('_', ' ')} | {m.get('A', '–')} | {m.get('B', '–')} | **{m['held_out']}** | "
                     f"{m['passed']} / {m['total']} |")
    lines += ["", "| question kind | half A | half B | all |", "|---|---:|---:|---:|"]
    for kind, m in result["by_kind"].items():
        lines.append(f"| {kind} | {m.get('A')} | {m.get('B')} | {m['passed']} / {m['total']} |")
    if result.get("proxy_rankings"):
        lines += ["", proxy_table(result["proxy_rankings"])]
    return "\n".join(lines)


def run(root: Path = DATASET, *, show: str = "", log: Callable[[str], None] = print,
        data_dir: Path | None = None) -> dict[str, Any]:
    """Check src/ for dev-set names, then run the set on a fresh server. Raises when src/ names the set."""
    gone = missing(root)
    if gone:
        return {"skipped": "voice-dev data set not found: " + ", ".join(gone)}
    dev = load(root)
    found = leaks(dev)
    if found:
        raise RuntimeError("src/ names people, businesses or codes of the voice-dev set:\n  " + "\n  ".join(found))
    with Server(data_dir=data_dir, env={"AGENTIC_MEMORY_LOG_LEVEL": "WARNING"}) as server:
        result = run_voice_dev(server.url, server.workspace_key, server.hmac_key, root, log=log, show=show)
        result["rss_mb"] = server.rss()
        assert server.data_dir is not None
        result["proxy_rankings"] = proxy_rankings(server.data_dir, server.workspace_key, server.hmac_key, dev)
    result["table"] = table(result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--show", choices=("", "A", "B", "all"), default="",
                        help="print the failures of one half (tune on it; read the other)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", type=Path, help="keep the server's data folder here (for offline tuning)")
    args = parser.parse_args(argv)
    result = run(args.dataset, show=args.show, log=lambda s: print(s, file=sys.stderr), data_dir=args.keep)
    if "skipped" in result:
        print(f"SKIPPED: {result['skipped']}")
        return 0
    print(result["table"])
    print(f"halves: {json.dumps(result['halves'])}; replay {result['replay_secs']} s; "
          f"duplicate pairs in top 5: {result['duplicate_pairs']} over {result['result_lists']} lists")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
