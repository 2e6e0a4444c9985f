"""What the detectors and the bias see: ``POST /api/v1/smc/detect`` over stored or uploaded candles, and
``GET /api/v1/bias/{symbol}`` over a symbol's stored candles. Both run the service functions behind
``smc-agent analyze --json`` and ``smc-agent bias --json``, so the API and the CLI agree on the same candles."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.api import queries
from smc_agent.api.deps import MAX_SQL_INT, Reader, StoreDep
from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data import validation
from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.service import analysis_json, analyze_candles, bias_of, default_htfs, entry_settings, htf_list
from smc_agent.smc.detections import EVENT_TYPES
from smc_agent.store import Store

router = APIRouter(prefix="/api/v1", tags=["analysis"])

MAX_CANDLES = 20_000  # an upload's bound: the body limit stops larger ones first, this says so in the schema
# The groups of analyze --json's events; every event is also in ``patterns``.
GROUPS = {"order_blocks": ("order_block", "breaker_block"),
          "liquidity_levels": ("liquidity", "previous_day", "previous_week", "previous_month", "session"),
          "market_structure": ("swing_high", "swing_low", "bos", "choch", "dealing_range")}  # fmt: skip

PatternType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
Price = Annotated[float, Field(allow_inf_nan=False)]
OpenMs = Annotated[int, Field(ge=0, le=MAX_SQL_INT)]
Row = tuple[OpenMs, Price, Price, Price, Price, Price]


class CandlesRequest(BaseModel):
    """Stored candles (``symbol`` and ``timeframe``, ``venue`` when several hold them) or an uploaded array."""

    symbol: str | None = Field(None, min_length=1, description="a stored symbol, or the uploaded candles' name")
    timeframe: str | None = Field(None, min_length=1, description="1m, 15m, 1h ...; required with candles too")
    venue: str | None = Field(None, min_length=1, description="the stored series' venue (default: the only one)")
    candles: list[Row] | None = Field(
        None,
        min_length=1,
        max_length=MAX_CANDLES,
        description="[[open_ms, open, high, low, close, volume], ...] oldest first",
    )


class DetectRequest(CandlesRequest):
    """The candles to run the detectors over, and which of their events to give."""

    pattern_types: list[PatternType] | None = Field(None, description="only events of these types (default: all)")


class Detection(BaseModel):
    """``smc-agent analyze --json``'s document: its events as ``patterns``, and grouped."""

    symbol: str
    timeframe: str
    candles: int
    patterns: list[dict[str, Any]]
    order_blocks: list[dict[str, Any]]
    liquidity_levels: list[dict[str, Any]]
    market_structure: list[dict[str, Any]]


class BiasView(BaseModel):
    """``smc-agent bias --json``'s document for a stored series, and which series it read."""

    symbol: str
    venue: str
    timeframe: str
    htfs: list[str]
    bias: dict[str, Any]


async def _analysis(request: Request) -> AnalysisConfig:
    config: AnalysisConfig = request.app.state.analysis
    return config


Analysis = Annotated[AnalysisConfig, Depends(_analysis)]


@router.post("/smc/detect", response_model=Detection)
def detect(body: DetectRequest, store: StoreDep, analysis: Analysis, _: Reader) -> Detection:
    """Every detector over stored candles or an uploaded array, with the entry timeframe's settings (the
    symbol's own over them), as ``analyze --json``: 422 names the bad row or field."""
    try:
        candles = requested_candles(store, body)
        document = analysis_json(analyze_candles(candles, entry_settings(analysis, candles.symbol, None)))
    except (ConfigError, DataError) as exc:
        raise HTTPException(422, str(exc)) from None
    patterns = [e for e in document.pop("events") if body.pattern_types is None or e["type"] in body.pattern_types]
    groups = {name: [e for e in patterns if e["type"] in types] for name, types in GROUPS.items()}
    return Detection.model_validate({**document, "patterns": patterns, **groups})


@router.get("/bias/{symbol:path}", response_model=BiasView)
def bias(
    store: StoreDep,
    analysis: Analysis,
    _: Reader,
    symbol: Annotated[str, Path(min_length=1)],
    tf: Annotated[
        str | None, Query(min_length=1, description="the entry timeframe (default: the shortest stored)")
    ] = None,
    htf: Annotated[str | None, Query(description="higher timeframes, e.g. 1h,4h,1d (default: the settings')")] = None,
    venue: Annotated[str | None, Query(min_length=1)] = None,
) -> BiasView:
    """The higher-timeframe bias after a symbol's last stored candle, with its evidence."""
    try:
        venue, candles = _stored(store, symbol, tf, venue)
        frames = htf_list(htf)
        frames = frames if frames is not None else default_htfs(candles.timeframe, analysis)
        found = bias_of(candles, frames, analysis)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    return BiasView(symbol=symbol, venue=venue, timeframe=candles.timeframe, htfs=frames, bias=found.to_dict())


def requested_candles(store: Store, body: CandlesRequest) -> Candles:
    """The candles ``body`` asks for: uploaded, else stored (404 when none are; ConfigError on a bad field)."""
    return _uploaded(body) if body.candles is not None else _stored(store, body.symbol, body.timeframe,
                                                                    body.venue)[1]  # fmt: skip


def _uploaded(body: CandlesRequest) -> Candles:
    """The uploaded rows as candles, checked as a file's are (rows counted from 0, as the array's indices)."""
    if body.timeframe is None:
        raise ConfigError("uploaded candles need their timeframe", key="timeframe")
    _timeframe(body.timeframe)
    columns = np.array(body.candles, dtype=np.float64).T
    candles = Candles.from_arrays(np.array([row[0] for row in body.candles or ()], dtype=np.int64), *columns[1:],
                                  symbol=body.symbol or "", timeframe=body.timeframe)  # fmt: skip
    validation.check(candles, path="candles", rows=np.arange(len(candles)), positive_prices=True)
    return candles


def _stored(store: Store, symbol: str | None, timeframe: str | None, venue: str | None) -> tuple[str, Candles]:
    """The stored series of ``symbol`` (its venue and candles): 404 when none is stored, 422 when it is ambiguous."""
    if symbol is None:
        raise ConfigError("give a stored symbol and timeframe, or upload candles", key="symbol")
    series = [row for row in queries.candle_series(store, symbol) if venue in (None, row["venue"])]
    if not series:
        raise HTTPException(404, f"no candles of {symbol}" + (f" at {venue}" if venue else "") + " are stored")
    if timeframe is None:  # the entry timeframe: the shortest stored
        timeframe = min((row["timeframe"] for row in series), key=_timeframe)
    venues = sorted({row["venue"] for row in series if row["timeframe"] == timeframe})
    if not venues:
        stored = ", ".join(sorted({row["timeframe"] for row in series}))
        raise HTTPException(404, f"no {timeframe} candles of {symbol} are stored (stored: {stored})")
    if len(venues) > 1:
        raise ConfigError(f"{symbol} {timeframe} is stored at {', '.join(venues)}: give the venue", key="venue")
    return venues[0], store.load_candles(venues[0], symbol, timeframe)


def _timeframe(text: str) -> int:
    try:
        return parse_timeframe(text)
    except ConfigError as exc:
        raise ConfigError(exc.message, key="timeframe") from None
