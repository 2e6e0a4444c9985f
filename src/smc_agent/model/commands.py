"""Commands: what a strategy or an operator asks the trading core to do. Facts about them are events.

:class:`OrderCommand` is a strategy's request for a trade: the risk gate, not the strategy, decides
its size. The operator commands (:data:`OperatorCommand`) arrive through the session's inbox from the
CLI, and later the API and Telegram; the session hands each to the kernel between two candles, never
in the middle of one, and publishes what came of it. All are frozen msgspec Structs, so the journal
stores them exactly (Decimals as strings) and a command replayed from it equals the one sent.

>>> cmd = OrderCommand("EURUSD", Side.BUY, Decimal("1.1"), Decimal("1.09"), (Decimal("1.12"),), "s-1", "ob")
>>> cmd.with_stop(Decimal("1.0899")).stop
Decimal('1.0899')
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from smc_agent.model.enums import Side
from smc_agent.model.orders import OrderType

__all__ = [
    "CancelAll",
    "CancelOrder",
    "ChangeRisk",
    "FlattenSymbol",
    "Kill",
    "ManualOrder",
    "OperatorCommand",
    "OrderCommand",
    "Pause",
    "Reset",
    "Resume",
]


class OrderCommand(msgspec.Struct, frozen=True, gc=False):
    """What a strategy asks for; the gate, not the strategy, decides the size.

    ``targets`` are the take-profit prices, TP1 first. An exit is ``reduce_only``: it closes the open
    position on ``symbol`` (``side`` opposite to it), and its stop and targets are not used.
    ``expire_ms``, if set, ends the entry unfilled at that time. ``quantity``, if set, is the size asked
    for (a manual order): the gate accepts it only up to the size its risk budget allows.
    """

    symbol: str
    side: Side
    entry: Decimal
    stop: Decimal
    targets: tuple[Decimal, ...]
    signal_id: str
    setup: str
    reduce_only: bool = False
    expire_ms: int | None = None
    quantity: Decimal | None = None

    @classmethod
    def exit(cls, symbol: str, side: Side, price: Decimal, *, signal_id: str = "", setup: str = "exit") -> OrderCommand:
        """A reduce-only command that closes the position on ``symbol`` at about ``price``."""
        return cls(symbol, side, price, price, (), signal_id, setup, reduce_only=True)

    def with_stop(self, stop: Decimal) -> OrderCommand:
        """The same command with another stop (the gate's, rounded as it will rest at the venue)."""
        return self if stop == self.stop else msgspec.structs.replace(self, stop=stop)


class _Operator(msgspec.Struct, frozen=True, kw_only=True, tag=True, tag_field="command"):
    """Every operator command has an id (idempotency: the same id is handled once) and a reason."""

    command_id: str
    reason: str = "operator"


class Kill(_Operator, frozen=True, kw_only=True):
    """Halt trading (only exits pass until :class:`Reset`), and with ``flatten`` close every position."""

    flatten: bool = True


class Reset(_Operator, frozen=True, kw_only=True):
    """Lift a halt: the drawdown peak restarts at the current equity."""


class Pause(_Operator, frozen=True, kw_only=True):
    """Take no new entries (signals are still computed, positions still managed) until :class:`Resume`."""


class Resume(_Operator, frozen=True, kw_only=True):
    """Take entries again after :class:`Pause`."""


class FlattenSymbol(_Operator, frozen=True, kw_only=True):
    """Close the position on ``symbol`` at the next open and cancel its orders."""

    symbol: str


class CancelAll(_Operator, frozen=True, kw_only=True):
    """Cancel every working order (of ``symbol``, or of all symbols); positions keep their protection
    unless it is cancelled too, so only entries are cancelled unless ``exits`` is set."""

    symbol: str | None = None
    exits: bool = False


class CancelOrder(_Operator, frozen=True, kw_only=True):
    """Cancel one working entry by its client order id (a position's stop and targets are not cancelled: close
    the position instead, so it never stays open without its protection)."""

    order_id: str


class ManualOrder(_Operator, frozen=True, kw_only=True):
    """A trade placed by hand. It passes the risk gate like a strategy's entry (sized by the gate when
    ``quantity`` is None, else capped at the gate's size), with ``stop_loss`` required for that reason."""

    symbol: str
    side: Side
    type: OrderType
    stop_loss: Decimal
    take_profit: tuple[Decimal, ...]
    price: Decimal | None = None
    quantity: Decimal | None = None


class ChangeRisk(_Operator, frozen=True, kw_only=True):
    """Change limits of ``[risk]`` while the session runs: ``changes`` maps a key of
    :data:`~smc_agent.engine.risk_config.RUNTIME_RISK` to its new value, as text (the journal keeps it exactly)."""

    changes: dict[str, str]


OperatorCommand = Kill | Reset | Pause | Resume | FlattenSymbol | CancelAll | CancelOrder | ManualOrder | ChangeRisk
