"""Signals and the bias behind them: the trade ideas the analysis makes, as plain domain records.

The analysis (:mod:`smc_agent.analysis`) makes these; the trading core publishes them in events, the
journal stores them and the API shows them, so they live here, below all of those, and carry no
behaviour beyond their own JSON form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from smc_agent.core.timefmt import iso_utc
from smc_agent.model.enums import ConfidenceLevel, Direction, Side

__all__ = ["Bias", "Evidence", "Signal", "SignalStatus"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One piece of evidence: what it is, where, which way, how strong, and what was seen."""

    type: str
    timeframe: str
    direction: Direction
    strength: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "timeframe": self.timeframe,
            "direction": self.direction.value,
            "strength": round(self.strength, 6),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Bias:
    """The combined lean of the weighted timeframes after their last closed candles."""

    direction: Direction
    confidence: float
    confidence_level: ConfidenceLevel
    bullish_score: float
    bearish_score: float
    signals: tuple[Evidence, ...]
    reason: str | None = None  # the timeframes used (weights) and left out (why); or why none could vote
    candles: Mapping[str, int] | None = None  # closed candles each timeframe had
    weights: Mapping[str, float] | None = None  # the normalised weight of each timeframe that voted

    def to_dict(self) -> dict[str, Any]:
        return {
            "direction": self.direction.value,
            "confidence": round(self.confidence, 6),
            "confidence_level": self.confidence_level.value,
            "bullish_score": round(self.bullish_score, 6),
            "bearish_score": round(self.bearish_score, 6),
            "reason": self.reason,
            "candles": dict(self.candles or {}),
            "weights": {tf: round(w, 6) for tf, w in (self.weights or {}).items()},
            "signals": [evidence.to_dict() for evidence in self.signals],
        }


class SignalStatus(StrEnum):
    PENDING = "pending"
    TRIGGERED = "triggered"
    EXPIRED = "expired"
    INVALIDATED = "invalidated"
    FILLED = "filled"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Signal:
    """A trade idea with its evidence. Frozen: a change is a new version, never an edit."""

    id: str
    symbol: str
    timeframe: str
    side: Side
    setup: str
    entry: float
    stop: float
    targets: tuple[float, ...]
    rr: float
    quality: float
    quality_breakdown: dict[str, float]
    bias: Bias
    evidence: tuple[dict[str, Any], ...]
    created_ms: int
    created_index: int
    expires_ms: int
    status: SignalStatus = SignalStatus.PENDING
    status_ms: int = 0
    status_reason: str | None = None
    version: int = 1
    fill_price: float | None = None  # the entry's first fill price, once filled
    fill_ms: int | None = None  # and its time
    r_multiple: float | None = None  # once closed: the realised P&L before fees over the money at risk

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "side": self.side.value,
            "setup": self.setup,
            "entry": self.entry,
            "stop": self.stop,
            "targets": list(self.targets),
            "rr": round(self.rr, 6),
            "quality": round(self.quality, 6),
            "quality_breakdown": {k: round(v, 6) for k, v in self.quality_breakdown.items()},
            "bias": self.bias.to_dict(),
            "evidence": list(self.evidence),
            "created_time": iso_utc(self.created_ms),
            "expires_time": iso_utc(self.expires_ms),
            "status": self.status.value,
            "status_time": iso_utc(self.status_ms),
            "status_reason": self.status_reason,
            "version": self.version,
            "fill_price": self.fill_price,
            "fill_time": None if self.fill_ms is None else iso_utc(self.fill_ms),
            "r_multiple": None if self.r_multiple is None else round(self.r_multiple, 6),
        }
