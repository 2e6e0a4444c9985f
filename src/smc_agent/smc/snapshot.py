"""The market as the detectors see it after the last candle: what a trader reads first.

Built from :func:`smc_agent.smc.detections.events`, so it uses the same names, states and times as
the JSON. Zones are listed nearest to the last close first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smc_agent.core.timefmt import iso_utc
from smc_agent.smc.detections import events
from smc_agent.smc.detector import SmcResult
from smc_agent.smc.ranges import OTE_HIGH, OTE_LOW

__all__ = ["DealingRange", "MarketSnapshot", "snapshot"]

Event = dict[str, Any]
_TREND = {1: "bullish", -1: "bearish", 0: "neutral"}
_LIVE = {
    "order_block": {"active", "mitigated"},
    "breaker_block": {"active", "touched"},
    "fvg": {"open", "touched", "half_filled"},
    "liquidity": {"active"},
}


@dataclass(frozen=True, slots=True)
class DealingRange:
    """Premium/discount of the last close inside the current (trailing) dealing range."""

    top: float
    bottom: float
    direction: str
    position: float  # 0 at the bottom, 1 at the top

    @property
    def equilibrium(self) -> float:
        return 0.5 * (self.top + self.bottom)

    @property
    def zone(self) -> str:
        if self.position > 0.5:
            return "premium"
        return "discount" if self.position < 0.5 else "equilibrium"

    @property
    def ote(self) -> tuple[float, float]:
        """The 62-79% retracement band of the leg, measured from its newest end."""
        span = self.top - self.bottom
        if self.direction == "bullish":
            return self.top - OTE_HIGH * span, self.top - OTE_LOW * span
        return self.bottom + OTE_LOW * span, self.bottom + OTE_HIGH * span


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    symbol: str
    timeframe: str
    candles: int
    last_time: str | None
    last_close: float | None
    trend: dict[str, str]
    last_bos: dict[str, Event | None]
    last_choch: dict[str, Event | None]
    zones: dict[str, list[Event]] = field(default_factory=dict)
    dealing_range: DealingRange | None = None
    levels: dict[str, Event] = field(default_factory=dict)
    sessions_now: list[str] = field(default_factory=list)


def snapshot(result: SmcResult, *, limit: int = 5) -> MarketSnapshot:
    """Summarise the end state; ``limit`` caps each zone list (nearest first)."""
    evs = events(result)
    n = len(result.candles)
    close = float(result.candles.close[-1]) if n else None
    last_time = iso_utc(int(result.candles.time[-1]) + result.candles.timeframe_ms) if n else None

    scopes = ("internal", "swing")
    trend = {s: _TREND[int(result.trend[-1, k])] if n else "neutral" for k, s in enumerate(scopes)}
    last_bos = {s: _last(evs, "bos", s) for s in scopes}
    last_choch = {s: _last(evs, "choch", s) for s in scopes}

    zones: dict[str, list[Event]] = {}
    for kind, live in _LIVE.items():
        found = [e for e in evs if e["type"] == kind and e["state"] in live]
        if close is not None:
            found.sort(key=lambda e: _distance(e, close))
        zones[kind] = found[:limit]

    dealing = None
    if n and not np.isnan(result.pd_top[-1]) and close is not None:
        top, bottom = float(result.pd_top[-1]), float(result.pd_bottom[-1])
        leg = _last(evs, "dealing_range", None)
        direction = leg["direction"] if leg else "bullish"
        position = (close - bottom) / (top - bottom) if top > bottom else 0.5
        dealing = DealingRange(top, bottom, direction, position)

    levels = {}
    for kind in ("previous_day", "previous_week", "previous_month"):
        latest = _last(evs, kind, None)
        if latest:
            levels[kind] = latest
    names = [w.name for w in (*result.config.sessions, *result.config.killzones)]
    mask = int(result.session_mask[-1]) if n else 0
    n_sessions = len(result.config.sessions)
    now = [name for k, name in enumerate(names) if mask >> (k if k < n_sessions else 16 + k - n_sessions) & 1]
    return MarketSnapshot(
        result.candles.symbol, result.candles.timeframe, n, last_time, close, trend, last_bos, last_choch,
        zones, dealing, levels, now,
    )  # fmt: skip


def _last(evs: list[Event], kind: str, scope: str | None) -> Event | None:
    for event in reversed(evs):
        if event["type"] == kind and (scope is None or event.get("scope") == scope):
            return event
    return None


def _distance(event: Event, price: float) -> float:
    # Zones have top and bottom; single levels only a price.
    top = float(event["top"] if "top" in event else event["price"])
    bottom = float(event["bottom"] if "bottom" in event else event["price"])
    if bottom <= price <= top:
        return 0.0
    return float(min(abs(price - top), abs(price - bottom)))
