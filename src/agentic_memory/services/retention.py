"""Retention: per data kind, delete what is older than its configured number of days.

Kinds and what each removes (unset = kept forever):
  raw_bodies        processed webhook bodies in the inbox (rows stay, so retries remain no-ops), raw payload
                    and failure files
  transcripts       transcript files, and the raw payloads and inbox bodies that contain the transcript too
  audio             audio files
  semantic          transcript-chunk memories
  factual           factual memories (profiles' top facts are recomputed)
  inactive_callers  callers not seen for that long: erased everywhere, as `callers erase` does

Run by the worker's sweeper (`Sweeper`, at most once per interval) and by `agentic-memory retention run`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from agentic_memory.domain import card
from agentic_memory.domain.models import MemoryType
from agentic_memory.services.admin import AdminDeps, active_facts, audit
from agentic_memory.services.erasure import erase_caller

log = logging.getLogger(__name__)
KINDS = ("raw_bodies", "transcripts", "audio", "semantic", "factual", "inactive_callers")
FILE_KINDS = {"raw_bodies": ("payload", "call_initiation_failure"), "transcripts": ("transcript", "payload"),
              "audio": ("audio",)}
BATCH = 500


def policy_from(settings: Any) -> dict[str, int]:
    """The configured kinds and their days, from Settings' `retention_<kind>_days` fields."""
    days = {kind: getattr(settings, f"retention_{kind}_days", None) for kind in KINDS}
    return {kind: int(value) for kind, value in days.items() if value is not None}


def _refresh(deps: AdminDeps, callers: list[str]) -> None:
    for caller in callers:
        facts = active_facts(deps.store, caller)
        deps.admin.refresh_profile(caller, card.top_facts(facts))


def run_retention(deps: AdminDeps, policy: Mapping[str, int], *, actor: str = "retention") -> dict[str, int]:
    """Apply `policy` ({kind: days}) now; returns how many items of each kind were removed."""
    unknown = set(policy) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown retention kinds: {sorted(unknown)}")
    now = deps.clock.now()
    done: dict[str, int] = {}
    for kind, days in policy.items():
        before = now - timedelta(days=days)
        count = 0
        if kind in ("raw_bodies", "transcripts"):
            count += deps.admin.expire_bodies(before)
        if kind in FILE_KINDS:
            keys = deps.admin.expire_files(FILE_KINDS[kind], before)
            count += sum(deps.blobs.delete(key) for key in keys)
        if kind in ("semantic", "factual"):
            memory_type: MemoryType = "semantic" if kind == "semantic" else "factual"
            removed = deps.admin.expire_memories(memory_type, before)
            _refresh(deps, sorted(removed))
            count += sum(removed.values())
        if kind == "inactive_callers":
            while callers := deps.admin.inactive_callers(before, limit=BATCH):
                for caller in callers:
                    # Backups age out with their own rotation; rewriting each per caller would not scale.
                    erase_caller(deps, caller, actor=actor, reason="retention", compact=False,
                                 include_backups=False)
                count += len(callers)
        done[kind] = count
    if any(done.values()):
        # A full rewrite only after erasing callers: on a large database it holds the write lock a while.
        deps.admin.compact(full=done.get("inactive_callers", 0) > 0)
    audit(deps, actor, "retention.run", **done)
    return done


@dataclass
class Sweeper:
    """Runs retention from the worker loop at most once per `interval_secs` (injected clock)."""

    deps: AdminDeps
    policy: Mapping[str, int]
    interval_secs: float = 3600.0
    last_run: datetime | None = None

    def maybe_run(self) -> dict[str, int] | None:
        if not self.policy:
            return None
        now = self.deps.clock.now()
        if self.last_run is not None and (now - self.last_run).total_seconds() < self.interval_secs:
            return None
        self.last_run = now
        return run_retention(self.deps, self.policy)
