"""Each pattern's confidence, on hand-built events: the figures are worked out by hand from the scales the
docstring of smc_agent.analysis.confidence names (and docs/api.md tabulates)."""

from __future__ import annotations

from typing import Any

import pytest

from smc_agent.analysis.confidence import with_confidence


def _event(kind: str, state: str = "active", **fields: Any) -> dict[str, Any]:
    return {"type": kind, "state": state, "formed_index": 10, "confirmed_index": 12, **fields}


def _block(state: str, displacement: float | None, mitigated: str | None) -> dict[str, Any]:
    return _event("order_block", state, displacement_atr=displacement, mitigated_time=mitigated)


def _gap(state: str, touched: str | None, half: str | None) -> dict[str, Any]:
    return _event("fvg", state, touched_time=touched, half_filled_time=half)


T = "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_block("active", 1.5, None), 0.5),  # 1.5 ATR of 3, fresh
        (_block("mitigated", 1.5, T), 0.15),  # 0.5 x 0.3
        (_block("active", 6.0, None), 1.0),  # displacement is capped at 1
        (_block("active", None, None), 0.5),  # no ATR yet: the displacement is unknown, the neutral 0.5
        (_block("invalidated", 6.0, T), 0.0),
        (_event("breaker_block", "active", touched_time=None), 0.5),
        (_event("breaker_block", "touched", touched_time=T), 0.15),
        (_gap("open", None, None), 1.0),
        (_gap("touched", T, None), 0.6),
        (_gap("half_filled", T, T), 0.3),
        (_gap("filled", T, T), 0.0),
        (_event("liquidity", members=2, direction="buy_side"), 0.8),
        (_event("liquidity", members=3, direction="buy_side"), 1.0),
        (_event("liquidity", members=5, direction="buy_side"), 1.0),  # 1.4, capped
        (_event("liquidity", "swept", members=3, direction="buy_side"), 0.0),
        (_event("liquidity", "grown", members=2, direction="sell_side"), 0.0),
        (_event("swing_high", scope="internal"), 0.6),
        (_event("swing_low", scope="swing"), 0.7),
        (_event("swing_low", "broken", scope="swing"), 0.0),
        (_event("previous_day", "intact", high_taken_time=None, low_taken_time=None), 0.75),
        (_event("previous_week", "high_taken", high_taken_time=T, low_taken_time=None), 0.8),
        (_event("previous_month", "low_taken", high_taken_time=T, low_taken_time=T), 0.0),  # both sides taken
        (_event("session", "intact", session="asia", high_taken_time=None, low_taken_time=None), 0.75),
        (_event("session", "intact", session="london", high_taken_time=None, low_taken_time=None), 0.7),
        (_event("bos", "confirmed", scope="internal"), 1.0),
        (_event("choch", "confirmed", scope="swing"), 1.0),
        (_event("dealing_range"), 1.0),
        (_event("dealing_range", "superseded"), 0.0),
    ],
)
def test_each_type_takes_its_scale(event: dict[str, Any], expected: float) -> None:
    (scored,) = with_confidence([event])
    assert scored["confidence"] == pytest.approx(expected)
    assert {k: v for k, v in scored.items() if k != "confidence"} == event  # nothing else changes


def test_a_single_point_pool_is_of_the_swing_scope_when_a_swing_point_formed_on_its_candle() -> None:
    pool = _event("liquidity", members=1, direction="sell_side")
    elsewhere = _event("swing_low", scope="swing") | {"formed_index": 11}
    other_side = _event("swing_high", scope="swing")
    assert with_confidence([pool, elsewhere, other_side])[0]["confidence"] == pytest.approx(0.6)
    assert with_confidence([pool, _event("swing_low", scope="swing")])[0]["confidence"] == pytest.approx(0.7)
