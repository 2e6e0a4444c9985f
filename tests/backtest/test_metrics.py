"""Backtest metrics against numbers worked out by hand from the definitions in the module docstring."""

from __future__ import annotations

import json
import math
from decimal import Decimal as D

import numpy as np
import pytest

from smc_agent.backtest.metrics import (
    DAY_MS,
    GroupStats,
    Metrics,
    compute_metrics,
    daily_returns,
    sharpe_ratio,
    sortino_ratio,
)
from smc_agent.backtest.trades import EquityPoint, Trade
from smc_agent.model.enums import Side

HOUR_MS = 3_600_000


def trade(
    pnl: str,
    r: str,
    *,
    setup: str = "ob",
    side: Side = Side.BUY,
    session: str = "london",
    fees: str = "0",
    tid: str = "t",
) -> Trade:
    return Trade(
        id=tid,
        symbol="BTC-PERP",
        side=side,
        setup=setup,
        session=session,
        entry_ms=0,
        exit_ms=HOUR_MS,
        entry_price=D(100),
        exit_price=D(101),
        quantity=D(1),
        risk=D(10),
        pnl=D(pnl),
        fees=D(fees),
        r_multiple=D(r),
    )


def point(day: float, equity: str, exposure: str = "0") -> EquityPoint:
    return EquityPoint(round(day * DAY_MS), D(equity), D(exposure))


def metrics(
    trades: list[Trade], equity: list[EquityPoint], initial: str = "100", periods_per_year: float = 365
) -> Metrics:
    return compute_metrics(
        trades,
        equity,
        initial_balance=D(initial),
        prices_first=D(100),
        prices_last=D(150),
        periods_per_year=periods_per_year,
    )


THREE = [
    trade("20", "2", setup="ob", side=Side.BUY, session="london", fees="1", tid="a"),
    trade("-10", "-1", setup="fvg", side=Side.SELL, session="ny", fees="1", tid="b"),
    trade("5", "0.5", setup="ob", side=Side.BUY, session="london", fees="1", tid="c"),
]


def test_trade_statistics_of_three_trades() -> None:
    m = metrics(THREE, [point(0, "100"), point(1, "115")])
    assert m.trades == 3
    assert m.wins == 2
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.profit_factor == pytest.approx(25 / 10)
    assert m.expectancy_r == pytest.approx((2 - 1 + 0.5) / 3)
    assert m.expectancy == D(15) / 3
    assert m.avg_win_r == pytest.approx(1.25)
    assert m.avg_loss_r == pytest.approx(-1.0)
    assert m.total_r == pytest.approx(1.5)
    assert m.fees == D(3)
    assert m.net_profit == D(15)
    assert m.net_profit_pct == pytest.approx(15.0)
    assert m.buy_and_hold_pct == pytest.approx(50.0)


def test_breakdowns_by_setup_side_and_session() -> None:
    m = metrics(THREE, [])
    ob = GroupStats(trades=2, win_rate=1.0, expectancy_r=1.25, net_pnl=D(25))
    fvg = GroupStats(trades=1, win_rate=0.0, expectancy_r=-1.0, net_pnl=D(-10))
    assert m.by_setup == {"fvg": fvg, "ob": ob}
    assert m.by_side == {"buy": ob, "sell": fvg}
    assert m.by_session == {"london": ob, "ny": fvg}


def test_drawdown_depth_and_longest_duration() -> None:
    # Peaks 100 (day 0), 120 (day 1), 125 (day 5). The fall to 90 is 30/120 = 25 %, recovered on
    # day 5: 4 days. The final fall to 100 (20 %) lasts from day 5 to the end on day 6: 1 day.
    curve = [point(0, "100"), point(1, "120"), point(2, "90"), point(3, "110"), point(5, "125"), point(6, "100")]
    m = metrics([], curve)
    assert m.max_drawdown_pct == pytest.approx(25.0)
    assert m.max_drawdown_days == pytest.approx(4.0)


def test_unrecovered_drawdown_runs_to_the_end() -> None:
    m = metrics([], [point(0, "100"), point(1, "90"), point(10, "95")])
    assert m.max_drawdown_pct == pytest.approx(10.0)
    assert m.max_drawdown_days == pytest.approx(10.0)


def test_equal_high_counts_as_recovery() -> None:
    m = metrics([], [point(0, "100"), point(1, "80"), point(3, "100"), point(4, "100")])
    assert m.max_drawdown_days == pytest.approx(3.0)


def test_daily_ratios_on_a_three_day_series() -> None:
    # Last value of each UTC day: 100 (day 0), 110 (day 1; the 130 at 03:00 is not the close), 104.5.
    curve = [
        point(0, "100", "0"),
        point(1 + 3 / 24, "130", "50"),
        point(1 + 23 / 24, "110", "50"),
        point(2.5, "104.5", "0"),
    ]
    m = metrics([], curve)
    r1, r2 = 0.10, 104.5 / 110 - 1  # = -0.05
    mean = (r1 + r2) / 2
    std = math.sqrt(((r1 - mean) ** 2 + (r2 - mean) ** 2) / (2 - 1))
    downside = math.sqrt((0.0 + r2**2) / 2)
    assert m.sharpe == pytest.approx(mean / std * math.sqrt(365))
    assert m.sharpe == pytest.approx(0.025 / math.sqrt(0.01125) * math.sqrt(365))
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(365))
    cagr_pct = (1.045 ** (365 / 2.5) - 1) * 100
    drawdown_pct = (130 - 104.5) / 130 * 100
    assert m.cagr_pct == pytest.approx(cagr_pct)
    assert m.max_drawdown_pct == pytest.approx(drawdown_pct)
    assert m.max_drawdown_days == pytest.approx(33 / 24)  # day 1 03:00 to day 2 12:00, not recovered
    assert m.calmar == pytest.approx(cagr_pct / drawdown_pct)
    assert m.exposure_pct == pytest.approx(50.0)
    assert m.net_profit_pct == pytest.approx(4.5)


