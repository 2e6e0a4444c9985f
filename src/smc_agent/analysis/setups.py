"""A+ setup rules: from a new break of structure on the entry timeframe to a trade idea, or a reason not.

Every rule is mirrored for shorts; a long is described here.

* ``sweep_choch_ob``: the higher-timeframe bias is bullish; sell-side liquidity below was swept after
  the swing high formed; then an internal CHoCH broke that swing high; entry is on the retrace to the
  top of the order block that the displacement created.
* ``sweep_choch_fvg``: the same, entering at the top of the latest unfilled bullish FVG formed
  between the sweep and the CHoCH.
* ``bos_continuation``: an internal BOS in the bias direction; entry at the top of the break's order
  block, or of the latest unfilled FVG of the leg if it has none.

For both sweep setups the entry must sit in discount of the entry timeframe's dealing range. The
stop goes below the lower of the sweep extreme and the zone, minus ``stop_buffer_atr`` x ATR. Targets
are the untaken buy-side pools above the entry, nearest first (TP1, TP2). The first rule that fails
names the rejection, checked in this order: no sweep, no zone, bias, premium/discount, no target,
reward-to-risk below ``min_rr``, quality below ``a_plus``. (A stop equal to the entry, possible
only for a zone with no height while ATR warms up, is rejected as ``zero_risk``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from smc_agent.analysis.bias import Bias
from smc_agent.analysis.config import AnalysisConfig
from smc_agent.core.timefmt import iso_utc
from smc_agent.model import Direction, Side
from smc_agent.smc import layout as L
from smc_agent.smc.detector import SmcResult
from smc_agent.smc.structure import CHOCH
from smc_agent.smc.tables import ObjectTable

__all__ = ["Candidate", "Rejection", "evaluate", "targets_beyond"]

INTERNAL = 0
# Setups look only at the most recent rows of each detector table, so the cost of a new break does not
# grow with the length of the history. Everything a setup uses is recent: the break's own order
# block, gaps formed in the leg that broke, and pools still live (the detectors track at most 32 a side).
RECENT_ROWS = 4096


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
    context = _Context(row, direction, s, i, _sweep(view, direction, s, i) if reversal else None, _blocks_of(view, row))
    return [_one(view, context, name, bias, config) for name in names]


@dataclass(frozen=True, slots=True)
class _Context:
    row: int
    d: int
    s: int  # where the broken swing formed
    i: int  # the breaking candle
    sweep: int | None  # pools row of the sweep, for reversals
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
        evidence.append(_link(view, "sweep", "pools", sweep, int(view.pools.col("swept_index")[sweep])))
    evidence.append(_link(view, "choch" if setup != "bos_continuation" else "bos", "breaks", row, i))

    zone = _zone(view, setup, ctx.blocks, d, int(view.pools.col("swept_index")[sweep]) if sweep is not None else s, i)
    if zone is None:
        return Rejection(setup, "no_zone")
    table, zrow = zone
    zone_top, zone_bottom = float(view.tables[table].col("top")[zrow]), float(view.tables[table].col("bottom")[zrow])
    evidence.append(_link(view, "zone", table, zrow, int(view.tables[table].col("confirmed_index")[zrow])))

    wanted = Direction.BULLISH if d == 1 else Direction.BEARISH
    bias = bias_of()
    if bias.direction is not wanted:
        return Rejection(setup, "bias_neutral" if bias.direction is Direction.NEUTRAL else "bias_against")

    entry = zone_top if d == 1 else zone_bottom
    top, bottom = float(view.pd_top[i]), float(view.pd_bottom[i])
    position = (entry - bottom) / (top - bottom) if top > bottom else 0.5
    if setup != "bos_continuation" and (position >= 0.5 if d == 1 else position <= 0.5):
        return Rejection(setup, "not_in_discount" if d == 1 else "not_in_premium")

    far = zone_bottom if d == 1 else zone_top
    if sweep is not None:
        taken = slice(int(view.pools.col("swept_index")[sweep]), i + 1)
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
    return Candidate(setup, side, entry, stop, tuple(targets[:2]), rr, quality, breakdown, tuple(evidence), zone)


def _recent(table: ObjectTable) -> tuple[int, Callable[[str], npt.NDArray[Any]]]:
    """The first row worth scanning and a column reader from it on (see ``RECENT_ROWS``)."""
    start = max(0, len(table) - RECENT_ROWS)
    return start, lambda name: table.col(name)[start:]


def targets_beyond(view: SmcResult, d: int, entry: float) -> list[float]:
    """Untaken opposing pools beyond the entry, nearest first: buy-side above a long, sell-side below a short."""
    _, col = _recent(view.pools)
    live = (col("side") == d) & (col("swept_index") < 0) & (col("run_index") < 0)
    live &= (col("superseded_index") < 0) & (col("expired_index") < 0)
    levels = col("top" if d == 1 else "bottom")[live]
    beyond = levels[d * (levels - entry) > 0]
    return sorted({float(x) for x in beyond}, key=lambda x: d * (x - entry))


def _sweep(view: SmcResult, d: int, s: int, i: int) -> int | None:
    """The deepest opposite-side pool swept after the broken swing formed, up to the break."""
    start, col = _recent(view.pools)
    swept = col("swept_index")
    rows = np.flatnonzero((col("side") == -d) & (swept >= s) & (swept <= i))
    if rows.size == 0:
        return None
    levels = col("bottom" if d == 1 else "top")[rows]
    return start + int(rows[np.argmin(d * levels)])


def _blocks_of(view: SmcResult, row: int) -> npt.NDArray[np.intp]:
    """The order block that break ``row`` created (none when the break's leg had no candles)."""
    start, col = _recent(view.order_blocks)
    return np.flatnonzero(col("break_row") == row) + start


def _zone(
    view: SmcResult, setup: str, blocks: npt.NDArray[np.intp], d: int, start: int, i: int
) -> tuple[str, int] | None:
    if setup != "sweep_choch_fvg" and len(blocks):
        return "order_blocks", int(blocks[0])
    if setup == "sweep_choch_ob":
        return None
    first, col = _recent(view.fvgs)
    formed = col("formed_index")
    open_ = (col("filled_index") < 0) & (col("superseded_index") < 0) & (col("expired_index") < 0)
    rows = np.flatnonzero(open_ & (col("direction") == d) & (formed >= start) & (formed <= i))
    return ("fvgs", first + int(rows[-1])) if rows.size else None


def _quality(
    view: SmcResult,
    ctx: _Context,
    zone: tuple[str, int],
    position: float,
    rr: float,
    bias: Bias,
    config: AnalysisConfig,
) -> dict[str, float]:
    """Each component from 0 to 1; docs/user-guide.md explains them."""
    d, i, sweep, blocks = ctx.d, ctx.i, ctx.sweep, ctx.blocks
    atr = float(view.atr[i])
    if sweep is not None:
        pools = view.pools
        level = float(pools.col("bottom" if d == 1 else "top")[sweep])
        taken = slice(int(pools.col("swept_index")[sweep]), i + 1)
        extreme = float(view.candles.low[taken].min() if d == 1 else view.candles.high[taken].max())
        depth = abs(level - extreme) / atr if atr > 0 else 0.0
        members = int(pools.col("members")[sweep])
        sweep_score = min(1.0, 0.6 + 0.2 * (members - 1) + 0.2 * min(1.0, depth))
    else:  # continuation: the larger structure agreeing stands in for the sweep
        sweep_score = 1.0 if int(view.trend[i, 1]) == d else 0.5
    displacement = float(view.order_blocks.col("displacement_atr")[blocks[0]]) if len(blocks) else float("nan")
    table, zrow = zone
    if table == "order_blocks":
        fresh = 1.0 if view.order_blocks.col("mitigated_index")[zrow] < 0 else 0.3
    else:
        touched, half = view.fvgs.col("touched_index")[zrow], view.fvgs.col("half_index")[zrow]
        fresh = 1.0 if touched < 0 else (0.6 if half < 0 else 0.3)
    mask = int(view.session_mask[i])
    in_killzone = mask >> L.KILLZONE_BIT != 0
    session = 1.0 if in_killzone else (0.6 if mask else 0.2)
    return {
        "bias": min(1.0, bias.confidence / config.high_confidence) if config.high_confidence > 0 else 1.0,
        "sweep": sweep_score,
        "displacement": min(1.0, displacement / 3.0) if np.isfinite(displacement) else 0.5,
        "freshness": fresh,
        "premium_discount": float(np.clip((0.5 - position) / 0.5 if d == 1 else (position - 0.5) / 0.5, 0.0, 1.0)),
        "session": session,
        "rr": min(1.0, rr / (2 * config.min_rr)) if config.min_rr > 0 else 1.0,
    }


def _link(view: SmcResult, role: str, table: str, row: int, at: int) -> dict[str, Any]:
    """One link of the evidence chain: which object (table and row), when, at what price."""
    t = view.tables[table]
    link: dict[str, Any] = {"role": role, "id": f"{table}:{row}", "index": at}
    link["time"] = iso_utc(int(view.candles.time[at]) + view.candles.timeframe_ms)
    for name in ("level", "top", "bottom"):
        if name in t.schema.floats:
            link[name] = float(t.col(name)[row])
    return link
