"""The dashboard's reads that the admin services do not already answer: the overview's history (from the
database's rollup, `AdminStore.activity`) and finding a caller by the opaque handle its pages use in URLs
(a phone number never appears in a URL: access logs and browser history record them)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from agentic_memory.domain.models import CallerProfile
from agentic_memory.domain.pseudonym import caller_ref
from agentic_memory.errors import NotFound
from agentic_memory.ports import CallerQuery
from agentic_memory.services.admin import AdminDeps, audit

PAGE = 500


@dataclass(frozen=True, slots=True)
class Day:
    day: str
    calls: int
    new_callers: int
    returning_callers: int
    jobs: int
    p50_secs: float | None
    p95_secs: float | None


@dataclass(frozen=True, slots=True)
class Overview:
    days: list[Day]
    callers: int
    memories: dict[str, int]
    queued: int
    running: int
    dead: int
    memories_per_caller: list[tuple[str, int]]  # (bucket label, callers)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (no interpolation: the value shown is one a job really took)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


BUCKETS = ((0, 0, "0"), (1, 2, "1-2"), (3, 5, "3-5"), (6, 10, "6-10"), (11, 20, "11-20"), (21, 50, "21-50"),
           (51, 2**62, "51+"))


def overview(deps: AdminDeps, *, actor: str, days: int = 30) -> Overview:
    now = deps.clock.now()
    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    activity = deps.admin.activity(start)
    by_day = {d.day: d for d in activity.days}
    latencies: dict[str, list[float]] = {}
    for finished, secs in activity.latencies:
        latencies.setdefault(finished.date().isoformat(), []).append(secs)
    rows = []
    for offset in range(days):
        day = (start + timedelta(days=offset)).date().isoformat()
        calls = by_day.get(day)
        times = latencies.get(day, [])
        rows.append(Day(day=day, calls=calls.calls if calls else 0, new_callers=calls.new_callers if calls else 0,
                        returning_callers=calls.callers - calls.new_callers if calls else 0, jobs=len(times),
                        p50_secs=percentile(times, 0.5), p95_secs=percentile(times, 0.95)))
    totals = deps.admin.totals()
    buckets = [(label, sum(n for count, n in activity.memories_per_caller.items() if low <= count <= high))
               for low, high, label in BUCKETS]
    audit(deps, actor, "dashboard.overview")
    return Overview(days=rows, callers=totals.callers, memories=totals.memories,
                    queued=totals.inbox.get("queued", 0), running=totals.inbox.get("running", 0),
                    dead=totals.inbox.get("dead", 0), memories_per_caller=buckets)


def handle(profile_caller_id: str, deps: AdminDeps) -> str:
    """The caller's opaque id in dashboard URLs: a keyed hash of the stored caller id (number and scope)."""
    return caller_ref(profile_caller_id, deps.ref_secret)


def _all_callers(deps: AdminDeps) -> Iterator[CallerProfile]:
    offset = 0
    while True:
        page = deps.admin.find_callers(CallerQuery(limit=PAGE, offset=offset))
        yield from page
        if len(page) < PAGE:
            return
        offset += PAGE


def resolve(deps: AdminDeps, caller_handle: str) -> CallerProfile:
    """The profile behind a handle. A scan of the callers (one keyed hash each): fine for an operator's
    page view, and it needs no new index holding something number-derived."""
    for profile in _all_callers(deps):
        if handle(profile.caller_id, deps) == caller_handle:
            return profile
    raise NotFound("no such caller (erased, or the link is from another installation)")