def test_annualisation_factor_is_a_parameter() -> None:
    curve = [point(0, "100"), point(1, "110"), point(2, "104.5")]
    m365 = metrics([], curve)
    m252 = metrics([], curve, periods_per_year=252)
    assert m365.sharpe is not None
    assert m252.sharpe == pytest.approx(m365.sharpe * math.sqrt(252 / 365))


def test_daily_returns_skip_days_without_points() -> None:
    returns = daily_returns([0, 3 * DAY_MS], [100.0, 120.0])
    np.testing.assert_allclose(returns, [0.2])
    assert daily_returns([], []).size == 0


def test_no_trades_and_no_curve() -> None:
    m = metrics([], [])
    assert (m.trades, m.wins, m.total_r, m.net_profit, m.fees) == (0, 0, 0.0, D(0), D(0))
    assert m.win_rate is m.profit_factor is m.expectancy_r is m.expectancy is None
    assert m.avg_win_r is m.avg_loss_r is m.cagr_pct is m.exposure_pct is None
    assert m.sharpe is m.sortino is m.calmar is None
    assert (m.max_drawdown_pct, m.max_drawdown_days, m.net_profit_pct) == (0.0, 0.0, 0.0)
    assert m.by_setup == m.by_side == m.by_session == {}
    json.dumps(m.to_dict())


def test_one_losing_trade_without_curve_uses_trade_pnl() -> None:
    m = metrics([trade("-10", "-1")], [])
    assert m.win_rate == 0.0
    assert m.profit_factor == 0.0
    assert m.avg_win_r is None
    assert m.net_profit == D(-10)
    assert m.net_profit_pct == pytest.approx(-10.0)


def test_all_winners_have_no_profit_factor() -> None:
    m = metrics([trade("10", "1"), trade("30", "3")], [point(0, "100"), point(1, "140")])
    assert m.win_rate == 1.0
    assert m.profit_factor is None
    assert m.avg_loss_r is None


def test_break_even_trade_is_neither_win_nor_loss_in_profit_factor() -> None:
    m = metrics([trade("10", "1"), trade("0", "0"), trade("-5", "-0.5")], [])
    assert m.win_rate == pytest.approx(1 / 3)
    assert m.profit_factor == pytest.approx(2.0)
    assert m.avg_loss_r == pytest.approx(-0.25)  # the non-winners: 0 and -0.5


def test_flat_equity_has_no_sharpe_sortino_or_calmar() -> None:
    m = metrics([], [point(d, "100") for d in range(5)])
    assert m.sharpe is m.sortino is m.calmar is None
    assert m.cagr_pct == 0.0
    assert (m.max_drawdown_pct, m.max_drawdown_days) == (0.0, 0.0)


def test_constant_growth_has_no_sharpe() -> None:
    m = metrics([], [point(0, "100"), point(1, "110"), point(2, "121"), point(3, "133.1")])
    assert m.sharpe is None
    assert m.sortino is None  # no down day


def test_ratio_helpers_need_two_returns() -> None:
    one = np.array([0.1])
    assert sharpe_ratio(one) is None
    assert sortino_ratio(one) is None


def test_cagr_needs_a_day() -> None:
    m = metrics([], [point(0, "100"), point(0.5, "110")])
    assert m.cagr_pct is None
    assert m.calmar is None
    assert m.net_profit_pct == pytest.approx(10.0)


def test_to_dict_rounds_to_ten_significant_digits() -> None:
    d = metrics(THREE, [point(0, "100"), point(1, "115")]).to_dict()
    assert d["win_rate"] == 0.6666666667
    assert d["expectancy"] == 5.0
    assert d["trades"] == 3
    assert d["by_setup"] == {
        "fvg": {"trades": 1, "win_rate": 0.0, "expectancy_r": -1.0, "net_pnl": -10.0},
        "ob": {"trades": 2, "win_rate": 1.0, "expectancy_r": 1.25, "net_pnl": 25.0},
    }
    assert json.loads(json.dumps(d)) == d


def test_bad_inputs_are_rejected_with_a_reason() -> None:
    with pytest.raises(ValueError, match="time order"):
        metrics([], [point(1, "100"), point(0, "100")])
    with pytest.raises(ValueError, match="initial_balance"):
        metrics([], [], initial="0")
    with pytest.raises(ValueError, match="exit_ms"):
        Trade("x", "S", Side.BUY, "s", "none", 10, 5, D(1), D(1), D(1), D(1), D(0), D(0), D(0))
    with pytest.raises(ValueError, match="exposure"):
        EquityPoint(0, D(1), D(-1))
