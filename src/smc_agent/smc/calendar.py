"""Calendar levels: previous day, week and month high/low, session ranges and killzones.

Every period (a day, a week starting Monday, a month, or one occurrence of a trading session) is
a *stream* of occurrences. An occurrence's high and low become known when it ends: at the candle
whose close reaches the period end, or, when data stops early (a weekend, a gap), at the first
candle after it: for days, weeks and months that candle opens a later period; for a session it may
be any later candle, in a session or not. That candle is its ``confirmed_index``. After confirmation, the
first candle that trades above the high sets ``high_taken_index`` (below the low:
``low_taken_index``). Only the latest occurrence of each stream is watched: yesterday's levels
stop being tracked once today completes.

Days, weeks and months use ``calendar_tz``; each session and killzone has its own zone, so
London and New York hours follow their daylight-saving changes. Killzones only mark candles
(``session_mask`` bits from 16 on); sessions also produce ranges (bits 0..).

Example (UTC, 1h candles): the day 2024-03-01 ends with the candle opening at 23:00; at its
close the day's high and low are confirmed, and a candle on 2024-03-02 trading above that high
sets ``high_taken_index``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from smc_agent.smc import layout as L
from smc_agent.smc.jit import kernel
from smc_agent.smc.tables import Schema, new_row

__all__ = ["CALENDAR", "DAY", "MONTH", "NO_KEY", "WEEK", "calendar_step"]

CALENDAR = Schema(
    "calendar",
    ints=(
        "stream",
        "key",
        "formed_index",
        "confirmed_index",
        "high_index",
        "low_index",
        "high_taken_index",
        "low_taken_index",
    ),
    floats=("high", "low"),
    events=("high_taken_index", "low_taken_index"),
    per_candle=2 * L.CAL_STREAMS,
)
C_STREAM, C_KEY, C_FORMED, C_CONFIRMED, C_HIGH_IDX, C_LOW_IDX, C_HIGH_TAKEN, C_LOW_TAKEN = range(8)
C_HIGH, C_LOW = 0, 1

DAY, WEEK, MONTH = 0, 1, 2  # stream ids; session s is stream 3 + s
NO_KEY = -(1 << 62)
_DAY_MS = 86_400_000


@kernel
def _civil(days: int) -> tuple[int, int]:
    # Howard Hinnant's days -> (year, month), exact for the proleptic Gregorian calendar.
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month


@kernel
def _days(year: int, month: int) -> int:
    # Inverse of _civil for the first day of a month.
    y = year - (1 if month <= 2 else 0)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


@kernel
def _stream(
    i: int,
    stream: int,
    key: int,
    closes: bool,
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    c_i: npt.NDArray[np.int32],
    c_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> None:
    b = 6 * stream
    fb = 2 * stream
    last = state_i[L.S_CAL_LAST_ROW + b]
    if last >= 0 and i > c_i[last, C_CONFIRMED]:
        if c_i[last, C_HIGH_TAKEN] < 0 and high[i] > c_f[last, C_HIGH]:
            c_i[last, C_HIGH_TAKEN] = i
        if c_i[last, C_LOW_TAKEN] < 0 and low[i] < c_f[last, C_LOW]:
            c_i[last, C_LOW_TAKEN] = i
    current = state_i[L.S_CAL_KEY + b]
    if current != NO_KEY and key != current and state_i[L.S_CAL_EMITTED + b] == 0:
        _emit(i, stream, state_i, state_f, c_i, c_f, counts, table)
    if key != NO_KEY:
        if key != current:
            state_i[L.S_CAL_START + b] = i
            state_i[L.S_CAL_HI_IDX + b] = i
            state_i[L.S_CAL_LO_IDX + b] = i
            state_i[L.S_CAL_EMITTED + b] = 0
            state_f[L.SF_CAL_HI + fb] = high[i]
            state_f[L.SF_CAL_LO + fb] = low[i]
        elif state_i[L.S_CAL_EMITTED + b] == 0:
            if high[i] > state_f[L.SF_CAL_HI + fb]:
                state_f[L.SF_CAL_HI + fb] = high[i]
                state_i[L.S_CAL_HI_IDX + b] = i
            if low[i] < state_f[L.SF_CAL_LO + fb]:
                state_f[L.SF_CAL_LO + fb] = low[i]
                state_i[L.S_CAL_LO_IDX + b] = i
    state_i[L.S_CAL_KEY + b] = key
    if key != NO_KEY and closes and state_i[L.S_CAL_EMITTED + b] == 0:
        _emit(i, stream, state_i, state_f, c_i, c_f, counts, table)


@kernel
def _emit(
    i: int,
    stream: int,
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    c_i: npt.NDArray[np.int32],
    c_f: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    table: int,
) -> None:
    b = 6 * stream
    fb = 2 * stream
    row = new_row(c_i, c_f, counts, table)
    c_i[row, C_STREAM] = stream
    c_i[row, C_KEY] = state_i[L.S_CAL_KEY + b]
    c_i[row, C_FORMED] = state_i[L.S_CAL_START + b]
    c_i[row, C_CONFIRMED] = i
    c_i[row, C_HIGH_IDX] = state_i[L.S_CAL_HI_IDX + b]
    c_i[row, C_LOW_IDX] = state_i[L.S_CAL_LO_IDX + b]
    c_f[row, C_HIGH] = state_f[L.SF_CAL_HI + fb]
    c_f[row, C_LOW] = state_f[L.SF_CAL_LO + fb]
    state_i[L.S_CAL_EMITTED + b] = 1
    state_i[L.S_CAL_LAST_ROW + b] = row


@kernel
def _local(time: int, zone: int, zone_starts: npt.NDArray[np.int64], zone_values: npt.NDArray[np.int32]) -> int:
    """Local wall-clock time (epoch ms) of a UTC instant in one of the config's zones."""
    low = 0
    high = zone_starts.shape[1]  # rows are padded with the largest int64, which no time reaches
    while high - low > 1:
        middle = (low + high) >> 1
        if zone_starts[zone, middle] <= time:
            low = middle
        else:
            high = middle
    return time + int(zone_values[zone, low])


