"""An exchange's trading session: its hours in its own time zone, its weekdays and holidays, and the rule for a
candle that falls outside it.

Indian exchanges (NSE, BSE) trade **09:15 to 15:30 IST** (Asia/Kolkata, UTC+05:30, no daylight saving),
Monday to Friday, except on the exchange's holidays, which change every year and so come from the settings
(a list of dates), and so do the rare weekend days that trade (``special_days``: NSE held a special session on
Saturday 2 March 2024, which the real NIFTY file contains). :data:`NSE_HOURS` is that session;
:meth:`MarketHours.with_holidays` adds the holidays and special days. A special day uses the usual hours.

**The rule for a candle outside the session.** A candle belongs to the session when its whole period lies
inside one day's session: it opens at or after 09:15 and closes at or before 15:30 IST, on a weekday that is
not a holiday (or on a special day). Any other candle (a post-close print such as a 15:30 bar, a bar on a
holiday or a weekend) is **dropped and counted, never delivered**: a strategy sees the same session candles
from history and from the live feed, and never a bar of the closing auction that history may or may not
contain. :class:`SessionFilter` applies the rule, counts the drops and logs one line when a run of dropped
candles begins, not one per candle.

>>> from datetime import date
>>> hours = NSE_HOURS.with_holidays([date(2024, 3, 8)])
>>> t = hours.to_utc_ms("2024-03-01 09:15")
>>> t, hours.format_local(t)
(1709264700000, '2024-03-01 09:15')
>>> hours.contains(t, 900_000), hours.contains(hours.to_utc_ms("2024-03-01 15:15"), 900_000)
(True, True)
>>> [hours.contains(hours.to_utc_ms(t), 900_000) for t in ("2024-03-01 15:30", "2024-03-08 10:00")]
[False, False]
>>> hours.format_local(hours.next_open(hours.to_utc_ms("2024-03-07 15:30")))  # Friday the 8th is a holiday
'2024-03-11 09:15'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from smc_agent.core.logs import get_logger
from smc_agent.core.timefmt import format_time

__all__ = ["NSE_HOURS", "MarketHours", "SessionFilter"]

_log = get_logger(__name__)
_LOCAL_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True, slots=True)
class MarketHours:
    """One daily session, ``open`` to ``close`` local time in ``tz``, on ``weekdays`` (0 = Monday) but not on
    ``holidays`` (local dates), and also on ``special_days``."""

    tz: str
    open: time
    close: time
    weekdays: frozenset[int] = frozenset(range(5))
    holidays: frozenset[date] = field(default_factory=frozenset)
    special_days: frozenset[date] = field(default_factory=frozenset)

    def with_holidays(self, holidays: Iterable[date | str], special_days: Iterable[date | str] = ()) -> MarketHours:
        """The same session with these holidays and special days (dates, or ISO strings like ``2024-03-08``)."""
        return replace(self, holidays=_dates(holidays), special_days=_dates(special_days))

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def to_utc_ms(self, local: str | datetime) -> int:
        """A local wall time (``"YYYY-MM-DD HH:MM"``, ISO with an offset, or a datetime) as epoch ms UTC."""
        moment = datetime.fromisoformat(local) if isinstance(local, str) else local
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return int(moment.timestamp() * 1000)

    def local(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, self.zone)

    def format_local(self, ms: int) -> str:
        """Epoch ms UTC as local ``"YYYY-MM-DD HH:MM"``, the form Angel One's history API takes."""
        return self.local(ms).strftime(_LOCAL_FORMAT)

    def is_trading_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day.weekday() in self.weekdays or day in self.special_days

    def contains(self, open_ms: int, period_ms: int) -> bool:
        """Whether the candle opened at ``open_ms`` lasting ``period_ms`` lies inside one day's session."""
        start, end = self.local(open_ms), self.local(open_ms + period_ms)
        if not self.is_trading_day(start.date()):
            return False
        session_open, session_close = self._bounds(start.date())
        return session_open <= start and end <= session_close

    def is_open(self, ms: int) -> bool:
        """Whether the market is trading at ``ms``."""
        moment = self.local(ms)
        if not self.is_trading_day(moment.date()):
            return False
        session_open, session_close = self._bounds(moment.date())
        return session_open <= moment < session_close

    def next_open(self, ms: int) -> int:
        """The next session open at or after ``ms`` (``ms`` itself is not moved back into a session)."""
        day = self.local(ms).date()
        for _ in range(366):
            if self.is_trading_day(day):
                session_open = self._bounds(day)[0]
                if session_open.timestamp() * 1000 >= ms:
                    return int(session_open.timestamp() * 1000)
            day += timedelta(days=1)
        raise ValueError(f"no trading day within a year of {format_time(ms)}: check the holidays")

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        zone = self.zone
        return datetime.combine(day, self.open, zone), datetime.combine(day, self.close, zone)


def _dates(values: Iterable[date | str]) -> frozenset[date]:
    return frozenset(d if isinstance(d, date) else date.fromisoformat(d) for d in values)


NSE_HOURS = MarketHours("Asia/Kolkata", time(9, 15), time(15, 30))


class SessionFilter:
    """Applies the rule of the module docstring to one stream: :meth:`keep` says whether a candle is delivered,
    :attr:`dropped` counts the others, and one line is logged when a run of dropped candles begins."""

    def __init__(self, hours: MarketHours, stream: str, period_ms: int) -> None:
        self.hours, self.stream, self.period_ms = hours, stream, period_ms
        self.dropped = 0
        self._in_run = False

    def keep(self, open_ms: int) -> bool:
        if self.hours.contains(open_ms, self.period_ms):
            self._in_run = False
            return True
        self.dropped += 1
        if not self._in_run:
            self._in_run = True
            _log.info("candle outside the trading session dropped", stream=self.stream,
                      candle=self.hours.format_local(open_ms), tz=self.hours.tz, dropped=self.dropped,
                      session=f"{self.hours.open:%H:%M}-{self.hours.close:%H:%M}")  # fmt: skip
        return False
