"""The strategy port: what a strategy sees and the commands it may give.

A strategy never talks to a venue. It returns commands; the kernel passes entries through the risk
gate and hands what is accepted to execution. Exits (``Flatten``) and withdrawals (``CancelEntry``)
always pass. Each symbol has its own strategy object: it sees the closed candles of its symbol's entry
timeframe and the order, position and risk events of its symbol.

Lifecycle: :meth:`Strategy.on_start` once, with the function that publishes the strategy's own facts
(the SMC strategy's signal events); :meth:`Strategy.warm_up` for each candle of history, which builds
state and gives no orders; then :meth:`Strategy.on_candle` for each live candle. A restarted session
calls :meth:`Strategy.restore` with every journaled event of the symbol, in order, before its first
candle, so the strategy is where it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from smc_agent.events import CandleClosed, Event
from smc_agent.model.commands import OrderCommand

__all__ = ["CancelEntry", "Command", "Enter", "Flatten", "Publish", "Strategy"]

Publish = Callable[[Event], None]


class Enter(msgspec.Struct, frozen=True, gc=False):
    """Open a trade: a limit entry at ``command.entry``, or at the next open when ``market``."""

    command: OrderCommand
    market: bool = False


class CancelEntry(msgspec.Struct, frozen=True, gc=False):
    """Withdraw an entry that has not filled."""

    signal_id: str
    reason: str


class Flatten(msgspec.Struct, frozen=True, gc=False):
    """Close the whole position in a symbol at the next open."""

    symbol: str
    reason: str


Command = Enter | CancelEntry | Flatten


class Strategy(Protocol):
    symbol: str
    kind: str  # the name it is registered under (smc_agent.strategy.registry)

    def on_start(self, publish: Publish) -> None: ...

    def warm_up(self, candle: CandleClosed) -> None: ...

    def on_candle(self, candle: CandleClosed) -> list[Command]: ...

    def on_event(self, event: Event) -> None: ...

    def restore(self, event: Event) -> None:
        """Fold one journaled event of this symbol (an entry candle, an order, position or risk event, a
        signal's state) into the strategy after a restart, without publishing or giving orders."""
        ...
