"""Market data in the store: the session's streams and the candles table (filled by sessions on live data and
``smc-agent data`` downloads into the store)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from smc_agent.api import queries
from smc_agent.api.deps import Reader, SessionRow, StoreDep
from smc_agent.api.models import Candle, MarketStream

router = APIRouter(prefix="/api/v1/market", tags=["market"])


@router.get("/symbols", response_model=list[MarketStream])
async def symbols(store: StoreDep, session: SessionRow, _: Reader) -> list[MarketStream]:
    """The session's streams (symbol, timeframe, last close) and every stored candle series."""
    return [MarketStream(**row) for row in queries.market_symbols(store, session["id"])]


@router.get("/candles", response_model=list[Candle])
async def candles(
    store: StoreDep,
    _: Reader,
    symbol: Annotated[str, Query(min_length=1)],
    tf: Annotated[str, Query(min_length=1, description="the timeframe: 1m, 15m, 1h ...")],
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    venue: str | None = None,
) -> list[Candle]:
    """The latest ``limit`` stored candles of a stream, oldest first (empty when none are stored)."""
    return [Candle(**row) for row in queries.candles(store, symbol, tf, limit, venue)]
