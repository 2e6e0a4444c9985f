"""Closed sets of values. Enums, not strings, so a typo is an error and not a silent new value."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ConfidenceLevel", "Direction", "Side", "TradingState"]


class Direction(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class ConfidenceLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: prices above the entry favour a buy."""
        return 1 if self is Side.BUY else -1


class TradingState(StrEnum):
    """What the risk gate lets through: everything, only exits (rest of the day), or only exits (until reset)."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"
