"""Is the edge real? Compare a strategy with random entries, and see how bad its drawdown could get.

A good-looking backtest can come from the market (a bull run makes every long look clever) or from
the order in which trades happened to arrive. Two tests separate those from the strategy's skill:

**Random-entry baseline** (:func:`random_entry_baseline`). Each random run keeps everything about
the strategy's trades except *when* they were taken: random trade ``j`` is strategy trade ``j``
moved to an entry candle drawn uniformly from the candles where its holding window still fits
before the end of the data. It keeps the side, the stop distance in price, the planned reward to
risk, the money at risk and the fees (charged as ``fees / risk`` in R). It enters at the close of
its entry candle and is simulated on the following candles by :func:`bracket_r_multiples`. If the
strategy's total R is no better than most random runs, its entries add nothing over the market
drift and the trade management. Runs do not need to avoid overlapping each other.

**Monte Carlo reshuffle** (:func:`monte_carlo_drawdowns`). The same trades in another order give
the same profit but a different equity path; the distribution of maximum drawdowns over random
orders says how much of the backtest's drawdown was luck.

Run ``k`` uses ``numpy.random.default_rng(seed0 + k)``, so a result is reproducible and the first
100 runs of a 1,000-run baseline are the 100 runs of a 100-run one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from smc_agent.backtest.trades import Trade
from smc_agent.data.candles import Candles, FloatArray, IntArray
from smc_agent.data.timeframes import parse_timeframe

__all__ = ["Baseline", "MonteCarlo", "bracket_r_multiples", "monte_carlo_drawdowns", "random_entry_baseline"]

# Two drawdowns closer than this (in percentage points) are the same drawdown, not rounding noise.
_DRAWDOWN_TOLERANCE_PCT = 1e-9
# Rows of the permutation matrix per chunk, so memory stays bounded for long trade lists.
_MC_CELLS = 1_000_000


def _summary(values: FloatArray) -> dict[str, float]:
    p5, p50, p95 = (float(v) for v in np.percentile(values, [5, 50, 95]))
    return {"mean": float(np.mean(values)), "p5": p5, "p50": p50, "p95": p95}


@dataclass(frozen=True, slots=True, eq=False)
class Baseline:
    """The random runs' totals and where the strategy falls among them.

    ``total_r[k]`` and ``net_profit[k]`` are the sums over run ``k``'s trades of net R and of
    ``R * risk``. ``percentile`` is 100 times the share of runs whose total R is strictly below the
    strategy's; ``p_value`` is the share at or above it (one-sided, no +1 correction): 1.0 means
    every random run did at least as well, and a small value is evidence of an edge.
    """

    total_r: FloatArray
    net_profit: FloatArray
    strategy_total_r: float
    strategy_net_profit: float
    percentile: float
    p_value: float
    seed0: int

    @property
    def seeds(self) -> int:
        return int(self.total_r.size)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (the distributions as mean and 5/50/95th percentiles)."""
        return {
            "seeds": self.seeds,
            "seed0": self.seed0,
            "strategy_total_r": self.strategy_total_r,
            "strategy_net_profit": self.strategy_net_profit,
            "percentile": self.percentile,
            "p_value": self.p_value,
            "random_total_r": _summary(self.total_r),
            "random_net_profit": _summary(self.net_profit),
        }


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
        return {
            "runs": int(self.drawdowns_pct.size),
            "seed": self.seed,
            "strategy_drawdown_pct": self.strategy_drawdown_pct,
            "p5": self.p5,
            "p50": self.p50,
            "p95": self.p95,
            "prob_exceeds": self.prob_exceeds,
        }


