"""Streaming aggregation: equal to batch resampling on real data, emitted exactly when a bucket is known
to be closed (never earlier), and hand-built cases for gaps, bucket ends, first buckets, weeks and errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from smc_agent.analysis.aggregate import Bar, CandleAggregator
from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.resample import resample
from smc_agent.data.timeframes import parse_timeframe

SharedPath = Callable[[str], Path]
Loader = Callable[[str, "str | None"], Candles]
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def at(text: str, tz: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def feed(agg: CandleAggregator, candles: Candles) -> tuple[list[Bar], list[int]]:
    """Every bar the aggregator emits over ``candles``, and the index of the candle that emitted it."""
    bars: list[Bar] = []
    emitted_at: list[int] = []
    rows = zip(*(a.tolist() for a in (candles.time, *candles.columns)), strict=True)
    for i, row in enumerate(rows):
        done = agg.update(*row)
        bars += done
        emitted_at += [i] * len(done)
    return bars, emitted_at


def candles_of(bars: list[Bar], timeframe: str) -> Candles:
    cols = [[getattr(b, name) for b in bars] for name in ("time", "open", "high", "low", "close", "volume")]
    return Candles.from_arrays(*cols, timeframe=timeframe)


def bucket_end(start: int, timeframe: str, tz: str | None) -> int:
    """When the bucket starting at ``start`` ends, by calendar arithmetic (independent of bucket_bounds)."""
    size: int = parse_timeframe(timeframe)
    if size % DAY:
        return start + size
    local = datetime.fromtimestamp(start / 1000, ZoneInfo(tz or "UTC"))
    assert (local.hour, local.minute) == (0, 0)
    following = datetime.combine(local.date() + timedelta(days=size // DAY), local.time(), local.tzinfo)
    return int(following.timestamp() * 1000)


def bar_of(candles: Candles, i: int) -> Bar:
    return Bar(int(candles.time[i]), *(float(a[i]) for a in candles.columns))


def candle_rows(
    start: str, count: int, step: int, tz: str = "UTC"
) -> list[tuple[int, float, float, float, float, float]]:
    """``count`` valid candles every ``step`` ms from ``start``, with prices that tell them apart."""
    t0 = at(start, tz)
    return [(t0 + k * step, 10.0 + k, 12.0 + k, 9.0 + k, 11.0 + k, 1.0 + k) for k in range(count)]


@pytest.fixture(scope="module")
def load(shared_data_path: SharedPath) -> Loader:
    @cache
    def loader(relpath: str, tz: str | None) -> Candles:
        return load_candles(shared_data_path(relpath), tz=tz)

    return loader


IST = "Asia/Kolkata"
REAL_CASES = [
    *[("forex/EURUSD_15m_mt5.csv", None, tf) for tf in ("1h", "4h", "1d", "1w")],
    *[("crypto/BTC-PERP_1m_2022-01.csv", None, tf) for tf in ("5m", "15m", "1h", "4h", "1d")],
    *[("india/NIFTY-FUT_15m_2024.csv", IST, tf) for tf in ("1h", "1d")],
    *[("crypto/XRP_ETH-1m.feather", None, tf) for tf in ("15m", "1h")],
]


@pytest.mark.parametrize(("relpath", "tz", "target"), REAL_CASES)
def test_streaming_equals_resample_and_emits_at_the_closing_candle(
    load: Loader, relpath: str, tz: str | None, target: str
) -> None:
    candles = load(relpath, tz)
    agg = CandleAggregator(candles.timeframe, target, tz=tz)
    bars, emitted_at = feed(agg, candles)

    batch = resample(candles, target, tz=tz)
    complete = len(batch) if batch.last_complete else len(batch) - 1
    got = candles_of(bars, target)
    assert len(got) == complete > 0
    for name in ("time", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(got, name), getattr(batch, name)[:complete], err_msg=name)
    assert agg.partial() == (None if batch.last_complete else bar_of(batch, len(batch) - 1))

    # No look-ahead: the bar of bucket B appears at the first candle whose close reaches B's end.
    closes = candles.time + candles.timeframe_ms
    ends = [bucket_end(b.time, target, tz) for b in bars]
    assert emitted_at == np.searchsorted(closes, ends, side="left").tolist()


@pytest.mark.parametrize(
    ("relpath", "target", "late", "total"),
    [("forex/EURUSD_15m_mt5.csv", "1d", 4, 255), ("crypto/XRP_ETH-1m.feather", "15m", 81, 237)],
)
def test_real_gaps_emit_a_bar_at_the_first_candle_after_them(
    load: Loader, relpath: str, target: str, late: int, total: int
) -> None:
    """The real files exercise the gap path: four EURUSD Fridays stop before midnight (their day is
    handed out at Monday's first candle), and the thin XRP/ETH market leaves many quarter hours unfinished."""
    candles = load(relpath, None)
    bars, emitted_at = feed(CandleAggregator(candles.timeframe, target), candles)
    closes = (candles.time + candles.timeframe_ms)[emitted_at]
    after = [b for b, close in zip(bars, closes, strict=True) if close > bucket_end(b.time, target, None)]
    assert (len(after), len(bars)) == (late, total)


def test_a_gap_across_a_bucket_emits_it_at_the_next_candle() -> None:
    agg = CandleAggregator("15m", "1h")
    rows = candle_rows("2024-01-01 00:00", 2, 15 * MIN)  # 00:00 and 00:15; the 00:00 hour never fills
    assert [agg.update(*r) for r in rows] == [[], []]
    later = (at("2024-01-01 02:15"), 20.0, 21.0, 19.0, 20.5, 7.0)
    assert agg.update(*later) == [Bar(at("2024-01-01 00:00"), 10.0, 13.0, 9.0, 12.0, 3.0)]
    assert agg.partial() == Bar(at("2024-01-01 02:00"), 20.0, 21.0, 19.0, 20.5, 7.0)


def test_a_gap_and_a_closing_candle_emit_two_bars_oldest_first() -> None:
    agg = CandleAggregator("15m", "1h")
    agg.update(at("2024-01-01 00:00"), 1.0, 2.0, 0.5, 1.5, 1.0)
    done = agg.update(at("2024-01-01 03:45"), 3.0, 4.0, 2.5, 3.5, 2.0)  # the whole 03:00 hour in one candle
    assert [b.time for b in done] == [at("2024-01-01 00:00"), at("2024-01-01 03:00")]
    assert agg.partial() is None


def test_the_candle_that_ends_a_bucket_emits_it_and_no_earlier_one_does() -> None:
    agg = CandleAggregator("15m", "1h")
    out = [agg.update(*r) for r in candle_rows("2024-01-01 00:00", 5, 15 * MIN)]
    assert out[:3] == [[], [], []]
    assert out[3] == [Bar(at("2024-01-01 00:00"), 10.0, 15.0, 9.0, 14.0, 10.0)]
    assert out[4] == []
    assert agg.partial() == Bar(at("2024-01-01 01:00"), 14.0, 16.0, 13.0, 15.0, 5.0)


def test_a_bucket_with_missing_candles_still_closes_at_its_end() -> None:
    agg = CandleAggregator("15m", "1h")
    assert agg.update(at("2024-01-01 00:00"), 1.0, 2.0, 0.5, 1.5, 1.0) == []
    assert agg.update(at("2024-01-01 00:45"), 1.5, 3.0, 1.0, 2.0, 1.0) == [
        Bar(at("2024-01-01 00:00"), 1.0, 3.0, 0.5, 2.0, 2.0)
    ]


def test_data_starting_mid_bucket_gives_a_first_bar_when_that_bucket_ends() -> None:
    agg = CandleAggregator("1m", "5m")
    rows = candle_rows("2024-01-01 00:03", 3, MIN)  # 00:03, 00:04, then the 00:05 bucket
    out = [agg.update(*r) for r in rows]
    assert out == [[], [Bar(at("2024-01-01 00:00"), 10.0, 13.0, 9.0, 12.0, 3.0)], []]


def test_weekly_buckets_start_on_monday() -> None:
    rows = candle_rows("2024-01-03 00:00", 12, DAY)  # Wednesday 3 January to Sunday 14 January
    agg = CandleAggregator("1d", "1w")
    out = [agg.update(*r) for r in rows]
    monday = at("2024-01-01 00:00")
    assert out[4] == [Bar(monday, 10.0, 16.0, 9.0, 15.0, 15.0)]  # Sunday the 7th closes the week
    assert out[11] == [Bar(monday + 7 * DAY, 15.0, 23.0, 14.0, 22.0, 63.0)]
    assert sum(len(o) for o in out) == 2

    ist = CandleAggregator("1h", "1w", tz=IST)
    for r in candle_rows("2024-01-05 00:00", 24 * 7, HOUR, tz=IST):
        ist.update(*r)
    partial = ist.partial()
    assert partial is not None
    assert partial.time == at("2024-01-08 00:00", IST)  # Monday 00:00 IST


def test_days_follow_local_midnight_through_daylight_saving() -> None:
    agg = CandleAggregator("1h", "1d", tz="Europe/London")
    rows = candle_rows("2024-03-30 00:00", 71, HOUR)  # clocks go forward on 31 March
    bars = [(i, b) for i, r in enumerate(rows) for b in agg.update(*r)]
    days = ("2024-03-30", "2024-03-31", "2024-04-01")
    assert [b.time for _, b in bars] == [at(f"{d} 00:00", "Europe/London") for d in days]
    assert [i for i, _ in bars] == [23, 46, 70]  # the 31st has 23 hours


def test_volume_is_summed_exactly_as_resample_sums_it() -> None:
    rows = [(k * MIN, 1.0, 1.0, 1.0, 1.0, v) for k, v in enumerate((0.1, 0.2, 0.3))]
    agg = CandleAggregator("1m", "3m")
    (bar,) = [b for r in rows for b in agg.update(*r)]
    batch = resample(Candles.from_arrays(*zip(*rows, strict=True), timeframe="1m"), "3m")
    assert bar.volume == batch.volume[0] == 0.6  # a running sum would give 0.6000000000000001


def test_partial_is_none_between_buckets_and_never_emitted() -> None:
    agg = CandleAggregator("15m", "30m")
    assert agg.partial() is None
    agg.update(0, 1.0, 2.0, 0.5, 1.5, 1.0)
    assert agg.partial() == Bar(0, 1.0, 2.0, 0.5, 1.5, 1.0)
    agg.update(15 * MIN, 1.5, 1.6, 1.4, 1.45, 2.0)
    assert agg.partial() is None
    assert agg.timeframe == "30m"


@pytest.mark.parametrize(
    ("source", "target", "key", "match"),
    [
        ("1h", "15m", "target_timeframe", "whole multiple of the source timeframe, and higher"),
        ("15m", "15m", "target_timeframe", "and higher"),
        ("15m", "50m", "target_timeframe", "whole multiple"),
        ("15m", "fortnight", "target_timeframe", "invalid timeframe"),
        ("quarter", "1h", "source_timeframe", "invalid timeframe"),
    ],
)
def test_bad_timeframes_name_the_key(source: str, target: str, key: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        CandleAggregator(source, target)
    assert info.value.key == key
    assert f"key {key}" in str(info.value)


def test_an_unknown_zone_names_the_key() -> None:
    with pytest.raises(ConfigError, match="unknown time zone") as info:
        CandleAggregator("1h", "1d", tz="Mars/Olympus")
    assert info.value.key == "tz"


def test_a_candle_straddling_its_bucket_is_refused_and_changes_nothing() -> None:
    agg = CandleAggregator("1h", "1d", tz=IST)  # IST midnight is 18:30 UTC
    agg.update(at("2024-03-04 17:00"), 1.0, 2.0, 0.5, 1.5, 1.0)
    before = agg.partial()
    with pytest.raises(DataError, match="candles fit inside buckets") as info:
        agg.update(at("2024-03-04 18:00"), 1.5, 9.0, 0.1, 1.0, 1.0)
    assert (info.value.rule, info.value.field) == ("candles fit inside buckets", "time")
    assert "2024-03-05 00:00:00 IST" in str(info.value)
    assert agg.partial() == before

    fresh = CandleAggregator("1h", "1d", tz=IST)  # the same check for a candle that starts a bucket
    with pytest.raises(DataError, match="candles fit inside buckets"):
        fresh.update(at("2024-03-04 18:00"), 1.5, 9.0, 0.1, 1.0, 1.0)
    assert fresh.partial() is None


def test_times_must_increase() -> None:
    agg = CandleAggregator("1m", "5m")
    agg.update(2 * MIN, 1.0, 2.0, 0.5, 1.5, 1.0)
    for stale in (2 * MIN, MIN):
        with pytest.raises(DataError, match="does not follow the previous one") as info:
            agg.update(stale, 1.0, 2.0, 0.5, 1.5, 1.0)
        assert info.value.rule == "times strictly increasing"
    assert agg.partial() == Bar(0, 1.0, 2.0, 0.5, 1.5, 1.0)


def test_a_hundred_thousand_candles_emit_every_bucket() -> None:
    rows = candle_rows("2024-01-01 00:00", 100_000, MIN)
    agg = CandleAggregator("1m", "15m")
    assert sum(len(agg.update(*r)) for r in rows) == 100_000 // 15
