"""The shared retry loop of the live feeds (``feeds.resilience.retry``)."""

from __future__ import annotations

import asyncio

import pytest

from smc_agent.feeds import FeedHealth
from smc_agent.feeds.resilience import Breaker, HealthTracker, backoff, next_wait, retry


class Refused(Exception):
    pass


def _setup(threshold: int = 5) -> tuple[HealthTracker, Breaker]:
    health = HealthTracker("test")
    breaker = health.watch(Breaker("rest", threshold, reset_s=0.0))
    health.ready()
    return health, breaker


def test_transient_failures_are_retried_and_logged_once_per_change_of_state() -> None:
    health, breaker = _setup()
    outcomes: list[Exception | str] = [OSError("reset"), OSError("reset"), "rows"]
    counts: dict[str, int] = {}

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = asyncio.run(retry("candles", call, health=health, breaker=breaker, wait=backoff(0.001, 0.01, 0.0),
                               retry_on=OSError, counts=counts))  # fmt: skip
    assert result == "rows"
    assert counts == {"retries": 2}
    assert [h for h, _ in health.changes] == [FeedHealth.CONNECTED, FeedHealth.DEGRADED, FeedHealth.CONNECTED]
    assert breaker.failures == 0


def test_a_fatal_error_is_raised_at_once_and_the_breaker_opens_after_its_threshold() -> None:
    health, breaker = _setup(threshold=2)
    calls = 0

    async def refused() -> None:
        nonlocal calls
        calls += 1
        raise Refused("bad PIN")

    with pytest.raises(Refused):
        asyncio.run(retry("login", refused, health=health, breaker=breaker, wait=backoff(0.001, 0.01, 0.0),
                          retry_on=Exception, fatal=(Refused,)))  # fmt: skip
    assert calls == 1
    assert breaker.failures == 0
    assert health.health == FeedHealth.CONNECTED

    breaker.failure()
    breaker.failure()
    assert next_wait(breaker, backoff(5.0, 10.0, 0.0), 1) == 0.0  # open: the breaker's reset, not the backoff
    breaker.success()
    assert next_wait(breaker, backoff(5.0, 10.0, 0.0), 1) == 5.0
