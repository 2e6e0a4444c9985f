"""How much a detected pattern still counts, from 0 to 1: the ``confidence`` of each ``analyze --json`` event.

No new judgement: each type takes the scale the agent's own scoring already gives it (docs/api.md has the table).
Zones take the setups' quality components (:mod:`.setups`): an order block its displacement (full at three ATR)
times its freshness, a fair value gap its freshness. Liquidity takes its level's strength (:mod:`.liquidity`):
equal highs or lows by their members, a single swing point by its scope, the previous day, week and month and the
sessions by their kind. A confirmed break of structure and a dealing range are facts of closed candles: 1.
Whatever is used up (invalidated, filled, merged, expired, superseded, swept, run, grown into a larger pool,
broken, or a calendar range taken on both sides) counts for nothing: 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from smc_agent.analysis.liquidity import PERIOD_STRENGTH, pool_strength, session_strength
from smc_agent.analysis.setups import block_freshness, displacement_score, gap_freshness

__all__ = ["SPENT", "with_confidence"]

SPENT = frozenset({"invalidated", "filled", "merged", "expired", "superseded", "swept", "run", "grown", "broken"})
_SIDE = {"buy_side": "swing_high", "sell_side": "swing_low"}  # the swing points a pool gathers


def with_confidence(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event with its ``confidence`` (rounded to 4 places)."""
    found = list(events)
    # A pool of one member is one swing point: of the swing scope when a swing-scope point formed on its candle.
    swing_points = {(e["type"], e["formed_index"]) for e in found if e["type"] in _SIDE.values()
                    and e.get("scope") == "swing"}  # fmt: skip
    return [{**e, "confidence": round(_confidence(e, swing_points), 4)} for e in found]


def _confidence(event: dict[str, Any], swing_points: set[tuple[str, int]]) -> float:
    kind = event["type"]
    if event["state"] in SPENT or (event.get("high_taken_time") and event.get("low_taken_time")):
        return 0.0
    if kind == "order_block":
        atr_multiple = event["displacement_atr"]  # null while the ATR warms up: unknown, so the neutral 0.5
        return displacement_score(float("nan") if atr_multiple is None else float(atr_multiple)) * block_freshness(
            mitigated=event["mitigated_time"] is not None)  # fmt: skip
    if kind == "breaker_block":  # its displacement is the old block's failure: not measured, so the neutral 0.5
        return displacement_score(float("nan")) * block_freshness(mitigated=event["touched_time"] is not None)
    if kind == "fvg":
        return gap_freshness(touched=event["touched_time"] is not None,
                             half_filled=event["half_filled_time"] is not None)  # fmt: skip
    if kind == "liquidity":
        swing = (_SIDE.get(event["direction"]), event["formed_index"]) in swing_points
        return min(1.0, pool_strength(int(event["members"]), swing=swing))
    if kind in ("swing_high", "swing_low"):
        return pool_strength(1, swing=event.get("scope") == "swing")
    if kind in PERIOD_STRENGTH:
        return PERIOD_STRENGTH[kind]
    if kind == "session":
        return session_strength(str(event["session"]))
    return 1.0  # bos, choch, dealing_range
