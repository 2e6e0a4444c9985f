"""What a simulated fill costs: the fee (maker or taker, in basis points) and the slippage.

Every market has its own :class:`CostModel` (see :mod:`smc_agent.venues.cost_models` for forex,
futures and equities); :class:`FeeModel`, a percentage of the notional, is the crypto one.

A backtest that fills every order at the touched price for free flatters every strategy, so the
simulated venue charges both, with models that are small, explicit and swappable.

**Fees** are a percentage of the notional, in basis points (1 bp = 0.01 %), paid in the quote
currency: ``fee = price x quantity x bps / 10 000``. A resting limit order that fills is a *maker*;
markets and triggered stops are *takers*. :data:`FEE_PROFILES` holds named defaults: they are
round, headline numbers to start from, not quotes of any venue's current schedule, which changes
with volume tiers, discounts and time. Configure your own.

>>> FeeModel.profile("binance_futures").fee(Decimal("100"), Decimal("2"), maker=False)
Decimal('0.1')

**Slippage** is how far beyond the reference price (the open, or the stop's trigger) a taker fill
lands. Every model answers ``per_unit(side, price, candle)`` with the amount *added to the price*,
signed against the trader: positive for a buy (it pays more), negative for a sell (it receives
less). The venue then rounds the fill to the tick against the trader.

>>> candle = CandleClosed(event_ms=60_000, known_ms=60_000, symbol="X", timeframe="1m", time=0,
...                       open=200.0, high=201.0, low=199.0, close=200.5, volume=0.0)
>>> FixedBpsSlippage(Decimal("5")).per_unit(Side.SELL, Decimal("200"), candle)
Decimal('-0.1')

* :class:`FixedBpsSlippage` — a fixed fraction of the price;
* :class:`AtrSlippage` — a fraction of the ATR, from an :class:`AtrSeries` of the entry timeframe or
  any callable ``candle -> ATR``;
* :class:`SpreadSlippage` — half the real bid/ask spread at the fill time, from bid and ask candles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

import numpy as np
import numpy.typing as npt

from smc_agent.core.errors import ConfigError, DataError, SmcAgentError
from smc_agent.data.candles import Candles
from smc_agent.events import CandleClosed
from smc_agent.indicators.atr import atr as wilder_atr
from smc_agent.model.enums import Side
from smc_agent.model.instrument import to_decimal

__all__ = [
    "FEE_PROFILES",
    "AtrSeries",
    "AtrSlippage",
    "AtrSource",
    "CostModel",
    "FeeModel",
    "FixedBpsSlippage",
    "InstrumentType",
    "RoundTrip",
    "SlippageModel",
    "SpreadSlippage",
    "SymbolSlippage",
]

_BP = Decimal(10_000)
_ZERO = Decimal(0)


class InstrumentType(StrEnum):
    """The kinds of market, each with its own cost model and leverage cap."""

    CRYPTO_SPOT = "crypto_spot"
    CRYPTO_PERP = "crypto_perp"
    FOREX = "forex"
    FUTURES = "futures"
    US_EQUITY = "us_equity"
    INDIA = "india"


class CostModel(Protocol):
    """What trading one market costs, in its quote currency.

    ``fill_fee`` is the charge of one fill (commissions, taxes, a half spread); ``round_trip`` the
    expected cost of a planned trade that enters at ``entry`` and is stopped out at ``stop``, with
    ``slippage_bps`` of expected slippage on each taker leg: what the risk gate adds to the risk.
    """

    @property
    def kind(self) -> InstrumentType: ...

    @property
    def slippage_bps(self) -> Decimal: ...

    def fill_fee(self, side: Side, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal: ...

    def round_trip(
        self, side: Side, entry: Decimal, stop: Decimal, quantity: Decimal, *, maker_entry: bool = False
    ) -> Decimal: ...

    def describe(self) -> str:
        """One line naming the model and its numbers, for reports."""
        ...


class _Fills(Protocol):
    @property
    def slippage_bps(self) -> Decimal: ...

    def fill_fee(self, side: Side, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal: ...


class RoundTrip:
    """The round trip of any model with ``fill_fee`` and ``slippage_bps``: the entry fill (a maker
    limit slips nothing), the stop's taker exit, and the slippage of each taker leg.

    >>> model = FeeModel(Decimal(2), Decimal(5), slippage_bps=Decimal(10))
    >>> model.round_trip(Side.BUY, Decimal(100), Decimal(90), Decimal(1))  # 0.1 + 0.09 slip, fees on slipped fills
    Decimal('0.285005')
    """

    __slots__ = ()

    def round_trip(
        self: _Fills, side: Side, entry: Decimal, stop: Decimal, quantity: Decimal, *, maker_entry: bool = False
    ) -> Decimal:
        rate = self.slippage_bps / _BP
        slip_in = _ZERO if maker_entry else entry * rate
        slip_out = stop * rate
        sign = side.sign
        fees = self.fill_fee(side, entry + sign * slip_in, quantity, maker=maker_entry)
        fees += self.fill_fee(side.opposite, stop - sign * slip_out, quantity, maker=False)
        return quantity * (slip_in + slip_out) + fees


@dataclass(frozen=True, slots=True)
class FeeModel(RoundTrip):
    """Maker and taker fees in basis points of the notional (crypto spot and perpetuals); a negative
    maker fee is a rebate. Funding of perpetuals is not charged (no data file has a funding column)."""

    maker_bps: Decimal
    taker_bps: Decimal
    kind: InstrumentType = InstrumentType.CRYPTO_PERP
    slippage_bps: Decimal = _ZERO

    def fee(self, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal:
        """The fee in quote currency for a fill of ``quantity`` at ``price``; exact, not rounded."""
        return price * quantity * (self.maker_bps if maker else self.taker_bps) / _BP

    def fill_fee(self, side: Side, price: Decimal, quantity: Decimal, *, maker: bool) -> Decimal:
        return self.fee(price, quantity, maker=maker)  # the same on either side

    def describe(self) -> str:
        return f"{self.kind}: maker {_fmt(self.maker_bps)} bps, taker {_fmt(self.taker_bps)} bps of the notional"

    @classmethod
    def profile(cls, name: str) -> FeeModel:
        """A named default from :data:`FEE_PROFILES`; an unknown name is a ConfigError naming the choices."""
        try:
            return FEE_PROFILES[name]
        except KeyError:
            known = ", ".join(sorted(FEE_PROFILES))
            raise ConfigError(f"unknown fee profile {name!r}; choose one of: {known}", key="fees") from None


FEE_PROFILES: Mapping[str, FeeModel] = MappingProxyType(
    {
        # Defaults only (round headline tiers: spot 0.1 %; USD-M futures 0.02 % / 0.05 %; an ECN forex
        # commission of about 5 USD per 100k notional per side). Override them for your account.
        "binance_spot": FeeModel(Decimal("10"), Decimal("10"), InstrumentType.CRYPTO_SPOT),
        "binance_futures": FeeModel(Decimal("2"), Decimal("5")),
        "forex_ecn": FeeModel(Decimal("0"), Decimal("0.5"), InstrumentType.FOREX),
        "zero": FeeModel(Decimal("0"), Decimal("0")),
    }
)


class SlippageModel(Protocol):
    def per_unit(self, side: Side, price: Decimal, candle: CandleClosed) -> Decimal:
        """The amount to add to ``price`` for a taker fill in ``candle``: >= 0 for a buy, <= 0 for a sell."""
        ...


@dataclass(frozen=True, slots=True)
class FixedBpsSlippage:
    """``bps`` of the reference price, against the trader. ``FixedBpsSlippage(Decimal(0))`` is none."""

    bps: Decimal

    def per_unit(self, side: Side, price: Decimal, candle: CandleClosed) -> Decimal:
        return side.sign * price * self.bps / _BP


class SymbolSlippage:
    """Each symbol's own model (ATR and spreads are a market's own), chosen by the candle's symbol."""

    def __init__(self, models: Mapping[str, SlippageModel]) -> None:
        self._models = dict(models)

    def per_unit(self, side: Side, price: Decimal, candle: CandleClosed) -> Decimal:
        return self._models[candle.symbol].per_unit(side, price, candle)


