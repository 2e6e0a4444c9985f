"""Is the edge real, across markets? One strategy on several files, judged three ways, corrected for testing many.

Per market (one candle file):

* **The backtest's figures**: trades, trades per month of the tested span, win rate, expectancy in R
  (net of fees: every trade's R is its net P&L over its risk), profit factor and maximum drawdown.
* **The random-entry baseline** (:mod:`smc_agent.backtest.baseline`): the percentile of the strategy's
  total R among random entries with the same plans through the same engine, and its p-value.
* **The bias's hit rate**: how often price moved the bias's way over the next ``horizon`` entry
  candles (a bullish bias hits when the close ``horizon`` candles later is higher, a bearish one when
  it is lower; a neutral bias is not counted), against the rate by chance: the share of up-moves
  (for bullish samples) and of down-moves (for bearish samples) over the same horizon among *all*
  candles of the same span. A binomial test (``scipy.stats.binomtest``, one-sided) asks whether the
  hits beat that rate. The bias is the signal engine's multi-timeframe bias
  (:class:`~smc_agent.analysis.mtf.MultiTimeframeEngine`, fed candle by candle, so it never looks
  ahead), **sampled every** ``every`` **candles** (default: the horizon). That keeps the samples'
  windows from overlapping, which the binomial test assumes (overlapping windows share moves and
  would overstate the significance), and it is cheap: a bias is combined only when sampled.

Across markets, each family of p-values (the baselines', the biases') is corrected with Holm's
step-down method (:func:`holm`), since among many markets one will look good by luck.

With ``walk_forward`` every figure is out of sample: the backtest is
:func:`~smc_agent.backtest.walkforward.walk_forward` (each test window backtested with what its
train window chose), the baseline mirrors those trades on the test windows' span, and the bias is
sampled only there (the engine still sees every candle before, so it is warm).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.mtf import MultiTimeframeEngine
from smc_agent.backtest.baseline import BASELINE_SEEDS, random_entry_baseline
from smc_agent.backtest.executors import Executor
from smc_agent.backtest.grid import ParamSpace, StrategySpec
from smc_agent.backtest.metrics import Metrics
from smc_agent.backtest.runner import make_strategy, run_backtest
from smc_agent.backtest.significance import Baseline
from smc_agent.backtest.trades import Trade
from smc_agent.backtest.walkforward import walk_forward
from smc_agent.config.engine import UNNAMED, EngineSettings
from smc_agent.core.errors import ConfigError
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles, FloatArray, IntArray
from smc_agent.model.enums import Direction

__all__ = [
    "DEFAULT_HORIZON",
    "EDGE_COLUMNS",
    "EdgeOptions",
    "EdgeStudy",
    "HitRate",
    "MarketEdge",
    "WalkForwardPlan",
    "bias_hit_rate",
    "edge_markdown",
    "edge_rows",
    "edge_study",
    "holm",
    "move_shares",
    "sample_bias",
    "study_market",
]

DEFAULT_HORIZON = 16
_MONTH_MS = 30.436875 * 86_400_000  # a Gregorian month on average
_SIGN = {Direction.BULLISH: 1, Direction.BEARISH: -1, Direction.NEUTRAL: 0}


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values, in the given order; None (no test) stays None and is not counted.

    The ``k``-th smallest of ``m`` p-values is multiplied by ``m - k + 1``, capped at 1, and made no
    smaller than the adjusted value before it (the step-down). Rejecting where the adjusted value is
    below ``alpha`` controls the chance of any false discovery at ``alpha``.

    >>> holm([0.01, 0.04, None, 0.03])
    [0.03, 0.06, None, 0.06]
    """
    tested = sorted((i for i, p in enumerate(p_values) if p is not None), key=lambda i: p_values[i] or 0.0)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, i in enumerate(tested):
        p = p_values[i]
        assert p is not None
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def move_shares(close: FloatArray, horizon: int, start: int = 0, stop: int | None = None) -> tuple[float, float, int]:
    """The shares of candles in ``[start, stop)`` whose close ``horizon`` candles later is higher, and
    lower, and how many candles have such a later close inside the span.

    >>> move_shares(np.array([1.0, 2, 2, 1, 3]), 1)
    (0.5, 0.25, 4)
    """
    end = len(close) if stop is None else stop
    if horizon < 1:
        raise ConfigError(f"must be at least 1 candle, got {horizon}", key="horizon")
    count = max(0, end - horizon - start)
    if count == 0:
        return math.nan, math.nan, 0
    later, now = close[start + horizon : end], close[start : end - horizon]
    return float(np.mean(later > now)), float(np.mean(later < now)), count


