"""The SMC strategy's bookkeeping: one trade at a time per symbol, and never stuck."""

from __future__ import annotations

from decimal import Decimal

from smc_agent.engine.risk import OrderCommand
from smc_agent.events import RiskRejected
from smc_agent.model.enums import Side
from smc_agent.strategy.smc import SmcStrategy


def _command(signal_id: str) -> OrderCommand:
    return OrderCommand(
        symbol="EURUSD", side=Side.BUY, entry=Decimal("1.1"), stop=Decimal("1.09"), targets=(Decimal("1.13"),),
        signal_id=signal_id, setup="sweep_choch_ob",
    )  # fmt: skip


def test_an_entry_refused_by_the_risk_gate_frees_the_symbol() -> None:
    """A refusal produces no order event, so the strategy must learn it from RiskRejected itself."""
    strategy = SmcStrategy("EURUSD", "15m", [])
    strategy._busy = "sig-1"  # the state right after it asked for sig-1's entry
    strategy.on_event(
        RiskRejected(event_ms=1, known_ms=1, symbol="EURUSD", layer="symbol", reason="cooldown", command=_command("x"))
    )
    assert strategy._busy == "sig-1"  # someone else's refusal changes nothing
    strategy.on_event(
        RiskRejected(event_ms=2, known_ms=2, symbol="EURUSD", layer="symbol", reason="cooldown",
                     command=_command("sig-1"))
    )  # fmt: skip
    assert strategy._busy is None
