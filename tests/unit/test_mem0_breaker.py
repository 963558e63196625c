"""The Mem0 circuit breaker: opens after a run of failures, lets one trial through after the cooldown."""

from __future__ import annotations

import pytest

from agentic_memory.adapters.mem0.breaker import Breaker
from agentic_memory.errors import EngineUnavailable


def test_opens_after_the_threshold_and_recovers_after_a_success():
    now = [100.0]
    breaker = Breaker(threshold=3, cooldown_secs=10, clock=lambda: now[0])
    breaker.failed()
    breaker.failed()
    breaker.check()  # two failures: still closed
    breaker.failed()
    with pytest.raises(EngineUnavailable) as raised:
        breaker.check()
    assert raised.value.retry_after == 10
    now[0] += 10
    breaker.check()  # cooldown over: one trial goes through
    breaker.failed()  # ...and fails: open again at once
    with pytest.raises(EngineUnavailable):
        breaker.check()
    now[0] += 10
    breaker.check()
    breaker.succeeded()
    breaker.failed()
    breaker.check()  # a success reset the count


def test_successes_between_failures_keep_it_closed():
    breaker = Breaker(threshold=2, cooldown_secs=10, clock=lambda: 0.0)
    for _ in range(10):
        breaker.failed()
        breaker.succeeded()
    breaker.check()
