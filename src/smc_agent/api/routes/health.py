"""Liveness and readiness (no credential: a load balancer asks them) and the Prometheus metrics (read)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from smc_agent.api.deps import Reader, StoreDep
from smc_agent.api.models import Health
from smc_agent.core.errors import SmcAgentError
from smc_agent.feeds import FeedHealth

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, response_model_exclude_none=True)
async def healthz() -> Health:
    """The process answers."""
    return Health(status="alive")


_READY_FEED = frozenset({FeedHealth.CONNECTED, FeedHealth.DONE})


@router.get("/readyz", response_model=Health,
            responses={503: {"description": "the store does not answer, or the agent's feed has no data"}})  # fmt: skip
async def readyz(request: Request, store: StoreDep) -> Health | JSONResponse:
    """200 once the store answers a query (and, under a running agent, its feed is connected or done), else 503
    with the reason."""
    try:
        revision = store.revision()
    except SmcAgentError as exc:
        return JSONResponse({"detail": f"the store does not answer: {exc}"}, status_code=503)
    agent = request.app.state.agent
    if agent is not None and agent.system.feed.health not in _READY_FEED:
        return JSONResponse({"detail": f"the feed is {agent.system.feed.health.value}"}, status_code=503)
    return Health(status="ready", revision=revision)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
async def metrics(_: Reader) -> Response:
    """The process's Prometheus metrics, in the text format."""
    # async: on the event loop, where the engine runs, so the equity gauge reads the portfolio between two steps.
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