AtrSource = Callable[[CandleClosed], float | Decimal | None]


class AtrSeries:
    """An ATR series of the entry timeframe, answering for a fill candle with the ATR *known at its open*.

    ``times`` are candle open times; the answer for a candle opening at ``t`` is the value of the last
    candle that opened before ``t`` (it closed by ``t``), so the cost of a fill never uses the range
    of the candle it happens in. Missing or warm-up (NaN) values answer None.

    >>> s = AtrSeries(np.array([0, 60, 120]), np.array([np.nan, 2.0, 3.0]))
    >>> s.at(120), s.at(60), s.at(0)
    (2.0, None, None)
    """

    def __init__(self, times: npt.ArrayLike, values: npt.ArrayLike) -> None:
        self._times = np.ascontiguousarray(times, dtype=np.int64)
        self._values = np.ascontiguousarray(values, dtype=np.float64)
        if self._times.shape != self._values.shape:
            raise SmcAgentError(f"ATR series: {self._times.shape[0]} times but {self._values.shape[0]} values")

    @classmethod
    def from_candles(cls, candles: Candles, period: int = 14) -> AtrSeries:
        """Wilder's ATR of ``candles`` (see :func:`smc_agent.indicators.atr.atr`)."""
        return cls(candles.time, wilder_atr(candles.high, candles.low, candles.close, period))

    def at(self, open_ms: int) -> float | None:
        i = int(np.searchsorted(self._times, open_ms, side="left")) - 1
        if i < 0 or np.isnan(self._values[i]):
            return None
        return float(self._values[i])

    def __call__(self, candle: CandleClosed) -> float | None:
        return self.at(candle.time)


