"""A+ setup rules: from a new break of structure on the entry timeframe to a trade idea, or a reason not.

Every rule is mirrored for shorts; a long is described here.

* ``sweep_choch_ob``: the higher-timeframe bias is bullish; sell-side liquidity below was swept after
  the swing high formed; then an internal CHoCH broke that swing high; entry is on the retrace to the
  top of the order block that the displacement created.
* ``sweep_choch_fvg``: the same, entering at the top of the latest unfilled bullish FVG formed
  between the sweep and the CHoCH.
* ``bos_continuation``: an internal BOS in the bias direction; entry at the top of the break's order
  block, or of the latest unfilled FVG of the leg if it has none.

A sweep is a resting level of any kind (:mod:`smc_agent.analysis.liquidity`: equal lows, swing
lows, the previous day's, week's or month's low, a session low) first traded through during the
bearish phase the CHoCH ends (from the candle after the last bearish internal break, or from the
broken swing high if that is earlier), at least ``sweep_depth_atr`` x ATR deep, with a close back above it within
``sweep_close_candles`` candles, by the break; the strongest kind wins, then the lowest level.

The zone is refined as traders draw it: the order block's last ``ob_candles`` down-close candles
(0 keeps the detector's whole block). The entry is the zone's proximal edge (``entry = "proximal"``),
its mean threshold (``"mean"``, 50%), or the proximal edge of its overlap with the dealing range's
OTE band (``"ote"``; no overlap is ``no_ote_overlap``). For both sweep setups the entry must sit in
discount of the entry timeframe's dealing range. The stop goes below the lower of the lowest price
since the sweep and the zone, minus ``stop_buffer_atr`` x ATR. Targets are the untaken buy-side
levels of every kind above the entry, nearest first (TP1, TP2). The first rule that fails names the
rejection, checked in this order: no sweep, no zone, bias, no OTE overlap, premium/discount, no
target, reward-to-risk below ``min_rr``, quality below ``a_plus``. (A stop equal to the entry,
possible only for a zone with no height while ATR warms up, is rejected as ``zero_risk``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from smc_agent.analysis.bias import Bias
from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.liquidity import Sweep, find_sweep, recent, untaken_beyond
from smc_agent.core.timefmt import iso_utc
from smc_agent.model import Direction, Side
from smc_agent.smc import layout as L
from smc_agent.smc.detector import SmcResult
from smc_agent.smc.ranges import OTE_HIGH, OTE_LOW
from smc_agent.smc.structure import CHOCH

__all__ = [
    "Candidate",
    "Rejection",
    "block_freshness",
    "displacement_score",
    "evaluate",
    "gap_freshness",
    "targets_beyond",
]

INTERNAL = 0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A setup that passed every rule: the trade idea and why."""

    setup: str
    side: Side
    entry: float
    stop: float
    targets: tuple[float, ...]
    rr: float
    quality: float
    breakdown: dict[str, float]
    evidence: tuple[dict[str, Any], ...]
    zone: tuple[str, int] = field(default=("", -1))  # (table, row) of the entry zone


@dataclass(frozen=True, slots=True)
class Rejection:
    setup: str
    reason: str


def evaluate(
    view: SmcResult, row: int, bias: Callable[[], Bias], config: AnalysisConfig
) -> list[Candidate | Rejection]:
    """Every enabled setup that a new internal break (row ``row`` of ``view.breaks``) could start.

    ``bias`` is called only when a setup gets as far as needing it (it is the costly part).
    """
    breaks = view.breaks
    if int(breaks.col("scope")[row]) != INTERNAL:
        return []
    direction = int(breaks.col("direction")[row])
    reversal = int(breaks.col("kind")[row]) == CHOCH
    names = [
        n for n in (("sweep_choch_ob", "sweep_choch_fvg") if reversal else ("bos_continuation",)) if n in config.setups
    ]
    if not names:
        return []
    # What every setup of this break shares, found once: the sweep before it and its order block.
    s, i = int(breaks.col("formed_index")[row]), int(breaks.col("confirmed_index")[row])
    sweep = None
    if reversal:
        start = min(s, _opposite_phase_start(view, row, direction))
        sweep = find_sweep(view, -direction, start, i, config.sweep_depth_atr, config.sweep_close_candles)
    context = _Context(row, direction, s, i, sweep, _blocks_of(view, row))
    return [_one(view, context, name, bias, config) for name in names]