@dataclass(frozen=True, slots=True)
class HitRate:
    """How often the sampled bias was right over the next ``horizon`` candles, against chance.

    ``chance_rate`` is what the same mix of bullish and bearish samples would hit by chance:
    ``(bullish * up_share + bearish * down_share) / samples``; ``p_value`` is the one-sided binomial
    test of ``hits`` out of ``samples`` against it. Both are None without a sample.
    """

    horizon: int
    every: int
    sampled: int  # candles at which the bias was read, neutral ones included
    bullish: int
    bearish: int
    hits: int
    up_share: float
    down_share: float
    chance_rate: float | None
    p_value: float | None

    @property
    def samples(self) -> int:
        return self.bullish + self.bearish

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.samples if self.samples else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon, "every": self.every, "sampled": self.sampled, "bullish": self.bullish,
            "bearish": self.bearish, "hits": self.hits, "hit_rate": self.hit_rate,
            "up_share": _finite(self.up_share), "down_share": _finite(self.down_share),
            "chance_rate": self.chance_rate, "p_value": self.p_value,
        }  # fmt: skip


def bias_hit_rate(
    close: FloatArray, indices: IntArray, signs: IntArray, horizon: int, *, every: int, start: int = 0,
    stop: int | None = None,
) -> HitRate:  # fmt: skip
    """The hit rate of biases ``signs`` (+1 bullish, -1 bearish, 0 neutral) read at candles ``indices``.

    Only samples whose close ``horizon`` candles later lies inside ``[start, stop)`` count; the
    chance rates come from every candle of that span (:func:`move_shares`).

    >>> close = np.array([1.0, 2, 3, 2, 1, 2])
    >>> h = bias_hit_rate(close, np.array([0, 2, 4]), np.array([1, -1, 1]), 1, every=2)
    >>> (h.hits, h.samples, round(h.chance_rate, 4))  # up 3 of 5 moves, down 2 of 5: (2 * 0.6 + 0.4) / 3
    (3, 3, 0.5333)
    """
    end = len(close) if stop is None else stop
    up, down, _ = move_shares(close, horizon, start, end)
    inside = (indices >= start) & (indices + horizon < end)
    at, sign = indices[inside], signs[inside]
    moved = np.sign(close[at + horizon] - close[at])
    bullish, bearish = int(np.sum(sign > 0)), int(np.sum(sign < 0))
    hits = int(np.sum((sign != 0) & (moved == sign)))
    samples = bullish + bearish
    chance = (bullish * up + bearish * down) / samples if samples else None
    p_value = None
    if samples and chance is not None:
        from scipy.stats import binomtest  # here: scipy.stats costs seconds to import, and only this needs it

        p_value = float(binomtest(hits, samples, min(max(chance, 0.0), 1.0), alternative="greater").pvalue)
    return HitRate(horizon, every, int(at.size), bullish, bearish, hits, up, down, chance, p_value)


def sample_bias(
    candles: Candles,
    htfs: Sequence[str],
    *,
    every: int,
    start: int = 0,
    config: AnalysisConfig | None = None,
    tz: str | None = None,
) -> tuple[IntArray, IntArray]:
    """The multi-timeframe bias after the close of candles ``start, start + every, ...``: their
    indices and the bias's sign at each (+1 bullish, -1 bearish, 0 neutral)."""
    if every < 1:
        raise ConfigError(f"must be at least 1 candle, got {every}", key="bias-every")
    engine = MultiTimeframeEngine(candles.timeframe, htfs, config, symbol=candles.symbol, tz=tz)
    indices: list[int] = []
    signs: list[int] = []
    rows = zip(*(column.tolist() for column in (candles.time, *candles.columns)), strict=True)
    for i, row in enumerate(rows):
        engine.update(*row)
        if i >= start and (i - start) % every == 0:
            indices.append(i)
            signs.append(_SIGN[engine.bias().direction])
    return np.array(indices, dtype=np.int64), np.array(signs, dtype=np.int64)


@dataclass(frozen=True, slots=True)
class WalkForwardPlan:
    """Walk-forward windows (candle counts or durations, as ``optimize --walk-forward`` takes them)."""

    train: str
    test: str
    grid: ParamSpace = field(default_factory=dict)
    objective: str = "net_profit_pct"


