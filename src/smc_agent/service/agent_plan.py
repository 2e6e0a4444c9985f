"""What ``smc-agent run`` trades on, resolved from the options and the settings: the plan of a session.

:class:`AgentOptions` is what a command gives; :func:`plan` resolves it against the settings (flags, then the
environment, the file, the defaults) into the run's settings and a :class:`Plan`: the sources as the session's
fingerprint holds them, the settings document its results depend on, the timeframes, the streams and what
else :func:`~smc_agent.bootstrap.build` needs. Files give their candles (or the demo's); an exchange gives
its instruments, its feed on a wall clock, and the market clock the session runs on
(:mod:`smc_agent.service.exchange_source`); live trading also gives the exchange venue, once the live gate
has let it through (:mod:`smc_agent.service.live_trading`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from smc_agent.config import AppConfig, load_settings
from smc_agent.core.clock import MarketClock, WallClock, system_ms
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.data.demo import DEMO_SYMBOL, DEMO_TIMEFRAME, demo_data_path
from smc_agent.engine.session import REPLAY_BATCH
from smc_agent.feeds.ccxt_feed import FeedTuning
from smc_agent.feeds.mt5 import load_mt5
from smc_agent.model.enums import Mode
from smc_agent.service.analysis import AnalysisRequest, default_htfs, htf_list, load_timeframe, market_source
from smc_agent.service.exchange_source import ExchangeSource
from smc_agent.service.live_trading import live_keys, venue_factory
from smc_agent.service.store import describe_file, plain
from smc_agent.venues.ccxt_venue import VenueTuning
from smc_agent.venues.keys import ApiKeys

__all__ = ["STRATEGY", "AgentOptions", "Plan", "RunPlan", "parse_speed", "plan", "settings_document"]

STRATEGY = "smc"  # the strategy that `run` trades


def parse_speed(text: str) -> float:
    """``--speed``: a multiple of real time (600), or ``max`` for as fast as possible."""
    if text.strip().lower() == "max":
        return float("inf")
    try:
        speed = float(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a speed: give a multiple of real time such as 600, or max",
                          key="speed") from None  # fmt: skip
    if not 0 < speed < float("inf"):
        raise ConfigError(f"a speed must be above 0, got {text}", key="speed")
    return speed


@dataclass
class AgentOptions:
    """What a command gives; None leaves a setting to the settings model (environment, file, default)."""

    data: Sequence[Path] = ()  # one file per symbol; none: the demo candles
    speed: float | None = None  # a multiple of real time; inf: as fast as possible
    tf: str | None = None
    htf: str | None = None
    config: Path | None = None
    profile: str | None = None
    db: str | None = None
    new_session: bool = False
    commit_every: int | None = None  # candles per commit; None: REPLAY_BATCH at full speed, else 1
    source: str | None = None  # files, ccxt, or a CCXT exchange's name
    symbols: str | None = None  # on an exchange: "BTC/USDT,ETH/USDT"
    exchange: str | None = None  # the CCXT exchange (implies the ccxt source)
    testnet: bool | None = None
    live: bool = False  # --live: trade at the exchange (with the settings' mode, allow_live and API keys)
    # For tests: the wall clock of a session on live data (a loopback exchange's replay time), the feed's
    # patience.
    wall_ms: Callable[[], int] | None = None
    tuning: FeedTuning | None = None
    venue_tuning: VenueTuning | None = None

    def flags(self) -> dict[str, Any]:
        """The given options as the settings' tables: they win over every other source."""
        source = "ccxt" if self.source is None and self.exchange is not None else self.source
        run = {"speed": "max" if self.speed == float("inf") else self.speed, "tf": self.tf, "htf": self.htf,
               "source": source, "symbols": self.symbols}  # fmt: skip
        flags: dict[str, Any] = {"run": {k: v for k, v in run.items() if v is not None}}
        if self.db is not None:
            flags["store"] = {"url": self.db}
        exchange = {"name": self.exchange, "testnet": self.testnet}
        if any(v is not None for v in exchange.values()):
            flags["exchange"] = {k: v for k, v in exchange.items() if v is not None}
        return flags


@dataclass(frozen=True)
class RunPlan:
    """The run's settings, resolved: each from a flag, else the environment, the file or the default."""

    speed: float
    tf: str | None
    htf: str | None
    url: str | None
    app: AppConfig
    exchange: ExchangeSource | None  # None: files
    warmup_bars: int
    keys: ApiKeys | None = None  # live trading's (the live gate passed); None: paper

    @classmethod
    def of(cls, options: AgentOptions) -> RunPlan:
        settings = load_settings(options.config, profile=options.profile, overrides=options.flags())
        keys = live_keys(settings, options.live)
        run = settings.run
        speed = float("inf") if run.speed == "max" else float(run.speed)
        exchange = None
        if run.source != "files":
            if options.data:
                raise ConfigError(f"--data replays files; the source {run.source} streams an exchange: give one",
                                  key="run.source")  # fmt: skip
            _refuse_unwired(run.source)
            given = settings.exchange
            name = (given.name or "binance") if run.source == "ccxt" else run.source
            exchange = ExchangeSource.of(name, run.symbols, run.tf, testnet=given.testnet, urls=given.urls,
                                         rate_limit_ms=given.rate_limit_ms,
                                         tuning=options.tuning or FeedTuning())  # fmt: skip
        return cls(speed, run.tf, ",".join(run.htf) if run.htf else None, settings.store.url,
                   AppConfig(settings.engine_settings(), settings.analysis_config()), exchange,
                   run.warmup_bars, keys)  # fmt: skip


