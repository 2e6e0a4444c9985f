"""A scripted strategy and readable order ids, shared by the kernel and session scenario tests.

Import it as ``from scripted import Script, readable_ids`` (pytest puts this directory on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from smc_agent.events import CandleClosed, EntryAccepted, Event, OrderSubmitted
from smc_agent.strategy.base import Command

__all__ = ["SYMBOL", "Script", "readable_ids"]

SYMBOL = "TEST"


class Script:
    """A strategy-port double: returns the planned commands at the close of candle ``i``."""

    kind = "sma_cross"  # named after a registered kind only for the session names of its trades

    def __init__(self, plan: Mapping[int, Sequence[Command]], symbol: str = SYMBOL) -> None:
        self.symbol = symbol
        self.plan = plan
        self.index = -1
        self.started = False

    def on_start(self, publish: object) -> None:
        self.started = True

    def warm_up(self, candle: CandleClosed) -> None:
        """Scripted: history changes nothing."""

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        self.index += 1
        return list(self.plan.get(self.index, ()))

    def on_event(self, event: Event) -> None:
        """Scripted: fills change nothing."""

    def restore(self, event: Event) -> None:
        """A restart: each journaled candle was one step of the script."""
        if isinstance(event, CandleClosed):
            self.index += 1


def readable_ids(events: Sequence[Any]) -> dict[str, str]:
    """Each client order id as ``signal:leg`` (``sig1:entry``, ``sig1:stop2``, ``flatten:TEST:1``), read
    from the journaled mapping alone: an entry's id is in its EntryAccepted, each leg names its entry."""
    names: dict[str, str] = {}
    signal_of: dict[str, str] = {}
    counts: dict[tuple[str, str], int] = {}
    for e in events:
        if isinstance(e, EntryAccepted):
            signal_of[e.entry_id] = e.command.signal_id
            names[e.entry_id] = f"{e.command.signal_id}:entry"
        elif isinstance(e, OrderSubmitted) and e.order.client_order_id not in names:
            order = e.order
            key = (order.parent or order.symbol, order.tag)
            counts[key] = counts.get(key, 0) + 1
            if order.tag == "flatten":
                names[order.client_order_id] = f"flatten:{order.symbol}:{counts[key]}"
            elif order.parent in signal_of:
                leg = f"stop{counts[key]}" if order.tag == "stop" else order.tag
                leg = leg if order.tag == "stop" or counts[key] == 1 else f"{leg}v{counts[key]}"
                names[order.client_order_id] = f"{signal_of[order.parent]}:{leg}"
    return names
