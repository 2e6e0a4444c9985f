"""Time zones and how times are printed: ISO-8601 UTC with a ``Z`` for JSON, readable text for people.

>>> iso_utc(1_700_000_000_000)
'2023-11-14T22:13:20Z'
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smc_agent.core.errors import ConfigError

__all__ = ["format_time", "iso_utc", "resolve_tz"]


def iso_utc(ms: int) -> str:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MM:SSZ`` (sub-second parts are never used by candles)."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_tz(tz: str | None) -> str:
    """Check an IANA time-zone name (None means UTC) and return it.

    >>> resolve_tz("Asia/Kolkata"), resolve_tz(None)
    ('Asia/Kolkata', 'UTC')
    """
    if tz is None:
        return "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"unknown time zone {tz!r}; use an IANA name such as UTC, Europe/London or Asia/Kolkata", key="tz"
        ) from None
    return tz


def format_time(ms: int, tz: str | None = None) -> str:
    """An epoch-ms time as readable text, in UTC or in ``tz``.

    >>> format_time(1709264700000), format_time(1709264700000, "Asia/Kolkata")
    ('2024-03-01 03:45:00 UTC', '2024-03-01 09:15:00 IST')
    """
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if tz is not None:
        moment = moment.astimezone(ZoneInfo(resolve_tz(tz)))
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return f"{text} {moment.tzname()}"
