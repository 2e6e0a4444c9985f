"""The cost models of each kind of market, the settings they are built from, and how a market's kind is found.

A 1% stop-out must lose 1%, fees, spread and slippage included, so the risk gate sizes each trade with
its market's own costs (see :class:`~smc_agent.venues.costs.CostModel`). Every number below is a round,
documented **default to configure, not a quote** of any broker's schedule, which changes with account
type, volume and time:

===============  ==============================================================================
crypto_spot      maker 10 bps, taker 10 bps of the notional (a headline spot tier)
crypto_perp      maker 2 bps, taker 5 bps (a headline USD-M futures tier); funding is not charged
forex            half the spread per side (0.5 pip unless the data has a spread column, such as
                 MT5's ``Spread`` in points), plus 3.5 a side per 100,000-unit lot (ECN)
futures          2.5 a contract a side; one contract is ``contract_multiplier`` units of the price
us_equity        0.005 a share, at least 1 and at most 1% of the value an order; 0.278 bps of the
                 value on sells (the SEC fee)
india            NSE, Zerodha-style: brokerage min(20, 0.03%) an order (0 for delivery), STT,
                 exchange transaction charges, SEBI 10 a crore, GST 18% on brokerage + exchange
                 + SEBI, stamp duty on buys; by segment (futures, equity_intraday, equity_delivery)
===============  ==============================================================================

>>> from smc_agent.model.enums import Side
>>> fx = ForexCosts(spread=Decimal("0.00010"))  # 1 pip
>>> fx.fill_fee(Side.BUY, Decimal("1.1"), Decimal("100000"), maker=False)  # 5 half spread + 3.5 commission
Decimal('8.500000')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from smc_agent.core.errors import ConfigError
from smc_agent.model.enums import BUY, SELL, Side
from smc_agent.venues.costs import CostModel, FeeModel, InstrumentType, RoundTrip

__all__ = [
    "INDIA_SEGMENTS",
    "CostSettings",
    "CryptoSettings",
    "EquityCosts",
    "ForexCosts",
    "ForexSettings",
    "FuturesCosts",
    "FuturesSettings",
    "IndiaCosts",
    "IndiaSettings",
    "UsEquitySettings",
    "detect_type",
]

_BP = Decimal(10_000)
_ZERO = Decimal(0)


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class ForexCosts(RoundTrip):
    """Half the ``spread`` (in price) on every fill, and ``commission_per_lot`` a side per ``lot_units``."""

    spread: Decimal
    commission_per_lot: Decimal = Decimal("3.5")
    lot_units: Decimal = Decimal("100000")
    slippage_bps: Decimal = _ZERO
    spread_source: str = "configured"
    kind: InstrumentType = InstrumentType.FOREX

    def fill_fee(self, side: Side, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal:
        return quantity * (self.spread / 2 + self.commission_per_lot / self.lot_units)

    def describe(self) -> str:
        return (
            f"forex: half of a {_fmt(self.spread)} spread ({self.spread_source}) a side, "
            f"{_fmt(self.commission_per_lot)} a side per {_fmt(self.lot_units)}-unit lot"
        )


@dataclass(frozen=True, slots=True)
class FuturesCosts(RoundTrip):
    """``commission_per_contract`` a side; quantities count units of the price, ``contract_multiplier``
    of them a contract (so a tick is worth tick × multiplier a contract)."""

    commission_per_contract: Decimal = Decimal("2.5")
    contract_multiplier: Decimal = Decimal(1)
    slippage_bps: Decimal = _ZERO
    kind: InstrumentType = InstrumentType.FUTURES

    def fill_fee(self, side: Side, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal:
        return quantity / self.contract_multiplier * self.commission_per_contract

    def describe(self) -> str:
        return (
            f"futures: {_fmt(self.commission_per_contract)} a contract a side, "
            f"{_fmt(self.contract_multiplier)} units a contract"
        )


@dataclass(frozen=True, slots=True)
class EquityCosts(RoundTrip):
    """US equities: ``per_share`` an order, clamped to [``min_per_order``, ``max_pct`` of the value],
    plus ``value_bps`` of the value, plus ``sell_bps`` on sells (regulatory fees)."""

    per_share: Decimal = Decimal("0.005")
    min_per_order: Decimal = Decimal(1)
    max_pct: Decimal = Decimal("0.01")
    value_bps: Decimal = _ZERO
    sell_bps: Decimal = Decimal("0.278")
    slippage_bps: Decimal = _ZERO
    kind: InstrumentType = InstrumentType.US_EQUITY

    def fill_fee(self, side: Side, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal:
        value = price * quantity
        commission = min(max(self.per_share * quantity, self.min_per_order), self.max_pct * value)
        return commission + value * (self.value_bps + (self.sell_bps if side is SELL else _ZERO)) / _BP

    def describe(self) -> str:
        return (
            f"us_equity: {_fmt(self.per_share)} a share (min {_fmt(self.min_per_order)}, max "
            f"{_fmt(self.max_pct * 100)}% of the value) + {_fmt(self.value_bps)} bps, "
            f"{_fmt(self.sell_bps)} bps on sells"
        )


@dataclass(frozen=True, slots=True)
class IndiaCosts(RoundTrip):
    """NSE charges of one segment, in bps of the turnover unless said otherwise (see the module)."""

    segment: str
    brokerage_flat: Decimal  # an order's brokerage is the lower of this and brokerage_bps
    brokerage_bps: Decimal
    stt_buy_bps: Decimal
    stt_sell_bps: Decimal
    exchange_bps: Decimal
    stamp_buy_bps: Decimal
    sebi_bps: Decimal = Decimal("0.01")  # Rs 10 a crore
    gst: Decimal = Decimal("0.18")
    slippage_bps: Decimal = _ZERO
    kind: InstrumentType = InstrumentType.INDIA

    def fill_fee(self, side: Side, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal:
        value = price * quantity
        brokerage = min(self.brokerage_flat, value * self.brokerage_bps / _BP)
        exchange = value * (self.exchange_bps + self.sebi_bps) / _BP
        taxes = value * ((self.stt_buy_bps + self.stamp_buy_bps) if side is BUY else self.stt_sell_bps) / _BP
        return brokerage + exchange + self.gst * (brokerage + exchange) + taxes

    def describe(self) -> str:
        return (
            f"india {self.segment}: brokerage min({_fmt(self.brokerage_flat)}, {_fmt(self.brokerage_bps)} bps), "
            f"STT {_fmt(self.stt_buy_bps)}/{_fmt(self.stt_sell_bps)} bps buy/sell, exchange "
            f"{_fmt(self.exchange_bps)} bps, SEBI {_fmt(self.sebi_bps)} bps, GST {_fmt(self.gst * 100)}%, "
            f"stamp {_fmt(self.stamp_buy_bps)} bps on buys"
        )


def _india(segment: str, *numbers: str) -> IndiaCosts:
    """A segment's costs from its brokerage flat and bps, STT buy and sell, exchange and stamp numbers."""
    flat, brokerage, stt_buy, stt_sell, exchange, stamp = (Decimal(v) for v in numbers)
    return IndiaCosts(segment, flat, brokerage, stt_buy, stt_sell, exchange, stamp)


