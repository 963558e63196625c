"""`agentic-memory worker` with the hash embedder (python -m tests.e2e.hash_worker [worker options]).

The command, its threads, leases and queue are the real ones; only the embedding model is swapped, so
the concurrency test's 500 jobs cost database round trips, not MiniLM on a shared CPU.
"""

from __future__ import annotations

import sys

from agentic_memory import cli
from agentic_memory.bootstrap import Deps, build
from agentic_memory.config import Settings
from agentic_memory.testing import HashEmbedder


def _build(settings: Settings, *, with_worker: bool = True) -> Deps:
    return build(settings, embedder=HashEmbedder(), with_worker=with_worker)


if __name__ == "__main__":
    cli._build = _build  # the one swap this helper exists for
    sys.argv = ["agentic-memory", "worker", *sys.argv[1:]]
    cli.main()
