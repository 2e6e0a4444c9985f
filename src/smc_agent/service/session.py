"""The session-oriented service: what every transport does with a trading session.

Start a paper session on candle files, read its status, positions, working orders, signals and
equity, send it operator commands, and follow its events. The CLI's ``run`` and the API's routes are
thin layers over these calls. Reads return JSON-ready dicts (money as exact strings); a command never
changes engine state here: it goes through the session's inbox and comes back as the
:class:`~smc_agent.events.CommandHandled` that the kernel published.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from smc_agent.bootstrap import System, build
from smc_agent.config.engine import EngineSettings
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles
from smc_agent.events import CommandHandled, Event
from smc_agent.model.commands import OperatorCommand
from smc_agent.model.enums import Mode
from smc_agent.strategy.registry import StrategyOptions, signal_engine, strategy_kind

__all__ = ["SessionService"]


class SessionService:
    def __init__(self, system: System) -> None:
        self.system = system

    @classmethod
    def paper(
        cls,
        streams: Sequence[Candles],
        strategy: str = "smc",
        settings: EngineSettings | None = None,
        *,
        options: StrategyOptions | None = None,
        speed: float = float("inf"),
        session_id: str = "",
    ) -> SessionService:
        """A paper session replaying ``streams`` at ``speed`` times real time (not started yet)."""
        kind, opts = strategy_kind(strategy), options or StrategyOptions()
        system = build(Mode.PAPER, streams, lambda c: kind.create(c.symbol, c.timeframe, opts), settings,
                       speed=speed, session_id=session_id)  # fmt: skip
        return cls(system)

    async def run(self) -> None:
        """Start the session, run it until its feeds end or :meth:`stop`, and stop it."""
        session = self.system.session
        session.start()
        await session.run([self.system.feed])
        session.stop("stopped by request" if session.candles < self._total() else "data done")

    def stop(self) -> None:
        self.system.session.request_stop()

    async def send(self, command: OperatorCommand) -> CommandHandled:
        return await self.system.session.send(command)

    def subscribe(self, handler: Callable[[Event], None], kind: type | None = None) -> None:
        """Follow the session's events (each already carries its sequence number)."""
        self.system.bus.subscribe(handler, kind)

    def status(self) -> dict[str, Any]:
        system, risk = self.system, self.system.risk
        return {
            "session_id": system.session.session_id,
            "mode": system.mode.value,
            "streams": list(system.session.streams),
            "candles": system.session.candles,
            "time": iso_utc(system.session.clock.now_ms()),
            "trading_state": risk.state.value,
            "state_reason": risk.state_reason,
            "paused": risk.paused,
            "balance": str(system.portfolio.balance),
            "equity": str(system.portfolio.equity()),
        }

    def positions(self) -> list[dict[str, str]]:
        return [
            {"symbol": symbol, "side": side.value, "quantity": str(quantity), "notional": str(notional)}
            for symbol, (side, quantity, notional) in sorted(self.system.portfolio.open_positions().items())
        ]

    def orders(self) -> list[dict[str, Any]]:
        return [
            {"client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side.value, "type": o.type.value,
             "quantity": str(o.quantity), "filled": str(o.filled), "price": _text(o.price),
             "trigger": _text(o.trigger), "tag": o.tag, "parent": o.parent, "status": o.status.value}
            for o in self.system.venue.open_orders()
        ]  # fmt: skip

    def signals(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for symbol in self.system.symbols:
            strategy = self.system.kernel.strategy(symbol)
            if strategy_kind(strategy.kind).draws_zones:
                found.extend(signal.to_dict() for signal in signal_engine(strategy).signals)
        return found

    def _total(self) -> int:
        return sum(len(c) for c in self.system.entry.values())


def _text(value: object) -> str | None:
    return None if value is None else str(value)