@dataclass(frozen=True, slots=True)
class MarketEdge:
    """One market's answer; ``*_holm`` are the p-values after the correction across markets."""

    name: str
    symbol: str
    timeframe: str
    start_ms: int
    end_ms: int
    candles: int
    metrics: Metrics
    baseline: Baseline | None
    baseline_skipped: str
    bias: HitRate
    baseline_p_holm: float | None = None
    bias_p_holm: float | None = None

    @property
    def months(self) -> float:
        return (self.end_ms - self.start_ms) / _MONTH_MS

    @property
    def trades_per_month(self) -> float | None:
        return self.metrics.trades / self.months if self.months > 0 else None

    def to_dict(self) -> dict[str, Any]:
        m = self.metrics
        return {
            "name": self.name, "symbol": self.symbol, "timeframe": self.timeframe, "from": iso_utc(self.start_ms),
            "to": iso_utc(self.end_ms), "candles": self.candles, "months": self.months, "trades": m.trades,
            "trades_per_month": self.trades_per_month, "win_rate": m.win_rate, "expectancy_r": m.expectancy_r,
            "profit_factor": m.profit_factor, "max_drawdown_pct": m.max_drawdown_pct,
            "baseline": None if self.baseline is None else {
                "seeds": self.baseline.seeds, "percentile": self.baseline.percentile,
                "p_value": self.baseline.p_value, "p_holm": self.baseline_p_holm},
            "baseline_skipped": self.baseline_skipped or None,
            "bias": {**self.bias.to_dict(), "p_holm": self.bias_p_holm},
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class EdgeOptions:
    """How every market is studied: the strategy and its settings, the tests' sizes, and walk-forward.

    ``every`` is how often the bias is read, in entry candles (None: every ``horizon`` candles).
    """

    strategy: str = "smc"
    tz: str | None = None
    settings: EngineSettings = field(default_factory=EngineSettings)
    analysis: AnalysisConfig | None = None
    horizon: int = DEFAULT_HORIZON
    every: int | None = None
    seeds: int = BASELINE_SEEDS
    walk: WalkForwardPlan | None = None

    def __post_init__(self) -> None:
        if self.horizon < 1:
            raise ConfigError(f"must be at least 1 candle, got {self.horizon}", key="horizon")
        if self.every is not None and self.every < 1:
            raise ConfigError(f"must be at least 1 candle, got {self.every}", key="bias-every")
        if self.seeds < 0:
            raise ConfigError(f"must be >= 0, got {self.seeds}", key="baseline-seeds")

    @property
    def step(self) -> int:
        return self.horizon if self.every is None else self.every


@dataclass(frozen=True, slots=True)
class EdgeStudy:
    """Every market's answer, with the options that produced them."""

    options: EdgeOptions
    markets: list[MarketEdge]

    def to_dict(self) -> dict[str, Any]:
        """The ``research edge --json`` document (docs/api.md)."""
        o, walk = self.options, self.options.walk
        return {
            "strategy": o.strategy, "horizon": o.horizon, "bias_every": o.step, "baseline_seeds": o.seeds,
            "correction": "holm",
            "walk_forward": None if walk is None else {"train": walk.train, "test": walk.test,
                                                       "grid": dict(walk.grid), "objective": walk.objective},
            "markets": [market.to_dict() for market in self.markets],
        }  # fmt: skip


def study_market(
    name: str, candles: Candles, htfs: Sequence[str], options: EdgeOptions, executor: Executor | None = None
) -> MarketEdge:
    """One market's backtest (or walk-forward), baseline and bias hit rate (see the module docstring)."""
    o, walk, settings = options, options.walk, options.settings
    if walk is None:
        strategy = make_strategy(o.strategy, candles, htfs, tz=o.tz, analysis=o.analysis)
        result = run_backtest(candles, strategy, settings)
        metrics, trades, start, stop, used = result.metrics, result.trades, 0, len(candles), settings
    else:
        spec = StrategySpec(o.strategy, candles.symbol or UNNAMED, candles.timeframe, tuple(htfs), o.tz, settings,
                            o.analysis)  # fmt: skip
        wf = walk_forward(candles, spec, walk.grid, train=walk.train, test=walk.test, objective=walk.objective,
                          executor=executor)  # fmt: skip
        metrics, trades = wf.metrics, wf.trades
        start, stop = wf.windows[0].window.test_start, wf.windows[-1].window.test_stop
        # The gate of the windows' runs: with the defaults' own implied risk settings (a grid's risk.* values
        # vary by window; the random runs keep the base ones).
        used = spec.build({})[1]
    baseline, skipped = _baseline(candles[start:stop], trades, used, o.seeds, executor)
    indices, signs = sample_bias(candles, htfs, every=o.step, start=start, config=o.analysis, tz=o.tz)
    hit = bias_hit_rate(candles.close, indices, signs, o.horizon, every=o.step, start=start, stop=stop)
    span = candles[start:stop]
    end_ms = int(span.time[-1]) + span.timeframe_ms
    return MarketEdge(name, candles.symbol or UNNAMED, candles.timeframe, int(span.time[0]), end_ms, len(span),
                      metrics, baseline, skipped, hit)  # fmt: skip


def _baseline(
    candles: Candles, trades: Sequence[Trade], settings: EngineSettings, seeds: int, executor: Executor | None
) -> tuple[Baseline | None, str]:
    if seeds == 0:
        return None, "turned off (0 seeds)"
    if not trades:
        return None, "no closed trades to mirror"
    try:
        return random_entry_baseline(candles, trades, settings, seeds=seeds, executor=executor), ""
    except ValueError as error:
        return None, str(error)


def edge_study(
    markets: Sequence[tuple[str, Candles, Sequence[str]]], options: EdgeOptions, executor: Executor | None = None
) -> EdgeStudy:
    """:func:`study_market` for each ``(name, candles, higher timeframes)``, then Holm's correction across them."""
    studied = [study_market(name, candles, htfs, options, executor) for name, candles, htfs in markets]
    baseline_holm = holm([m.baseline.p_value if m.baseline else None for m in studied])
    bias_holm = holm([m.bias.p_value for m in studied])
    corrected = [_with_holm(m, b, h) for m, b, h in zip(studied, baseline_holm, bias_holm, strict=True)]
    return EdgeStudy(options, corrected)


def _with_holm(market: MarketEdge, baseline_p: float | None, bias_p: float | None) -> MarketEdge:
    return replace(market, baseline_p_holm=baseline_p, bias_p_holm=bias_p)


def _finite(value: float) -> float | None:
    return None if math.isnan(value) else value


# Short, so that the tables fit a terminal; edge_markdown explains each.
EDGE_COLUMNS = ("market", "trades", "/month", "win", "exp R", "PF", "max DD%", "rand pct", "rand p", "Holm",
                "bias n", "bias hit", "chance", "bias p", "Holm")  # fmt: skip


def edge_rows(study: EdgeStudy) -> list[list[str]]:
    """One row of text per market, in :data:`EDGE_COLUMNS` order: what the table and the Markdown show."""
    rows = []
    for m in study.markets:
        b, h, x = m.baseline, m.bias, m.metrics
        rows.append([
            m.name, str(x.trades), _text(m.trades_per_month, ".2f"), _text(x.win_rate, ".1%"),
            _text(x.expectancy_r, ".3f"), _text(x.profit_factor, ".2f"), _text(x.max_drawdown_pct, ".2f"),
            _text(b.percentile if b else None, ".0f"), _text(b.p_value if b else None, ".3f"),
            _text(m.baseline_p_holm, ".3f"), str(h.samples), _text(h.hit_rate, ".1%"),
            _text(h.chance_rate, ".1%"), _text(h.p_value, ".3g"), _text(m.bias_p_holm, ".3g"),
        ])  # fmt: skip
    return rows


def edge_markdown(study: EdgeStudy) -> str:
    """The study as a Markdown page: the settings, one table row per market, and what the columns mean."""
    o, walk = study.options, study.options.walk
    scope = (f"out of sample: walk-forward, train {walk.train}, test {walk.test}" if walk
             else "in sample: one backtest of each whole file")  # fmt: skip
    lines = [
        f"# Is the edge real? ({o.strategy})", "",
        f"Figures are {scope}. Baseline: {o.seeds} random-entry runs per market with the strategy's "
        f"trade plans. Bias: sampled every {o.step} candles, judged over the next {o.horizon}. "
        "p-values corrected across markets with Holm's method, each family on its own.", "",
        "| " + " | ".join(EDGE_COLUMNS) + " |", "|" + "---|" * len(EDGE_COLUMNS),
        *("| " + " | ".join(row) + " |" for row in edge_rows(study)), "",
    ]  # fmt: skip
    skipped = [f"- {m.name}: no baseline, {m.baseline_skipped}" for m in study.markets if m.baseline_skipped]
    if skipped:
        lines += ["Notes:", "", *skipped, ""]
    lines += [
        "*win*: share of winning trades; *exp R*: expectancy in R after costs; *PF*: profit factor; *max DD%*: "
        "maximum drawdown. *rand pct*: the share of random-entry runs whose total R is below the strategy's; "
        "*rand p*: the share at or above it (resolution 1 / seeds). *bias n*: bullish and bearish samples; "
        "*bias hit*: how often a bullish (bearish) bias was followed by a higher (lower) close; *chance*: "
        "what the same mix of samples would hit at the span's shares of up- and down-moves; *bias p*: "
        "one-sided binomial test. *Holm*: the p-value to its left after Holm's correction across markets.",
        "",
    ]
    return "\n".join(lines)


def _text(value: float | None, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)
