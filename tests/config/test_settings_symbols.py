"""Per-symbol settings reach the engine: the SMC strategy of that symbol and the risk gate's limits for it,
and no other symbol's; and the commands that read ``--config`` read this model."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from settings_env import clean_environment  # noqa: F401  (autouse: no SMC_ variable of the caller leaks in)
from typer.testing import CliRunner

import smc_agent.backtest.runner as runner
from smc_agent.backtest.grid import StrategySpec
from smc_agent.backtest.runner import run_backtest
from smc_agent.bootstrap import System
from smc_agent.cli import app
from smc_agent.config.settings import load_settings
from smc_agent.data.candles import Candles
from smc_agent.smc.config import SwingLength
from smc_agent.strategy.registry import signal_engine

SETTINGS = """
[risk]
count_costs = false                       # sizes from the stop distance alone: risk = equity x risk_per_trade
max_leverage = { crypto_spot = 10 }
max_total_exposure = 30

[analysis]
min_rr = 2.5

[symbols.EURUSD.analysis]
min_rr = 1.5
entry_smc = { internal = { left = 3, right = 3 } }

[symbols.EURUSD.risk]
risk_per_trade = 0.02
max_trades_per_day = 7
"""


def _wave(symbol: str, n: int = 600) -> Candles:
    """Minute candles on a slow sine wave around 100: an SMA cross trades it every swing."""
    close = [100 + 5 * math.sin(i / 25) for i in range(n)]
    opens = [close[0], *close[:-1]]
    high = [max(o, c) + 0.05 for o, c in zip(opens, close, strict=True)]
    low = [min(o, c) - 0.05 for o, c in zip(opens, close, strict=True)]
    times = [i * 60_000 for i in range(n)]
    return Candles.from_arrays(times, opens, high, low, close, [1.0] * n, symbol=symbol, timeframe="1m")


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS, encoding="utf-8")
    return path


def _systems(monkeypatch: pytest.MonkeyPatch) -> list[System]:
    """The systems the backtest runner builds, kept for a look inside."""
    built: list[System] = []
    original = runner.build

    def keep(*args: Any, **kwargs: Any) -> System:
        system = original(*args, **kwargs)
        built.append(system)
        return system

    monkeypatch.setattr(runner, "build", keep)
    return built


def test_a_symbols_analysis_settings_reach_its_smc_strategy_only(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(settings_file)
    systems = _systems(monkeypatch)
    run_backtest([_wave("EURUSD"), _wave("GBPUSD")], "smc", settings.engine_settings(), htfs=("5m",),
                 analysis=settings.analysis_config())  # fmt: skip
    (system,) = systems
    eurusd = signal_engine(system.kernel.strategy("EURUSD")).config
    gbpusd = signal_engine(system.kernel.strategy("GBPUSD")).config
    assert (eurusd.min_rr, eurusd.entry_smc.internal) == (1.5, SwingLength(3, 3))
    assert (gbpusd.min_rr, gbpusd.entry_smc.internal) == (2.5, SwingLength(5, 5))
    # What a symbol does not set is the global's.
    assert eurusd.a_plus == gbpusd.a_plus == 0.8


def test_a_symbols_risk_limits_size_its_entries_only(settings_file: Path) -> None:
    engine = load_settings(settings_file).engine_settings()
    result = run_backtest([_wave("EURUSD"), _wave("GBPUSD")], "sma_cross", engine)
    first = {symbol: next(t for t in result.trades if t.symbol == symbol) for symbol in ("EURUSD", "GBPUSD")}
    # Both enter on the same candle with the same 10000 of equity and the same stop: EURUSD risks its own
    # 2%, GBPUSD the account's 1% (give or take the slippage of the fill).
    assert first["EURUSD"].entry_ms == first["GBPUSD"].entry_ms
    assert first["EURUSD"].risk == pytest.approx(Decimal(200), rel=Decimal("0.01"))
    assert first["GBPUSD"].risk == pytest.approx(Decimal(100), rel=Decimal("0.01"))


def test_the_grid_of_optimize_keeps_the_symbols_own_settings(settings_file: Path) -> None:
    settings = load_settings(settings_file)
    spec = StrategySpec("smc", "EURUSD", "1m", ("5m",), None, settings.engine_settings(), settings.analysis_config())
    strategy, engine = spec.build({"expiry_candles": 12})
    config = signal_engine(strategy).config
    assert (config.min_rr, config.expiry_candles, config.entry_smc.internal) == (1.5, 12, SwingLength(3, 3))
    # The gate admits what the symbol's analysis admits, and keeps the symbol's own limits.
    limits = engine.risk.for_symbol("EURUSD")
    assert (limits.min_rr, limits.risk_per_trade, limits.max_trades_per_day) == (Decimal("1.5"), Decimal("0.02"), 7)
    other = StrategySpec("smc", "GBPUSD", "1m", ("5m",), None, settings.engine_settings(), settings.analysis_config())
    assert signal_engine(other.build({})[0]).config.min_rr == 2.5
    assert other.build({})[1].risk.for_symbol("GBPUSD").min_rr == Decimal("2.5")


@pytest.mark.parametrize(
    "command",
    [
        ["backtest", "--demo"],
        ["optimize", "--demo", "--grid", "expiry_candles=12", "--workers", "1"],
        ["signals", "--demo"],
        ["bias", "--demo"],
        ["analyze", "--demo"],
    ],
)
def test_the_commands_read_config_and_profile(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "settings.toml"
    path.write_text("[risk]\nmin_rr = 2\n\n[profiles.prod.risk]\nbogus = 1\n", encoding="utf-8")
    bad = CliRunner().invoke(app, [*command, "--config", str(path), "--profile", "prod"])
    assert bad.exit_code == 2, bad.output
    assert f"{path}: key profiles.prod.risk.bogus: unknown setting" in bad.stderr
    unknown = CliRunner().invoke(app, [*command, "--config", str(path), "--profile", "staging"])
    assert unknown.exit_code == 2
    assert "no [profiles.staging] table in the file (it has: prod)" in unknown.stderr
    assert "Traceback" not in bad.stderr + unknown.stderr
