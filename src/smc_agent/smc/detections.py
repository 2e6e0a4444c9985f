"""Detected objects as plain event dicts: the stable, documented JSON of ``smc-agent analyze``.

Every event has ``type``, ``direction``, ``formed_time`` (open time of the candle where the object
sits on the chart), ``confirmed_time`` (close time of the first candle at whose close it was
knowable), ``top`` and ``bottom`` (or ``price`` for a single level), ``state`` (its latest state)
and ``state_time``, plus the type's own fields. Each state change is also given as
``<change>_time`` (close time, or null). Times are ISO-8601 UTC. docs/api.md lists every field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from smc_agent.core.timefmt import iso_utc
from smc_agent.smc.calendar import DAY, MONTH, WEEK
from smc_agent.smc.detector import SmcResult
from smc_agent.smc.structure import CHOCH
from smc_agent.smc.swings import HH, HL, LH, LL
from smc_agent.smc.tables import ObjectTable

__all__ = ["EVENT_TYPES", "events", "state_of"]

Row = dict[str, Any]

_SCOPES = ("internal", "swing")
_LABELS = {0: None, HH: "HH", LH: "LH", HL: "HL", LL: "LL"}
_DIRECTION = {1: "bullish", -1: "bearish"}

# Latest applicable state wins: each table lists its state changes from earliest to final.
_STATES: dict[str, tuple[tuple[str, str], ...]] = {
    "swings": (("broken_index", "broken"), ("superseded_index", "superseded")),
    "order_blocks": (
        ("mitigated_index", "mitigated"),
        ("invalidated_index", "invalidated"),
        ("expired_index", "expired"),
    ),
    "breakers": (
        ("breaker_touched_index", "touched"),
        ("breaker_invalidated_index", "invalidated"),
        ("expired_index", "expired"),
    ),
    "fvgs": (
        ("touched_index", "touched"),
        ("half_index", "half_filled"),
        ("filled_index", "filled"),
        ("superseded_index", "merged"),
        ("expired_index", "expired"),
    ),
    "pools": (
        ("swept_index", "swept"),
        ("run_index", "run"),
        ("superseded_index", "grown"),
        ("expired_index", "expired"),
    ),
    "ranges": (("superseded_index", "superseded"),),
    "calendar": (("high_taken_index", "high_taken"), ("low_taken_index", "low_taken")),
}
_INITIAL = {"fvgs": "open", "calendar": "intact", "breaks": "confirmed"}

EVENT_TYPES = (
    "swing_high", "swing_low", "bos", "choch", "order_block", "breaker_block", "fvg",
    "liquidity", "dealing_range", "previous_day", "previous_week", "previous_month", "session",
)  # fmt: skip


def state_of(kind: str, row: Row) -> tuple[str, int]:
    """The latest state of a row and the index of the candle where it began (-1: confirmation)."""
    state, since = _INITIAL.get(kind, "active"), -1
    for column, name in _STATES.get(kind, ()):
        index = row[column]
        if kind == "order_blocks" and column == "expired_index" and row["invalidated_index"] >= 0:
            continue  # a failed block's expiry belongs to its breaker
        if index >= 0 and index >= since:
            state, since = name, index
    return state, since


def events(result: SmcResult) -> list[Row]:
    """All objects as events, ordered by confirmation then formation (a stable order)."""
    candles = result.candles
    tf_ms = candles.timeframe_ms

    def opened(index: int) -> str | None:
        return iso_utc(int(candles.time[index])) if index >= 0 else None

    def closed(index: int) -> str | None:
        return iso_utc(int(candles.time[index]) + tf_ms) if index >= 0 else None

    sessions = [w.name for w in result.config.sessions]
    out: list[Row] = []
    for kind, builder in _BUILDERS.items():
        table = result.tables["order_blocks" if kind == "breakers" else kind]
        for row in _rows(table, kind):
            event = builder(row, sessions)
            state, since = state_of(kind, row)
            start = row["invalidated_index"] if kind == "breakers" else row["confirmed_index"]
            event.update(
                formed_time=opened(row["formed_index"]),
                confirmed_time=closed(start),
                state=state,
                state_time=closed(since if since >= 0 else start),
                formed_index=row["formed_index"],
                confirmed_index=start,
            )
            for column, name in _STATES.get(kind, ()):
                event[f"{name}_time"] = closed(row[column])
            out.append(event)
    out.sort(key=lambda e: (e["confirmed_index"], e["formed_index"], EVENT_TYPES.index(e["type"])))
    return out


def _rows(table: ObjectTable, kind: str) -> Iterator[Row]:
    for row in table.rows():
        if kind != "breakers" or row["invalidated_index"] >= 0:
            yield row


def _swing(row: Row, _: list[str]) -> Row:
    high = row["kind"] == 1
    return {
        "type": "swing_high" if high else "swing_low",
        "direction": "bearish" if high else "bullish",  # the way price turned at the pivot
        "price": row["level"],
        "scope": _SCOPES[row["scope"]],
        "label": _LABELS[row["label"]],
    }


def _break(row: Row, _: list[str]) -> Row:
    return {
        "type": "choch" if row["kind"] == CHOCH else "bos",
        "direction": _DIRECTION[row["direction"]],
        "price": row["level"],
        "scope": _SCOPES[row["scope"]],
    }


def _order_block(row: Row, _: list[str]) -> Row:
    return {
        "type": "order_block",
        "direction": _DIRECTION[row["direction"]],
        "top": row["top"],
        "bottom": row["bottom"],
        "scope": _SCOPES[row["scope"]],
        "displacement_atr": _finite(row["displacement_atr"]),
    }


def _breaker(row: Row, _: list[str]) -> Row:
    # A failed block flips: a broken bullish block becomes bearish resistance.
    return {
        "type": "breaker_block",
        "direction": _DIRECTION[-row["direction"]],
        "top": row["top"],
        "bottom": row["bottom"],
        "scope": _SCOPES[row["scope"]],
    }


def _fvg(row: Row, _: list[str]) -> Row:
    return {
        "type": "fvg",
        "direction": _DIRECTION[row["direction"]],
        "top": row["top"],
        "bottom": row["bottom"],
    }


def _pool(row: Row, _: list[str]) -> Row:
    return {
        "type": "liquidity",
        "direction": "buy_side" if row["side"] == 1 else "sell_side",
        "top": row["top"],
        "bottom": row["bottom"],
        "price": row["top"] if row["side"] == 1 else row["bottom"],
        "members": row["members"],
    }


def _range(row: Row, _: list[str]) -> Row:
    return {
        "type": "dealing_range",
        "direction": _DIRECTION[row["direction"]],
        "top": row["top"],
        "bottom": row["bottom"],
        "equilibrium": 0.5 * (row["top"] + row["bottom"]),
    }


def _calendar(row: Row, sessions: list[str]) -> Row:
    stream = row["stream"]
    names = {DAY: "previous_day", WEEK: "previous_week", MONTH: "previous_month"}
    event: Row = {
        "type": names.get(stream, "session"),
        "direction": "neutral",
        "top": row["high"],
        "bottom": row["low"],
    }
    if stream not in names:
        event["session"] = sessions[stream - 3]
    return event


_BUILDERS: dict[str, Callable[[Row, list[str]], Row]] = {
    "swings": _swing,
    "breaks": _break,
    "order_blocks": _order_block,
    "breakers": _breaker,
    "fvgs": _fvg,
    "pools": _pool,
    "ranges": _range,
    "calendar": _calendar,
}


def _finite(value: float) -> float | None:
    return value if value == value else None  # NaN (ATR warming up) has no JSON form
