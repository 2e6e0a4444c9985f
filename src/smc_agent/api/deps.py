"""What the routes share: the store, the session a request asks for, and paging."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request

from smc_agent.api import queries
from smc_agent.api.auth import Principal, require
from smc_agent.store import Store

__all__ = ["MAX_SQL_INT", "Limit", "Offset", "Reader", "SessionRow", "StoreDep"]

MAX_SQL_INT = 2**63 - 1  # the largest integer SQLite and PostgreSQL take: a larger one is a 422, not a 500


async def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def _session(store: Annotated[Store, Depends(_store)],
             session: Annotated[str | None, Query(description="a session's id (default: the latest)")] = None,
             ) -> dict[str, Any]:  # fmt: skip
    try:
        return queries.session(store, session)
    except queries.NotFound as exc:
        raise HTTPException(404, str(exc)) from None


StoreDep = Annotated[Store, Depends(_store)]
SessionRow = Annotated[dict[str, Any], Depends(_session)]
Reader = Annotated[Principal, Depends(require("read"))]
Limit = Annotated[int, Query(ge=1, le=1000, description="at most this many items")]
Offset = Annotated[int, Query(ge=0, le=MAX_SQL_INT, description="skip this many items first")]
