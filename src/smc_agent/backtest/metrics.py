"""The numbers a trader judges a backtest by, computed from its trades and equity curve.

Pure functions of :class:`~smc_agent.backtest.trades.Trade` and
:class:`~smc_agent.backtest.trades.EquityPoint` records: no I/O, no clock, so the same result
gives the same numbers in a test, the CLI, the API and a report. Every quantity that has no
meaning for the input (a win rate without trades, a Sharpe ratio of a flat curve) is ``None``
rather than zero or infinity, so a report can print "n/a" instead of a misleading number.

Definitions (``_pct`` fields are percentages, the other ratios are fractions):

- ``win_rate``: share of trades with net ``pnl > 0`` (break-even is not a win).
- ``profit_factor``: sum of winning pnl / |sum of losing pnl|; ``None`` when no trade lost.
- ``expectancy_r``: mean ``r_multiple``; ``expectancy``: mean ``pnl`` (money). ``avg_win_r`` and
  ``avg_loss_r``: mean R of the winners and of the other trades; ``total_r``: the sum of R.
- ``net_profit_pct``: ``final / initial_balance - 1`` where ``final`` is the last equity point
  (``initial_balance`` + the trades' pnl when there is no curve).
- ``cagr_pct``: ``(final / initial_balance) ** (365 / days) - 1`` where ``days`` runs from the first
  to the last equity time; ``None`` under one day, where annualising is noise.
- ``max_drawdown_pct``: the largest fall from a running peak of the equity curve, relative to that
  peak. ``max_drawdown_days``: the longest time from a peak until equity is back at or above it, or
  until the end of the curve if it never is (it need not be the episode of the deepest drawdown).
- ``exposure_pct``: share of equity points with ``exposure > 0``.
- ``buy_and_hold_pct``: ``prices_last / prices_first - 1``.
- ``sharpe``, ``sortino``, ``calmar``: see :func:`daily_returns`, :func:`sharpe_ratio`,
  :func:`sortino_ratio`; Calmar is ``cagr_pct / max_drawdown_pct``.
- ``by_setup``, ``by_side``, ``by_session``: :class:`GroupStats` per name.

>>> from decimal import Decimal as D
>>> m = compute_metrics([], [EquityPoint(0, D(100))], initial_balance=D(100), prices_first=D(1), prices_last=D(2))
>>> m.trades, m.win_rate, m.buy_and_hold_pct, m.sharpe
(0, None, 100.0, None)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from smc_agent.backtest.trades import EquityPoint, Trade, as_curve

__all__ = [
    "DAY_MS",
    "GroupStats",
    "Metrics",
    "compute_metrics",
    "daily_returns",
    "group_stats",
    "sharpe_ratio",
    "sortino_ratio",
]

DAY_MS = 86_400_000
FloatArray = npt.NDArray[np.float64]
Number = Decimal | float | int
JsonValue = float | int | str | None | dict[str, "JsonValue"]


def _round(value: Number | None) -> float | int | None:
    """Floats rounded to 10 significant digits, so JSON output does not churn in the last bits."""
    if value is None or isinstance(value, int):
        return value
    return float(f"{float(value):.10g}")


@dataclass(frozen=True, slots=True)
class GroupStats:
    """The four numbers of one slice of the trades (one setup, side or session)."""

    trades: int
    win_rate: float
    expectancy_r: float
    net_pnl: Decimal

    def to_dict(self) -> dict[str, JsonValue]:
        return {f.name: _round(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every summary number of one backtest; the module docstring defines each field."""

    trades: int
    wins: int
    win_rate: float | None
    profit_factor: float | None
    expectancy_r: float | None
    expectancy: Decimal | None
    avg_win_r: float | None
    avg_loss_r: float | None
    total_r: float
    net_profit: Decimal
    net_profit_pct: float
    cagr_pct: float | None
    max_drawdown_pct: float
    max_drawdown_days: float
    exposure_pct: float | None
    fees: Decimal
    buy_and_hold_pct: float
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    by_setup: dict[str, GroupStats]
    by_side: dict[str, GroupStats]
    by_session: dict[str, GroupStats]

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-ready: numbers as floats rounded to 10 significant digits, groups as nested dicts."""
        out: dict[str, JsonValue] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                out[f.name] = {name: stats.to_dict() for name, stats in sorted(value.items())}
            else:
                out[f.name] = _round(value)
        return out


def compute_metrics(
    trades: Sequence[Trade],
    equity: Sequence[EquityPoint],
    *,
    initial_balance: Decimal,
    prices_first: Number,
    prices_last: Number,
    periods_per_year: float = 365,
) -> Metrics:
    """Summarise a backtest. ``equity`` must be in time order and should start at ``initial_balance``.

    ``prices_first`` and ``prices_last`` are the market's prices at the start and end of the test,
    for the buy-and-hold comparison. ``periods_per_year`` annualises the daily Sharpe and Sortino
    ratios: 365 for crypto, which trades every day; 252 for markets that close at weekends.
    """
    if initial_balance <= 0:
        raise ValueError(f"initial_balance must be > 0, got {initial_balance}")
    if prices_first <= 0:
        raise ValueError(f"prices_first must be > 0, got {prices_first}")
    curve = as_curve(equity)
    times = np.array(curve.times, dtype=np.int64)
    if np.any(np.diff(times) < 0):
        raise ValueError("equity points must be in time order")
    first, last = (curve[0].equity, curve[-1].equity) if curve else (initial_balance, initial_balance)
    if first <= 0:
        raise ValueError(f"the equity curve must start above zero, got {first}")
    values = curve.floats()

    pnls = [t.pnl for t in trades]
    r_values = [float(t.r_multiple) for t in trades]
    wins = [t for t in trades if t.is_win]
    losses = [t for t in trades if not t.is_win]
    gross_profit = sum((t.pnl for t in wins), Decimal(0))
    gross_loss = -sum((t.pnl for t in trades if t.pnl < 0), Decimal(0))
    n = len(trades)

    net_profit = (last - initial_balance) if curve else sum(pnls, Decimal(0))
    growth = float((initial_balance + net_profit) / initial_balance)
    span_days = float(times[-1] - times[0]) / DAY_MS if curve else 0.0
    cagr_pct = (growth ** (365.0 / span_days) - 1.0) * 100.0 if span_days >= 1.0 and growth > 0 else None
    max_dd_pct, max_dd_days = _drawdown(times, values)
    returns = daily_returns(times, values)

    return Metrics(
        trades=n,
        wins=len(wins),
        win_rate=len(wins) / n if n else None,
        profit_factor=float(gross_profit / gross_loss) if gross_loss > 0 else None,
        expectancy_r=_mean(r_values),
        expectancy=sum(pnls, Decimal(0)) / n if n else None,
        avg_win_r=_mean([float(t.r_multiple) for t in wins]),
        avg_loss_r=_mean([float(t.r_multiple) for t in losses]),
        total_r=math.fsum(r_values),
        net_profit=net_profit,
        net_profit_pct=(growth - 1.0) * 100.0,
        cagr_pct=cagr_pct,
        max_drawdown_pct=max_dd_pct,
        max_drawdown_days=max_dd_days,
        exposure_pct=curve.exposed() / len(curve) * 100.0 if curve else None,
        fees=sum((t.fees for t in trades), Decimal(0)),
        buy_and_hold_pct=(float(prices_last) / float(prices_first) - 1.0) * 100.0,
        sharpe=sharpe_ratio(returns, periods_per_year),
        sortino=sortino_ratio(returns, periods_per_year),
        calmar=cagr_pct / max_dd_pct if cagr_pct is not None and max_dd_pct > 0 else None,
        by_setup=group_stats(trades, lambda t: t.setup),
        by_side=group_stats(trades, lambda t: t.side.value),
        by_session=group_stats(trades, lambda t: t.session),
    )


def group_stats(trades: Iterable[Trade], key: Callable[[Trade], str]) -> dict[str, GroupStats]:
    """Trades, win rate, expectancy in R and net pnl for each value of ``key``, sorted by name."""
    groups: dict[str, list[Trade]] = {}
    for trade in trades:
        groups.setdefault(key(trade), []).append(trade)
    return {
        name: GroupStats(
            trades=len(group),
            win_rate=sum(t.is_win for t in group) / len(group),
            expectancy_r=math.fsum(float(t.r_multiple) for t in group) / len(group),
            net_pnl=sum((t.pnl for t in group), Decimal(0)),
        )
        for name, group in sorted(groups.items())
    }


def daily_returns(times: npt.ArrayLike, equity: npt.ArrayLike) -> FloatArray:
    """Simple returns of the equity curve sampled at the last point of each UTC day.

    Days are ``time_ms // 86_400_000``. Only days that have a point count; a day without one is
    not filled in, so the returns are those of the curve's own days (a crypto backtest records
    every day; a forex one skips weekends, to be annualised with 252). ``k`` days give ``k - 1``
    returns ``e[d] / e[d-1] - 1``.
    """
    t = np.asarray(times, dtype=np.int64)
    e = np.asarray(equity, dtype=np.float64)
    if t.size == 0:
        return np.empty(0, dtype=np.float64)
    day = t // DAY_MS
    last_of_day = np.flatnonzero(np.append(day[1:] != day[:-1], True))
    closes = e[last_of_day]
    return np.asarray(closes[1:] / closes[:-1] - 1.0, dtype=np.float64)


def sharpe_ratio(returns: FloatArray, periods_per_year: float = 365) -> float | None:
    """``mean(r) / std(r, ddof=1) * sqrt(periods_per_year)``, risk-free rate 0.

    ``None`` with fewer than two returns or when the returns do not vary (a flat curve, or a
    constant return, whose ratio would be a division by rounding noise).
    """
    if returns.size < 2:
        return None
    mean = float(np.mean(returns))
    std = float(np.std(returns, ddof=1))
    if std <= 1e-12 * abs(mean) or std == 0.0:
        return None
    return mean / std * math.sqrt(periods_per_year)


def sortino_ratio(returns: FloatArray, periods_per_year: float = 365) -> float | None:
    """``mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(periods_per_year)``, risk-free rate 0.

    The downside deviation averages over *all* days, the up days counting as zero, so a strategy
    with rare losses is not punished as if every day were a loss. ``None`` with fewer than two
    returns or no down day.
    """
    if returns.size < 2:
        return None
    downside = math.sqrt(float(np.mean(np.minimum(returns, 0.0) ** 2)))
    if downside == 0.0:
        return None
    return float(np.mean(returns)) / downside * math.sqrt(periods_per_year)


def _drawdown(times: npt.NDArray[np.int64], equity: FloatArray) -> tuple[float, float]:
    """Maximum drawdown in percent of the running peak, and the longest drawdown in days.

    A point is "at a peak" when it equals the running maximum. A drawdown lasts from one such
    point until the next; after the last one, until the end of the curve.
    """
    if equity.size == 0:
        return 0.0, 0.0
    peak = np.maximum.accumulate(equity)
    max_dd = float(np.max((peak - equity) / peak)) * 100.0
    at_peak = np.flatnonzero(equity >= peak)
    ends = np.append(at_peak[1:], equity.size - 1)
    in_drawdown = np.append(np.diff(at_peak) > 1, at_peak[-1] < equity.size - 1)
    durations = (times[ends] - times[at_peak])[in_drawdown]
    longest = float(durations.max()) / DAY_MS if durations.size else 0.0
    return max_dd, longest


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
