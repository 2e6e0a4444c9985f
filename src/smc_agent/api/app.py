"""The REST API over one store: :func:`create_app` builds the FastAPI application that ``smc-agent serve`` runs.

Every read route reads the store's tables (the journal's projections), so its numbers are the store's. With an
``agent`` (``smc-agent run``) the command routes (:mod:`.routes.commands`) put commands on its session's inbox and
wait for what came of them; without one (``smc-agent serve``) they answer 409. The other writes are the auth
bookkeeping (a key's last use, at most once a minute; the JWT key, once) and the audit log.
Every route needs a credential (:mod:`.auth`) except ``/healthz``, ``/readyz``, the login and its page
(``/login``). Errors are JSON ``{"detail": "..."}`` a person can read, validation errors included. CORS is closed
unless origins are given.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.api.auth import Authenticator, wall_ms
from smc_agent.api.jobs import JobRegistry
from smc_agent.api.limits import BodyLimit, Rate, RateLimited
from smc_agent.api.observability import Observe
from smc_agent.api.openapi import readable_errors
from smc_agent.api.routes import analysis as analysis_routes
from smc_agent.api.routes import analytics, auth, commands, config, health, market, sessions, signals, stream, trading
from smc_agent.api.stream import StreamHub
from smc_agent.core.errors import SmcAgentError
from smc_agent.service.agent import Agent
from smc_agent.store import Store

__all__ = ["create_app", "readable"]

_DESCRIPTION = ("The store's sessions, signals, orders, positions, risk and market data, and the running agent's "
                "commands (orders, kill, reset, control). "
                "Authenticate with an X-API-Key header or a bearer token from /api/v1/auth/login.")  # fmt: skip


def readable(errors: Sequence[Any]) -> str:
    """Pydantic's validation errors as one sentence: where each is and what is wrong.

    >>> readable([{"loc": ("query", "limit"), "msg": "Input should be less than or equal to 1000"}])
    'query parameter limit: Input should be less than or equal to 1000'
    """
    parts = []
    for error in errors:
        where, *path = error.get("loc", ()) or ("request",)
        name = ".".join(str(p) for p in path)
        label = {"query": "query parameter", "path": "path parameter", "body": "body field", "header": "header"}
        parts.append(f"{label.get(where, where)} {name}: {error.get('msg')}" if name else f"{where}: {error['msg']}")
    return "; ".join(parts)


def create_app(store: Store, *, cors_origins: Sequence[str] = (), jwt_ttl_s: int = 900,
               clock: Callable[[], int] = wall_ms, hub: StreamHub | None = None, rate_limit: str | None = None,
               max_body_bytes: int = 1_048_576, agent: Agent | None = None,
               analysis: AnalysisConfig | None = None) -> FastAPI:  # fmt: skip
    """The API over ``store`` (opened by the caller, who also closes it); with a ``hub``, the WebSocket stream;
    commands go to ``agent``, if any. The analysis routes detect with ``analysis`` (default: the agent's, else
    the defaults), each symbol with its own settings over them."""
    app = FastAPI(title="smc-agent API", version="1", docs_url="/docs", openapi_url="/openapi.json",
                  description=_DESCRIPTION)  # fmt: skip
    app.state.store = store
    app.state.agent = agent
    app.state.analysis = analysis or (agent.analysis if agent is not None else AnalysisConfig())
    app.state.auth = Authenticator(store, ttl_s=jwt_ttl_s, clock=clock)
    if rate_limit is not None:  # every credential check also takes from the caller's bucket
        app.state.auth = RateLimited(store, ttl_s=jwt_ttl_s, clock=clock, rate=Rate.parse(rate_limit))
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    readable_errors(app)
    app.state.started = time.monotonic()
    app.state.jobs = JobRegistry()  # the backtests of /api/v1/analytics, one at a time
    app.router.on_shutdown.append(app.state.jobs.close)
    if cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID"])  # fmt: skip
    app.add_middleware(Observe)  # added last: the outermost, so it times and logs every answer, a 413 too
    for module in (health, auth, sessions, signals, trading, market, commands, config, analysis_routes, analytics):
        app.include_router(module.router)
    app.include_router(auth.page)
    if hub is not None:
        app.state.hub = hub
        app.include_router(stream.router)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": readable(exc.errors())}, status_code=422)

    @app.exception_handler(SmcAgentError)
    async def _store_error(_: Request, exc: SmcAgentError) -> JSONResponse:
        # The store's own errors (a lost PostgreSQL, a locked file) name the database masked, never a password.
        return JSONResponse({"detail": str(exc)}, status_code=503)

    return app
