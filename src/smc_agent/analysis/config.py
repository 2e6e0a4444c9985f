"""Settings of the bias engine, the setup rules and the signal lifecycle: one validated object.

Every weight lives here, so a trader can see and change what a score is made of (docs/user-guide.md
explains each one). Weights need not sum to one; they are normalised where they are used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from smc_agent.core.errors import ConfigError, check_each
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.smc.config import SmcConfig, SwingLength

__all__ = ["DEFAULT_HTFS", "ENTRIES", "EVIDENCE", "QUALITY", "SETUPS", "AnalysisConfig", "default_timeframe_weight"]

SETUPS = ("sweep_choch_ob", "sweep_choch_fvg", "bos_continuation")
ENTRIES = ("proximal", "mean", "ote")
EVIDENCE = (
    "swing_structure", "internal_structure", "premium_discount", "order_blocks", "fvgs", "liquidity_draw",
    "daily_levels",
)  # fmt: skip
DEFAULT_HTFS = ("1h", "4h", "1d")  # the higher timeframes when neither --htf nor timeframe_weights names any
_MINUTE_MS, _DAY_MS = 60_000, 86_400_000


def default_timeframe_weight(timeframe: str) -> float:
    """The weight of a timeframe that ``timeframe_weights`` does not name: ``ln(1 + minutes) / ln(1 + 1440)``.

    Heavier for higher timeframes, growing with the log of the duration, and 1 for a day, so a
    user's own weights can be read on the same scale. 1h counts 0.56, 4h 0.75, 1d 1, 1w 1.27.

    >>> round(default_timeframe_weight("4h"), 3), default_timeframe_weight("1d")
    (0.754, 1.0)
    """
    minutes = parse_timeframe(timeframe) / _MINUTE_MS
    return math.log1p(minutes) / math.log1p(_DAY_MS / _MINUTE_MS)


QUALITY = ("bias", "sweep", "displacement", "freshness", "premium_discount", "session", "rr")


def _entry_smc() -> SmcConfig:
    # Single swing points count as liquidity on the entry timeframe: a sweep of one clear low is
    # the classic trigger; equal lows score higher in the quality breakdown.
    return SmcConfig(liquidity_min_members=1)


def _htf_smc() -> SmcConfig:
    # Higher timeframes have few candles (90 days is 90 daily candles), so shorter fractals.
    return SmcConfig(internal=SwingLength(3, 3), swing=SwingLength(10, 10), liquidity_min_members=1)


@dataclass(frozen=True, slots=True)
class AnalysisConfig:
    """Multi-timeframe bias, setup rules and signal lifecycle."""

    # A timeframe named here has this weight (0 leaves it out); any other gets default_timeframe_weight.
    timeframe_weights: dict[str, float] = field(default_factory=dict)
    evidence_weights: dict[str, float] = field(
        default_factory=lambda: {
            "swing_structure": 0.30,
            "internal_structure": 0.15,
            "premium_discount": 0.15,
            "order_blocks": 0.15,
            "fvgs": 0.10,
            "liquidity_draw": 0.15,
            "daily_levels": 0.15,
        }
    )
    neutral_band: float = 10.0  # bullish minus bearish score (0-100) needed for a direction
    medium_confidence: float = 40.0
    high_confidence: float = 70.0
    min_candles: int = 30  # closed candles a timeframe needs before it may vote (a short one is left out)
    setups: tuple[str, ...] = SETUPS
    stop_buffer_atr: float = 0.25
    # A sweep reaches at least this far beyond the level (the tolerance that makes two highs "equal":
    # a smaller poke is noise, not a stop hunt), and closes back inside within this many candles.
    sweep_depth_atr: float = 0.1
    sweep_close_candles: int = 3
    ob_candles: int = 1  # the block's last opposite candles that form the zone; 0: the detector's whole block
    entry: str = "proximal"  # the zone's proximal edge, its mean threshold (50%), or its overlap with OTE
    min_rr: float = 2.0
    quality_weights: dict[str, float] = field(
        default_factory=lambda: {
            "bias": 0.20,
            "sweep": 0.15,
            "displacement": 0.15,
            "freshness": 0.10,
            "premium_discount": 0.15,
            "session": 0.10,
            "rr": 0.15,
        }
    )
    a_plus: float = 0.8
    expiry_candles: int = 24
    entry_smc: SmcConfig = field(default_factory=_entry_smc)
    htf_smc: SmcConfig = field(default_factory=_htf_smc)
    # A symbol's own settings over these, by field name (typed values); for entry_smc and htf_smc a
    # table of the SmcConfig fields that differ, so they keep the rest (the --tz calendar among them).
    symbols: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for tf, weight in self.timeframe_weights.items():
            try:
                parse_timeframe(tf)
            except ConfigError as exc:
                raise ConfigError(exc.message, key=f"timeframe_weights.{tf}") from None
            _non_negative(weight, f"timeframe_weights.{tf}")
        _known(self.evidence_weights, EVIDENCE, "evidence_weights")
        _known(self.quality_weights, QUALITY, "quality_weights")
        unknown = set(self.setups) - set(SETUPS)
        if unknown:
            raise ConfigError(f"unknown setups {sorted(unknown)}; choose from {', '.join(SETUPS)}", key="setups")
        if self.entry not in ENTRIES:
            raise ConfigError(f"unknown entry {self.entry!r}; choose from {', '.join(ENTRIES)}", key="entry")
        if self.ob_candles < 0:
            raise ConfigError(f"must be >= 0, got {self.ob_candles}", key="ob_candles")
        for key in ("neutral_band", "stop_buffer_atr", "min_rr", "sweep_depth_atr"):
            _non_negative(getattr(self, key), key)
        if not 0 <= self.medium_confidence <= self.high_confidence:
            raise ConfigError("need 0 <= medium_confidence <= high_confidence", key="medium_confidence")
        if self.high_confidence > 100:
            raise ConfigError(f"must be at most 100, got {self.high_confidence}", key="high_confidence")
        if not 0 <= self.a_plus <= 1:
            raise ConfigError(f"must be between 0 and 1, got {self.a_plus}", key="a_plus")
        for key in ("min_candles", "expiry_candles", "sweep_close_candles"):
            if getattr(self, key) < 1:
                raise ConfigError(f"must be at least 1, got {getattr(self, key)}", key=key)
        check_each("symbols", self.symbols, self.for_symbol)  # each symbol's settings obey the same rules

    def for_symbol(self, symbol: str) -> AnalysisConfig:
        """The settings ``symbol`` is analysed with: its own from ``symbols`` over these.

        >>> AnalysisConfig(symbols={"EURUSD": {"min_rr": 1.5}}).for_symbol("EURUSD").min_rr
        1.5
        """
        own = self.symbols.get(symbol)
        if not own:
            return self
        known = {f for f in self.__dataclass_fields__ if f != "symbols"}
        changes: dict[str, Any] = {}
        for key, value in own.items():
            if key not in known:
                raise ConfigError(f"unknown setting; known: {', '.join(sorted(known))}", key=key)
            if key in ("entry_smc", "htf_smc"):
                try:
                    value = replace(getattr(self, key), **value)
                except TypeError as exc:  # a field SmcConfig does not have
                    raise ConfigError(str(exc), key=key) from None
                except ConfigError as exc:
                    raise ConfigError(exc.message, key=f"{key}.{exc.key}") from None
            changes[key] = value
        return replace(self, symbols={}, **changes)

    def timeframe_weight(self, timeframe: str) -> float:
        """The weight ``timeframe`` votes with: the user's from ``timeframe_weights``, else the default rule."""
        weight = self.timeframe_weights.get(timeframe)
        return default_timeframe_weight(timeframe) if weight is None else weight


def _known(weights: dict[str, float], names: tuple[str, ...], key: str) -> None:
    for name, weight in weights.items():
        if name not in names:
            raise ConfigError(f"unknown component {name!r}; choose from {', '.join(names)}", key=f"{key}.{name}")
        _non_negative(weight, f"{key}.{name}")
    if sum(weights.values()) <= 0:
        raise ConfigError("at least one weight must be positive", key=key)


def _non_negative(value: float, key: str) -> None:
    if not value >= 0:
        raise ConfigError(f"must be >= 0, got {value}", key=key)
