"""The log of a session: one line per change of state, never one per candle or per retry.

Subscribed to the bus by the composition root. What it logs: the session starting and stopping, the
trading state changing (a daily loss limit, the kill switch, a reset), each operator command and
what came of it, and each order the venue rejected (a rejection is rare and always worth a look).
Fills, candles and the gate's routine denials are in the journal, not the log.
"""

from __future__ import annotations

from smc_agent.core.bus import EventBus
from smc_agent.core.logs import get_logger
from smc_agent.events import CommandHandled, OrderRejected, SessionStarted, SessionStopped, TradingStateChanged

__all__ = ["log_state_changes"]

_log = get_logger(__name__)


def log_state_changes(bus: EventBus) -> None:
    bus.subscribe(_session_started, SessionStarted)
    bus.subscribe(_session_stopped, SessionStopped)
    bus.subscribe(_trading_state, TradingStateChanged)
    bus.subscribe(_command, CommandHandled)
    bus.subscribe(_rejected, OrderRejected)


def _session_started(event: SessionStarted) -> None:
    _log.info("session started", session=event.session_id, streams=list(event.streams), resumed=event.resumed)


def _session_stopped(event: SessionStopped) -> None:
    _log.info("session stopped", session=event.session_id, reason=event.reason)


def _trading_state(event: TradingStateChanged) -> None:
    _log.info("trading state changed", old=event.old.value, new=event.new.value, reason=event.reason)


def _command(event: CommandHandled) -> None:
    log = _log.info if event.accepted else _log.warning
    log("operator command", command=type(event.command).__name__, id=event.command.command_id,
        accepted=event.accepted, outcome=event.outcome)  # fmt: skip


def _rejected(event: OrderRejected) -> None:
    _log.warning("order rejected", order=event.order.client_order_id, symbol=event.order.symbol, reason=event.reason)
