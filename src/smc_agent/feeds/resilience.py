"""A live feed's health, its retry waits and its circuit breaker, logged once per change of state.

:class:`HealthTracker` turns what is going on (troubles being handled: a reconnect, a stall, a gap being
filled, a REST call being retried; a breaker open) into one :class:`~smc_agent.feeds.FeedHealth`:

* ``DOWN`` before the first data, and while a circuit breaker is open;
* ``DEGRADED`` while any trouble is open (data arrives late, gaps are being filled, calls are retried);
* ``CONNECTED`` otherwise.

It logs one line, ``feed health changed``, each time that state changes, never once per retry: ten
retries of one outage are one ``degraded`` line and one ``connected`` line. :attr:`HealthTracker.changes`
keeps the same record for the store and metrics.

:class:`Breaker` counts consecutive failures of one kind of call; at ``threshold`` it opens (health DOWN)
and the next attempt waits ``reset_s`` (half-open: one trial); a success closes it. :func:`backoff` is the
exponential wait with jitter (tenacity's waits) between attempts while it is closed; :func:`next_wait` picks
between the two, and :func:`retry` runs one kind of call through all of it (a trouble open while it fails).

>>> h = HealthTracker("binance")
>>> h.health, h.ready(), h.health
(<FeedHealth.DOWN: 'down'>, None, <FeedHealth.CONNECTED: 'connected'>)
>>> h.open("reconnect", "connection lost"); h.open("rest", "503"); h.close("reconnect"); h.health
<FeedHealth.DEGRADED: 'degraded'>
>>> h.close("rest"); [c[0].value for c in h.changes]
['connected', 'degraded', 'connected']
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, wait_exponential, wait_random
from tenacity.wait import wait_base

from smc_agent.core.logs import get_logger
from smc_agent.feeds import FeedHealth

__all__ = ["Breaker", "HealthTracker", "backoff", "next_wait", "retry"]

_log = get_logger("smc_agent.feeds.health")
T = TypeVar("T")


def backoff(initial_s: float, max_s: float, jitter_s: float) -> wait_base:
    """``initial_s * 2**(n-1)`` seconds (at most ``max_s``) plus up to ``jitter_s`` at random, for attempt n."""
    return wait_exponential(multiplier=initial_s, max=max_s) + wait_random(0, jitter_s)


def wait_for(wait: wait_base, attempt: int) -> float:
    """The seconds ``wait`` gives before attempt ``attempt + 1`` (1 = after the first failure)."""
    state = RetryCallState(Retrying(), None, (), {})
    state.attempt_number = attempt
    return float(wait(state))


class Breaker:
    """Consecutive failures of one kind of call; open from ``threshold`` of them until a success."""

    def __init__(self, name: str, threshold: int, reset_s: float) -> None:
        if threshold < 1:
            raise ValueError(f"a breaker threshold must be >= 1, got {threshold}")
        self.name, self.threshold, self.reset_s = name, threshold, reset_s
        self.failures = 0

    @property
    def is_open(self) -> bool:
        return self.failures >= self.threshold

    def failure(self) -> None:
        self.failures += 1

    def success(self) -> None:
        self.failures = 0


class HealthTracker:
    """The feed's health from its open troubles and breakers; one log line per change of state."""

    def __init__(self, feed: str, **fields: Any) -> None:
        self._feed, self._fields = feed, fields
        self._troubles: dict[str, str] = {}
        self._breakers: dict[str, Breaker] = {}
        self._ready = False
        self._health = FeedHealth.DOWN
        self.changes: list[tuple[FeedHealth, str]] = []  # (new health, reason), in order
        # Told of each change (new, previous, reason): the store and the metrics, through the agent.
        self.listeners: list[Callable[[FeedHealth, FeedHealth, str], None]] = []

    @property
    def health(self) -> FeedHealth:
        return self._health

    def watch(self, breaker: Breaker) -> Breaker:
        self._breakers[breaker.name] = breaker
        return breaker

    def ready(self) -> None:
        """Data has arrived: the feed is up (unless a trouble or an open breaker says otherwise)."""
        self._ready = True
        self._update()

    def open(self, trouble: str, reason: str) -> None:
        self._troubles[trouble] = reason
        self._update()

    def close(self, trouble: str) -> None:
        if self._troubles.pop(trouble, None) is not None:
            self._update()

    def refresh(self) -> None:
        """Re-evaluate after a breaker changed."""
        self._update()

    def _update(self) -> None:
        opened = [b for b in self._breakers.values() if b.is_open]
        if opened:
            new = FeedHealth.DOWN
            reason = "; ".join(f"{b.name} failed {b.failures} times in a row (circuit open)" for b in opened)
        elif not self._ready:
            new, reason = FeedHealth.DOWN, "no data yet"
        elif self._troubles:
            new, reason = FeedHealth.DEGRADED, "; ".join(f"{k}: {v}" for k, v in self._troubles.items())
        else:
            new, reason = FeedHealth.CONNECTED, "streaming"
        if new == self._health:
            return
        old, self._health = self._health, new
        self.changes.append((new, reason))
        level = {FeedHealth.CONNECTED: _log.info, FeedHealth.DEGRADED: _log.warning}.get(new, _log.error)
        level("feed health changed", feed=self._feed, health=new.value, previous=old.value, reason=reason,
              **self._fields)  # fmt: skip
        for listener in self.listeners:
            listener(new, old, reason)


def next_wait(breaker: Breaker, wait: wait_base, attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: the breaker's reset while it is open, else the backoff."""
    return breaker.reset_s if breaker.is_open else wait_for(wait, attempt)


async def retry(
    what: str,
    call: Callable[[], Awaitable[T]],
    *,
    health: HealthTracker,
    breaker: Breaker,
    wait: wait_base,
    retry_on: type[BaseException] | tuple[type[BaseException], ...],
    fatal: tuple[type[BaseException], ...] = (),
    counts: dict[str, int] | None = None,
    min_wait: Callable[[BaseException], float] | None = None,
) -> T:
    """``await call()`` until it succeeds, waiting :func:`next_wait` after each ``retry_on`` error (at least
    ``min_wait(error)``, such as a 429's ``Retry-After``). While it fails, the trouble ``breaker.name`` is open
    (health DEGRADED, or DOWN once the breaker opens); ``counts["retries"]`` counts the retries. Any other
    error, and any ``fatal`` one (a refused login), is raised at once."""
    attempt = 0
    while True:
        try:
            result = await call()
        except asyncio.CancelledError:
            raise
        except retry_on as error:
            if isinstance(error, fatal):
                raise
            attempt += 1
            if counts is not None:
                counts["retries"] = counts.get("retries", 0) + 1
            breaker.failure()
            health.open(breaker.name, f"{what}: {type(error).__name__}")
            seconds = next_wait(breaker, wait, attempt)
            if min_wait is not None:
                seconds = max(seconds, min_wait(error))
            _log.debug("call failed; retrying", what=what, attempt=attempt, wait_s=round(seconds, 3),
                       error=str(error)[:200])  # fmt: skip
            await asyncio.sleep(seconds)
            continue
        if attempt:
            breaker.success()
            health.close(breaker.name)
        return result
