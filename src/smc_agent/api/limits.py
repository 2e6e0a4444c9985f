"""What one caller may ask of the API: a request rate per credential, and the size of a request's body.

The rate (``api.rate_limit``, e.g. ``"120/minute"``) is a token bucket per credential (``key:<id>``, or ``login``
for the dashboard's tokens): it holds that many requests and refills at that rate, so a burst up to the limit
passes and a steady caller gets the rate. It is taken where a credential is checked (:class:`RateLimited`, the
app's authenticator), so every authenticated route and the WebSocket count and no public one does; a caller
over it gets 429 with ``Retry-After`` (whole seconds until a request would pass). Unknown credentials never get a
bucket: they are refused (401) before one is taken, so a stranger cannot grow the table.

:class:`BodyLimit` answers 413 to a request whose body is over ``api.max_body_bytes``, from its Content-Length
before anything is read, or as soon as a body sent without one passes the bound.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smc_agent.api.auth import Authenticator, Principal, wall_ms
from smc_agent.core.errors import ConfigError
from smc_agent.store import Store

__all__ = ["BodyLimit", "Rate", "RateLimited", "TokenBuckets"]

_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period_s`` seconds.

    >>> Rate.parse("120/minute")
    Rate(count=120, period_s=60.0)
    """

    count: int
    period_s: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        match = _RATE.match(text)
        if match is None or int(match.group(1)) < 1:
            raise ConfigError(f"api.rate_limit: {text!r} is not a rate; write N/second, N/minute, N/hour or N/day")
        return cls(int(match.group(1)), _PERIODS[match.group(2)])


class TokenBuckets:
    """One bucket per caller: :meth:`take` is 0 when a request may pass, else the seconds until one may."""

    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(rate.count)
        self._per_s = rate.count / rate.period_s
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, when counted)

    def take(self, caller: str) -> float:
        now = self._clock()
        tokens, then = self._buckets.get(caller, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - then) * self._per_s)
        if tokens >= 1.0:
            self._buckets[caller] = (tokens - 1.0, now)
            return 0.0
        self._buckets[caller] = (tokens, now)
        return (1.0 - tokens) / self._per_s


class RateLimited(Authenticator):
    """The authenticator that also takes a token from the caller's bucket once it knows who is calling."""

    def __init__(self, store: Store, *, ttl_s: int, rate: Rate, clock: Callable[[], int] = wall_ms,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        super().__init__(store, ttl_s=ttl_s, clock=clock)
        self._buckets = TokenBuckets(rate, monotonic)

    def principal(self, request: Request, key: str | None, bearer: HTTPAuthorizationCredentials | None) -> Principal:
        found = super().principal(request, key, bearer)
        wait_s = self._buckets.take(found.actor)
        if wait_s > 0:
            raise HTTPException(429, "too many requests for this credential: wait and retry",
                                headers={"Retry-After": str(max(1, math.ceil(wait_s)))})  # fmt: skip
        return found


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return f"the request body is over the limit of {self.max_bytes} bytes (api.max_body_bytes)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse({"detail": self._detail()}, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                # An HTTPException, so FastAPI's body parsing passes it on (any other error becomes its 400).
                raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counted, send)
