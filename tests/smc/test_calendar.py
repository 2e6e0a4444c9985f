"""Calendar levels on hand-built candles: previous day/week/month high and low, sessions, killzones.

Candles are flat (open 100, high 101, low 99, close 100) except the ones a test marks with another
high and low, so each expected level and index can be read off the marks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from scenario import OHLC, candles, prefixes_agree

from smc_agent.data.candles import Candles
from smc_agent.smc.calendar import DAY, MONTH, WEEK
from smc_agent.smc.config import SessionWindow, SmcConfig
from smc_agent.smc.detector import SmcResult, analyze

BARE = SmcConfig(sessions=(), killzones=())
SESSION = 3  # the first session's stream
LEVEL = ("formed_index", "confirmed_index", "high_index", "low_index", "high", "low")
TAKEN = ("high_taken_index", "low_taken_index")


def _ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


def _flat(n: int, marks: dict[int, tuple[float, float]] | None = None) -> list[OHLC]:
    """n flat candles; ``marks`` maps an index to its (high, low)."""
    rows: list[OHLC] = [(100.0, 101.0, 99.0, 100.0)] * n
    for k, (high, low) in (marks or {}).items():
        middle = min(max(100.0, low), high)
        rows[k] = (middle, high, low, middle)
    return rows


def _run(c: Candles, config: SmcConfig = BARE) -> SmcResult:
    return analyze(c, config, detectors=["calendar"])


def _levels(result: SmcResult, stream: int, columns: tuple[str, ...] = LEVEL + TAKEN) -> list[tuple[Any, ...]]:
    return [tuple(row[name] for name in columns) for row in result.calendar.rows() if row["stream"] == stream]


def _keys(result: SmcResult, stream: int) -> list[int]:
    return [row["key"] for row in result.calendar.rows() if row["stream"] == stream]


def _bits(result: SmcResult, bit: int) -> list[int]:
    return np.flatnonzero(result.session_mask & (1 << bit)).tolist()


# Two UTC days of 1h candles from Friday 2024-03-01: day 1 high 110 at 10, low 90 at 15; day 2
# trades to 111 at 26 and 89 at 30, taking both.
TWO_DAYS = candles(_flat(48, {10: (110, 99), 15: (101, 90), 26: (111, 99), 30: (101, 89)}), "1h", _ms(2024, 3, 1))


def test_previous_day_high_low_confirmed_at_last_candle_of_the_day() -> None:
    """PDH/PDL: day 1 is confirmed at 23:00 (index 23) and taken at 26 and 30."""
    result = _run(TWO_DAYS)
    assert _levels(result, DAY) == [
        (0, 23, 10, 15, 110.0, 90.0, 26, 30),
        (24, 47, 26, 30, 111.0, 89.0, -1, -1),
    ]
    keys = _keys(result, DAY)
    assert keys[1] == keys[0] + 1


def test_day_is_unknown_until_its_last_candle_closes() -> None:
    """After 23 candles day 1 has no row; after 24 it has one."""
    assert _levels(_run(TWO_DAYS[:23]), DAY) == []
    assert _levels(_run(TWO_DAYS[:24]), DAY) == [(0, 23, 10, 15, 110.0, 90.0, -1, -1)]


def test_gap_confirms_the_day_at_the_next_days_first_candle() -> None:
    """Data stops at 20:00: day 1 is confirmed at 00:00 next day (index 21).

    Candle 21 trades to 111, above the high 110, but it is the confirming candle and levels are only
    watched after confirmation; candle 22 (112) takes the high.
    """
    hours = [_ms(2024, 3, 1, h) for h in range(21)] + [_ms(2024, 3, 2, 0), _ms(2024, 3, 2, 1)]
    rows = _flat(23, {10: (110, 99), 21: (111, 99), 22: (112, 99)})
    c = Candles.from_arrays(hours, *zip(*rows, strict=True), timeframe="1h")
    assert _levels(_run(c[:21]), DAY) == []
    assert _levels(_run(c), DAY) == [(0, 21, 10, 0, 110.0, 99.0, 22, -1)]


def test_weekend_gap_confirms_day_and_week_on_monday() -> None:
    """Data stops Friday 21:00 and resumes Monday 00:00: Friday and its week end at that Monday candle."""
    hours = [_ms(2024, 3, 1, 20), _ms(2024, 3, 1, 21), _ms(2024, 3, 4, 0), _ms(2024, 3, 4, 1)]
    rows = _flat(4, {1: (110, 95)})
    c = Candles.from_arrays(hours, *zip(*rows, strict=True), timeframe="1h")
    result = _run(c)
    assert _levels(result, DAY) == [(0, 2, 1, 1, 110.0, 95.0, -1, -1)]
    assert _levels(result, WEEK) == [(0, 2, 1, 1, 110.0, 95.0, -1, -1)]


def test_only_the_latest_day_is_watched() -> None:
    """Day 1 high 110 is not taken by the 112 on day 3: day 2 (high 101) replaced it at 47."""
    result = _run(candles(_flat(72, {10: (110, 99), 50: (112, 99)}), "1h", _ms(2024, 3, 1)))
    assert _levels(result, DAY) == [
        (0, 23, 10, 0, 110.0, 99.0, -1, -1),
        (24, 47, 24, 24, 101.0, 99.0, 50, -1),
        (48, 71, 50, 48, 112.0, 99.0, -1, -1),
    ]


def test_weeks_start_on_monday() -> None:
    """1d candles Thu 2024-02-29 .. Tue 03-12: weeks end on Sunday 03-03 (index 3) and 03-10 (10).

    Week A: high 110 (Fri, 1), low 90 (Sat, 2), taken during week B at 6 and 9. Week B: high 120
    (Wed, 6), low 80 (Sat, 9), its high taken on Monday 03-11 (11).
    """
    marks = {1: (110, 99), 2: (101, 90), 6: (120, 99), 9: (101, 80), 11: (121, 99)}
    result = _run(candles(_flat(13, marks), "1d", _ms(2024, 2, 29)))
    assert _levels(result, WEEK) == [
        (0, 3, 1, 2, 110.0, 90.0, 6, 9),
        (4, 10, 6, 9, 120.0, 80.0, 11, -1),
    ]
    keys = _keys(result, WEEK)
    assert keys[1] == keys[0] + 1


@pytest.mark.parametrize(
    ("start", "last_day_index"),
    [
        ((2024, 1, 30), 1),  # Jan -> Feb: 01-31 is the last day
        ((2023, 12, 30), 1),  # Dec -> Jan across the year
        ((2024, 2, 27), 2),  # leap February: 02-29
        ((2023, 2, 26), 2),  # February 2023 ends on the 28th
        ((2024, 4, 28), 2),  # a 30-day month
    ],
    ids=["jan-feb", "dec-jan", "leap-feb", "feb-2023", "april"],
)
def test_month_boundaries(start: tuple[int, int, int], last_day_index: int) -> None:
    """1d candles across a month end: the month is confirmed on its last day, taken the day after."""
    marks = {last_day_index: (105, 99), last_day_index + 1: (106, 99)}
    result = _run(candles(_flat(last_day_index + 3, marks), "1d", _ms(*start)))
    assert _levels(result, MONTH) == [(0, last_day_index, last_day_index, 0, 105.0, 99.0, last_day_index + 1, -1)]


def test_month_is_confirmed_by_its_last_hourly_candle() -> None:
    """1h candles: February 2024 ends with the candle opening 02-29 23:00."""
    result = _run(candles(_flat(30), "1h", _ms(2024, 2, 29)))
    assert _levels(result, MONTH, LEVEL[:2]) == [(0, 23)]


NY = SessionWindow("ny", "America/New_York", "09:30", "16:00")


def test_new_york_session_follows_daylight_saving() -> None:
    """30m candles Fri 2024-03-08 .. Mon 03-11: 09:30 New York is 14:30 UTC before 03-10, 13:30 after.

    Index = 48 * day + 2 * hour (UTC): Fri 29 .. 41, Sat 77 .. 89, Sun (DST from 07:00 UTC)
    123 .. 135, Mon 171 .. 183; each occurrence is confirmed by the candle closing at 16:00.
    """
    result = _run(candles(_flat(192, {35: (110, 99)}), "30m", _ms(2024, 3, 8)), SmcConfig(sessions=(NY,), killzones=()))
    assert _levels(result, SESSION, LEVEL[:3]) == [(29, 41, 35), (77, 89, 77), (123, 135, 123), (171, 183, 171)]
    expected = [k for first, last in ((29, 41), (77, 89), (123, 135), (171, 183)) for k in range(first, last + 1)]
    assert _bits(result, 0) == expected


def test_session_window_wrapping_midnight() -> None:
    """22:00-02:00 UTC on 1h candles from 03-01 00:00: occurrences 0-1 (from 02-29), 22-25, 46-49.

    The first occurrence (high 101, low 99) is still the latest one when candles 23 and 24 trade
    beyond it, inside the second occurrence.
    """
    late = SessionWindow("late", "UTC", "22:00", "02:00")
    result = _run(
        candles(_flat(72, {23: (110, 99), 24: (101, 90)}), "1h", _ms(2024, 3, 1)),
        SmcConfig(sessions=(late,), killzones=()),
    )
    assert _levels(result, SESSION) == [
        (0, 1, 0, 0, 101.0, 99.0, 23, 24),
        (22, 25, 23, 24, 110.0, 90.0, -1, -1),
        (46, 49, 46, 46, 101.0, 99.0, -1, -1),
    ]
    keys = _keys(result, SESSION)
    assert keys == [keys[0], keys[0] + 1, keys[0] + 2]
    assert _bits(result, 0) == [0, 1, 22, 23, 24, 25, 46, 47, 48, 49, 70, 71]


def test_full_day_window_when_start_equals_end() -> None:
    """00:00-00:00 is a full 24 hours: every candle is in it, one occurrence a day ending at 23:00."""
    config = SmcConfig(sessions=(SessionWindow("all", "UTC", "00:00", "00:00"),), killzones=())
    result = _run(candles(_flat(48), "1h", _ms(2024, 3, 1)), config)
    assert result.session_mask.tolist() == [1] * 48
    assert _levels(result, SESSION, LEVEL[:2]) == [(0, 23), (24, 47)]


def test_session_cut_short_is_confirmed_by_the_next_candle() -> None:
    """08:00-12:00 with data at 08:00, 09:00 then 14:00: the 14:00 candle (outside) confirms it."""
    hours = [_ms(2024, 3, 1, 8), _ms(2024, 3, 1, 9), _ms(2024, 3, 1, 14), _ms(2024, 3, 1, 15)]
    rows = _flat(4, {1: (110, 99), 3: (111, 99)})
    c = Candles.from_arrays(hours, *zip(*rows, strict=True), timeframe="1h")
    config = SmcConfig(sessions=(SessionWindow("s", "UTC", "08:00", "12:00"),), killzones=())
    result = _run(c, config)
    assert _levels(result, SESSION) == [(0, 2, 1, 0, 110.0, 99.0, 3, -1)]
    assert result.session_mask.tolist() == [1, 1, 0, 0]


def test_killzones_only_mark_candles() -> None:
    """Session bit 0, killzone k at bit 16 + k; killzones produce no calendar rows."""
    config = SmcConfig(
        sessions=(SessionWindow("s", "UTC", "08:00", "12:00"),),
        killzones=(SessionWindow("k0", "UTC", "07:00", "10:00"), SessionWindow("k1", "UTC", "09:00", "09:30")),
    )
    result = _run(candles(_flat(24), "1h", _ms(2024, 3, 1)), config)
    mask = [0] * 24
    mask[7] = 1 << 16
    mask[8] = 1 | 1 << 16
    mask[9] = 1 | 1 << 16 | 1 << 17
    mask[10] = mask[11] = 1
    assert result.session_mask.tolist() == mask
    assert sorted({row["stream"] for row in result.calendar.rows()}) == [DAY, SESSION]
    assert _levels(result, SESSION, LEVEL[:2]) == [(8, 11)]


def test_default_new_york_killzone_bit() -> None:
    """Default killzone 2 (New York 07:00-10:00) is 12:00-15:00 UTC on 2024-03-01 (EST): bit 18."""
    result = _run(candles(_flat(24), "1h", _ms(2024, 3, 1)), SmcConfig())
    assert _bits(result, 18) == [12, 13, 14]


def test_calendar_days_in_kolkata() -> None:
    """calendar_tz Asia/Kolkata (UTC+5:30): a day runs 18:30 UTC to 18:30 UTC.

    30m candles from 2024-03-01 00:00 UTC (05:30 IST): day 1 ends with the 18:00 UTC candle (36);
    the 20:00 UTC candle (40) belongs to 03-02 IST and takes day 1's high 101.
    """
    c = candles(_flat(96, {30: (101, 80), 40: (120, 99)}), "30m", _ms(2024, 3, 1))
    result = _run(c, SmcConfig(calendar_tz="Asia/Kolkata", sessions=(), killzones=()))
    assert _levels(result, DAY) == [
        (0, 36, 0, 30, 101.0, 80.0, 40, -1),
        (37, 84, 40, 37, 120.0, 99.0, -1, -1),
    ]


SCENARIOS: dict[str, tuple[Candles, SmcConfig]] = {
    "two-days": (TWO_DAYS, BARE),
    "weeks": (candles(_flat(13, {1: (110, 99), 6: (120, 99)}), "1d", _ms(2024, 2, 29)), BARE),
    "ny-dst": (candles(_flat(192), "30m", _ms(2024, 3, 8)), SmcConfig(sessions=(NY,))),
    "kolkata": (candles(_flat(96, {40: (120, 99)}), "30m", _ms(2024, 3, 1)), SmcConfig(calendar_tz="Asia/Kolkata")),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_streaming_and_prefixes_equal_batch(name: str) -> None:
    """Candle-by-candle updates and every prefix agree with one batch run."""
    c, config = SCENARIOS[name]
    assert prefixes_agree(c, config, ["calendar"]) == []