def random_entry_baseline(candles: Candles, trades: Sequence[Trade], *, seeds: int, seed0: int) -> Baseline:
    """Place the strategy's trades at random entry candles ``seeds`` times and total their R.

    Each trade needs a stop distance (:attr:`Trade.effective_stop_distance`) and ``risk > 0``. A
    trade with ``planned_rr`` exits at the stop or the target, whichever is touched first, or at the
    last candle of the data. A trade without one had no fixed target, so its random copy exits at the
    stop or after the same holding window. The holding window is the trade's holding time in candles
    (rounded up, at least one). The candles should be the trades' market; the symbol is not checked.
    """
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if not trades:
        raise ValueError("the baseline needs at least one strategy trade to mirror")
    n = len(candles)
    sign, stop, rr, risk, fee_r, window = _plan(candles, trades)
    m = len(trades)
    entries = np.empty((seeds, m), dtype=np.int64)
    for k in range(seeds):
        entries[k] = np.random.default_rng(seed0 + k).integers(0, n - window)
    last = np.where(np.isnan(rr), entries + window, n - 1)
    r = bracket_r_multiples(
        candles, entries.ravel(), np.tile(sign, seeds), np.tile(stop, seeds), np.tile(rr, seeds), last.ravel()
    ).reshape(seeds, m)
    r -= fee_r
    total_r = r.sum(axis=1)
    strategy_total_r = math.fsum(float(t.r_multiple) for t in trades)
    return Baseline(
        total_r=total_r,
        net_profit=(r * risk).sum(axis=1),
        strategy_total_r=strategy_total_r,
        strategy_net_profit=float(sum((t.pnl for t in trades), Decimal(0))),
        percentile=float(np.mean(total_r < strategy_total_r)) * 100.0,
        p_value=float(np.mean(total_r >= strategy_total_r)),
        seed0=seed0,
    )


def bracket_r_multiples(
    candles: Candles,
    entry: npt.ArrayLike,
    sign: npt.ArrayLike,
    stop_distance: npt.ArrayLike,
    planned_rr: npt.ArrayLike,
    last: npt.ArrayLike,
) -> FloatArray:
    """Gross R of trades entered at the close of candle ``entry`` with a stop and an optional target.

    ``sign`` is +1 for a long and -1 for a short; the stop is ``stop_distance`` away from the entry
    price and the target ``planned_rr * stop_distance`` (NaN: no target). Candles ``entry + 1`` to
    ``last`` are scanned: a trade exits at the stop (-1R) or the target (``planned_rr``) on the first
    candle whose range touches it, at the stop if one candle touches both (the intrabar order is
    unknown, so assume the worse), and otherwise at the close of candle ``last``. Fills are at the
    level itself: no slippage and no gap fills.

    The first touch is found for all trades at once by binary lifting over sparse tables of running
    minima of ``low`` and ``-high``: O((candles + trades) * log(candles)), plain numpy.

    >>> c = Candles.from_arrays(np.arange(3) * 60_000, [100] * 3, [100, 103, 111], [100, 99, 102], [100, 102, 110])
    >>> bracket_r_multiples(c, [0], [1], [2.0], [4.0], [2]).tolist()  # long at 100, stop 98, target 108
    [4.0]
    """
    i = np.asarray(entry, dtype=np.int64)
    side = np.asarray(sign, dtype=np.float64)
    dist = np.asarray(stop_distance, dtype=np.float64)
    rr = np.asarray(planned_rr, dtype=np.float64)
    end = np.asarray(last, dtype=np.int64) + 1
    n = len(candles)
    if i.size and not (np.all(i >= 0) and np.all(end - 1 > i) and np.all(end <= n)):
        raise ValueError(f"need 0 <= entry < last < {n} for every trade")
    if not np.all(dist > 0):
        raise ValueError("every stop_distance must be > 0")
    price = candles.close[i]
    stop_level = price - side * dist
    target_level = np.where(np.isnan(rr), side * np.inf, price + side * rr * dist)
    long = side > 0
    # Longs stop on low <= stop and take profit on high >= target, i.e. -high <= -target; shorts mirror.
    low_hit = _first_at_or_below(_min_tables(candles.low), i + 1, end, np.where(long, stop_level, target_level))
    high_hit = _first_at_or_below(_min_tables(-candles.high), i + 1, end, -np.where(long, target_level, stop_level))
    stop_at = np.where(long, low_hit, high_hit)
    target_at = np.where(long, high_hit, low_hit)
    stopped = (stop_at < end) & (stop_at <= target_at)
    targeted = ~stopped & (target_at < end)
    at_end = side * (candles.close[end - 1] - price) / dist
    return np.asarray(np.where(stopped, -1.0, np.where(targeted, rr, at_end)), dtype=np.float64)


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