@dataclass(frozen=True, slots=True)
class _Context:
    row: int
    d: int
    s: int  # where the broken swing formed
    i: int  # the breaking candle
    sweep: Sweep | None  # for reversals
    blocks: npt.NDArray[np.intp]  # the order block the break created (zero or one row)


def _one(
    view: SmcResult, ctx: _Context, setup: str, bias_of: Callable[[], Bias], config: AnalysisConfig
) -> Candidate | Rejection:
    row, d, s, i, sweep = ctx.row, ctx.d, ctx.s, ctx.i, ctx.sweep
    high, low = view.candles.high, view.candles.low
    atr = float(view.atr[i])
    evidence: list[dict[str, Any]] = []

    if setup != "bos_continuation":
        if sweep is None:
            return Rejection(setup, "no_sweep")
        evidence.append(_sweep_link(view, sweep))
    evidence.append(_link(view, "choch" if setup != "bos_continuation" else "bos", "breaks", row, i))

    zone = _zone(view, setup, ctx.blocks, d, sweep.level.taken if sweep is not None else s, i, config.ob_candles)
    if zone is None:
        return Rejection(setup, "no_zone")
    evidence.append(zone.link(view))

    wanted = Direction.BULLISH if d == 1 else Direction.BEARISH
    bias = bias_of()
    if bias.direction is not wanted:
        return Rejection(setup, "bias_neutral" if bias.direction is Direction.NEUTRAL else "bias_against")

    top, bottom = float(view.pd_top[i]), float(view.pd_bottom[i])
    entry = _entry(zone, d, top, bottom, config.entry)
    if entry is None:
        return Rejection(setup, "no_ote_overlap")
    position = (entry - bottom) / (top - bottom) if top > bottom else 0.5
    if setup != "bos_continuation" and (position >= 0.5 if d == 1 else position <= 0.5):
        return Rejection(setup, "not_in_discount" if d == 1 else "not_in_premium")

    far = zone.bottom if d == 1 else zone.top
    if sweep is not None:
        taken = slice(sweep.level.taken, i + 1)
        far = min(far, float(low[taken].min())) if d == 1 else max(far, float(high[taken].max()))
    buffer = config.stop_buffer_atr * atr if np.isfinite(atr) else 0.0
    stop = far - d * buffer
    if stop == entry:
        return Rejection(setup, "zero_risk")  # a zone with no height and no ATR buffer yet
    targets = targets_beyond(view, d, entry)
    if not targets:
        return Rejection(setup, "no_target")
    rr = d * (targets[0] - entry) / (d * (entry - stop))
    if rr < config.min_rr:
        return Rejection(setup, "rr_below_min")

    breakdown = _quality(view, ctx, zone, position, rr, bias, config)
    total = sum(config.quality_weights.values())
    quality = sum(config.quality_weights.get(k, 0.0) * v for k, v in breakdown.items()) / total
    if quality < config.a_plus:
        return Rejection(setup, "below_a_plus")
    side = Side.BUY if d == 1 else Side.SELL
    return Candidate(
        setup, side, entry, stop, tuple(targets[:2]), rr, quality, breakdown, tuple(evidence), (zone.table, zone.row)
    )


def targets_beyond(view: SmcResult, d: int, entry: float) -> list[float]:
    """Untaken opposing liquidity of every kind beyond the entry, nearest first: buy-side above a long,
    sell-side below a short."""
    return untaken_beyond(view, d, entry)


