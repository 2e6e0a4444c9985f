"""The session service over a real paper replay: reads agree with the engine, commands go through the inbox."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from smc_agent.config.engine import EngineSettings
from smc_agent.data.loaders import load_candles
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.events import CommandHandled, Event, OrderFilled
from smc_agent.model.commands import Kill
from smc_agent.service.session import SessionService


def test_a_paper_session_is_read_and_commanded_through_the_service(shared_data_path: Callable[[str], Path]) -> None:
    candles = load_candles(shared_data_path("crypto/BTC-PERP_1m_2022-01.csv"))[:3_000]
    settings = EngineSettings(risk=RiskConfig(max_trades_per_day=100, loss_cooldown_minutes=0))
    service = SessionService.paper([candles], "sma_cross", settings, speed=3_000 * 60 / 1.0, session_id="svc")
    seen: list[Event] = []
    service.subscribe(seen.append)
    snapshots: list[dict[str, Any]] = []

    async def drive() -> CommandHandled:
        runner = asyncio.create_task(service.run())
        await asyncio.sleep(0.5)  # about half the data replayed
        snapshots.append({"status": service.status(), "positions": service.positions(), "orders": service.orders()})
        handled = await service.send(Kill(command_id="kill-1", reason="test"))
        await runner
        return handled

    handled = asyncio.run(drive())
    assert handled.accepted
    status = service.status()
    assert status["trading_state"] == "halted"
    assert status["candles"] == 3_000
    assert status["balance"] == str(service.system.portfolio.balance)
    assert service.positions() == []  # the kill flattened it
    mid = snapshots[0]
    assert 0 < mid["status"]["candles"] < 3_000
    assert all(o["tag"] in ("stop", "tp1") for o in mid["orders"])
    fills = [e for e in seen if isinstance(e, OrderFilled)]
    assert fills
    assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
    assert Decimal(status["equity"]) == Decimal(status["balance"])
