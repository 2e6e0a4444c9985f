"""Each API request's id, its access log line and its latency histogram: one pure ASGI middleware.

:class:`Observe` takes the client's ``X-Request-ID`` when it is sane (1 to 64 of ``A-Z a-z 0-9 - _ .``), else makes
one (a uuid4's hex), binds it into structlog's context for the request, so every line logged while it is handled
carries ``request_id``, and returns it in the ``X-Request-ID`` response header. When the response is done it logs
one ``request`` line (method, route, status, ms, and the caller's ``actor``, ``key:<id>`` or ``login``, once the
auth dependency has checked it; never the credential) and observes
:data:`~smc_agent.service.metrics.HTTP_SECONDS`.

The route label is the route's template (``/api/v1/signals/{signal_id}``), read from the scope after routing, so a
series is per route and not per path; a path no route matches is ``unmatched``. Pure ASGI rather than Starlette's
``BaseHTTPMiddleware``, which runs the app in another task (structlog's context would not reach it) and buffers
streaming; a WebSocket passes through untouched. Not prometheus-fastapi-instrumentator: this middleware already
has the method, route, status and time for its log line, and the library would match the route a second time and
build a request and a response object per request to observe the one histogram.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

from smc_agent.core.logs import get_logger
from smc_agent.service.metrics import HTTP_SECONDS

__all__ = ["REQUEST_ID", "Observe", "request_id"]

REQUEST_ID = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_HEADER = REQUEST_ID.lower().encode()
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other: "other"
_log = get_logger("smc_agent.api.access")


def request_id(given: str | None) -> str:
    """The client's id when it is sane, else a new one.

    >>> request_id("abc-123.x_y"), len(request_id("no spaces")), len(request_id("x" * 65))
    ('abc-123.x_y', 32, 32)
    """
    if given is not None and _SANE.fullmatch(given):
        return given
    return uuid.uuid4().hex


class Observe:
    """The middleware (outermost, so its time and status include every other layer's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == _HEADER), None)
        rid = request_id(None if given is None else given.decode("latin-1"))
        # The auth dependency writes the caller here (request.state); made now, so routing shares this one dict.
        state = scope.setdefault("state", {})
        status = 500  # what the client gets when the app raises before it answers

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (_HEADER, rid.encode())]
            await send(message)

        started = time.perf_counter()
        with bound_contextvars(request_id=rid):
            try:
                await self.app(scope, receive, answer)
            finally:
                seconds = time.perf_counter() - started
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                method = scope["method"] if scope["method"] in _METHODS else "other"
                HTTP_SECONDS.labels(method, route, str(status)).observe(seconds)
                _log.info("request", method=method, route=route, status=status,
                          ms=round(seconds * 1000, 3), actor=state.get("actor"))  # fmt: skip
