"""Resampling: boundaries, completeness, gaps, time zones, errors, and agreement with pandas on real data."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.resample import resample

SharedPath = Callable[[str], Path]
MIN, HOUR, DAY = 60_000, 3_600_000, 86_400_000


def at(text: str, tz: str = "UTC") -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def minutes(start: int, count: int, step: int = MIN, timeframe: str = "1m", seed: int = 1) -> Candles:
    """Random but valid candles every ``step`` ms from ``start``."""
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, count))
    open_ = close + rng.normal(0, 0.5, count)
    high = np.maximum(open_, close) + rng.random(count)
    low = np.minimum(open_, close) - rng.random(count)
    times = start + np.arange(count, dtype=np.int64) * step
    return Candles.from_arrays(times, open_, high, low, close, rng.random(count) * 10, timeframe=timeframe)


@pytest.fixture(scope="module")
def btc(shared_data_path: SharedPath) -> Candles:
    return load_candles(shared_data_path("crypto/BTC-PERP_1m_2022-01.csv"))


def test_one_hour_equals_sixty_minutes_by_hand(btc: Candles) -> None:
    hours = resample(btc, "1h")
    for k in (1, 100, 700):
        start = int(hours.time[k])
        rows = [i for i in range(len(btc)) if start <= btc.time[i] < start + HOUR]
        assert len(rows) == 60
        assert hours.open[k] == btc.open[rows[0]]
        assert hours.close[k] == btc.close[rows[-1]]
        assert hours.high[k] == max(btc.high[i] for i in rows)
        assert hours.low[k] == min(btc.low[i] for i in rows)
        assert hours.volume[k] == pytest.approx(sum(btc.volume[i] for i in rows), rel=1e-12)


@pytest.mark.parametrize("timeframe", ["3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d", "1w"])
def test_matches_pandas_resample_on_real_data(btc: Candles, timeframe: str) -> None:
    got = resample(btc, timeframe)
    size = pd.Timedelta(got.timeframe_ms, unit="ms")
    origin = pd.Timestamp("1970-01-05") if timeframe == "1w" else pd.Timestamp("1970-01-01")  # weeks start Monday
    frame = btc.to_pandas().tz_localize(None)
    expected = (
        frame.resample(size, origin=origin, closed="left", label="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna()
    )
    np.testing.assert_array_equal(got.time, expected.index.as_unit("ms").asi8)
    for name in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(got, name), expected[name].to_numpy())
    np.testing.assert_allclose(got.volume, expected["volume"].to_numpy(), rtol=1e-12)
    assert got.timeframe == timeframe
    assert got.volume.sum() == pytest.approx(btc.volume.sum(), rel=1e-12)


def test_incomplete_last_bucket_is_flagged_or_dropped() -> None:
    c = minutes(at("2024-01-01 00:00"), 20)  # 00:00 .. 00:19: the 00:15 bucket misses 00:19+1
    r = resample(c, "15m")
    assert (r.time.tolist(), r.last_complete) == ([at("2024-01-01 00:00"), at("2024-01-01 00:15")], False)
    dropped = resample(c, "15m", drop_incomplete=True)
    assert (dropped.time.tolist(), dropped.last_complete) == ([at("2024-01-01 00:00")], True)
    assert resample(minutes(at("2024-01-01 00:00"), 30), "15m").last_complete
    source_open = Candles.from_arrays(c.time[:15], *(a[:15] for a in c.columns), timeframe="1m", last_complete=False)
    assert not resample(source_open, "15m").last_complete


def test_gaps_stay_gaps() -> None:
    c = minutes(0, 10)
    times = np.concatenate([c.time[:5], c.time[5:] + 3 * HOUR])
    r = resample(Candles.from_arrays(times, *c.columns, timeframe="1m"), "1h")
    assert r.time.tolist() == [0, 3 * HOUR]
    assert r.close.tolist() == [c.close[4], c.close[9]]


def test_days_follow_the_local_midnight_when_a_zone_is_given() -> None:
    c = minutes(at("2024-03-04 18:00"), 4, step=15 * MIN, timeframe="15m")  # IST midnight is 18:30 UTC
    assert resample(c, "1d").time.tolist() == [at("2024-03-04 00:00")]
    ist = resample(c, "1d", tz="Asia/Kolkata")
    assert ist.time.tolist() == [
        at("2024-03-04 00:00", "Asia/Kolkata"),
        at("2024-03-05 00:00", "Asia/Kolkata"),
    ]
    assert ist.open.tolist() == [c.open[0], c.open[2]]


def test_a_daylight_saving_day_is_twenty_three_hours() -> None:
    c = minutes(at("2024-03-30 00:00"), 71, step=HOUR, timeframe="1h")  # to 2024-04-01 23:00 BST
    days = resample(c, "1d", tz="Europe/London")
    assert days.time.tolist() == [at(f"{d} 00:00", "Europe/London") for d in ("2024-03-30", "2024-03-31", "2024-04-01")]
    counts = np.diff(np.searchsorted(c.time, [*days.time, c.time[-1] + HOUR]))
    assert counts.tolist() == [24, 23, 24]  # clocks went forward on 31 March
    assert days.volume[1] == pytest.approx(c.volume[24:47].sum())
    assert days.last_complete


def test_weeks_start_on_monday_and_nifty_days_are_sessions(shared_data_path: SharedPath) -> None:
    nifty = load_candles(shared_data_path("india/NIFTY-FUT_15m_2024.csv"), tz="Asia/Kolkata")
    days = resample(nifty, "1d", tz="Asia/Kolkata")
    assert len(days) == 51  # 51 sessions, as the data README says
    weeks = resample(nifty, "1w", tz="Asia/Kolkata")
    local = pd.DatetimeIndex(pd.to_datetime(weeks.time, unit="ms", utc=True)).tz_convert("Asia/Kolkata")
    assert set(local.day_of_week) == {0}
    assert set(local.hour) == {0}
    assert weeks.volume.sum() == nifty.volume.sum()


def test_nifty_intraday_buckets_are_epoch_aligned(shared_data_path: SharedPath) -> None:
    nifty = load_candles(shared_data_path("india/NIFTY-FUT_15m_2024.csv"), tz="Asia/Kolkata")
    hours = resample(nifty, "1h", tz="Asia/Kolkata")  # tz moves only day and week boundaries
    assert hours.time[0] == at("2024-03-01 03:00")
    assert np.all(hours.time % HOUR == 0)


def test_errors() -> None:
    c = minutes(0, 10)
    with pytest.raises(ConfigError, match="not a whole multiple"):
        resample(minutes(0, 10, step=2 * MIN, timeframe="2m"), "5m")
    with pytest.raises(ConfigError, match="invalid timeframe"):
        resample(c, "fortnight")
    with pytest.raises(ConfigError, match="source timeframe is unknown"):
        resample(Candles.from_arrays([0], [1], [1], [1], [1]), "5m")
    shuffled = Candles.from_arrays(c.time[::-1], *(a[::-1] for a in c.columns), timeframe="1m")
    with pytest.raises(DataError, match="row 2: field time") as info:
        resample(shuffled, "5m")
    assert info.value.rule == "times strictly increasing"
    hourly = minutes(at("2024-03-04 17:00"), 3, step=HOUR, timeframe="1h")
    with pytest.raises(DataError, match="candles fit inside buckets") as info:
        resample(hourly, "1d", tz="Asia/Kolkata")  # the 18:00 UTC candle crosses IST midnight
    assert info.value.row == 2


def test_same_timeframe_and_empty_input() -> None:
    c = minutes(0, 10)
    assert resample(c, "1m") is not None
    assert resample(c, "1m").close is c.close
    empty = resample(Candles.from_arrays([], [], [], [], [], timeframe="1m"), "5m")
    assert (len(empty), empty.timeframe) == (0, "5m")


def test_a_million_minutes_to_fifteen_minutes_is_fast() -> None:
    c = minutes(0, 1_000_000)
    start = time.perf_counter()
    r = resample(c, "15m")
    elapsed = time.perf_counter() - start
    assert len(r) == 66_667
    assert elapsed < 0.5
    assert r.high[0] == c.high[:15].max()
    assert r.volume[-1] == pytest.approx(c.volume[-10:].sum())