def _opposite_phase_start(view: SmcResult, row: int, d: int) -> int:
    """Where the structure this CHoCH reverses began: the candle after the last internal break against
    it (the BOS or CHoCH that made the internal trend bearish, for a bullish CHoCH; its own pass of a
    low is the break, not a sweep), or the broken swing's formation when there is none in the recent
    rows. The sweep may come anywhere in that phase: a low that sweeps equal lows and then makes the
    minor high the CHoCH breaks is the textbook reversal."""
    start, col = recent(view.breaks)
    upto = row - start
    rows = np.flatnonzero((col("scope")[:upto] == INTERNAL) & (col("direction")[:upto] == -d))
    return int(col("confirmed_index")[rows[-1]]) + 1 if rows.size else int(view.breaks.col("formed_index")[row])


def _blocks_of(view: SmcResult, row: int) -> npt.NDArray[np.intp]:
    """The order block that break ``row`` created (none when the break's leg had no candles)."""
    start, col = recent(view.order_blocks)
    return np.flatnonzero(col("break_row") == row) + start


@dataclass(frozen=True, slots=True)
class _Zone:
    """The entry zone: a detector row and the edges the setup trades (an order block refined)."""

    table: str
    row: int
    top: float
    bottom: float
    candles: tuple[int, int] | None = None  # the refined block's first and last candle

    def link(self, view: SmcResult) -> dict[str, Any]:
        link = _link(view, "zone", self.table, self.row, int(view.tables[self.table].col("confirmed_index")[self.row]))
        link["top"], link["bottom"] = self.top, self.bottom
        if self.candles is not None:
            link["first_index"], link["last_index"] = self.candles
        return link


def _zone(
    view: SmcResult, setup: str, blocks: npt.NDArray[np.intp], d: int, start: int, i: int, ob_candles: int
) -> _Zone | None:
    if setup != "sweep_choch_fvg" and len(blocks):
        return _refined_block(view, int(blocks[0]), d, ob_candles)
    if setup == "sweep_choch_ob":
        return None
    first, col = recent(view.fvgs)
    formed = col("formed_index")
    open_ = (col("filled_index") < 0) & (col("superseded_index") < 0) & (col("expired_index") < 0)
    rows = np.flatnonzero(open_ & (col("direction") == d) & (formed >= start) & (formed <= i))
    if not rows.size:
        return None
    row = first + int(rows[-1])
    return _Zone("fvgs", row, float(view.fvgs.col("top")[row]), float(view.fvgs.col("bottom")[row]))


def _refined_block(view: SmcResult, row: int, d: int, ob_candles: int) -> _Zone:
    """The block's last ``ob_candles`` opposite candles (down-closes for a bullish block), or the whole
    block as the detectors draw it (down to the leg's extreme) when ``ob_candles`` is 0."""
    blocks = view.order_blocks
    if ob_candles == 0:
        return _Zone("order_blocks", row, float(blocks.col("top")[row]), float(blocks.col("bottom")[row]))
    first, last = int(blocks.col("formed_index")[row]), int(blocks.col("end_index")[row])
    candles = view.candles
    opens, closes = candles.open[first : last + 1], candles.close[first : last + 1]
    opposite = np.flatnonzero(d * (closes - opens) < 0)
    # A leg without a down-close candle has its lowest candle as the block (see smc.order_blocks).
    picked = first + (opposite[-ob_candles:] if opposite.size else np.arange(last - first + 1)[-ob_candles:])
    lo, hi = int(picked[0]), int(picked[-1])
    top = float(candles.high[lo : hi + 1].max())
    bottom = float(candles.low[lo : hi + 1].min())
    return _Zone("order_blocks", row, top, bottom, (lo, hi))


def _entry(zone: _Zone, d: int, range_top: float, range_bottom: float, rule: str) -> float | None:
    """The entry price in ``zone`` by ``rule`` (see the module docstring); None when OTE misses the zone."""
    if rule == "proximal":
        return zone.top if d == 1 else zone.bottom
    if rule == "mean":
        return (zone.top + zone.bottom) / 2
    height = range_top - range_bottom
    if not height > 0:
        return None
    # The 62-79% retracement of the leg, measured from the end a long buys back from (the range top).
    near = range_top - OTE_LOW * height if d == 1 else range_bottom + OTE_LOW * height
    far = range_top - OTE_HIGH * height if d == 1 else range_bottom + OTE_HIGH * height
    low, high = max(min(near, far), zone.bottom), min(max(near, far), zone.top)
    if low > high:
        return None
    return high if d == 1 else low


