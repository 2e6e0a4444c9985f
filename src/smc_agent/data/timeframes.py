"""Timeframe strings (``1m``, ``15m``, ``4h``, ``1d``, ``1w``) and their length in milliseconds."""

from __future__ import annotations

import re

from smc_agent.core.errors import ConfigError

__all__ = ["STANDARD_TIMEFRAMES", "format_timeframe", "parse_timeframe"]

_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdwSMHDW])\s*$")

#: Timeframes the resampler and the CLI offer; any multiple of the source timeframe also works.
STANDARD_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w")


def parse_timeframe(text: str) -> int:
    """Return the timeframe length in milliseconds.

    >>> parse_timeframe("15m"), parse_timeframe("4h"), parse_timeframe("1D")
    (900000, 14400000, 86400000)
    """
    match = _PATTERN.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"invalid timeframe {text!r}; use a number and a unit s, m, h, d or w, e.g. 15m")
    unit = match.group(2)
    # "1M" would mean a month to some users and a minute to others; minutes win, months are not candles here.
    return int(match.group(1)) * _UNIT_MS[unit.lower()]


def format_timeframe(ms: int) -> str:
    """Return the shortest timeframe string for a length in milliseconds.

    >>> format_timeframe(900000), format_timeframe(86400000)
    ('15m', '1d')
    """
    if ms <= 0:
        raise ValueError(f"timeframe length must be positive, got {ms}")
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_MS[unit]
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