@dataclass
class _Source:
    request: AnalysisRequest
    candles: Candles
    described: str  # path, size and content hash: what the fingerprint holds


def _sources(data: Sequence[Path], tf: str | None) -> list[_Source]:
    demo = AnalysisRequest(demo_data_path(), symbol=DEMO_SYMBOL, timeframe=tf or DEMO_TIMEFRAME)
    requests = [AnalysisRequest(path, timeframe=tf) for path in data] if data else [demo]
    found: list[_Source] = []
    seen: dict[str, Path] = {}
    for request in requests:
        candles = load_timeframe(request)
        if candles.symbol in seen:
            raise ConfigError(f"{seen[candles.symbol]} and {request.path} are both {candles.symbol}: give each "
                              "file its own market", key="data")  # fmt: skip
        seen[candles.symbol] = request.path
        found.append(_Source(request, candles, describe_file(request.path)))
    return found


def settings_document(tf: str | None, htfs: Sequence[str], app: AppConfig) -> dict[str, Any]:
    """The settings the session's results depend on: the strategy, its timeframes and every engine and
    analysis setting, wherever it came from (not the speed or the store: they change no result)."""
    return {"strategy": STRATEGY, "tf": tf, "htf": list(htfs),
            "engine": plain(asdict(app.engine)), "analysis": plain(asdict(app.analysis))}  # fmt: skip


def _refuse_unwired(source: str) -> None:
    """The broker adapters exist (feeds.mt5, feeds.angelone) but ``run`` streams only CCXT exchanges yet."""
    if source == "mt5":
        load_mt5()  # on Linux and macOS: the clear error that the package is Windows-only
    if source in ("mt5", "angelone"):
        raise ConfigError(f"the {source} adapter is not wired into `smc-agent run` yet: run streams CCXT exchanges "
                          "(--source binance) and replays files (--data)", key="run.source")  # fmt: skip


@dataclass
class Plan:
    """What a source gives the session: its description and settings (the fingerprint), the timeframes,
    the streams and what else ``build`` needs, the venue its candles are filed under (live data), the
    candles per commit, and how many candles of history a first start learns from (0: none)."""

    described: list[str]
    settings: dict[str, Any]
    frames: Sequence[str]
    streams: list[Candles]
    build: dict[str, Any]
    venue: str | None = None
    commit_every: int = 1
    history: int = 0


def _files_plan(run: RunPlan, options: AgentOptions) -> Plan:
    sources = _sources(options.data, run.tf)
    htfs = htf_list(run.htf)
    frames = htfs if htfs is not None else default_htfs(sources[0].candles.timeframe, run.app.analysis)
    markets = {s.candles.symbol: market_source(s.request) for s in sources}
    # A replay may group candles per commit: a crash re-processes the uncommitted ones.
    grouped = REPLAY_BATCH if run.speed == float("inf") else 1
    return Plan([s.described for s in sources], settings_document(run.tf, frames, run.app), frames,
                 [s.candles for s in sources], {"sources": markets}, commit_every=grouped)  # fmt: skip


def _exchange_plan(run: RunPlan, options: AgentOptions) -> Plan:
    source = run.exchange
    assert source is not None
    engine = run.app.engine
    if engine.slippage_model != "fixed":
        raise ConfigError(f"slippage_model {engine.slippage_model!r} needs the whole candle series, which live data "
                          "does not have yet; use fixed", key="account.slippage_model")  # fmt: skip
    htfs = htf_list(run.htf)
    frames = htfs if htfs is not None else default_htfs(source.timeframe, run.app.analysis)
    wall_ms = options.wall_ms or system_ms
    clock, wall = MarketClock(wall_ms), WallClock(wall_ms)
    instruments = source.instruments(wall, engine)
    settings = settings_document(run.tf, frames, run.app)
    settings["instruments"] = {symbol: {"tick_size": str(i.tick_size), "lot_size": str(i.lot_size),
                                        "min_notional": str(i.min_notional), "quote_currency": i.quote_currency}
                               for symbol, i in instruments.items()}  # fmt: skip
    empty = [Candles.empty(symbol, source.timeframe) for symbol in source.symbols]
    wiring: dict[str, Any] = {"clock": clock, "feed": source.feed(wall), "instruments": instruments}
    if run.keys is not None:
        settings["mode"] = Mode.LIVE.value
        wiring["venue"] = venue_factory(source, run.keys, options.venue_tuning)
    return Plan(source.described(), settings, frames, empty, wiring, venue=source.venue,
                 commit_every=REPLAY_BATCH, history=source.history_candles(frames, run.warmup_bars))  # fmt: skip


def plan(options: AgentOptions) -> tuple[RunPlan, Plan]:
    """The run's settings and the session's plan, for files or an exchange."""
    run = RunPlan.of(options)
    return run, (_exchange_plan(run, options) if run.exchange is not None else _files_plan(run, options))