# Zerodha's published NSE schedule (2024-25), rounded: defaults to configure, not quotes.
INDIA_SEGMENTS = {
    "futures": _india("futures", "20", "3", "0", "2", "0.173", "0.2"),
    "equity_intraday": _india("equity_intraday", "20", "3", "0", "2.5", "0.297", "0.3"),
    "equity_delivery": _india("equity_delivery", "0", "0", "10", "10", "0.297", "1.5"),
}


@dataclass(frozen=True, slots=True)
class CryptoSettings:
    maker_bps: Decimal
    taker_bps: Decimal


@dataclass(frozen=True, slots=True)
class ForexSettings:
    """``spread_pips`` is used when the data has no spread column; a pip is 0.01 for JPY pairs, else 0.0001."""

    spread_pips: Decimal = Decimal("0.5")
    commission_per_lot: Decimal = Decimal("3.5")
    lot_units: Decimal = Decimal("100000")


@dataclass(frozen=True, slots=True)
class FuturesSettings:
    commission_per_contract: Decimal = Decimal("2.5")
    contract_multiplier: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class UsEquitySettings:
    per_share: Decimal = Decimal("0.005")
    min_per_order: Decimal = Decimal(1)
    max_pct: Decimal = Decimal("0.01")
    value_bps: Decimal = _ZERO
    sell_bps: Decimal = Decimal("0.278")


@dataclass(frozen=True, slots=True)
class IndiaSettings:
    """``segment`` "auto" is futures for a symbol with FUT in it, else equity_intraday."""

    segment: Literal["auto", "futures", "equity_intraday", "equity_delivery"] = "auto"
    brokerage_flat: Decimal | None = None  # None: the segment's
    brokerage_bps: Decimal | None = None


