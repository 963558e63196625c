"""Part 5: what the memory proxy adds to an LLM's time to first byte, and what a slow memory costs.

A fake OpenAI-compatible LLM (`agentic_memory.fake_llm`, its own process) answers streamed completions at
once. The real server (`serve`, its own process, the ONNX model, callers seeded through signed webhooks)
proxies to it. A closed loop of `c` clients (their own process, raw HTTP/1.1 on uvloop) sends each
request, in turn, to the fake directly, to the proxy for a seeded caller, and to the proxy without a caller
token (its relay alone), every turn with its own utterance, so all three see the same noise: the added time to
first body chunk) is the difference, percentile by percentile. The c=1 row also gives the server's CPU
time per proxied turn (from /proc). Then the same load against a server whose memory store sleeps 2 s
per search (`--serve-slow`, this file run as a server), beside the fake directly: every request must
still be answered, unenriched, within the budget.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.server import Server, free_port

ROOT = Path(__file__).resolve().parent.parent
CALLERS = 16
SLOW_STORE_SECS = 2.0
SYSTEM = ("You are the front desk of Example Dental, a friendly dental practice. Keep answers short: this is a "
          "phone call. Confirm names and dates back to the caller. Never give medical advice. ") * 6
TOOLS = [{"type": "function", "function": {"name": "end_call", "description": "End the call",
                                           "parameters": {"type": "object", "properties": {}}}}]


def _caller(i: int) -> str:
    return f"+1415555{i:04d}"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def _start_fake() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "agentic_memory.fake_llm", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(f"http://127.0.0.1:{port}/v1/chat/completions", process, method="POST")
    return process, f"http://127.0.0.1:{port}/v1"


def _wait(url: str, process: subprocess.Popen[bytes], *, method: str = "GET", timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            httpx.request(method, url, json={"model": "fake", "messages": []}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not ready in {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _seed(url: str, hmac_key: str, workspace_key: str) -> dict[str, dict[str, str]]:
    """Signed calls for CALLERS callers, processed by the server's worker; their extra bodies."""
    from agentic_memory.elevenlabs import builders
    from agentic_memory.elevenlabs.signature import sign

    now = int(time.time())
    for i in range(CALLERS):
        turns = [("agent", "Hello, how can I help?"),
                 ("user", f"My order number is A-{40000 + i} and I prefer oat milk."),
                 ("agent", "Noted."), ("user", f"My dentist is Dr. Lee{i} and my cleaning is on the 14th.")]
        raw = json.dumps(builders.transcription(conversation_id=f"conv_bench_proxy_{i}", caller=_caller(i),
                                                turns=turns, start_time=now - 600)).encode()
        response = httpx.post(f"{url}/post-call", content=raw, timeout=30, headers={
            "ElevenLabs-Signature": sign(raw, hmac_key), "Content-Type": "application/json"})
        response.raise_for_status()
    deadline = time.monotonic() + 120
    while httpx.get(f"{url}/health", timeout=5).json()["queue"]["pending"] and time.monotonic() < deadline:
        time.sleep(0.2)
    extras = {}
    for i in range(CALLERS):
        answer = httpx.post(f"{url}/client-data", json={"caller_id": _caller(i)}, timeout=10,
                            headers={"X-Workspace-Key": workspace_key}).json()
        extras[_caller(i)] = answer["custom_llm_extra_body"]
    return extras


QUESTIONS = ("What was my order number again, and when is my cleaning?", "Which milk do I usually take?",
             "Who is my dentist?", "Can you check my last order for me?", "When was my appointment again?",
             "I want to change something about my order.", "Do you remember what I told you last time?")


RUNS = itertools.count(0, 1_000_000)  # each run's turns start here: no utterance repeats across runs


def _body(extra: dict[str, str] | None, n: int = 0) -> dict[str, Any]:
    """A turn as ElevenLabs sends it; request `n` has its own utterance, so no cache can answer for it."""
    body: dict[str, Any] = {
        "model": "fake", "stream": True, "temperature": 0.5, "max_tokens": 200, "tools": TOOLS,
        "messages": [{"role": "system", "content": SYSTEM},
                     {"role": "assistant", "content": "Hi, thanks for calling Example Dental. How can I help?"},
                     {"role": "user", "content": "Hi, I'd like to check on my order."},
                     {"role": "assistant", "content": "Of course. Could you tell me a little more?"},
                     {"role": "user", "content": f"{QUESTIONS[n % len(QUESTIONS)]} (turn {n})"}]}
    if extra is not None:
        body["elevenlabs_extra_body"] = extra
    return body


