"""A/B: two revisions of the service side by side, rounds interleaved, on copies of one database.

    python -m bench.ab --base <git rev> [--endpoints health,client-data] [--conc 1,32] [--rounds 5]

The base revision is checked out in a temporary git worktree and served with PYTHONPATH pointing at its
`src/`; the other server runs the working tree. This is how docs/benchmarks.md measures what each change
bought on a machine too noisy for before/after runs minutes apart.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path

from bench import scale
from bench.latency import params
from bench.load import LoadSpec, run_load
from bench.server import Server

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--endpoints", default="health,client-data,post-call")
    p.add_argument("--conc", default="1,32")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--round-secs", type=float, default=2.0)
    p.add_argument("--callers", type=int, default=1000)
    p.add_argument("--worker", action="store_true", help="serve with the in-process worker")
    p.add_argument("--base-env", action="append", default=[], help="KEY=VALUE for the base server")
    p.add_argument("--head-env", action="append", default=[], help="KEY=VALUE for the head server")
    p.add_argument("--shared", action="store_true", help="both servers read the cached level in place "
                   "(read-only endpoints only: no copy of a 2.6 GB database)")
    args = p.parse_args()
    extra = () if args.worker else ("--no-worker",)
    with tempfile.TemporaryDirectory(prefix="agentic-ab-") as tmp, ExitStack() as stack:
        tree = Path(tmp) / "base"
        git = shutil.which("git") or "git"  # the developer's git; the arguments are this checkout and a revision
        subprocess.run([git, "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.base], check=True,
                       capture_output=True)
        stack.callback(subprocess.run, [git, "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)
        servers = {}
        base_env = {"PYTHONPATH": str(tree / "src"), **dict(kv.split("=", 1) for kv in args.base_env)}
        head_env = dict(kv.split("=", 1) for kv in args.head_env)
        for name, env in (("base", base_env), ("head", head_env)):
            data = (scale.ensure_level(args.callers)[0] if args.shared
                    else scale.fresh_copy(args.callers, Path(tmp) / name))
            servers[name] = stack.enter_context(Server(data_dir=data, extra_args=extra, env=env))
        for endpoint in args.endpoints.split(","):
            for c in (int(x) for x in args.conc.split(",")):
                rows: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
                for _ in range(args.rounds):
                    for name, server in servers.items():
                        spec = LoadSpec(server.url, endpoint, params(endpoint, server, args.callers), c, 0.5, 1,
                                        args.round_secs)
                        rows[name].append(run_load(spec)["rounds"][0])
                cells = []
                for name in servers:
                    med = {k: statistics.median(r[k] for r in rows[name]) for k in ("p50", "p99", "rps")}
                    cells.append(f"{name}: p50 {med['p50']:7.2f} p99 {med['p99']:7.2f} {med['rps']:6.0f}/s")
                print(f"{endpoint:12s} c={c:<3d} " + " | ".join(cells), flush=True)
        for name, server in servers.items():
            print(name, "rss", server.rss())


if __name__ == "__main__":
    main()
