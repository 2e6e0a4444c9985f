"""Validation rules, gap reports and the opt-in fix, on hand-built candles and on real files."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from smc_agent.core.errors import DataError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.validation import Gap, check, fix, validate

SharedPath = Callable[[str], Path]
MIN = 60_000


def candles(times: list[int] | None = None, **overrides: list[float]) -> Candles:
    """Four clean 1m candles (open 10, high 12, low 9, close 11, volume 5) with some fields replaced."""
    times = times if times is not None else [0, MIN, 2 * MIN, 3 * MIN]
    n = len(times)
    base = {
        "open": [10.0] * n,
        "high": [12.0] * n,
        "low": [9.0] * n,
        "close": [11.0] * n,
        "volume": [5.0] * n,
    }
    base.update(overrides)
    return Candles.from_arrays(np.array(times), **base, timeframe="1m")


def test_clean_candles_pass() -> None:
    report = check(candles())
    assert report.ok
    assert report.error is None
    assert (report.rows, report.timeframe, report.gap_count, report.largest_gap) == (4, "1m", 0, None)


@pytest.mark.parametrize(
    ("c", "row", "field", "rule"),
    [
        (candles(close=[11.0, np.nan, 11.0, 11.0]), 2, "close", "finite values"),
        (candles(volume=[5.0, 5.0, 5.0, np.inf]), 4, "volume", "finite values"),
        (candles([0, MIN, MIN, 3 * MIN]), 3, "time", "times strictly increasing"),
        (candles([0, 2 * MIN, MIN, 3 * MIN]), 3, "time", "times strictly increasing"),
        (candles(high=[12.0, 12.0, 8.0, 12.0]), 3, "high", "high >= low"),
        (candles(high=[12.0, 10.5, 12.0, 12.0]), 2, "high", "high >= max(open, close)"),
        (candles(low=[9.0, 9.0, 9.0, 10.5]), 4, "low", "low <= min(open, close)"),
        (candles(volume=[5.0, -1.0, 5.0, 5.0]), 2, "volume", "volume >= 0"),
    ],
)
def test_each_rule_names_row_field_and_rule(c: Candles, row: int, field: str, rule: str) -> None:
    report = validate(c, path="f.csv")
    assert not report.ok
    assert report.error is not None
    assert (report.error.path, report.error.row, report.error.field, report.error.rule) == (
        "f.csv",
        row,
        field,
        rule,
    )
    assert f"(rule: {rule})" in str(report.error)
    with pytest.raises(DataError) as info:
        check(c, path="f.csv")
    assert str(info.value) == str(report.error)


def test_earliest_row_wins_then_rule_order() -> None:
    c = candles(volume=[5.0, -1.0, 5.0, 5.0], high=[12.0, 12.0, 8.0, 12.0])
    assert validate(c).error.field == "volume"  # type: ignore[union-attr]
    both = candles(high=[12.0, 8.5, 12.0, 12.0])  # row 2: high below low and below the body
    assert validate(both).error.rule == "high >= low"  # type: ignore[union-attr]


def test_rows_and_column_names_map_back_to_the_file() -> None:
    c = candles(low=[9.0, 9.0, 11.5, 9.0])
    error = validate(c, path="x.csv", rows=np.array([2, 3, 7, 8]), columns={"low": "Low"}).error
    assert str(error) == "x.csv: row 7: field Low: Low 11.5 is above the body (rule: low <= min(open, close))"


def test_out_of_order_message_names_both_rows() -> None:
    error = validate(candles([0, 2 * MIN, MIN, 3 * MIN]), path="x.csv").error
    assert str(error) == (
        "x.csv: row 3: field time: time 1970-01-01 00:01:00 UTC is earlier than row 2 "
        "(1970-01-01 00:02:00 UTC); fix (--fix) sorts rows and drops exact duplicates "
        "(rule: times strictly increasing)"
    )


def test_gaps_are_reported_not_filled() -> None:
    c = candles([0, MIN, 5 * MIN, 6 * MIN, 9 * MIN])
    report = validate(c)
    assert report.ok
    assert report.gaps() == [Gap(2 * MIN, 5 * MIN, 3), Gap(7 * MIN, 9 * MIN, 2)]
    assert (report.gap_count, report.missing_candles, report.largest_gap) == (2, 5, Gap(2 * MIN, 5 * MIN, 3))
    assert report.gaps(limit=1) == [Gap(2 * MIN, 5 * MIN, 3)]
    assert len(c) == 5


def test_gap_counts_round_up_for_off_grid_steps_and_need_a_timeframe() -> None:
    assert validate(candles([0, MIN, 2 * MIN + 90_000, 4 * MIN])).gaps() == [Gap(2 * MIN, 2 * MIN + 90_000, 2)]
    assert validate(candles([0, 5 * MIN]).with_meta(timeframe="")).gap_count == 0


def test_real_gaps(shared_data_path: SharedPath) -> None:
    btc = validate(load_candles(shared_data_path("crypto/BTC-PERP_1m_2022-01.csv")))
    assert btc.gap_count == 0
    gbp = validate(load_candles(shared_data_path("forex/GBPUSD_1m_bid_2012-02.csv")))
    weekends = [g for g in gbp.gaps() if g.missing >= 24 * 60]
    assert len(weekends) == 4  # February 2012 had four weekends
    assert all(np.datetime64(g.start, "ms").astype(object).weekday() in (4, 5) for g in weekends)
    xrp = load_candles(shared_data_path("crypto/XRP_ETH-1m.feather"))
    report = validate(xrp)
    minutes = (int(xrp.time[-1]) - int(xrp.time[0])) // MIN + 1
    assert report.missing_candles == minutes - len(xrp) > 100  # a thin market: hundreds of missing minutes


def test_fix_sorts_and_drops_exact_duplicates_only() -> None:
    c = candles([2 * MIN, 0, MIN, MIN], close=[11.0, 10.5, 11.5, 11.5])
    fixed, report = fix(c, rows=np.array([1, 2, 3, 4]))
    assert fixed.time.tolist() == [0, MIN, 2 * MIN]
    assert fixed.close.tolist() == [10.5, 11.5, 11.0]  # prices travel with their rows, unchanged
    assert (report.moved, report.dropped) == (4, 1)  # every row changed position
    assert report.rows.tolist() == [2, 3, 1]
    assert report.dropped_rows.tolist() == [4]
    assert report.summary() == "sorted by time (4 rows moved), dropped 1 exact duplicate rows"
    assert check(fixed, rows=report.rows).ok


def test_fix_refuses_same_time_with_different_values() -> None:
    c = candles([0, MIN, 2 * MIN, MIN], close=[11.0, 11.0, 11.0, 10.0])
    with pytest.raises(DataError) as info:
        fix(c, path="x.csv")
    assert (info.value.row, info.value.field, info.value.path) == (4, "time", "x.csv")
    assert "also appears at row 2" in str(info.value)


def test_fix_keeps_metadata_and_treats_equal_nans_as_duplicates() -> None:
    c = candles([0, 0], volume=[np.nan, np.nan], open=[1.0, 1.0], high=[1.0, 1.0], low=[1.0, 1.0], close=[1.0, 1.0])
    fixed, report = fix(Candles.from_arrays(c.time, *c.columns, symbol="S", timeframe="1m", last_complete=False))
    assert (len(fixed), report.dropped, fixed.symbol, fixed.timeframe, fixed.last_complete) == (
        1,
        1,
        "S",
        "1m",
        False,
    )


def test_validation_of_a_million_candles_is_fast() -> None:
    n = 1_000_000
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 0.1, n))
    open_ = np.concatenate(([100.0], close[:-1]))
    c = Candles.from_arrays(
        np.arange(n, dtype=np.int64) * MIN,
        open_,
        np.maximum(open_, close) + 0.05,
        np.minimum(open_, close) - 0.05,
        close,
        np.ones(n),
        timeframe="1m",
    )
    start = time.perf_counter()
    report = validate(c)
    assert report.ok
    assert time.perf_counter() - start < 0.5