def _plan(
    candles: Candles, trades: Sequence[Trade]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
    """Per-trade arrays: sign, stop distance, planned RR (NaN: none), risk, fees in R, window in candles."""
    n = len(candles)
    candle_ms = _candle_ms(candles)
    columns: list[tuple[float, float, float, float, float, int]] = []
    for t in trades:
        if t.risk <= 0 or t.effective_stop_distance <= 0:
            raise ValueError(f"trade {t.id} has no risk or stop distance; the baseline cannot mirror it")
        window = max(1, -(-t.holding_ms // candle_ms))
        if window > n - 1:
            raise ValueError(f"trade {t.id} was held {window} candles but there are only {n} candles")
        rr = math.nan if t.planned_rr is None else float(t.planned_rr)
        fee_r = float(t.fees / t.risk)
        columns.append((t.side.sign, float(t.effective_stop_distance), rr, float(t.risk), fee_r, window))
    sign, stop, rr_col, risk, fee_r_col, window_col = zip(*columns, strict=True)

    def floats(values: tuple[float, ...]) -> FloatArray:
        return np.array(values, dtype=np.float64)

    windows = np.array(window_col, dtype=np.int64)
    return floats(sign), floats(stop), floats(rr_col), floats(risk), floats(fee_r_col), windows


def _candle_ms(candles: Candles) -> int:
    if candles.timeframe:
        return candles.timeframe_ms
    inferred = candles.infer_timeframe()
    if not inferred:
        raise ValueError("cannot tell the candles' timeframe: set Candles.timeframe")
    return parse_timeframe(inferred)


def _min_tables(values: FloatArray) -> list[FloatArray]:
    """``tables[k][p] = min(values[p : p + 2**k])`` for every ``k`` with ``2**k <= len(values)``."""
    tables = [np.ascontiguousarray(values, dtype=np.float64)]
    width = 1
    while 2 * width <= values.size:
        prev = tables[-1]
        tables.append(np.minimum(prev[:-width], prev[width:]))
        width *= 2
    return tables


def _first_at_or_below(tables: list[FloatArray], start: IntArray, end: IntArray, level: FloatArray) -> IntArray:
    """First index ``j`` in ``[start, end)`` with ``values[j] <= level``, or ``end`` if there is none.

    Binary lifting: from the longest window down, skip a window of ``2**k`` values when it fits
    before ``end`` and its minimum is above ``level``. The skipped lengths add up to the number of
    leading values above the level, so each query takes one step per table.
    """
    pos = start.copy()
    for k in range(len(tables) - 1, -1, -1):
        width = 1 << k
        fits = pos + width <= end
        above = tables[k][np.where(fits, pos, 0)] > level
        pos += np.where(fits & above, width, 0)
    return pos


def _max_drawdown_pct(pnl_rows: FloatArray, start: float) -> FloatArray:
    """Max drawdown (percent of the running peak) of each row's curve ``start, start + cumsum(row)``."""
    curve = np.concatenate([np.full((pnl_rows.shape[0], 1), start), start + np.cumsum(pnl_rows, axis=1)], axis=1)
    peak = np.maximum.accumulate(curve, axis=1)
    return np.asarray(np.max((peak - curve) / peak, axis=1) * 100.0, dtype=np.float64)
