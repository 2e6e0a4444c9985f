"""Account, costs, risk and instruments: the settings the trading core is built from.

Tick and lot sizes, the minimum notional and the quote currency come from ``instruments`` (one entry
per symbol, in the settings file's ``[instruments.SYMBOL]`` tables, and later from the exchange);
a symbol without an entry uses ``tick_size`` (or, when that is not set, the finest price step its data
uses) and ``lot_size``.

**Costs.** Each symbol is a kind of market (:class:`~smc_agent.venues.costs.InstrumentType`), and its
fees come from that kind's model in ``costs`` (see :mod:`smc_agent.venues.cost_models`). The kind is,
first to answer: the symbol's ``type`` in ``instruments``; ``instrument_type`` when it is not "auto";
the data (an MT5 file is forex) or the symbol's name (:func:`~smc_agent.venues.cost_models.detect_type`);
else **crypto_spot**, the unleveraged default for a file whose name says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Literal

from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.prices import price_tick
from smc_agent.engine.execution import ExecutionConfig
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.model.instrument import Instrument
from smc_agent.venues.cost_models import CostSettings, detect_type
from smc_agent.venues.costs import (
    AtrSeries,
    AtrSlippage,
    CostModel,
    FeeModel,
    FixedBpsSlippage,
    InstrumentType,
    SlippageModel,
    SpreadSlippage,
)

__all__ = ["DEFAULT_TYPE", "UNNAMED", "DataSource", "EngineSettings", "InstrumentSettings", "MarketCosts"]

DEFAULT_TYPE = InstrumentType.CRYPTO_SPOT  # a file whose name and format say nothing: unleveraged

UNNAMED = "symbol"  # the instrument name for candles that carry none


@dataclass(frozen=True, slots=True)
class InstrumentSettings:
    """One symbol's trading increments; ``tick_size`` None means "what its data implies"."""

    tick_size: Decimal | None = None
    lot_size: Decimal | None = None
    min_notional: Decimal = Decimal(0)
    quote_currency: str = ""
    type: InstrumentType | None = None  # the kind of market; None: found as the module says


@dataclass(frozen=True, slots=True)
class DataSource:
    """What a symbol's file says about its market: its format, and its mean spread in points (MT5)."""

    format: str = ""
    spread_points: float | None = None


@dataclass(frozen=True, slots=True)
class MarketCosts:
    """A symbol's kind of market, how it was chosen, and the cost model it pays."""

    kind: InstrumentType
    origin: str  # "settings", "instrument_type", "data format", "symbol name" or "default"
    model: CostModel

    def to_dict(self) -> dict[str, str]:
        return {"type": str(self.kind), "origin": self.origin, "model": self.model.describe()}


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Account, costs and risk. Tick and lot sizes default to what the data implies (see the module)."""

    initial_balance: Decimal = Decimal("10000")
    risk: RiskConfig = field(default_factory=RiskConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    fees: FeeModel | None = None  # replaces the crypto kinds' maker/taker numbers of ``costs`` when given
    instrument_type: Literal["auto", "crypto_spot", "crypto_perp", "forex", "futures", "us_equity", "india"] = "auto"
    costs: CostSettings = field(default_factory=CostSettings)
    slippage_model: Literal["fixed", "atr", "spread"] = "fixed"
    slippage_bps: Decimal = Decimal("1")  # "fixed"; also the fallback while ATR warms up
    slippage_atr_fraction: Decimal = Decimal("0.05")  # "atr": of the entry timeframe's ATR(14)
    bid_data: Path | None = None  # "spread": bid and ask candle files of the same market and timeframe
    ask_data: Path | None = None
    tick_size: Decimal | None = None
    lot_size: Decimal = Decimal("0.00000001")
    instruments: dict[str, InstrumentSettings] = field(default_factory=dict)
    volume_share: Decimal | None = None  # partial fills: an entry takes at most this share of a candle's volume

    def __post_init__(self) -> None:
        if self.slippage_model not in ("fixed", "atr", "spread"):
            raise ConfigError(f"choose fixed, atr or spread, got {self.slippage_model!r}", key="slippage_model")
        if self.slippage_model == "spread" and (self.bid_data is None or self.ask_data is None):
            raise ConfigError("the spread model needs bid_data and ask_data candle files", key="slippage_model")
        if self.volume_share is not None and not 0 < self.volume_share <= 1:
            raise ConfigError(f"must be > 0 and <= 1, got {self.volume_share}", key="volume_share")

    def slippage(self, candles: Candles) -> SlippageModel:
        """The slippage model for trading ``candles`` (spread files are read here, once)."""
        fixed = FixedBpsSlippage(self.slippage_bps)
        if self.slippage_model == "atr":
            return AtrSlippage(self.slippage_atr_fraction, AtrSeries.from_candles(candles), fallback=fixed)
        if self.slippage_model == "spread" and self.bid_data and self.ask_data:  # both required above
            return SpreadSlippage(load_candles(self.bid_data), load_candles(self.ask_data))
        return fixed

    def market_costs(self, instrument: Instrument, source: DataSource | None = None) -> MarketCosts:
        """The kind of market ``instrument`` is (see the module for the order), and its cost model."""
        symbol = instrument.symbol
        given = self.instruments.get(symbol, InstrumentSettings()).type
        source = source or DataSource()
        found = detect_type(symbol, source.format)
        if given is not None:
            kind, origin = given, "settings"
        elif self.instrument_type != "auto":
            kind, origin = InstrumentType(self.instrument_type), "instrument_type"
        elif found is not None:
            kind, origin = found, "data format" if source.format == "mt5" else "symbol name"
        else:
            kind, origin = DEFAULT_TYPE, "default"
        # MT5 quotes spreads in points, the price's last digit: the finest step of the data.
        spread = None
        if self.slippage_model == "spread":  # the bid and ask files put the spread in the fill prices
            spread = (Decimal(0), "in the bid/ask fill prices")
        elif source.spread_points is not None:
            # A mean to a hundredth of a point: finer would be noise, and unreadable in the report.
            points = Decimal(repr(source.spread_points)).quantize(Decimal("0.01"))
            spread = (points * instrument.tick_size, "the data's mean")
        model = self.costs.model(kind, symbol, slippage_bps=self.slippage_bps, fees=self.fees, spread=spread)
        return MarketCosts(kind, origin, model)

    def instrument(self, candles: Candles) -> Instrument:
        """The instrument that ``candles`` trade: from ``instruments``, else the defaults and the data."""
        symbol = candles.symbol or UNNAMED
        given = self.instruments.get(symbol, InstrumentSettings())
        tick = given.tick_size or self.tick_size or price_tick(candles)
        return Instrument(symbol, tick, given.lot_size or self.lot_size, given.min_notional, given.quote_currency)
