"""The session's signals: each as its latest version has it, and one signal's every version with its evidence."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from smc_agent.api import queries
from smc_agent.api.deps import MAX_SQL_INT, Limit, Offset, Reader, SessionRow, StoreDep
from smc_agent.api.models import SignalPage, SignalSummary, SignalVersion, SignalVersions
from smc_agent.model.signal import SignalStatus

router = APIRouter(prefix="/api/v1/signals", tags=["signals"])


@router.get("", response_model=SignalPage)
async def signals(
    store: StoreDep,
    session: SessionRow,
    _: Reader,
    symbol: str | None = None,
    status: SignalStatus | None = None,
    setup: str | None = None,
    since: Annotated[
        int | None, Query(ge=0, le=MAX_SQL_INT, description="only signals changed at or after this epoch ms")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> SignalPage:
    """The signals, newest first, each in its latest version; ``total`` counts every match."""
    page = queries.signals(store, session["id"], symbol=symbol, status=None if status is None else status.value,
                           setup=setup, since_ms=since, limit=limit, offset=offset)  # fmt: skip
    return SignalPage(items=[SignalSummary(**row) for row in page.items], total=page.total, limit=limit, offset=offset)


@router.get("/{signal_id}", response_model=SignalVersions, responses={404: {"description": "no such signal"}})
async def signal(signal_id: str, store: StoreDep, session: SessionRow, _: Reader) -> SignalVersions:
    """Every version of one signal, oldest first, with its evidence."""
    try:
        rows = queries.signal_versions(store, session["id"], signal_id)
    except queries.NotFound as exc:
        raise HTTPException(404, str(exc)) from None
    return SignalVersions(signal_id=signal_id, session=session["id"], versions=[SignalVersion(**r) for r in rows])
