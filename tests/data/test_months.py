"""``1M`` is a month and ``1m`` a minute; monthly candles are calendar months."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.resample import resample
from smc_agent.data.timeframes import MONTH_MS, format_timeframe, parse_timeframe

SharedPath = Callable[[str], Path]


def test_capital_m_is_a_month_and_small_m_a_minute() -> None:
    assert parse_timeframe("1m") == 60_000
    assert parse_timeframe("1M") == MONTH_MS
    assert parse_timeframe("3M") == 3 * MONTH_MS
    # A month sorts after a week and is no whole number of days, so it never equals one.
    assert parse_timeframe("1w") < parse_timeframe("1M") < parse_timeframe("32d")
    assert parse_timeframe("1M") not in {parse_timeframe(f"{n}d") for n in range(28, 32)}
    assert [format_timeframe(parse_timeframe(t)) for t in ("1M", "12M", "1m", "1D")] == ["1M", "12M", "1m", "1d"]


def test_monthly_candles_are_calendar_months_in_the_exchange_zone(shared_data_path: SharedPath) -> None:
    tz = "Asia/Kolkata"
    source = load_candles(shared_data_path("india/NIFTY-FUT_15m_2024.csv"), tz=tz)
    monthly = resample(source, "1M", tz=tz)
    frame = pd.DataFrame(
        {"high": source.high, "low": source.low, "close": source.close},
        index=pd.to_datetime(source.time, unit="ms", utc=True).tz_convert(tz),
    )
    months = frame.index.tz_localize(None).to_period("M")
    expected = frame.groupby(months).agg({"high": "max", "low": "min", "close": "last"})
    assert monthly.timeframe == "1M"
    assert [str(p) for p in expected.index] == ["2024-03", "2024-04", "2024-05"]
    starts = [pd.Timestamp(f"{p}-01", tz=tz).value // 1_000_000 for p in expected.index]
    assert monthly.time.tolist() == starts
    np.testing.assert_array_equal(monthly.high, expected["high"].to_numpy())
    np.testing.assert_array_equal(monthly.low, expected["low"].to_numpy())
    np.testing.assert_array_equal(monthly.close, expected["close"].to_numpy())
    assert not monthly.last_complete  # the data ends on 17 May


def test_weeks_do_not_fill_months() -> None:
    week = 7 * 86_400_000
    weekly = Candles.from_arrays(np.arange(6) * week + 4 * 86_400_000, *([np.ones(6)] * 4), np.ones(6),
                                 timeframe="1w")  # fmt: skip
    with pytest.raises(ConfigError, match="cannot resample 1w candles to 1M"):
        resample(weekly, "1M")
