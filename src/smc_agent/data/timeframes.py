"""Timeframe strings (``1m``, ``15m``, ``4h``, ``1d``, ``1w``, ``1M``) and their length in milliseconds.

``m`` is a minute and ``M`` a month, as in ccxt and freqtrade; the other units may be written in
either case. A month has no fixed length, so its length here is a nominal one, the mean Gregorian
month (:data:`MONTH_MS`, 30.436875 days): it sorts months between weeks and years and, being no
whole number of days, never equals a timeframe in days. Resampling buckets months by the calendar
(see :func:`smc_agent.data.resample.bucket_bounds`); :func:`is_months` tells a month length apart.
"""

from __future__ import annotations

import re

from smc_agent.core.errors import ConfigError

__all__ = ["MONTH_MS", "STANDARD_TIMEFRAMES", "format_timeframe", "is_months", "parse_timeframe"]

#: The nominal length of ``1M``: 365.2425 / 12 days.
MONTH_MS = 2_629_746_000
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "M": MONTH_MS}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdwSMHDW])\s*$")

#: Timeframes the resampler and the CLI offer; any multiple of the source timeframe also works.
STANDARD_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w", "1M")


def parse_timeframe(text: str) -> int:
    """Return the timeframe length in milliseconds (for months, the nominal :data:`MONTH_MS`).

    >>> parse_timeframe("15m"), parse_timeframe("4h"), parse_timeframe("1D"), parse_timeframe("1M") == MONTH_MS
    (900000, 14400000, 86400000, True)
    """
    match = _PATTERN.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"invalid timeframe {text!r}; use a number and a unit: s, m (minute), h, d, w or M (month), e.g. 15m"
        )
    unit = match.group(2)
    return int(match.group(1)) * _UNIT_MS[unit if unit == "M" else unit.lower()]


def is_months(ms: int) -> bool:
    """Whether a timeframe length is a whole number of months (calendar buckets, not fixed ones)."""
    return ms > 0 and ms % MONTH_MS == 0


def format_timeframe(ms: int) -> str:
    """Return the shortest timeframe string for a length in milliseconds.

    >>> format_timeframe(900000), format_timeframe(86400000), format_timeframe(3 * MONTH_MS)
    ('15m', '1d', '3M')
    """
    if ms <= 0:
        raise ValueError(f"timeframe length must be positive, got {ms}")
    for unit in ("M", "w", "d", "h", "m", "s"):
        size = _UNIT_MS[unit]
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
