"""The composition root: the only code that knows which mode it is in.

It picks the clock, feed, venue and (later) store for a mode and wires them to the one kernel:

| mode | clock | feed | venue |
|---|---|---|---|
| backtest | simulated, moved to each candle's close | a file, as fast as possible | simulated |
| paper (on a file) | the same replay clock | the file, optionally paced | simulated |
| live | wall clock | an exchange | the exchange (not built yet: refused) |

Live trading needs ``live_enabled`` in the config *and* ``live_confirmed`` from the command line; even
then it is refused until a live venue exists, so nothing here can place a real order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Literal

import numpy as np

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import SimulatedClock
from smc_agent.core.errors import ConfigError
from smc_agent.core.events import CandleClosed
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.engine.execution import Execution, ExecutionConfig
from smc_agent.engine.kernel import TradingKernel
from smc_agent.engine.portfolio import Portfolio
from smc_agent.engine.risk import RiskGate
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.feeds.replay import ReplayFeed
from smc_agent.model.instrument import Instrument
from smc_agent.strategy.base import Strategy
from smc_agent.venues.costs import AtrSeries, AtrSlippage, FeeModel, FixedBpsSlippage, SlippageModel, SpreadSlippage
from smc_agent.venues.simulated import SimulatedVenue

__all__ = ["UNNAMED", "EngineSettings", "Mode", "System", "build"]

UNNAMED = "symbol"  # the instrument name for candles that carry none


class Mode(StrEnum):
    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Account, costs and risk. Tick and lot sizes default to what the data implies (see below)."""

    initial_balance: Decimal = Decimal("10000")
    risk: RiskConfig = field(default_factory=RiskConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    fees: FeeModel = field(default_factory=lambda: FeeModel.profile("binance_futures"))
    slippage_model: Literal["fixed", "atr", "spread"] = "fixed"
    slippage_bps: Decimal = Decimal("1")  # "fixed"; also the fallback while ATR warms up
    slippage_atr_fraction: Decimal = Decimal("0.05")  # "atr": of the entry timeframe's ATR(14)
    bid_data: Path | None = None  # "spread": bid and ask candle files of the same market and timeframe
    ask_data: Path | None = None
    tick_size: Decimal | None = None
    lot_size: Decimal = Decimal("0.00000001")
    live_enabled: bool = False

    def __post_init__(self) -> None:
        if self.slippage_model not in ("fixed", "atr", "spread"):
            raise ConfigError(f"choose fixed, atr or spread, got {self.slippage_model!r}", key="slippage_model")
        if self.slippage_model == "spread" and (self.bid_data is None or self.ask_data is None):
            raise ConfigError("the spread model needs bid_data and ask_data candle files", key="slippage_model")

    def slippage(self, candles: Candles) -> SlippageModel:
        """The slippage model for trading ``candles`` (spread files are read here, once)."""
        fixed = FixedBpsSlippage(self.slippage_bps)
        if self.slippage_model == "atr":
            return AtrSlippage(self.slippage_atr_fraction, AtrSeries.from_candles(candles), fallback=fixed)
        if self.slippage_model == "spread" and self.bid_data and self.ask_data:  # both required above
            return SpreadSlippage(load_candles(self.bid_data), load_candles(self.ask_data))
        return fixed

    def instrument(self, candles: Candles) -> Instrument:
        """The traded instrument; the tick is the finest price step the data uses, unless given."""
        return Instrument(candles.symbol or UNNAMED, self.tick_size or _tick_of(candles), self.lot_size)


@dataclass(slots=True)
class System:
    mode: Mode
    clock: SimulatedClock
    bus: EventBus
    feed: ReplayFeed
    kernel: TradingKernel
    portfolio: Portfolio

    @property
    def symbol(self) -> str:
        """The instrument the feed replays."""
        return self.feed.symbol

    def run(self, after_candle: Callable[[CandleClosed], None] | None = None) -> None:
        """Drive the kernel with every candle of the feed; ``after_candle(candle)`` follows each."""
        advance, publish, on_candle = self.clock.advance_to, self.bus.publish, self.kernel.on_candle
        for candle in self.feed:
            advance(candle.event_ms)
            publish(candle)
            on_candle(candle)
            if after_candle is not None:
                after_candle(candle)


def build(
    mode: Mode,
    candles: Candles,
    strategy: Strategy,
    settings: EngineSettings | None = None,
    *,
    live_confirmed: bool = False,
    pace_seconds: float = 0.0,
) -> System:
    """Assemble a system for ``mode`` around the one kernel."""
    settings = settings or EngineSettings()
    if not candles.symbol:  # the feed, the instrument and the strategy must all use one name
        candles = candles.with_meta(symbol=UNNAMED)
    if mode is Mode.LIVE:
        if not (settings.live_enabled and live_confirmed):
            raise ConfigError(
                "live trading needs live_enabled in the config and --live on the command line", key="mode"
            )
        raise ConfigError("live trading needs an exchange venue, which this version does not have yet", key="mode")
    clock = SimulatedClock(int(candles.time[0]) if len(candles) else 0)
    bus = EventBus()
    instrument = settings.instrument(candles)
    instruments = {instrument.symbol: instrument}
    venue = SimulatedVenue(bus, clock, instruments, settings.fees, settings.slippage(candles))
    portfolio = Portfolio(bus, settings.initial_balance)
    risk = RiskGate(settings.risk, instruments, clock, bus, portfolio)
    execution = Execution(bus, venue, instruments, settings.execution)
    kernel = TradingKernel(clock, bus, venue, risk, portfolio, execution, strategy)
    feed = ReplayFeed(candles, pace_seconds=pace_seconds if mode is Mode.PAPER else 0.0)
    return System(mode, clock, bus, feed, kernel, portfolio)


def _tick_of(candles: Candles) -> Decimal:
    """The finest decimal step among the prices (e.g. 0.00001 for EURUSD quotes)."""
    prices = np.concatenate([candles.open[:5000], candles.close[:5000]])
    for decimals in range(0, 9):
        scaled = prices * 10**decimals
        if np.allclose(scaled, np.round(scaled), rtol=0, atol=1e-6):
            return Decimal(1).scaleb(-decimals)
    return Decimal("0.00000001")
