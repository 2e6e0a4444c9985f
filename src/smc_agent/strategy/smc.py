"""The SMC strategy: trade every new A+ signal, one trade at a time per symbol.

A new signal (version 1, pending) becomes a limit entry at its entry price with its stop and targets.
If the signal expires or is invalidated before the entry fills, the entry is withdrawn. While a trade
(or an unfilled entry) is open on the symbol, new signals are not traded.
"""

from __future__ import annotations

from collections.abc import Sequence

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.signals import Signal, SignalEngine, SignalStatus
from smc_agent.core.events import CandleClosed, Event, OrderCancelled, OrderRejected, PositionChanged, RiskRejected
from smc_agent.engine.risk import OrderCommand
from smc_agent.model.instrument import to_decimal
from smc_agent.strategy.base import CancelEntry, Command, Enter

__all__ = ["SmcStrategy"]


class SmcStrategy:
    def __init__(
        self,
        symbol: str,
        timeframe: str,
        htfs: Sequence[str],
        config: AnalysisConfig | None = None,
        *,
        tz: str | None = None,
    ) -> None:
        self.symbol = symbol
        self.signals = SignalEngine(timeframe, htfs, config, symbol=symbol, tz=tz)
        self._busy: str | None = None  # the signal whose entry or position is open
        self._filled = False

    def on_start(self) -> None:
        """Nothing to prepare: the signal engine warms up on the candles themselves."""

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        changed = self.signals.update(candle.time, candle.open, candle.high, candle.low, candle.close, candle.volume)
        commands: list[Command] = []
        for signal in changed:
            if signal.id == self._busy and not self._filled and signal.status in _ENDED:
                commands.append(CancelEntry(signal.id, f"signal {signal.status.value}"))
            elif self._busy is None and signal.version == 1 and signal.status is SignalStatus.PENDING:
                commands.append(Enter(_command(signal)))
                self._busy, self._filled = signal.id, False
        return commands

    def on_event(self, event: Event) -> None:
        if isinstance(event, PositionChanged) and event.symbol == self.symbol:
            if event.quantity:
                self._filled = True
            else:
                self._busy, self._filled = None, False
        elif isinstance(event, OrderCancelled | OrderRejected) and event.order.client_order_id == f"{self._busy}:entry":
            self._busy, self._filled = None, False
        elif isinstance(event, RiskRejected) and getattr(event.command, "signal_id", None) == self._busy:
            # The gate refused the entry: no order exists, so nothing else would free the symbol.
            self._busy, self._filled = None, False


_ENDED = (SignalStatus.EXPIRED, SignalStatus.INVALIDATED)


def _command(signal: Signal) -> OrderCommand:
    return OrderCommand(
        symbol=signal.symbol,
        side=signal.side,
        entry=to_decimal(signal.entry),
        stop=to_decimal(signal.stop),
        targets=tuple(to_decimal(t) for t in signal.targets),
        signal_id=signal.id,
        setup=signal.setup,
    )
