"""Detector settings: one frozen, validated object, turned into the kernels' parameter arrays.

Defaults follow the common SMC toolset (LuxAlgo's two structure scopes, Wilder's ATR 14, ICT
killzones in New York time) so that results look familiar to traders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from smc_agent.core.errors import ConfigError
from smc_agent.core.timefmt import resolve_tz
from smc_agent.smc import layout as L

__all__ = ["DEFAULT_KILLZONES", "DEFAULT_SESSIONS", "SessionWindow", "SmcConfig", "SwingLength"]

DETECTORS = {
    "swings": L.EN_SWINGS,
    "structure": L.EN_SWINGS | L.EN_STRUCTURE,
    "order_blocks": L.EN_SWINGS | L.EN_STRUCTURE | L.EN_ORDER_BLOCKS,
    "fvg": L.EN_FVG,
    "liquidity": L.EN_SWINGS | L.EN_LIQUIDITY,
    "ranges": L.EN_SWINGS | L.EN_RANGES,
    "calendar": L.EN_CALENDAR,
}


@dataclass(frozen=True, slots=True)
class SwingLength:
    """A fractal: the pivot's high (low) is >= (<=) the ``left`` candles before and ``right`` after.

    A swing is confirmed exactly ``right`` candles after it formed, or never.
    """

    left: int
    right: int

    def __post_init__(self) -> None:
        if self.left < 1 or self.right < 1:
            raise ConfigError(f"swing lengths must be >= 1, got left={self.left} right={self.right}")


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """A daily window ``[start, end)`` in local time of ``tz``; ``end <= start`` wraps midnight."""

    name: str
    tz: str
    start: str
    end: str

    def minutes(self, group: str = "sessions") -> tuple[int, int]:
        """Start and end in minutes after local midnight; ``group`` prefixes the key in errors."""
        key = f"{group}.{self.name}"
        return _minutes(self.start, f"{key}.start"), _minutes(self.end, f"{key}.end")


def _zone(name: str, key: str) -> None:
    try:
        resolve_tz(name)
    except ConfigError as exc:
        raise ConfigError(exc.message, key=key) from None


def _minutes(text: str, key: str) -> int:
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError:
        raise ConfigError(f"expected HH:MM, got {text!r}", key=key) from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 1440:
        raise ConfigError(f"time out of range: {text!r}", key=key)
    return hours * 60 + minutes


DEFAULT_SESSIONS = (
    SessionWindow("asia", "Asia/Tokyo", "09:00", "18:00"),
    SessionWindow("london", "Europe/London", "08:00", "17:00"),
    SessionWindow("new_york", "America/New_York", "08:00", "17:00"),
)
DEFAULT_KILLZONES = (
    SessionWindow("asia_kz", "America/New_York", "20:00", "00:00"),
    SessionWindow("london_kz", "America/New_York", "02:00", "05:00"),
    SessionWindow("new_york_kz", "America/New_York", "07:00", "10:00"),
    SessionWindow("london_close_kz", "America/New_York", "10:00", "12:00"),
)

_OB_MODES = {"touch": L.OB_TOUCH, "half": L.OB_HALF, "close": L.OB_CLOSE}
_FVG_MODES = {"none": L.FVG_ANY, "atr": L.FVG_ATR, "auto": L.FVG_AUTO}
_SCOPES = {"internal": 0, "swing": 1}


@dataclass(frozen=True, slots=True)
class SmcConfig:
    """Every detector parameter. See docs/smc.md for what each one changes."""

    atr_period: int = 14
    internal: SwingLength = field(default_factory=lambda: SwingLength(5, 5))
    swing: SwingLength = field(default_factory=lambda: SwingLength(50, 50))
    structure_break: Literal["close", "wick"] = "close"
    ob_mitigation: Literal["touch", "half", "close"] = "touch"
    fvg_min_size: Literal["none", "atr", "auto"] = "none"
    fvg_min_atr: float = 0.0
    fvg_join_consecutive: bool = False
    liquidity_scope: Literal["internal", "swing"] = "internal"
    liquidity_tolerance_atr: float = 0.1
    liquidity_min_members: int = 2
    range_scope: Literal["internal", "swing"] = "swing"
    calendar_tz: str = "UTC"
    sessions: tuple[SessionWindow, ...] = DEFAULT_SESSIONS
    killzones: tuple[SessionWindow, ...] = DEFAULT_KILLZONES

    def __post_init__(self) -> None:
        checks = (
            ("atr_period", self.atr_period >= 1),
            ("structure_break", self.structure_break in ("close", "wick")),
            ("ob_mitigation", self.ob_mitigation in _OB_MODES),
            ("fvg_min_size", self.fvg_min_size in _FVG_MODES),
            ("fvg_min_atr", self.fvg_min_atr >= 0),
            ("liquidity_scope", self.liquidity_scope in _SCOPES),
            ("liquidity_tolerance_atr", self.liquidity_tolerance_atr >= 0),
            ("liquidity_min_members", self.liquidity_min_members >= 1),
            ("range_scope", self.range_scope in _SCOPES),
            ("sessions", len(self.sessions) + len(self.killzones) <= L.MAX_SESSIONS),
        )
        for key, ok in checks:
            if not ok:
                raise ConfigError(f"invalid value {getattr(self, key)!r}", key=key)
        _zone(self.calendar_tz, "calendar_tz")
        for group, windows in (("sessions", self.sessions), ("killzones", self.killzones)):
            for window in windows:
                window.minutes(group)
                _zone(window.tz, f"{group}.{window.name}.tz")

    def timezones(self) -> tuple[str, ...]:
        """Distinct zones the calendar needs, calendar zone first (its slot is 0)."""
        zones = [self.calendar_tz]
        for window in (*self.sessions, *self.killzones):
            if window.tz not in zones:
                zones.append(window.tz)
        return tuple(zones)

    def params(
        self, timeframe_ms: int, enable: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """The kernels' int parameters, float parameters and session table."""
        p = np.zeros(L.N_PARAMS_I, dtype=np.int64)
        p[L.P_ATR_PERIOD] = self.atr_period
        for scope, length in enumerate((self.internal, self.swing)):
            p[L.P_LEFT + 2 * scope] = length.left
            p[L.P_RIGHT + 2 * scope] = length.right
        p[L.P_CLOSE_BREAK] = self.structure_break == "close"
        p[L.P_OB_MODE] = _OB_MODES[self.ob_mitigation]
        p[L.P_FVG_MODE] = _FVG_MODES[self.fvg_min_size]
        p[L.P_FVG_JOIN] = self.fvg_join_consecutive
        p[L.P_LIQ_SCOPE] = _SCOPES[self.liquidity_scope]
        p[L.P_LIQ_MIN_MEMBERS] = self.liquidity_min_members
        p[L.P_RANGE_SCOPE] = _SCOPES[self.range_scope]
        p[L.P_TF_MS] = timeframe_ms
        # A candle of a day or longer spans every session and killzone, so "in London" says nothing
        # about it: such timeframes get no session ranges and an empty mask (the kernel skips the loop).
        intraday = timeframe_ms < 86_400_000
        p[L.P_N_SESSIONS] = len(self.sessions) if intraday else 0
        p[L.P_N_KILLZONES] = len(self.killzones) if intraday else 0
        p[L.P_ENABLE] = enable
        p[L.P_CAL_TZ] = 0
        pf = np.zeros(L.N_PARAMS_F, dtype=np.float64)
        pf[L.PF_FVG_MIN_ATR] = self.fvg_min_atr
        pf[L.PF_LIQ_TOL_ATR] = self.liquidity_tolerance_atr
        zones = self.timezones()
        windows = np.zeros((L.MAX_SESSIONS, 3), dtype=np.int64)
        for row, window in enumerate((*self.sessions, *self.killzones)):
            start, end = window.minutes()
            windows[row] = (zones.index(window.tz), start * 60_000, end * 60_000)
        return p, pf, windows