def displacement_score(atr_multiple: float) -> float:
    """The displacement component: the move away from an order block in ATR, full at three; 0.5 when unknown."""
    return min(1.0, atr_multiple / 3.0) if np.isfinite(atr_multiple) else 0.5


def block_freshness(*, mitigated: bool) -> float:
    """An order block's freshness: 1 until price returns to it, then 0.3."""
    return 0.3 if mitigated else 1.0


def gap_freshness(*, touched: bool, half_filled: bool) -> float:
    """A fair value gap's freshness: 1 untouched, 0.6 touched, 0.3 once half filled."""
    return 1.0 if not touched else 0.3 if half_filled else 0.6


def _quality(
    view: SmcResult,
    ctx: _Context,
    zone: _Zone,
    position: float,
    rr: float,
    bias: Bias,
    config: AnalysisConfig,
) -> dict[str, float]:
    """Each component from 0 to 1; docs/user-guide.md explains them."""
    d, i, sweep, blocks = ctx.d, ctx.i, ctx.sweep, ctx.blocks
    if sweep is not None:
        sweep_score = min(1.0, sweep.level.strength + 0.2 * min(1.0, sweep.depth_atr))
    else:  # continuation: the larger structure agreeing stands in for the sweep
        sweep_score = 1.0 if int(view.trend[i, 1]) == d else 0.5
    displacement = float(view.order_blocks.col("displacement_atr")[blocks[0]]) if len(blocks) else float("nan")
    table, zrow = zone.table, zone.row
    if table == "order_blocks":
        fresh = block_freshness(mitigated=view.order_blocks.col("mitigated_index")[zrow] >= 0)
    else:
        touched, half = view.fvgs.col("touched_index")[zrow], view.fvgs.col("half_index")[zrow]
        fresh = gap_freshness(touched=touched >= 0, half_filled=half >= 0)
    mask = int(view.session_mask[i])
    in_killzone = mask >> L.KILLZONE_BIT != 0
    session = 1.0 if in_killzone else (0.6 if mask else 0.2)
    return {
        "bias": min(1.0, bias.confidence / config.high_confidence) if config.high_confidence > 0 else 1.0,
        "sweep": sweep_score,
        "displacement": displacement_score(displacement),
        "freshness": fresh,
        "premium_discount": float(np.clip((0.5 - position) / 0.5 if d == 1 else (position - 0.5) / 0.5, 0.0, 1.0)),
        "session": session,
        "rr": min(1.0, rr / (2 * config.min_rr)) if config.min_rr > 0 else 1.0,
    }


def _sweep_link(view: SmcResult, sweep: Sweep) -> dict[str, Any]:
    """The sweep's link: the level (its kind, price and table row) and the candle that first took it."""
    level = sweep.level
    link = _link(view, "sweep", level.table, level.row, level.taken)
    link.pop("top", None), link.pop("bottom", None)
    link.update(kind=level.kind, level=level.price, extreme=sweep.extreme, depth_atr=sweep.depth_atr)
    link["closed_back_index"] = sweep.closed_back
    return link


def _link(view: SmcResult, role: str, table: str, row: int, at: int) -> dict[str, Any]:
    """One link of the evidence chain: which object (table and row), when, at what price."""
    t = view.tables[table]
    link: dict[str, Any] = {"role": role, "id": f"{table}:{row}", "index": at}
    link["time"] = iso_utc(int(view.candles.time[at]) + view.candles.timeframe_ms)
    for name in ("level", "top", "bottom"):
        if name in t.schema.floats:
            link[name] = float(t.col(name)[row])
    return link
