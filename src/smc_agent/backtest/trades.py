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

from dataclasses import dataclass
from decimal import Decimal

from smc_agent.model.enums import Side

__all__ = ["EquityPoint", "Trade"]


@dataclass(frozen=True, slots=True)
class Trade:
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
    (``None`` means the trade had no fixed target). The realised R is *not* a stand-in for the
    planned target: a trade stopped out at -1R may well have aimed for 3R.
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

    def __post_init__(self) -> None:
        if self.exit_ms < self.entry_ms:
            raise ValueError(f"trade {self.id}: exit_ms {self.exit_ms} is before entry_ms {self.entry_ms}")
        if self.quantity <= 0:
            raise ValueError(f"trade {self.id}: quantity must be > 0, got {self.quantity}")
        if self.risk < 0 or self.fees < 0:
            raise ValueError(f"trade {self.id}: risk and fees must be >= 0, got {self.risk} and {self.fees}")
        if self.stop_distance is not None and self.stop_distance <= 0:
            raise ValueError(f"trade {self.id}: stop_distance must be > 0, got {self.stop_distance}")
        if self.planned_rr is not None and self.planned_rr <= 0:
            raise ValueError(f"trade {self.id}: planned_rr must be > 0, got {self.planned_rr}")

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


@dataclass(frozen=True, slots=True)
class EquityPoint:
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
