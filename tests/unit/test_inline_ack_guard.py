"""The guard that keeps slow fsyncs off the event loop."""

from __future__ import annotations

import time

from agentic_memory.http.ack import InlineAckGuard


def test_outliers_do_not_pause_inline_acks():
    guard = InlineAckGuard()
    for secs in [0.050] + [0.0004] * 40 + [0.030] * 3:  # a cold first commit, then checkpoints now and then
        guard.observe(secs)
    assert guard.paused_until <= time.monotonic()


def test_a_slow_disk_pauses_inline_acks_then_they_are_tried_again():
    guard = InlineAckGuard()
    for _ in range(InlineAckGuard.WINDOW):
        guard.observe(0.005)
    assert guard.paused_until > time.monotonic() + InlineAckGuard.PAUSE_SECS / 2
    assert not guard.recent  # judged afresh after the pause


def test_only_small_bodies_commit_on_the_loop():
    guard = InlineAckGuard()
    assert guard.allows(7_000)  # a transcript
    assert not guard.allows(InlineAckGuard.MAX_BYTES + 1)  # an audio webhook: parsed and written on a thread


def test_nothing_commits_on_the_loop_while_paused():
    guard = InlineAckGuard()
    for _ in range(InlineAckGuard.WINDOW):
        guard.observe(0.005)
    assert not guard.allows(100)