class AtrSlippage:
    """``fraction`` x ATR, against the trader: slippage that grows with volatility.

    ``atr`` is an :class:`AtrSeries` or any callable from the fill candle to its ATR (None when
    unknown or NaN). With no ATR the ``fallback`` model answers; without one it is an error, because a
    silently free fill would flatter the backtest.

    >>> c = CandleClosed(event_ms=60_000, known_ms=60_000, symbol="X", timeframe="1m", time=0,
    ...                  open=100.0, high=101.0, low=99.0, close=100.5, volume=0.0)
    >>> AtrSlippage(Decimal("0.1"), lambda candle: 0.5).per_unit(Side.BUY, Decimal("100"), c)
    Decimal('0.05')
    """

    def __init__(self, fraction: Decimal, atr: AtrSource, fallback: SlippageModel | None = None) -> None:
        self.fraction = fraction
        self._atr = atr
        self._fallback = fallback

    def per_unit(self, side: Side, price: Decimal, candle: CandleClosed) -> Decimal:
        raw = self._atr(candle)
        value = None if raw is None else to_decimal(raw)
        if value is None or value.is_nan():
            if self._fallback is not None:
                return self._fallback.per_unit(side, price, candle)
            raise SmcAgentError(
                f"ATR slippage: no ATR for the {candle.symbol} candle at {candle.time} (still warming up?); "
                "trade after the warm-up or give a fallback model"
            )
        return side.sign * self.fraction * value


class SpreadSlippage:
    """Half the real bid/ask spread at the fill time, for a venue fed *mid* candles.

    A taker buy pays the ask and a sell receives the bid; from the mid that is ``+(ask - mid)`` and
    ``bid - mid``, i.e. half the spread either way. The quote used is the one at the fill time, to the
    resolution of the bid/ask candles (looked up as of a time, so they may be finer than the venue's):

    * a fill at the candle's open (``price`` equals the open: markets, gaps) uses the spread at the open;
    * a fill inside the candle (a stop touched) could have happened at any moment, so it is charged the
      wider of the spreads at the open and at the close (pessimistic).

    A crossed quote (ask below bid, found in real data) is charged nothing rather than paid.

    >>> t = np.array([0])
    >>> bid = Candles.from_arrays(t, [1.00010], [1.0002], [1.0000], [1.00010])
    >>> ask = Candles.from_arrays(t, [1.00020], [1.0003], [1.0001], [1.00024])
    >>> c = CandleClosed(event_ms=60_000, known_ms=60_000, symbol="X", timeframe="1m", time=0,
    ...                  open=1.00015, high=1.00025, low=1.00005, close=1.00017, volume=0.0)
    >>> model = SpreadSlippage(bid, ask)
    >>> model.per_unit(Side.BUY, Decimal("1.00015"), c), model.per_unit(Side.SELL, Decimal("1.0001"), c)
    (Decimal('0.00005'), Decimal('-0.00007'))
    """

    def __init__(self, bid: Candles, ask: Candles) -> None:
        if bid.time.shape != ask.time.shape or not np.array_equal(bid.time, ask.time):
            raise DataError("bid and ask candles must have the same open times", field="time", rule="aligned quotes")
        self._bid = bid
        self._ask = ask

    def half_spread_at_open(self, open_ms: int) -> Decimal:
        """Half the spread at the open of the bid/ask candle covering ``open_ms``."""
        i = self._index(open_ms)
        return _half(self._bid.open[i], self._ask.open[i])

    def half_spread_at_close(self, close_ms: int) -> Decimal:
        """Half the spread at the close of the last bid/ask candle that opened before ``close_ms``."""
        i = self._index(close_ms - 1)
        return _half(self._bid.close[i], self._ask.close[i])

    def per_unit(self, side: Side, price: Decimal, candle: CandleClosed) -> Decimal:
        half = self.half_spread_at_open(candle.time)
        if price != to_decimal(candle.open):
            half = max(half, self.half_spread_at_close(candle.event_ms))
        return side.sign * half

    def _index(self, ms: int) -> int:
        i = int(np.searchsorted(self._bid.time, ms, side="right")) - 1
        if i < 0:
            raise SmcAgentError(f"spread slippage: no bid/ask quote at or before {ms} (the quotes start later)")
        return i


def _half(bid: float, ask: float) -> Decimal:
    return max(to_decimal(float(ask)) - to_decimal(float(bid)), Decimal(0)) / 2


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")
