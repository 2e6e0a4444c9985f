"""The records a backtest hands to the metrics: closed trades and the equity curve.

They are the boundary between the engine, which produces them, and the pure functions in
:mod:`~smc_agent.backtest.metrics` and :mod:`~smc_agent.backtest.significance`, which only read
them. Money is :class:`~decimal.Decimal` (design habit 5) and times are epoch milliseconds UTC, so a
result can be journalled and compared exactly; the statistics convert to float where they need to.

>>> from decimal import Decimal as D
>>> t = Trade("t1", "BTC-PERP", Side.BUY, "ob_retest", "london", 0, 3_600_000, D("100"), D("104"),
...           D("2"), risk=D("4"), pnl=D("7.5"), fees=D("0.5"), r_multiple=D("1.875"), planned_rr=D("2"))
>>> t.effective_stop_distance, t.is_win
(Decimal('2'), True)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from collections.abc import Iterable, Iterator, MutableSequence, Sequence
from decimal import Decimal
from typing import overload

import msgspec
import numpy as np
import numpy.typing as npt

from smc_agent.engine.portfolio import value_of
from smc_agent.model.enums import Side
from smc_agent.model.instrument import to_decimal

__all__ = ["EquityCurve", "EquityPoint", "MarkedCurve", "RecordedCurve", "Trade", "as_curve"]


class Trade(msgspec.Struct, frozen=True, gc=False):
    """One closed round trip.

    ``side`` is the entry side (``BUY`` opens a long). ``setup`` names the rule that produced the
    signal and ``session`` the session or killzone at entry (``"none"`` outside them); both feed the
    metric breakdowns. ``exit_price`` is volume-weighted over partial exits.

    ``risk`` is the money at risk at entry, ``|entry - stop| * quantity``; ``pnl`` is net of
    ``fees``; ``r_multiple`` is ``pnl / risk``, so it is net of fees too.

    ``stop_distance`` and ``planned_rr`` describe the plan rather than the outcome, and are what the
    random-entry baseline copies: ``stop_distance`` is ``|entry - stop|`` in price (``None`` means
    ``risk / quantity``, which is the same number when the engine filled ``risk`` by the definition
    above), and ``planned_rr`` is the planned target distance in multiples of the stop distance
    (``None`` means the trade had no fixed target); ``planned_rr2`` is the same for a second target
    (TP2), ``None`` when there was one target. The realised R is *not* a stand-in for the planned
    target: a trade stopped out at -1R may well have aimed for 3R. ``market_entry`` says whether the
    entry was a market order (else a limit order at a price), which decides its fees and slippage.
    """

    id: str
    symbol: str
    side: Side
    setup: str
    session: str
    entry_ms: int
    exit_ms: int
    entry_price: Decimal
    exit_price: Decimal
    quantity: Decimal
    risk: Decimal
    pnl: Decimal
    fees: Decimal
    r_multiple: Decimal
    stop_distance: Decimal | None = None
    planned_rr: Decimal | None = None
    planned_rr2: Decimal | None = None
    market_entry: bool = False

    def __post_init__(self) -> None:
        if self.exit_ms < self.entry_ms:
            raise ValueError(f"trade {self.id}: exit_ms {self.exit_ms} is before entry_ms {self.entry_ms}")
        if self.quantity <= 0:
            raise ValueError(f"trade {self.id}: quantity must be > 0, got {self.quantity}")
        if self.risk < 0 or self.fees < 0:
            raise ValueError(f"trade {self.id}: risk and fees must be >= 0, got {self.risk} and {self.fees}")
        if self.stop_distance is not None and self.stop_distance <= 0:
            raise ValueError(f"trade {self.id}: stop_distance must be > 0, got {self.stop_distance}")
        for name, rr in (("planned_rr", self.planned_rr), ("planned_rr2", self.planned_rr2)):
            if rr is not None and rr <= 0:
                raise ValueError(f"trade {self.id}: {name} must be > 0, got {rr}")

    @property
    def effective_stop_distance(self) -> Decimal:
        """``stop_distance`` if the engine gave it, else ``risk / quantity`` (zero for an unstopped trade)."""
        return self.stop_distance if self.stop_distance is not None else self.risk / self.quantity

    @property
    def is_win(self) -> bool:
        """A win is a trade with net ``pnl > 0``; a break-even trade is not a win."""
        return self.pnl > 0

    @property
    def holding_ms(self) -> int:
        """Time from entry to (last) exit."""
        return self.exit_ms - self.entry_ms


class EquityPoint(msgspec.Struct, frozen=True, gc=False):
    """Account equity (balance plus open profit) at ``time_ms``, and the notional then in the market.

    The engine records one point per candle close, starting with a point at the initial balance, so
    that the curve's first time is the start of the test and its last time the end.
    """

    time_ms: int
    equity: Decimal
    exposure: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if self.exposure < 0:
            raise ValueError(f"equity point at {self.time_ms}: exposure must be >= 0, got {self.exposure}")


class EquityCurve(Sequence[EquityPoint], ABC):
    """The equity curve, read as a sequence of :class:`EquityPoint` (built when read), plus the columns
    that statistics need: ``times``, :meth:`floats` and :meth:`exposed`.

    A backtest records one point per candle, a million in a long test. A million small objects keep the
    garbage collector busy for about a second, so the curves store columns instead.
    """

    __slots__ = ("times",)

    def __init__(self) -> None:
        self.times: MutableSequence[int] = []

    @abstractmethod
    def floats(self) -> npt.NDArray[np.float64]:
        """The equities as floats, for statistics and charts."""

    @abstractmethod
    def exposed(self) -> int:
        """How many points have money in the market (exposure > 0)."""

    @abstractmethod
    def _point(self, k: int) -> EquityPoint: ...

    def __len__(self) -> int:
        return len(self.times)

    @overload
    def __getitem__(self, index: int) -> EquityPoint: ...

    @overload
    def __getitem__(self, index: slice) -> list[EquityPoint]: ...

    def __getitem__(self, index: int | slice) -> EquityPoint | list[EquityPoint]:
        positions = range(len(self.times))
        if isinstance(index, slice):
            return [self._point(k) for k in positions[index]]
        return self._point(positions[index])

    def __iter__(self) -> Iterator[EquityPoint]:
        return map(self._point, range(len(self.times)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} points)"


class RecordedCurve(EquityCurve):
    """A curve of given points, stored as three columns (times, equities, exposures).

    >>> curve = RecordedCurve([EquityPoint(0, Decimal(100))])
    >>> curve.record(60_000, Decimal(101), Decimal(50))
    >>> len(curve), curve[-1], curve.exposed()
    (2, EquityPoint(time_ms=60000, equity=Decimal('101'), exposure=Decimal('50')), 1)
    """

    __slots__ = ("exposures", "values")

    def __init__(self, points: Iterable[EquityPoint] = ()) -> None:
        super().__init__()
        self.values: list[Decimal] = []
        self.exposures: list[Decimal] = []
        for point in points:
            self.record(point.time_ms, point.equity, point.exposure)

    def record(self, time_ms: int, equity: Decimal, exposure: Decimal) -> None:
        """Add a point; ``exposure`` is an open notional, never negative."""
        self.times.append(time_ms)
        self.values.append(equity)
        self.exposures.append(exposure)

    def floats(self) -> npt.NDArray[np.float64]:
        return np.fromiter(map(float, self.values), dtype=np.float64, count=len(self.values))

    def exposed(self) -> int:
        return sum(1 for exposure in self.exposures if exposure)

    def _point(self, k: int) -> EquityPoint:
        return EquityPoint(self.times[k], self.values[k], self.exposures[k])


class MarkedCurve(EquityCurve):
    """The equity of a one-instrument account at each candle close, recorded as the close and the account's
    holdings (balance, signed quantity and average price), which change only at fills.

    Recording is three typed-array appends a candle. A point's Decimal equity and exposure are computed when it
    is read, by :func:`~smc_agent.engine.portfolio.value_of`, the portfolio's own formula, so they equal
    what the portfolio held at that close; :meth:`floats` values every point in one numpy pass.

    >>> curve = MarkedCurve()
    >>> curve.hold(Decimal(1000), Decimal(0), Decimal(0)); curve.mark(0, 100.0)
    >>> curve.hold(Decimal(999), Decimal(2), Decimal("100.5")); curve.mark(60_000, 101.25)
    >>> curve[-1], curve.floats().tolist(), curve.exposed()
    (EquityPoint(time_ms=60000, equity=Decimal('1000.50'), exposure=Decimal('202.50')), [1000.0, 1000.5], 1)
    """

    __slots__ = ("_held", "_holdings", "_marks")

    def __init__(self) -> None:
        super().__init__()
        # Typed arrays: no object per point, and numpy copies them as one block of memory.
        self.times = array("q")
        self._marks = array("d")
        self._held = array("q")  # per point: its index in _holdings
        self._holdings: list[tuple[Decimal, Decimal, Decimal]] = []

    def hold(self, balance: Decimal, quantity: Decimal, average_price: Decimal) -> None:
        """The account from the next point on (after a fill): balance, signed quantity, average price."""
        self._holdings.append((balance, quantity, average_price))

    def mark(self, time_ms: int, price: float) -> None:
        """A point at ``time_ms``: the holdings last given, valued at ``price`` (the candle's close)."""
        if not self._holdings:
            raise ValueError("MarkedCurve.mark before any holdings: call hold() first")
        self.times.append(time_ms)
        self._marks.append(price)
        self._held.append(len(self._holdings) - 1)

    def floats(self) -> npt.NDArray[np.float64]:
        balance, quantity, average = (
            np.array(column, dtype=np.float64) for column in zip(*self._holdings, strict=True)
        )
        held = np.array(self._held, dtype=np.int64)
        marks = np.array(self._marks, dtype=np.float64)
        return np.asarray(balance[held] + (marks - average[held]) * quantity[held], dtype=np.float64)

    def exposed(self) -> int:
        open_ = np.array([quantity != 0 for _, quantity, _ in self._holdings], dtype=bool)
        return int(np.count_nonzero(open_[np.array(self._held, dtype=np.int64)] & (np.array(self._marks) != 0)))

    def _point(self, k: int) -> EquityPoint:
        balance, quantity, average = self._holdings[self._held[k]]
        held = ((quantity, average, to_decimal(self._marks[k])),) if quantity else ()
        return EquityPoint(self.times[k], *value_of(balance, held))


def as_curve(points: Sequence[EquityPoint]) -> EquityCurve:
    """``points`` as an :class:`EquityCurve` (itself when it already is one)."""
    return points if isinstance(points, EquityCurve) else RecordedCurve(points)
