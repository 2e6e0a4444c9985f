"""The strategy port: what a strategy sees and the commands it may give.

A strategy never talks to a venue. It returns commands; the kernel passes entries through the risk
gate and hands what is accepted to execution. Exits (``Flatten``) and withdrawals (``CancelEntry``)
always pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from smc_agent.core.events import CandleClosed, Event
from smc_agent.core.fastinit import fast_init
from smc_agent.engine.risk import OrderCommand

__all__ = ["CancelEntry", "Command", "Enter", "Flatten", "Strategy"]


@fast_init
@dataclass(frozen=True, slots=True)
class Enter:
    """Open a trade: a limit entry at ``command.entry``, or at the next open when ``market``."""

    command: OrderCommand
    market: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class CancelEntry:
    """Withdraw an entry that has not filled."""

    signal_id: str
    reason: str


@fast_init
@dataclass(frozen=True, slots=True)
class Flatten:
    """Close the whole position in a symbol at the next open."""

    symbol: str
    reason: str


Command = Enter | CancelEntry | Flatten


class Strategy(Protocol):
    def on_start(self) -> None: ...

    def on_candle(self, candle: CandleClosed) -> list[Command]: ...

    def on_event(self, event: Event) -> None: ...
