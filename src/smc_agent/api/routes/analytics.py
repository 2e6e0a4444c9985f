"""Backtests as background jobs, and how the stored sessions traded.

``POST /api/v1/analytics/backtest`` checks its input at once (a bad field is 422 naming it, an unknown series
404), then queues the backtest on the app's :class:`~smc_agent.api.jobs.JobRegistry` and answers 202 with the
job's id; ``GET /api/v1/analytics/backtest/{id}`` shows the job and, once done, the
``smc-agent backtest --json`` document in the API's words. The run is :func:`~smc_agent.service.backtest_candles`
over the stored or uploaded candles (those of ``POST /smc/detect``), with the server's analysis settings (as
``POST /smc/detect``), and the default risk settings under the server's environment and the request's overrides.
Progress is the traded candles done over those in the period, counted as the engine commits them (every 64
candles); the warm-up before ``start_date`` is not counted.

``GET /api/v1/analytics/performance`` is :func:`~smc_agent.service.performance.performance` over the closed
trades of the chosen sessions (default: every paper session).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.api import queries
from smc_agent.api.auth import Principal, require
from smc_agent.api.deps import Reader, StoreDep
from smc_agent.api.jobs import Job, JobRegistry, JobsFull, Progress
from smc_agent.api.routes.analysis import CandlesRequest, requested_candles
from smc_agent.backtest.runner import BacktestResult, backtest_json
from smc_agent.config import load_settings
from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.candles import Candles
from smc_agent.events import CandleClosed, Event
from smc_agent.service import backtest_candles, backtest_period, htf_list
from smc_agent.service.performance import closed_trades, performance
from smc_agent.strategy.registry import STRATEGIES

router = APIRouter(prefix="/api/v1/analytics", tags=["analytics"])

# The request's words for the keys the settings and the service name.
_FIELDS = {"from": "start_date", "to": "end_date", "htf": "strategy_config.htfs",
           "account.initial_balance": "initial_capital", "strategy": "strategy_config.name"}  # fmt: skip
_RISK = ("max_drawdown_pct", "max_drawdown_days", "sharpe", "sortino", "calmar", "exposure_pct")


class StrategyConfig(BaseModel, extra="forbid"):
    """Which strategy, on which higher timeframes, with which risk settings (the ``[risk]`` table's keys)."""

    name: str = Field(default="smc", description=f"one of {', '.join(STRATEGIES)}")
    htfs: list[str] | None = Field(default=None, description="higher timeframes, e.g. [\"1h\", \"4h\"] (default: the "
                                   "settings')")  # fmt: skip
    risk: dict[str, Any] = Field(default_factory=dict, description='overrides of [risk], e.g. {"risk_per_trade": '
                                 '0.005}')  # fmt: skip


class BacktestRequest(CandlesRequest):
    """The candles (stored or uploaded, as for POST /smc/detect), the strategy, the period and the account."""

    strategy_config: StrategyConfig = StrategyConfig()  # pydantic copies a default: no instance is shared
    start_date: datetime | None = Field(None, description="trade from this candle open time (ISO-8601, UTC if "
                                        "naive); earlier candles only warm the strategy up")  # fmt: skip
    end_date: datetime | None = Field(None, description="stop before this open time")
    initial_capital: Decimal | None = Field(None, gt=0, allow_inf_nan=False, max_digits=30,
                                            description="the account's balance (default: the settings')")  # fmt: skip


class JobView(BaseModel):
    """A backtest job; the last four fields are null until it is done."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float = Field(description="0..1: traded candles done over those in the period")
    submitted_ms: int
    started_ms: int | None
    finished_ms: int | None
    error: str | None = Field(description="why it failed, once failed")
    performance_metrics: dict[str, Any] | None = Field(description="backtest --json's metrics, and costs")
    equity_curve: list[list[str]] | None = Field(description="[[time ISO-8601, equity], ...]")
    trade_log: list[dict[str, Any]] | None = Field(description="backtest --json's trades")
    risk_metrics: dict[str, Any] | None = Field(description="drawdown, ratios, exposure, risk gate refusals")


class Performance(BaseModel):
    """Trades, win rate, expectancy (R and money) and profit factor overall and by setup, side and session."""

    sessions: list[str]
    overall: dict[str, Any]
    by_setup: dict[str, dict[str, Any]]
    by_side: dict[str, dict[str, Any]]
    by_session: dict[str, dict[str, Any]]


class _ProgressJournal:
    """A journal that keeps nothing and counts the traded candles of each commit, for the job's progress."""

    def __init__(self, total: int, progress: Progress) -> None:
        self._total, self._progress = max(total, 1), progress
        self._done = self._last = 0

    def append(self, events: Sequence[Event]) -> None:
        if events:
            self._done += sum(type(e) is CandleClosed for e in events)
            self._last = events[-1].seq
            self._progress(self._done / self._total)

    def read(self, after_seq: int = 0) -> Iterator[Event]:
        return iter(())

    def last_seq(self) -> int:
        return self._last


def jobs(request: Request) -> JobRegistry:
    registry: JobRegistry = request.app.state.jobs
    return registry


def _refused(exc: ConfigError | DataError) -> HTTPException:
    """A 422 in the request's words: ``strategy_config.risk.min_rr`` rather than ``risk.min_rr``."""
    if not isinstance(exc, ConfigError) or exc.key is None:
        return HTTPException(422, str(exc))
    key = exc.key
    field = _FIELDS.get(key) or (f"strategy_config.{key}" if key.startswith("risk.") else key)
    return HTTPException(422, f"body field {field}: {exc.message}")


def _utc(value: datetime | None) -> datetime | None:
    """A time of the request as UTC (naive means UTC, as for the CLI's --from)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _document(result: BacktestResult) -> dict[str, Any]:
    """backtest --json's document (one function for the CLI and the API) in the fields of a job."""
    document = backtest_json(result)
    metrics = document["metrics"]
    return {"performance_metrics": {**metrics, "costs": document.get("costs", {})},
            "equity_curve": document["equity"], "trade_log": document["trades"],
            "risk_metrics": {**{name: metrics[name] for name in _RISK},
                             "risk_rejections": len(result.rejections)}}  # fmt: skip


def _view(job: Job) -> JobView:
    result = job.result or {}
    return JobView(id=job.id, status=job.status, progress=job.progress, submitted_ms=job.submitted_ms,
                   started_ms=job.started_ms, finished_ms=job.finished_ms, error=job.error,
                   performance_metrics=result.get("performance_metrics"), equity_curve=result.get("equity_curve"),
                   trade_log=result.get("trade_log"), risk_metrics=result.get("risk_metrics"))  # fmt: skip


@router.post("/backtest", status_code=202, response_model=JobView,
             responses={404: {"description": "no such stored series"},
                        429: {"description": "the job queue is full"}})  # fmt: skip
def start_backtest(body: BacktestRequest, request: Request, store: StoreDep,
                   principal: Annotated[Principal, Depends(require("trade"))]) -> JobView:  # fmt: skip
    """Check the request, queue its backtest (one runs at a time) and answer with the job."""
    config = body.strategy_config
    start_at, end_at = _utc(body.start_date), _utc(body.end_date)
    start, end = (None if at is None else at.isoformat() for at in (start_at, end_at))
    account = {} if body.initial_capital is None else {"initial_balance": str(body.initial_capital)}
    try:
        if config.name not in STRATEGIES:
            raise ConfigError(f"unknown strategy {config.name!r}; choose from {', '.join(STRATEGIES)}",
                              key="strategy")  # fmt: skip
        if start_at is not None and end_at is not None and start_at >= end_at:
            raise ConfigError("must be after start_date", key="to")
        htfs = htf_list(",".join(config.htfs)) if config.htfs is not None else None
        settings = load_settings(overrides={"risk": config.risk, "account": account})
        candles = requested_candles(store, body)
        traded = backtest_period(candles, start, end)
    except (ConfigError, DataError) as exc:
        raise _refused(exc) from None
    analysis: AnalysisConfig = request.app.state.analysis  # the server's detectors, as POST /smc/detect's
    warm_up = 0 if start_at is None else int(np.searchsorted(traded.time, int(start_at.timestamp() * 1000)))
    total = len(traded) - warm_up

    def work(progress: Progress) -> dict[str, Any]:
        result = backtest_candles(candles, strategy=config.name, htfs=htfs, start=start, end=end,
                                  settings=settings.engine_settings(), analysis=analysis,
                                  journal=_ProgressJournal(total, progress))  # fmt: skip
        return _document(result)

    try:
        job = jobs(request).submit("backtest", work)
    except JobsFull as exc:
        raise HTTPException(429, str(exc)) from None
    store.audit("api backtest", {"job": job.id, "strategy": config.name, **_described(body, candles),
                                 "start_date": start, "end_date": end, "risk": config.risk,
                                 "initial_capital": account.get("initial_balance")}, actor=principal.actor)  # fmt: skip
    return _view(job)


def _described(body: BacktestRequest, candles: Candles) -> dict[str, Any]:
    """The candles of the request, for the audit log: the series, or the upload's size (never its rows)."""
    source = "upload" if body.candles is not None else "stored"
    return {"candles": source, "symbol": candles.symbol, "timeframe": candles.timeframe, "rows": len(candles)}


@router.get("/backtest/{job_id}", response_model=JobView)
async def backtest_job(request: Request, _: Reader,
                       job_id: Annotated[str, Path(min_length=1, max_length=64)]) -> JobView:  # fmt: skip
    """A backtest job: queued, running (with its progress), done (with its results) or failed (with why)."""
    job = jobs(request).get(job_id)
    if job is None:
        raise HTTPException(404, f"no backtest job {job_id!r} (jobs are kept in memory: the last 100 finished)")
    return _view(job)


@router.get("/performance", response_model=Performance)
def session_performance(
    store: StoreDep,
    _: Reader,
    session: Annotated[str | None, Query(min_length=1, description="only this session")] = None,
    mode: Annotated[Literal["paper", "live", "backtest"] | None,
                    Query(description="only sessions of this mode (default: paper, unless a session is named)")] = None,
) -> Performance:  # fmt: skip
    """How the chosen sessions' closed trades did, overall and by setup, side and trading session."""
    if session is not None:
        try:
            chosen = [queries.session(store, session)]
        except queries.NotFound as exc:
            raise HTTPException(404, str(exc)) from None
    else:
        chosen = queries.sessions(store)
        mode = mode or "paper"
    ids = [row["id"] for row in chosen if mode is None or row["mode"] == mode]
    trades = [trade for session_id in ids for trade in closed_trades(store, session_id)]
    return Performance(sessions=ids, **performance(trades))
