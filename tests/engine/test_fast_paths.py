"""The trading core's shortcuts give exactly what the plain computation gives, on real candles.

Each shortcut is checked against a reference that skips it: the risk gate's float pre-check against a
gate that reads exact equity after every candle, the lazily valued equity curve against the
portfolio's own valuation at every close, one-quantize rounding against divide-round-multiply, the
and the session namer against datetime arithmetic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from smc_agent.backtest.recorder import Recorder, SessionNamer
from smc_agent.bootstrap import EngineSettings, Mode, build
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.engine.portfolio import Portfolio
from smc_agent.engine.risk import RiskGate
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.events import CandleClosed, TradingStateChanged
from smc_agent.model.instrument import Instrument, Rounding
from smc_agent.smc.config import DEFAULT_KILLZONES, DEFAULT_SESSIONS, SessionWindow
from smc_agent.strategy.sma_cross import SmaCross

BTC = "crypto/BTC-PERP_1m_2022-01.csv"
# Tight limits, so that the day's loss limit and the drawdown kill switch both trip on real candles.
TIGHT = RiskConfig(
    risk_per_trade=D("0.005"), max_trades_per_day=10**6, loss_cooldown_minutes=0,
    daily_loss_limit=D("0.01"), max_drawdown=D("0.04"),
)  # fmt: skip


def _btc(shared_data_path: Callable[[str], Path], rows: int = 20_000) -> Candles:
    return load_candles(shared_data_path(BTC))[:rows]


def _run(candles: Candles, settings: EngineSettings) -> tuple[list[Any], Recorder, Portfolio, list[tuple[Any, ...]]]:
    """Every event, the recorder, the portfolio, and the portfolio's exact valuation after each candle."""
    system = build(Mode.BACKTEST, candles, lambda c: SmaCross(c.symbol), settings)
    seen: list[Any] = []
    system.bus.subscribe(seen.append)
    recorder = Recorder(system.bus, settings.initial_balance, {candles.symbol: candles.timeframe},
                        (int(candles.time[0]), 1.0))  # fmt: skip
    valuations: list[tuple[Any, ...]] = []
    on_candle = system.kernel.on_candle

    def candle_then_value(candle: CandleClosed) -> None:
        on_candle(candle)
        valuations.append((candle.event_ms, *system.portfolio.valuation()))

    system.kernel.on_candle = candle_then_value  # type: ignore[method-assign]
    system.run()
    recorder.finish()
    return seen, recorder, system.portfolio, valuations


def test_the_risk_gates_float_precheck_changes_no_decision(
    shared_data_path: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    candles = _btc(shared_data_path)
    exact_readings = 0
    observe = RiskGate._observe

    def counted(gate: RiskGate, now: int) -> D:
        nonlocal exact_readings
        exact_readings += 1
        return observe(gate, now)

    monkeypatch.setattr(RiskGate, "_observe", counted)
    fast, _, _, _ = _run(candles, EngineSettings(risk=TIGHT))
    assert exact_readings < len(candles) // 2  # the shortcut did serve most candles
    # A NaN approximation is never inside the quiet band, so this gate reads exact equity every candle.
    monkeypatch.setattr(Portfolio, "approx_equity", lambda self: (math.nan, 0.0))
    exact, _, _, _ = _run(candles, EngineSettings(risk=TIGHT))
    assert fast == exact
    states = [e.new for e in fast if isinstance(e, TradingStateChanged)]
    assert "reducing" in states  # the day's limit tripped ...
    assert "halted" in states  # ... and so did the kill switch, at the same candles in both runs


def test_the_equity_curve_equals_the_portfolio_at_every_close(shared_data_path: Callable[[str], Path]) -> None:
    candles = _btc(shared_data_path, 8_000)
    unlimited = RiskConfig(max_trades_per_day=10**6, loss_cooldown_minutes=0)
    _, recorder, _, valuations = _run(candles, EngineSettings(risk=unlimited))
    curve = recorder.equity
    assert len(recorder.trades) > 100
    points = list(curve)[1:]  # after the opening point
    assert [(p.time_ms, p.equity, p.exposure) for p in points] == valuations
    assert [str(p.equity) for p in points] == [str(v[1]) for v in valuations]  # the same digits, too
    floats = curve.floats()[1:]
    assert floats == pytest.approx([float(v[1]) for v in valuations], rel=1e-12)
    assert curve.exposed() == sum(1 for p in curve if p.exposure > 0)


@pytest.mark.parametrize("step", ["0.1", "0.00001", "1E-8", "1", "1E+3", "0.25", "1000", "0.5", "0.10", "5"])
def test_rounding_to_a_step_matches_divide_round_multiply(step: str) -> None:
    """One quantize serves steps written as a single 1 (0.01, 1E+3); every step gives the general result."""
    instrument = Instrument("X", D(step), D(step))
    rng = random.Random(step)
    for _ in range(3000):
        value = (
            D(repr(rng.uniform(-1e5, 1e5)))
            if rng.random() < 0.5
            else D(rng.randint(-(10**7), 10**7)).scaleb(-rng.randint(0, 9))
        )
        for rounding in Rounding:
            steps = (value / D(step)).to_integral_value(rounding=rounding.value)
            expected = (steps * D(step)).quantize(D(step))
            got = instrument.round_price(value, rounding)
            assert (got, str(got)) == (expected, str(expected)), (value, rounding)
        assert str(instrument.round_qty(value)) == str(
            ((value / D(step)).to_integral_value(rounding=Rounding.DOWN.value) * D(step)).quantize(D(step))
        )


def _session_by_datetime(ms: int, windows: tuple[SessionWindow, ...]) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    for window in windows:
        local = moment.astimezone(ZoneInfo(window.tz))
        minute = local.hour * 60 + local.minute
        start, end = window.minutes()
        if (start <= minute < end) if end > start else (minute >= start or minute < end):
            return window.name
    return "none"


def test_session_names_match_datetime_arithmetic_across_daylight_saving() -> None:
    windows = (*DEFAULT_KILLZONES, *DEFAULT_SESSIONS)
    namer = SessionNamer(windows)
    rng = random.Random(7)
    start = int(datetime(2022, 1, 1, tzinfo=UTC).timestamp() * 1000)
    instants = [start + rng.randrange(0, 3 * 365 * 86_400_000) // 60_000 * 60_000 for _ in range(3000)]
    # The hours around the 2023 changes in New York and London, minute by minute.
    for change in (datetime(2023, 3, 12, 7, tzinfo=UTC), datetime(2023, 3, 26, 1, tzinfo=UTC)):
        first = int(change.timestamp() * 1000) - 3 * 3_600_000
        instants += range(first, first + 6 * 3_600_000, 60_000)
    names = [namer(ms) for ms in instants]
    assert names == [_session_by_datetime(ms, windows) for ms in instants]
    assert {"asia", "london", "new_york", "london_kz", "none"} <= set(names)