def _request(path: str, body: dict[str, Any], headers: dict[str, str]) -> bytes:
    raw = json.dumps(body).encode()
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"content-length: {len(raw)}\r\n{head}\r\n").encode() + raw


async def _ttfb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> float:
    """Time to the first body chunk of a streamed (chunked) answer, read to its end on the same connection."""
    started = time.perf_counter()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    if head[9:12] != b"200" or b"chunked" not in head.lower():
        raise RuntimeError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
    ttfb = 0.0
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
        await reader.readexactly(size + 2)
        if not ttfb:
            ttfb = (time.perf_counter() - started) * 1000
        if size == 0:
            return ttfb


async def _drive(spec: dict[str, Any]) -> dict[str, Any]:
    """`concurrency` closed-loop clients, each with a keep-alive connection per target; each request goes to
    the next target in turn. Hand-written HTTP/1.1 on uvloop: the client costs microseconds per request, where
    httpx (the first version of this part) cost 1.5-2 ms of CPU on the same 2 cores as the server and the fake."""
    targets: dict[str, list[Any]] = spec["targets"]
    extras: dict[str, dict[str, str]] = spec["extras"]
    callers = list(extras)
    names = list(targets)
    samples: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, int] = dict.fromkeys(names, 0)
    first_error: dict[str, str] = {}
    turns = itertools.count(spec["turn0"])
    start = time.perf_counter()
    end = start + spec["warmup"] + spec["secs"]

    async def worker(k: int) -> None:
        connections = {name: await asyncio.open_connection("127.0.0.1", targets[name][0]) for name in names}
        step = k
        while time.perf_counter() < end:
            name = names[step % len(names)]
            step += 1
            n = next(turns)
            port, path, headers, with_caller = targets[name]
            body = _body(extras[callers[n % len(callers)]] if with_caller else None, n)
            try:
                value = await _ttfb(*connections[name], _request(path, body, headers))
            except (OSError, RuntimeError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[name] += 1
                first_error.setdefault(name, f"{exc.__class__.__name__}: {exc}")
                connections[name][1].close()
                connections[name] = await asyncio.open_connection("127.0.0.1", port)
                continue
            if time.perf_counter() - start > spec["warmup"]:
                samples[name].append(value)
        for _, writer in connections.values():
            writer.close()

    await asyncio.gather(*(worker(k) for k in range(spec["concurrency"])))
    return {"samples": samples, "errors": errors, "first_error": first_error}


def _load(targets: dict[str, tuple[str, bool, dict[str, str]]], extras: dict[str, dict[str, str]], *,
          concurrency: int, secs: float, warmup: float = 1.0) -> dict[str, Any]:
    """Runs `_drive` in its own process (`python -m bench.proxy --drive`): its CPU is not the driver's.
    `targets`: name -> (URL, with a caller token, headers)."""
    spec = {"targets": {name: [int(url.split(":")[2].split("/")[0]), "/" + url.split("/", 3)[3], headers, caller]
                        for name, (url, caller, headers) in targets.items()},
            "extras": extras, "concurrency": concurrency, "secs": secs, "warmup": warmup, "turn0": next(RUNS)}
    done = subprocess.run([sys.executable, "-m", "bench.proxy", "--drive"], input=json.dumps(spec).encode(),
                          capture_output=True, timeout=warmup + secs + 120, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr.decode(errors='replace')[-2000:]}")
    out = json.loads(done.stdout)
    errors, first_error = out["errors"], out["first_error"]
    if first_error:
        raise RuntimeError(f"errors: {errors}, first: {first_error}")
    return {name: {"n": len(v), "errors": errors[name], "p50": _percentile(v, 0.5), "p99": _percentile(v, 0.99),
                   "max": round(max(v), 2), "mean": round(statistics.fmean(v), 2)}
            for name, v in out["samples"].items() if v}


def _cpu_secs(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _log_stats(log_path: Path) -> dict[str, Any]:
    lines = [json.loads(line) for line in log_path.read_text(errors="replace").splitlines()
             if line.startswith("{") and '"/v1/chat/completions"' in line]
    recalls = [line for line in lines if "recall" in line]
    statuses: dict[str, int] = {}
    for line in recalls:
        statuses[line["recall"]] = statuses.get(line["recall"], 0) + 1
    looked_up = ("ok", "keywords", "keywords_late", "none")
    retrieval = [line["retrieval_ms"] for line in recalls if line.get("recall") in looked_up]
    by_status = {status: [line["retrieval_ms"] for line in recalls if line.get("recall") == status]
                 for status in looked_up}
    injected = [line["memories"] for line in recalls if line.get("recall") in looked_up[:3]]
    return {"recall": statuses, "retrieval_p50_ms": _percentile(retrieval, 0.5) if retrieval else None,
            "retrieval_p99_ms": _percentile(retrieval, 0.99) if retrieval else None,
            "retrieval_by_status_p50_p99_ms": {status: [_percentile(v, 0.5), _percentile(v, 0.99)]
                                               for status, v in by_status.items() if v},
            "memories_mean": round(statistics.fmean(injected), 2) if injected else None}


def run(*, secs: float = 8.0, concurrency: int = 8, log: Callable[[str], None] = print) -> dict[str, Any]:
    fake, fake_url = _start_fake()
    result: dict[str, Any] = {"concurrency": concurrency, "secs": secs, "callers": CALLERS}
    try:
        with tempfile.TemporaryDirectory(prefix="agentic-bench-proxy-") as tmp:
            data_dir = Path(tmp) / "data"
            with Server(data_dir=data_dir, env={"AGENTIC_MEMORY_UPSTREAM_URL": fake_url}) as server:
                log("   seeding callers through signed webhooks")
                extras = _seed(server.url, server.hmac_key, server.workspace_key)
                proxy_headers = {"Authorization": f"Bearer {server.workspace_key}"}
                targets = {
                    "direct": (f"{fake_url}/chat/completions", False, {}),
                    "proxy": (f"{server.url}/v1/chat/completions", True, proxy_headers),
                    # no caller token: the proxy's relay alone, without recall
                    "relay": (f"{server.url}/v1/chat/completions", False, proxy_headers)}
                log(f"   side by side at c=1 for {secs / 2} s (and the server's CPU time per proxied request)")
                cpu = _cpu_secs(server.pid)
                pair = {name: targets[name] for name in ("direct", "proxy")}
                single = _load(pair, extras, concurrency=1, secs=secs / 2, warmup=0.5)
                single["server_cpu_ms_per_request"] = round(
                    (_cpu_secs(server.pid) - cpu) * 1000 / (single["proxy"]["n"] + single["proxy"]["errors"]), 2)
                single["added_p50_ms"] = round(single["proxy"]["p50"] - single["direct"]["p50"], 2)
                result["single"] = single
                log(f"   side by side at c={concurrency} for {secs} s")
                normal = _load(targets, extras, concurrency=concurrency, secs=secs)
                normal["added_p50_ms"] = round(normal["proxy"]["p50"] - normal["direct"]["p50"], 2)
                normal["added_p99_ms"] = round(normal["proxy"]["p99"] - normal["direct"]["p99"], 2)
                normal["relay_added_p50_ms"] = round(normal["relay"]["p50"] - normal["direct"]["p50"], 2)
                normal["server"] = _log_stats(server.log_path)
                normal["rss_mb"] = server.rss()
                result["normal"] = normal
                result["budget_ms"] = 300
                keys = (server.workspace_key, server.hmac_key)
            log(f"   memory forced slow ({SLOW_STORE_SECS} s per search) at c={concurrency} for {secs / 2} s")
            result["slow"] = _slow(data_dir, fake_url, keys, extras, concurrency=concurrency, secs=secs / 2)
    finally:
        _stop(fake)
    return result


def _slow(data_dir: Path, fake_url: str, keys: tuple[str, str], extras: dict[str, dict[str, str]], *,
          concurrency: int, secs: float) -> dict[str, Any]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELEVENLABS_", "AGENTIC_MEMORY_"))}
    env.update({"ELEVENLABS_WORKSPACE_KEY": keys[0], "ELEVENLABS_HMAC_KEY": keys[1],
                "AGENTIC_MEMORY_DATA_DIR": str(data_dir), "AGENTIC_MEMORY_UPSTREAM_URL": fake_url,
                "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)})
    log_path = data_dir.parent / "slow.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "bench.proxy", "--serve-slow", "--port", str(port)],
                                   env=env, cwd=data_dir.parent, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            _wait(f"http://127.0.0.1:{port}/health", process)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log_path.read_text(errors='replace')[-2000:]}") from None
        targets = {"direct": (f"{fake_url}/chat/completions", False, {}),
                   "proxy": (f"http://127.0.0.1:{port}/v1/chat/completions", True,
                             {"Authorization": f"Bearer {keys[0]}"})}
        both = _load(targets, extras, concurrency=concurrency, secs=secs)
        slow = both["proxy"]
        slow["direct"] = both["direct"]
        slow["added_p50_ms"] = round(slow["p50"] - both["direct"]["p50"], 2)
        slow["added_p99_ms"] = round(slow["p99"] - both["direct"]["p99"], 2)
    finally:
        _stop(process)
    slow["server"] = _log_stats(log_path)
    return slow


class _SlowStore:
    """The real store, whose searches take SLOW_STORE_SECS: memory at its worst."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def dense_search(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(SLOW_STORE_SECS)
        return self.inner.dense_search(*args, **kwargs)


def _serve_slow(port: int) -> None:
    import uvicorn

    from agentic_memory.bootstrap import build, local_engine
    from agentic_memory.config import load_settings
    from agentic_memory.http.app import create_app
    from agentic_memory.logs import configure_logging

    settings = load_settings(env_file=None)
    configure_logging(settings.log_level)
    deps = build(settings, with_worker=False)
    deps.store = _SlowStore(deps.store)
    assert deps.embedder is not None
    # Recall searches through the engine: it must hold the slow store too (before, only the profile read
    # went through it and the "slow" run measured a fast memory).
    deps.engine = local_engine(deps.store, deps.embedder)
    uvicorn.run(create_app(deps), host="127.0.0.1", port=port, log_config=None, access_log=False)


def targets(result: dict[str, Any]) -> list[tuple[str, float | None, float, str]]:
    """(target, measured, limit, how) for the report."""
    normal, slow = result.get("normal") or {}, result.get("slow") or {}
    budget = result.get("budget_ms", 300)
    c = result.get("concurrency")
    direct, proxied = normal.get("direct", {}), normal.get("proxy", {})
    return [
        ("proxy: added time to first byte p50 ≤ 15 ms", normal.get("added_p50_ms"), 15.0,
         f"c={c}, proxy {proxied.get('p50')} - direct {direct.get('p50')} ms, same run"),
        ("proxy: added time to first byte p99 ≤ 50 ms", normal.get("added_p99_ms"), 50.0,
         f"c={c}, proxy {proxied.get('p99')} - direct {direct.get('p99')} ms, same run"),
        (f"proxy, memory forced slow: time to first byte p99 ≤ budget ({budget} ms) + 10 ms", slow.get("p99"),
         budget + 10.0, f"c={c}; max {slow.get('max')} ms; {slow.get('n')} answered, {slow.get('errors')} errors"),
    ]


def markdown(result: dict[str, Any]) -> list[str]:
    normal, slow = result["normal"], result["slow"]
    lines = ["", "## 5. Memory proxy (Custom LLM)", "", (__doc__ or "").split("\n\n", 1)[1].strip(), "",
             "| run | requests | errors | TTFB p50 ms | TTFB p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    for name, row in (("fake LLM directly", normal["direct"]), ("through the proxy", normal["proxy"]),
                      ("through the proxy, no caller token (relay only)", normal["relay"]),
                      ("fake LLM directly, beside the slow run", slow["direct"]),
                      ("through the proxy, memory forced slow", slow)):
        lines.append(f"| {name} | {row['n']} | {row['errors']} | {row['p50']} | {row['p99']} | {row['max']} |")
    single = result.get("single") or {}
    if single:
        lines.append(f"| c=1: fake LLM directly / through the proxy | {single['direct']['n']} / "
                     f"{single['proxy']['n']} | 0 | {single['direct']['p50']} / {single['proxy']['p50']} | "
                     f"{single['direct']['p99']} / {single['proxy']['p99']} | – |")
    server = normal["server"]
    lines += ["", (f"Added by the proxy at c={result['concurrency']}: p50 **{normal['added_p50_ms']} ms**, p99 "
                   f"**{normal['added_p99_ms']} ms** (relay alone, no recall: p50 {normal['relay_added_p50_ms']} ms); "
                   f"at c=1: p50 {single.get('added_p50_ms')} ms, the server spending "
                   f"{single.get('server_cpu_ms_per_request')} ms of CPU per proxied turn. "
                   f"Server side (its log lines): recall outcomes {server['recall']}, "
                   f"retrieval p50 {server['retrieval_p50_ms']} ms, p99 {server['retrieval_p99_ms']} ms, "
                   f"{server['memories_mean']} memories injected on average; slow run: {slow['server']['recall']}. "
                   f"Budget {result['budget_ms']} ms (`AGENTIC_MEMORY_PROXY_BUDGET_MS`).")]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--serve-slow", action="store_true", help="run a server whose memory store is slow")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secs", type=float, default=8.0)
    parser.add_argument("--drive", action="store_true", help="the load generator: a JSON spec on stdin")
    args = parser.parse_args()
    if args.drive:
        import uvloop

        print(json.dumps(uvloop.run(_drive(json.loads(sys.stdin.read())))))
        return
    if args.serve_slow:
        _serve_slow(args.port)
        return
    print(json.dumps(run(secs=args.secs), indent=1))


if __name__ == "__main__":
    main()