@kernel
def _local_day(zone: int, local: int, state_i: npt.NDArray[np.int64]) -> int:
    # 64-bit division is slow on the CPUs we target; do it once a day per zone, not per candle.
    day = int(state_i[L.S_ZONE_DAY + zone])
    offset = local - day * _DAY_MS
    if offset < 0 or offset >= _DAY_MS:
        day = local // _DAY_MS
        state_i[L.S_ZONE_DAY + zone] = day
    return day


@kernel
def calendar_step(
    i: int,
    time: npt.NDArray[np.int64],
    high: npt.NDArray[np.float64],
    low: npt.NDArray[np.float64],
    zone_starts: npt.NDArray[np.int64],
    zone_values: npt.NDArray[np.int32],
    params: npt.NDArray[np.int64],
    windows: npt.NDArray[np.int64],
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    c_i: npt.NDArray[np.int32],
    c_f: npt.NDArray[np.float64],
    series_i: npt.NDArray[np.int32],
    counts: npt.NDArray[np.int64],
    table: int,
) -> None:
    """Advance every calendar stream by candle i and write its session mask.

    ``windows`` rows are (zone slot, start, end) with start and end in ms after local midnight.
    """
    tf = params[L.P_TF_MS]
    zone = params[L.P_CAL_TZ]
    local = _local(time[i], zone, zone_starts, zone_values)
    day = _local_day(zone, local, state_i)
    close = local + tf
    if day != state_i[L.S_CAL_DAY_SEEN]:
        state_i[L.S_CAL_DAY_SEEN] = day
        state_i[L.S_CAL_WEEK] = (day - 4) // 7  # 1970-01-05 was a Monday
        year, month = _civil(day)
        state_i[L.S_CAL_MONTH] = year * 12 + month - 1
        state_i[L.S_CAL_MONTH_END] = _days(year + 1, 1) if month == 12 else _days(year, month + 1)
    week = state_i[L.S_CAL_WEEK]
    _stream(i, DAY, day, close >= (day + 1) * _DAY_MS, high, low, state_i, state_f, c_i, c_f, counts, table)
    _stream(
        i,
        WEEK,
        week,
        close >= (week * 7 + 11) * _DAY_MS,
        high,
        low,
        state_i,
        state_f,
        c_i,
        c_f,
        counts,
        table,
    )
    _stream(
        i, MONTH, state_i[L.S_CAL_MONTH], close >= state_i[L.S_CAL_MONTH_END] * _DAY_MS,
        high, low, state_i, state_f, c_i, c_f, counts, table,
    )  # fmt: skip

    n_sessions = params[L.P_N_SESSIONS]
    mask = 0
    for s in range(n_sessions + params[L.P_N_KILLZONES]):
        start = windows[s, 1]
        end = windows[s, 2]
        loc = _local(time[i], windows[s, 0], zone_starts, zone_values)
        d = _local_day(windows[s, 0], loc, state_i)
        into_day = loc - d * _DAY_MS
        key = NO_KEY
        end_local = 0
        if end > start:
            if start <= into_day < end:
                key = d
                end_local = d * _DAY_MS + end
        elif into_day >= start:
            key = d
            end_local = (d + 1) * _DAY_MS + end
        elif into_day < end:
            key = d - 1
            end_local = d * _DAY_MS + end
        if key != NO_KEY:
            mask |= 1 << (s if s < n_sessions else L.KILLZONE_BIT + s - n_sessions)
        if s < n_sessions:
            closes = key != NO_KEY and loc + tf >= end_local
            _stream(i, 3 + s, key, closes, high, low, state_i, state_f, c_i, c_f, counts, table)
    series_i[i, L.SI_SESSIONS] = mask
