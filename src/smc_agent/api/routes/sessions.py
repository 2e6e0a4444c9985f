"""The API's status and the stored sessions."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request

from smc_agent.api import queries
from smc_agent.api.deps import Reader, StoreDep
from smc_agent.api.models import Engine, Feed, SessionInfo, Status

router = APIRouter(prefix="/api/v1", tags=["status"])


def _version() -> str:
    try:
        return version("smc-agent")
    except PackageNotFoundError:  # a source tree never installed
        return "unknown"


@router.get("/status", response_model=Status)
async def status(request: Request, store: StoreDep, _: Reader) -> Status:
    """The version, the latest session (its mode), its feeds' health, the running engine's state (its feed's
    health now) and how long this API has run."""
    try:
        latest = queries.session(store, None)
    except queries.NotFound:
        latest = None
    feeds = [] if latest is None else [Feed(**row) for row in queries.feeds(store, latest["id"])]
    agent = request.app.state.agent
    engine = None
    if agent is not None:
        system = agent.system
        engine = Engine(session=agent.session_id, mode=system.mode.value, feed=system.feed.health.value,
                        trading_state=system.risk.state.value, paused=system.risk.paused)  # fmt: skip
    return Status(version=_version(), session=None if latest is None else SessionInfo(**latest), feeds=feeds,
                  engine=engine, uptime_s=round(time.monotonic() - request.app.state.started, 3))  # fmt: skip


@router.get("/sessions", response_model=list[SessionInfo])
async def sessions(store: StoreDep, _: Reader) -> list[SessionInfo]:
    """Every stored session (paper, live, backtest), the latest first."""
    return [SessionInfo(**row) for row in queries.sessions(store)]
