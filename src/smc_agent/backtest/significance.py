"""Is the edge real? Where a strategy falls among random entries, and how bad its drawdown could get.

A good-looking backtest can come from the market (a bull run makes every long look clever) or from
the order in which trades happened to arrive. Two tests separate those from the strategy's skill:

**Random-entry baseline.** :mod:`smc_agent.backtest.baseline` runs random entries with the strategy's
own trade plans through the same engine, once per seed; :func:`compare_with_random` says where the
strategy's total R falls among the seeds' totals (:class:`Baseline`). If it is no better than most
random runs, its entries add nothing over the market drift and the trade management.

**Monte Carlo reshuffle** (:func:`monte_carlo_drawdowns`). The same trades in another order give
the same profit but a different equity path; the distribution of maximum drawdowns over random
orders says how much of the backtest's drawdown was luck.

Both are pure functions of numbers (no engine, no files), so hand-made totals test them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from smc_agent.backtest.trades import Trade
from smc_agent.data.candles import FloatArray, IntArray

__all__ = ["Baseline", "EdgeTests", "MonteCarlo", "compare_with_random", "monte_carlo_drawdowns", "summary"]

# Two drawdowns closer than this (in percentage points) are the same drawdown, not rounding noise.
_DRAWDOWN_TOLERANCE_PCT = 1e-9
# Rows of the permutation matrix per chunk, so memory stays bounded for long trade lists.
_MC_CELLS = 1_000_000
_QUANTILES = {"p5": 5, "p25": 25, "p50": 50, "p75": 75, "p95": 95}


def summary(values: npt.ArrayLike) -> dict[str, float]:
    """Mean, min, max and the 5/25/50/75/95th percentiles (numpy's default linear interpolation).

    >>> summary([1, 2, 3, 4, 5])
    {'mean': 3.0, 'min': 1.0, 'p5': 1.2, 'p25': 2.0, 'p50': 3.0, 'p75': 4.0, 'p95': 4.8, 'max': 5.0}
    """
    array = np.asarray(values, dtype=np.float64)
    points = np.percentile(array, list(_QUANTILES.values()))
    return {
        "mean": float(np.mean(array)), "min": float(np.min(array)),
        **{name: float(v) for name, v in zip(_QUANTILES, points, strict=True)}, "max": float(np.max(array)),
    }  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class Baseline:
    """The random runs' totals and where the strategy falls among them.

    Run ``k`` is seed ``seed0 + k``. ``total_r[k]`` is the sum of the net R multiples of its trades
    (net of fees, as the strategy's own), ``net_profit[k]`` their net P&L and ``trades[k]`` how many
    closed. The strategy is judged by total R: ``percentile`` is 100 times the share of runs whose
    total R is strictly below the strategy's; ``p_value`` is the share at or above it (one-sided, no
    +1 correction): 1.0 means every random run did at least as well, and a small value is evidence
    of an edge.
    """

    total_r: FloatArray
    net_profit: FloatArray
    trades: IntArray
    strategy_total_r: float
    strategy_net_profit: float
    strategy_trades: int
    percentile: float
    p_value: float
    seed0: int

    @property
    def seeds(self) -> int:
        return int(self.total_r.size)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary: the distributions as mean, min, max and percentiles (docs/api.md)."""
        return {
            "seeds": self.seeds,
            "seed0": self.seed0,
            "measure": "total_r",
            "strategy_trades": self.strategy_trades,
            "strategy_total_r": self.strategy_total_r,
            "strategy_net_profit": self.strategy_net_profit,
            "percentile": self.percentile,
            "p_value": self.p_value,
            "random_total_r": summary(self.total_r),
            "random_net_profit": summary(self.net_profit),
            "random_trades": {"min": int(np.min(self.trades)), "max": int(np.max(self.trades))},
        }


def compare_with_random(
    total_r: npt.ArrayLike,
    net_profit: npt.ArrayLike,
    trades: npt.ArrayLike,
    *,
    strategy_total_r: float,
    strategy_net_profit: float,
    strategy_trades: int,
    seed0: int,
) -> Baseline:
    """Where the strategy's total R falls among the random runs' totals (one value per seed).

    >>> b = compare_with_random([-2.0, 0.5, 1.0, 3.0], [0, 0, 0, 0], [4, 4, 4, 4], strategy_total_r=1.0,
    ...                         strategy_net_profit=10.0, strategy_trades=4, seed0=0)
    >>> b.percentile, b.p_value
    (50.0, 0.5)
    """
    totals = np.asarray(total_r, dtype=np.float64)
    if totals.ndim != 1 or totals.size < 1:
        raise ValueError("the baseline needs at least one random run")
    return Baseline(
        total_r=totals,
        net_profit=np.asarray(net_profit, dtype=np.float64),
        trades=np.asarray(trades, dtype=np.int64),
        strategy_total_r=strategy_total_r,
        strategy_net_profit=strategy_net_profit,
        strategy_trades=strategy_trades,
        percentile=float(np.mean(totals < strategy_total_r)) * 100.0,
        p_value=float(np.mean(totals >= strategy_total_r)),
        seed0=seed0,
    )


@dataclass(frozen=True, slots=True, eq=False)
class MonteCarlo:
    """Maximum drawdowns (percent of the running peak) of reshuffled trade orders.

    ``p5``, ``p50`` and ``p95`` are percentiles of ``drawdowns_pct`` (numpy's default linear
    interpolation). ``prob_exceeds`` is the share of runs whose drawdown is larger than the
    strategy's own, which is that of the trades in exit-time order on the same trade-by-trade
    equity curve (so not the mark-to-market drawdown of the backtest's equity points).
    """

    drawdowns_pct: FloatArray
    strategy_drawdown_pct: float
    p5: float
    p50: float
    p95: float
    prob_exceeds: float
    seed: int

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the drawdowns as mean, min, max and percentiles, quartiles among them (docs/api.md)."""
        return {
            "runs": int(self.drawdowns_pct.size),
            "seed": self.seed,
            "strategy_drawdown_pct": self.strategy_drawdown_pct,
            "drawdown_pct": summary(self.drawdowns_pct),
            "prob_exceeds": self.prob_exceeds,
        }


@dataclass(frozen=True, slots=True, eq=False)
class EdgeTests:
    """Both tests of one backtest; None where a test could not be made (the reason says why)."""

    baseline: Baseline | None
    monte_carlo: MonteCarlo | None
    baseline_skipped: str = ""

    def to_dict(self) -> dict[str, object]:
        """``{"baseline", "monte_carlo"}`` as ``backtest --json`` adds them (null where not made)."""
        return {
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "monte_carlo": None if self.monte_carlo is None else self.monte_carlo.to_dict(),
        }


def monte_carlo_drawdowns(trades: Sequence[Trade], *, runs: int, seed: int, initial_balance: Decimal) -> MonteCarlo:
    """Max drawdowns of ``runs`` random orders of the trades' pnl, from ``initial_balance``.

    Each run's equity curve is ``initial_balance`` followed by the running sum of the shuffled pnl;
    its drawdown is the largest fall from a running peak, in percent of that peak. A run "exceeds"
    the strategy when its drawdown is larger by more than 1e-9 percentage points (equal drawdowns
    reached in another order differ only by rounding).
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    if initial_balance <= 0:
        raise ValueError(f"initial_balance must be > 0, got {initial_balance}")
    ordered = sorted(trades, key=lambda t: (t.exit_ms, t.entry_ms))
    pnl = np.array([float(t.pnl) for t in ordered], dtype=np.float64)
    start = float(initial_balance)
    own = float(_max_drawdown_pct(pnl[None, :], start)[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, _MC_CELLS // max(1, pnl.size))
    parts = []
    for done in range(0, runs, chunk):
        rows = min(chunk, runs - done)
        parts.append(_max_drawdown_pct(rng.permuted(np.tile(pnl, (rows, 1)), axis=1), start))
    drawdowns = np.concatenate(parts)
    p5, p50, p95 = (float(v) for v in np.percentile(drawdowns, [5, 50, 95]))
    return MonteCarlo(
        drawdowns_pct=drawdowns,
        strategy_drawdown_pct=own,
        p5=p5,
        p50=p50,
        p95=p95,
        prob_exceeds=float(np.mean(drawdowns > own + _DRAWDOWN_TOLERANCE_PCT)),
        seed=seed,
    )


def _max_drawdown_pct(pnl_rows: FloatArray, start: float) -> FloatArray:
    """Max drawdown (percent of the running peak) of each row's curve ``start, start + cumsum(row)``."""
    curve = np.concatenate([np.full((pnl_rows.shape[0], 1), start), start + np.cumsum(pnl_rows, axis=1)], axis=1)
    peak = np.maximum.accumulate(curve, axis=1)
    return np.asarray(np.max((peak - curve) / peak, axis=1) * 100.0, dtype=np.float64)