@dataclass(frozen=True, slots=True)
class CostSettings:
    """The ``[costs.TYPE]`` tables: each kind of market's cost numbers."""

    crypto_spot: CryptoSettings = field(default_factory=lambda: CryptoSettings(Decimal(10), Decimal(10)))
    crypto_perp: CryptoSettings = field(default_factory=lambda: CryptoSettings(Decimal(2), Decimal(5)))
    forex: ForexSettings = field(default_factory=ForexSettings)
    futures: FuturesSettings = field(default_factory=FuturesSettings)
    us_equity: UsEquitySettings = field(default_factory=UsEquitySettings)
    india: IndiaSettings = field(default_factory=IndiaSettings)

    def __post_init__(self) -> None:
        f, fut, eq = self.forex, self.futures, self.us_equity
        for key, value in (
            ("forex.spread_pips", f.spread_pips), ("forex.commission_per_lot", f.commission_per_lot),
            ("futures.commission_per_contract", fut.commission_per_contract), ("us_equity.per_share", eq.per_share),
            ("us_equity.min_per_order", eq.min_per_order), ("us_equity.max_pct", eq.max_pct),
            ("us_equity.value_bps", eq.value_bps), ("us_equity.sell_bps", eq.sell_bps),
        ):  # fmt: skip
            if value < 0:
                raise ConfigError(f"must be >= 0, got {value}", key=key)
        for key, value in (("forex.lot_units", f.lot_units), ("futures.contract_multiplier", fut.contract_multiplier)):
            if value <= 0:
                raise ConfigError(f"must be > 0, got {value}", key=key)
        for name in ("crypto_spot", "crypto_perp"):
            crypto: CryptoSettings = getattr(self, name)
            if crypto.taker_bps < 0:
                raise ConfigError(f"must be >= 0, got {crypto.taker_bps}", key=f"{name}.taker_bps")

    def model(
        self,
        kind: InstrumentType,
        symbol: str,
        *,
        slippage_bps: Decimal,
        fees: FeeModel | None = None,
        spread: tuple[Decimal, str] | None = None,
    ) -> CostModel:
        """The cost model of ``symbol`` as a market of ``kind``.

        ``fees`` (the account's ``fees`` setting) replaces the crypto maker/taker numbers; ``spread`` is
        a forex spread in price and where it comes from (the data), used instead of the configured pips.
        """
        if kind in (InstrumentType.CRYPTO_SPOT, InstrumentType.CRYPTO_PERP):
            table = getattr(self, kind.value)
            maker, taker = (fees.maker_bps, fees.taker_bps) if fees else (table.maker_bps, table.taker_bps)
            return FeeModel(maker, taker, kind, slippage_bps)
        if kind is InstrumentType.FOREX:
            fx = self.forex
            pip = Decimal("0.01") if "JPY" in symbol.upper() else Decimal("0.0001")
            value, origin = spread or (pip * fx.spread_pips, "configured")
            return ForexCosts(value, fx.commission_per_lot, fx.lot_units, slippage_bps, origin)
        if kind is InstrumentType.FUTURES:
            fut = self.futures
            return FuturesCosts(fut.commission_per_contract, fut.contract_multiplier, slippage_bps)
        if kind is InstrumentType.US_EQUITY:
            eq = self.us_equity
            return EquityCosts(eq.per_share, eq.min_per_order, eq.max_pct, eq.value_bps, eq.sell_bps, slippage_bps)
        india = self.india
        segment = india.segment
        if segment == "auto":
            segment = "futures" if "FUT" in symbol.upper() else "equity_intraday"
        base = INDIA_SEGMENTS[segment]
        return IndiaCosts(
            segment,
            base.brokerage_flat if india.brokerage_flat is None else india.brokerage_flat,
            base.brokerage_bps if india.brokerage_bps is None else india.brokerage_bps,
            base.stt_buy_bps, base.stt_sell_bps, base.exchange_bps, base.stamp_buy_bps, slippage_bps=slippage_bps,
        )  # fmt: skip


_CURRENCIES = frozenset(
    "USD EUR GBP JPY CHF AUD NZD CAD SEK NOK DKK SGD HKD MXN ZAR TRY PLN CZK HUF CNH INR".split()  # noqa: SIM905
)
_CRYPTO_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "BTC", "ETH", "BNB", "USD", "EUR")
_INDIA = re.compile(r"NIFTY|SENSEX|\bNSE\b|^NSE|\.NS$|-EQ$", re.IGNORECASE)


def detect_type(symbol: str, data_format: str = "") -> InstrumentType | None:
    """The kind of market a symbol or its file's format names, or None when neither says.

    MT5 exports are forex; ``*-PERP`` (or ccxt's ``BASE/QUOTE:SETTLE``) a perpetual; NIFTY, SENSEX or NSE
    India; a pair of two ISO currencies (EURUSD, GBP/USD) forex; another pair (BTC/USDT, ADA_BTC) crypto spot.

    >>> [detect_type(s) for s in ("EURUSD", "BTC-PERP", "NIFTY-FUT", "ADA/BTC", "BTC/USDT:USDT", "AAPL")]
    [<InstrumentType.FOREX: 'forex'>, <InstrumentType.CRYPTO_PERP: 'crypto_perp'>, \
<InstrumentType.INDIA: 'india'>, <InstrumentType.CRYPTO_SPOT: 'crypto_spot'>, \
<InstrumentType.CRYPTO_PERP: 'crypto_perp'>, None]
    """
    name = symbol.upper()
    if data_format == "mt5":
        return InstrumentType.FOREX
    if name.endswith("PERP") or ":" in name:
        return InstrumentType.CRYPTO_PERP
    if _INDIA.search(name):
        return InstrumentType.INDIA
    parts = [p for p in re.split(r"[/_\-]", name) if p]
    if len(parts) == 1 and len(name) == 6:
        parts = [name[:3], name[3:]]
    if len(parts) == 2 and all(p in _CURRENCIES for p in parts):
        return InstrumentType.FOREX
    if len(parts) == 2 and parts[1] in _CRYPTO_QUOTES:
        return InstrumentType.CRYPTO_SPOT
    if len(parts) == 1 and name.endswith(_CRYPTO_QUOTES[:4]) and len(name) > 4:  # BTCUSDT
        return InstrumentType.CRYPTO_SPOT
    return None
