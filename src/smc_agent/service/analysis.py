"""Analysis and backtest use cases: load a file, bring it to a timeframe, run detectors, signals or a backtest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from smc_agent.analysis.bias import Bias
from smc_agent.analysis.confidence import with_confidence
from smc_agent.analysis.config import DEFAULT_HTFS, AnalysisConfig
from smc_agent.analysis.mtf import MultiTimeframeEngine
from smc_agent.analysis.signals import SignalEngine, replay
from smc_agent.backtest.runner import BacktestResult, make_strategy, run_backtest
from smc_agent.config.engine import DataSource, EngineSettings
from smc_agent.core.errors import ConfigError
from smc_agent.core.timefmt import format_time
from smc_agent.data import validation
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import detect_format, mean_spread, read_candles
from smc_agent.data.resample import resample
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.events.journal import Journal
from smc_agent.smc.config import SmcConfig
from smc_agent.smc.detections import events
from smc_agent.smc.detector import SmcResult, analyze

__all__ = [
    "AnalysisRequest",
    "analysis_json",
    "analyze_candles",
    "analyze_request",
    "backtest_candles",
    "backtest_period",
    "backtest_request",
    "bias_of",
    "bias_request",
    "default_htfs",
    "entry_settings",
    "htf_list",
    "in_zone",
    "load_timeframe",
    "signals_json",
    "signals_request",
]


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """Where the candles come from and how to read them.

    ``notes`` collects what loading did to the data that the user should hear about (what ``fix``
    repaired, an unfinished last candle left out); a front end shows them, e.g. on stderr.
    """

    path: Path
    format: str | None = None
    tz: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    fix: bool = False
    time_column: str | None = None
    notes: list[str] = field(default_factory=list, compare=False)


def load_timeframe(request: AnalysisRequest) -> Candles:
    """Load candles and bring them to the requested timeframe (resampling up, never down).

    Every command loads through here, so all of them see the same candles: a resampled last
    candle whose period has not ended (data ending at 10:07 makes a 15m candle that would close
    at 10:15) is left out, since treating it as closed would act on prices that are not final.
    """
    raw = read_candles(request.path, format=request.format, tz=request.tz, symbol=request.symbol, fix=request.fix,
                       time_column=request.time_column)  # fmt: skip
    validation.check(raw.candles, path=raw.path, rows=raw.rows, columns=raw.columns, positive_prices=True)
    if raw.fix_report is not None:
        request.notes.append(f"{raw.path}: --fix {raw.fix_report.summary()}")
    candles = raw.candles
    target = request.timeframe
    if target:
        try:
            parse_timeframe(target)
        except ConfigError as exc:
            raise ConfigError(exc.message, key="tf") from None
    if not target or not candles.timeframe or parse_timeframe(target) == candles.timeframe_ms:
        return candles
    if parse_timeframe(target) < candles.timeframe_ms:
        raise ConfigError(
            f"{request.path} holds {candles.timeframe} candles; cannot analyse them at the lower timeframe {target}",
            key="tf",
        )
    return closed_candles(resample(candles, target, tz=request.tz), request)


def closed_candles(candles: Candles, request: AnalysisRequest) -> Candles:
    """``candles`` without a last candle whose period has not ended, with a note when one is left out."""
    if candles.last_complete or not len(candles):
        return candles
    request.notes.append(
        f"{request.path}: left out the unfinished last {candles.timeframe} candle opening "
        f"{format_time(int(candles.time[-1]), request.tz)} (the data ends before it closes)"
    )
    return candles[: len(candles) - 1]


def in_zone(config: AnalysisConfig | None, tz: str | None) -> AnalysisConfig:
    """The analysis settings with the detectors' days and weeks (previous-day levels) in ``tz``.

    ``--tz`` sets where days start for resampling and for the higher-timeframe candles; the
    detectors must count days the same way, or ``analyze`` (which always did) and ``signals``,
    ``report`` and ``backtest`` would show different levels for the same data.
    """
    config = config or AnalysisConfig()
    if tz is None:
        return config
    return replace(config, entry_smc=replace(config.entry_smc, calendar_tz=tz),
                   htf_smc=replace(config.htf_smc, calendar_tz=tz))  # fmt: skip


def entry_settings(analysis: AnalysisConfig | None, symbol: str, tz: str | None) -> SmcConfig:
    """The detectors' settings on the entry timeframe for ``symbol``: its own over ``analysis``'s (default: the
    defaults), with days in ``tz``; the signal engine's entry settings, so ``analyze`` and the API's detect list
    the zones and liquidity pools that ``signals`` and ``report`` see."""
    return in_zone(analysis, tz).for_symbol(symbol).entry_smc


def analyze_request(request: AnalysisRequest, analysis: AnalysisConfig | None = None, **changes: Any) -> SmcResult:
    """Load, resample if asked, and run every detector with :func:`entry_settings` (``changes``: fields of the
    :class:`SmcConfig` a command's flags set over them)."""
    candles = load_timeframe(request)
    return analyze_candles(candles, replace(entry_settings(analysis, candles.symbol, request.tz), **changes))


def analyze_candles(candles: Candles, config: SmcConfig | None = None) -> SmcResult:
    """Every detector over ``candles`` (from a file, or from the store by the API), with the default
    :func:`entry_settings` when no ``config`` is given."""
    return analyze(candles, config or entry_settings(None, candles.symbol, None))


def analysis_json(result: SmcResult) -> dict[str, Any]:
    """The ``smc-agent analyze --json`` document (see docs/json.md)."""
    return {
        "symbol": result.candles.symbol,
        "timeframe": result.candles.timeframe,
        "candles": len(result.candles),
        "events": with_confidence(events(result)),
    }


def htf_list(text: str | None) -> list[str] | None:
    """``"1h,4h,1d"`` as a list of checked timeframes; None when not given (see :func:`default_htfs`).

    Two entries of the same length (``4h,4h``, or ``60m,1h``) are an error: the list would weigh
    one timeframe twice.
    """
    if not text:
        return None
    frames = [part.strip() for part in text.split(",") if part.strip()]
    seen: dict[int, str] = {}
    for frame in frames:
        try:
            length = parse_timeframe(frame)
        except ConfigError as exc:
            raise ConfigError(exc.message, key="htf") from None
        if length in seen:
            raise ConfigError(f"{seen[length]} and {frame} are the same timeframe; give each one once", key="htf")
        seen[length] = frame
    return frames


def default_htfs(timeframe: str, config: AnalysisConfig | None = None) -> list[str]:
    """The higher timeframes when ``--htf`` is not given, shortest first: those ``timeframe_weights`` gives a
    weight above 0, or 1h, 4h and 1d when it names none; only those above the entry timeframe."""
    weights = (config or AnalysisConfig()).timeframe_weights
    named = [tf for tf, w in weights.items() if w > 0] if weights else list(DEFAULT_HTFS)
    base = parse_timeframe(timeframe)
    return sorted((tf for tf in named if parse_timeframe(tf) > base), key=parse_timeframe)


def signals_request(
    request: AnalysisRequest, htfs: list[str] | None = None, config: AnalysisConfig | None = None
) -> SignalEngine:
    """Replay a file through the signal engine: every signal with its evidence, and the rejections."""
    candles = load_timeframe(request)
    frames = htfs if htfs is not None else default_htfs(candles.timeframe, config)
    return replay(candles, frames, in_zone(config, request.tz).for_symbol(candles.symbol), tz=request.tz)


def bias_request(
    request: AnalysisRequest, htfs: list[str] | None = None, at: str | None = None, config: AnalysisConfig | None = None
) -> Bias:
    """The bias after the last candle, or after the last candle that had closed by ``at``."""
    candles = load_timeframe(request)
    htfs = htfs if htfs is not None else default_htfs(candles.timeframe, config)
    if at is not None:
        limit = _parse_time(at)
        closes = candles.time + candles.timeframe_ms
        if not len(candles) or not int(closes[0]) <= limit <= int(closes[-1]):
            span = f"{format_time(int(closes[0]))} to {format_time(int(closes[-1]))}" if len(candles) else "nothing"
            raise ConfigError(f"{at} is outside the data: its candles close from {span}", key="at")
        candles = candles[: int(np.searchsorted(closes, limit, side="right"))]
    return bias_of(candles, htfs, config, request.tz)


def bias_of(candles: Candles, htfs: list[str], config: AnalysisConfig | None = None, tz: str | None = None) -> Bias:
    """The bias after the last of ``candles`` (loaded from a file, or from the store by the API)."""
    engine = MultiTimeframeEngine(candles.timeframe, htfs, in_zone(config, tz).for_symbol(candles.symbol),
                                  symbol=candles.symbol, tz=tz)  # fmt: skip
    for row in zip(*(column.tolist() for column in (candles.time, *candles.columns)), strict=True):
        engine.update(*row)
    return engine.bias()


def signals_json(engine: SignalEngine) -> dict[str, Any]:
    """The ``smc-agent signals --json`` document (see docs/api.md)."""
    return {"signals": [signal.to_dict() for signal in engine.signals]}


def _parse_time(text: str, key: str = "at") -> int:
    """An ISO-8601 time (naive means UTC) as epoch ms; a clear error otherwise."""
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError(f"not a time: {text!r}; use ISO-8601 such as 2023-06-01T12:00Z", key=key) from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.tz_convert("UTC").value // 1_000_000)


def backtest_request(
    request: AnalysisRequest | Sequence[AnalysisRequest],
    *,
    strategy: str = "smc",
    htfs: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    settings: EngineSettings | None = None,
    analysis: AnalysisConfig | None = None,
    journal: Journal | None = None,
    session_id: str = "",
) -> BacktestResult:
    """Load each file, cut it to [start, end) by candle open time, and run the strategy through the
    trading core: several files are several symbols in one account. The candles before ``start``
    warm the strategy up (detectors and bias, no trading), so the period trades from its first candle.
    ``journal`` (with its ``session_id``) keeps every event of the run: ``backtest --db``."""
    requests = [request] if isinstance(request, AnalysisRequest) else list(request)
    trade_from = _parse_time(start, "from") if start is not None else None
    streams = [_period(load_timeframe(r), trade_from, end, f"{r.path}: ") for r in requests]
    seen: dict[str, Path] = {}
    for r, candles in zip(requests, streams, strict=True):
        if candles.symbol in seen:
            raise ConfigError(f"{seen[candles.symbol]} and {r.path} are both {candles.symbol}: give each file "
                              "its own market", key="data")  # fmt: skip
        seen[candles.symbol] = r.path
    sources = {candles.symbol: _source(r) for r, candles in zip(requests, streams, strict=True)}
    return _run(streams, sources, strategy, htfs, trade_from, settings, in_zone(analysis, requests[0].tz),
                requests[0].tz, journal, session_id)  # fmt: skip


def backtest_candles(
    candles: Candles,
    *,
    strategy: str = "smc",
    htfs: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    settings: EngineSettings | None = None,
    analysis: AnalysisConfig | None = None,
    journal: Journal | None = None,
) -> BacktestResult:
    """:func:`backtest_request` over candles already loaded (the API's stored or uploaded ones): the same cut
    to [start, end) and warm-up. Nothing tells their market but the symbol, so the costs follow from its name
    and the settings (an MT5 file's spreads are not known here)."""
    trade_from = _parse_time(start, "from") if start is not None else None
    stream = _period(candles, trade_from, end)
    return _run([stream], {}, strategy, htfs, trade_from, settings, in_zone(analysis, None), None, journal, "")


def backtest_period(candles: Candles, start: str | None, end: str | None) -> Candles:
    """What :func:`backtest_candles` trades over: ``candles`` up to ``end``; ConfigError (key ``from`` or ``to``)
    on a bad time or fewer than two candles from ``start`` on, so a caller can refuse before it runs."""
    trade_from = _parse_time(start, "from") if start is not None else None
    return _period(candles, trade_from, end)


def _run(streams: list[Candles], sources: dict[str, DataSource], strategy: str, htfs: list[str] | None,
         trade_from: int | None, settings: EngineSettings | None, analysis: AnalysisConfig, tz: str | None,
         journal: Journal | None, session_id: str) -> BacktestResult:  # fmt: skip
    """The cut streams through the strategy: one symbol with its strategy built here, several by name."""
    first = streams[0]
    frames = htfs if htfs is not None else default_htfs(first.timeframe, analysis)
    if len(streams) == 1:
        return run_backtest(first, make_strategy(strategy, first, frames, tz=tz, analysis=analysis), settings,
                            sources=sources, trade_from=trade_from, journal=journal,
                            session_id=session_id)  # fmt: skip
    return run_backtest(streams, strategy, settings, htfs=frames, tz=tz, analysis=analysis, sources=sources,
                        trade_from=trade_from, journal=journal, session_id=session_id)  # fmt: skip


def market_source(request: AnalysisRequest) -> DataSource:
    """What ``request``'s file says about its market (the agent's sources, as a backtest's)."""
    return _source(request)


def _source(request: AnalysisRequest) -> DataSource:
    """What the file says about its market, for its kind and costs (an MT5 file is forex, with spreads)."""
    data_format = request.format or detect_format(request.path)
    return DataSource(data_format, mean_spread(request.path, data_format))


def _period(whole: Candles, trade_from: int | None, end: str | None, where: str = "") -> Candles:
    """The candles up to ``end`` (the warm-up before ``trade_from`` included); at least two to trade."""
    candles = whole
    if end is not None:
        candles = candles[: int(np.searchsorted(candles.time, _parse_time(end, "to"), side="left"))]
    lo = int(np.searchsorted(candles.time, trade_from, side="left")) if trade_from is not None else 0
    if len(candles) - lo < 2:
        span = f"; its candles open from {format_time(int(whole.time[0]))} to {format_time(int(whole.time[-1]))}"
        raise ConfigError(f"{where}fewer than two candles in the chosen period"
                          + (span if len(whole) else ""), key="from")  # fmt: skip
    return candles
