"""Random entries with another strategy's trade plans: the yardstick that tells skill from luck.

:class:`RandomEntry` takes a list of plans (side, stop distance, target distances, all in price) and
the candle open times at which to enter them, one per plan, in order. At the close of the first
candle at or after plan ``j``'s time it enters at that close, with the stop and targets at the plan's
distances from it, the way the mirrored trade entered: a market order (filled at the next open, as
a taker, with slippage) or a limit order at the close (filled, as a maker, if price trades there
again), which rests like a signal's entry does. A limit still unfilled after ``rest`` candles is
withdrawn and placed again at that close, at the new price, so the plan still goes in at about its
time. One trade at a time, as the SMC strategy trades: while a trade or its entry is open, the next
plan waits and goes in at the first close after the symbol is flat again. A plan that the risk gate
refuses for the moment (a loss's cooldown, the day's trade limit: any layer but the trade layer) is
tried again at the next close; one refused at the trade layer is dropped, since the gate would refuse
the same plan again (its reward to risk, say). Every attempt counts towards the gate's entries of
the day, as every signal's entry does.

Everything else (sizing by the gate, the bracket with TP1, TP2 and breakeven, the venue's fills,
slippage and fees) is the engine's, exactly as for the strategy being judged: the backtest baseline
(:mod:`smc_agent.backtest.baseline`) builds it, and it cannot be chosen by name.

>>> plan = EntryPlan(Side.BUY, Decimal("0.5"), (Decimal("1"),))
>>> plan.levels(Decimal("100"))
(Decimal('99.5'), (Decimal('101'),))
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise

import msgspec

from smc_agent.core.errors import SmcAgentError
from smc_agent.events import (
    CandleClosed,
    EntryAccepted,
    Event,
    OrderCancelled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    PositionChanged,
    RiskRejected,
)
from smc_agent.model.commands import OrderCommand
from smc_agent.model.enums import RiskLayer, Side
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import CancelEntry, Command, Enter, Publish

__all__ = ["EntryPlan", "RandomEntry"]


class EntryPlan(msgspec.Struct, frozen=True, gc=False):
    """One trade to place: its side, its stop and targets (TP1 first) as distances from the entry, and
    whether it enters at market (else with a limit order at the close)."""

    side: Side
    stop_distance: Decimal
    target_distances: tuple[Decimal, ...]
    market: bool = False

    def __post_init__(self) -> None:
        if self.stop_distance <= 0 or not self.target_distances or min(self.target_distances) <= 0:
            raise ValueError(f"a plan needs a stop and at least one target > 0 away, got {self}")

    def levels(self, entry: Decimal) -> tuple[Decimal, tuple[Decimal, ...]]:
        """The stop and the targets for an entry at ``entry``."""
        sign = self.side.sign
        return entry - sign * self.stop_distance, tuple(entry + sign * d for d in self.target_distances)


class RandomEntry:
    kind = "random_entry"  # its name in smc_agent.strategy.registry (built by the baseline only)

    def __init__(self, symbol: str, plans: Sequence[EntryPlan], times: Sequence[int], *, rest: int = 16) -> None:
        if len(plans) != len(times):
            raise ValueError(f"one entry time per plan: {len(plans)} plans, {len(times)} times")
        if any(b < a for a, b in pairwise(times)):
            raise ValueError("entry times must be in ascending order")
        if rest < 1:
            raise ValueError(f"a limit entry must rest at least one candle, got {rest}")
        self.symbol = symbol
        self._plans, self._times, self._rest = tuple(plans), tuple(int(t) for t in times), rest
        self._waited = 0  # candles the open limit entry has rested unfilled
        self._next = 0  # the plan to enter next
        self._attempts = 0  # entries placed, retries included
        self._busy: str | None = None  # the signal id of the trade (or entry) that is open
        self._entry_id: str | None = None
        self._filled = False

    def on_start(self, publish: Publish) -> None:
        """Nothing of its own to publish."""

    def warm_up(self, candle: CandleClosed) -> None:
        """Entries are placed by time alone: history teaches it nothing."""

    def restore(self, event: Event) -> None:
        """The random-entry baseline judges a backtest, which never resumes: refuse rather than guess."""
        raise SmcAgentError("the random_entry baseline runs in backtests only; a session cannot resume it")

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        commands: list[Command] = []
        if self._busy is not None:
            if self._filled or self._plans[self._next - 1].market:
                return []
            self._waited += 1
            if self._waited < self._rest:
                return []
            # The market never came back to the limit: withdraw it and place the plan again at this close.
            commands.append(CancelEntry(self._busy, f"not filled in {self._rest} candles"))
            self._busy, self._next = None, self._next - 1
        k = self._next
        if k >= len(self._plans) or candle.time < self._times[k]:
            return commands
        self._next, self._attempts, self._waited = k + 1, self._attempts + 1, 0
        # Each attempt has its own id, since ids of orders derive from it and a retry is a new order.
        signal_id = f"random:{self.symbol}:{k}:{self._attempts}"
        self._busy, self._entry_id, self._filled = signal_id, None, False
        plan = self._plans[k]
        price = to_decimal(candle.close)
        stop, targets = plan.levels(price)
        commands.append(Enter(OrderCommand(self.symbol, plan.side, price, stop, targets, signal_id, "random"),
                              market=plan.market))  # fmt: skip
        return commands

    def on_event(self, event: Event) -> None:
        if self._busy is None:
            return
        if isinstance(event, EntryAccepted):
            if event.command.signal_id == self._busy:
                self._entry_id = event.entry_id
        elif isinstance(event, OrderFilled):
            self._filled = self._filled or event.order.client_order_id == self._entry_id
        elif isinstance(event, PositionChanged):
            if self._filled and not event.quantity:
                self._busy = None
        elif isinstance(event, OrderCancelled | OrderRejected | OrderExpired):
            if event.order.client_order_id == self._entry_id and not self._filled:
                self._busy = None
        elif isinstance(event, RiskRejected) and event.command.signal_id == self._busy:
            self._busy = None
            if event.layer is not RiskLayer.TRADE:
                self._next -= 1  # its time has come already: it goes in at the next close
