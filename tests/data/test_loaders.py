"""Loaders: every real file in ../shared/data by detection and by name, hand-written variants, bad input."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pytest

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.loaders import FORMATS, detect_format, load_candles, read_candles, symbol_from_path

SharedPath = Callable[[str], Path]
ISO = "%Y-%m-%dT%H:%M"


def ms(text: str, fmt: str = "%Y-%m-%d %H:%M", tz: str = "UTC") -> int:
    """Epoch ms of a wall-clock time, computed without the code under test."""
    return int(datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


# relpath, rows, first and last open time (UTC), timeframe, symbol, format, tz of naive times
REAL_FILES = [
    tuple(line.split())
    for line in """
forex/EURUSD_15m_mt5.csv            24424 2022-10-10T00:00 2023-10-02T06:45 15m EURUSD    mt5 UTC
forex/GBPUSD_1m_bid_2012-02.csv     30117 2012-02-01T00:00 2012-03-01T00:00 1m  GBPUSD    csv UTC
forex/GBPUSD_1m_ask_2012-02.csv     30117 2012-02-01T00:00 2012-03-01T00:00 1m  GBPUSD    csv UTC
crypto/BTC-PERP_1m_2022-01.csv      45031 2021-12-31T23:01 2022-02-01T05:31 1m  BTC-PERP  csv UTC
crypto/BTC_USDT-5m_2023.json        10999 2023-01-02T16:45 2023-02-09T21:15 5m  BTC/USDT  freqtrade-json UTC
crypto/ADA_BTC-5m.feather           5720  2018-01-10T04:55 2018-01-30T04:50 5m  ADA/BTC   feather UTC
crypto/DASH_BTC-5m.feather          5758  2018-01-10T04:55 2018-01-30T04:50 5m  DASH/BTC  feather UTC
crypto/ETC_BTC-5m.feather           5759  2018-01-10T04:55 2018-01-30T04:45 5m  ETC/BTC   feather UTC
crypto/ETH_BTC-5m.feather           5760  2018-01-10T04:55 2018-01-30T04:50 5m  ETH/BTC   feather UTC
crypto/LTC_BTC-5m.feather           5760  2018-01-10T04:55 2018-01-30T04:50 5m  LTC/BTC   feather UTC
crypto/XRP_ETH-1m.feather           2469  2019-10-11T00:00 2019-10-13T11:19 1m  XRP/ETH   feather UTC
crypto/ADABTC-1m_binance_klines.csv 10    2021-11-27T00:00 2021-11-27T00:09 1m  ADABTC    binance UTC
india/NIFTY-FUT_15m_2024.csv        1261  2024-03-01T03:45 2024-05-17T11:15 15m NIFTY-FUT csv Asia/Kolkata
""".strip().splitlines()
]


@pytest.mark.parametrize(("relpath", "rows", "first", "last", "timeframe", "symbol", "fmt", "tz"), REAL_FILES)
def test_real_file_detected_and_explicit(
    shared_data_path: SharedPath,
    relpath: str,
    rows: str,
    first: str,
    last: str,
    timeframe: str,
    symbol: str,
    fmt: str,
    tz: str,
) -> None:
    path = shared_data_path(relpath)
    assert detect_format(path) == fmt
    auto = load_candles(path, tz=tz)
    named = load_candles(path, format=fmt, tz=tz)
    for candles in (auto, named):
        assert len(candles) == int(rows)
        assert (int(candles.time[0]), int(candles.time[-1])) == (ms(first, ISO), ms(last, ISO))
        assert (candles.symbol, candles.timeframe, candles.last_complete) == (symbol, timeframe, True)
    for a, b in zip((auto.time, *auto.columns), (named.time, *named.columns), strict=True):
        np.testing.assert_array_equal(a, b)


def _csv_row(path: Path, data_row: int) -> list[str]:
    """Data row ``data_row`` (1-based, after the header) of a text file, split by hand."""
    return path.read_text().splitlines()[data_row].split(",")


@pytest.mark.parametrize("data_row", [1, 12_345, 24_424])
def test_mt5_spot_values_and_tick_volume(shared_data_path: SharedPath, data_row: int) -> None:
    path = shared_data_path("forex/EURUSD_15m_mt5.csv")
    c = load_candles(path)
    date, o, h, low, close, tickvol, volume, _spread = _csv_row(path, data_row)
    i = data_row - 1
    assert int(c.time[i]) == ms(date, "%Y.%m.%d %H:%M:%S")
    assert [c.open[i], c.high[i], c.low[i], c.close[i]] == [float(o), float(h), float(low), float(close)]
    assert volume == "0"
    assert c.volume[i] == float(tickvol)


def test_mt5_server_time_zone(shared_data_path: SharedPath) -> None:
    c = load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"), tz="Europe/Athens")
    assert int(c.time[0]) == ms("2022-10-09 21:00")  # 00:00 EEST (UTC+3)
    assert int(c.time[-1]) == ms("2023-10-02 03:45")


def test_nifty_in_india_time(shared_data_path: SharedPath) -> None:
    path = shared_data_path("india/NIFTY-FUT_15m_2024.csv")
    c = load_candles(path, tz="Asia/Kolkata")
    assert int(c.time[0]) == ms("2024-03-01 09:15", tz="Asia/Kolkata") == ms("2024-03-01 03:45")
    index, date, o, h, low, close, volume, _oi = _csv_row(path, 1260)
    assert index == "1259"
    assert int(c.time[1259]) == ms(date, "%Y-%m-%d %H:%M:%S", "Asia/Kolkata")
    assert [c.open[1259], c.high[1259], c.low[1259], c.close[1259], c.volume[1259]] == [
        float(v) for v in (o, h, low, close, volume)
    ]
    utc = load_candles(path)  # without tz the naive times are read as UTC
    assert int(utc.time[0]) - int(c.time[0]) == 5.5 * 3_600_000


@pytest.mark.parametrize("relpath", ["crypto/BTC-PERP_1m_2022-01.csv", "forex/GBPUSD_1m_ask_2012-02.csv"])
def test_csv_spot_values(shared_data_path: SharedPath, relpath: str) -> None:
    path = shared_data_path(relpath)
    c = load_candles(path)
    for data_row in (1, 20_000, len(c)):
        fields = _csv_row(path, data_row)
        i = data_row - 1
        stamp = pd.Timestamp(fields[0])
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        assert int(c.time[i]) == stamp.value // 1_000_000
        assert [c.open[i], c.high[i], c.low[i], c.close[i]] == [float(v) for v in fields[1:5]]
        assert c.volume[i] == (float(fields[5]) if len(fields) > 5 else 0.0)


def test_freqtrade_json_spot_values(shared_data_path: SharedPath) -> None:
    path = shared_data_path("crypto/BTC_USDT-5m_2023.json")
    raw = json.loads(path.read_text())
    c = load_candles(path)
    for key in ("0", "5000", "10998"):
        i = int(key)
        assert int(c.time[i]) == raw["date"][key]
        assert [c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]] == [
            raw[name][key] for name in ("open", "high", "low", "close", "volume")
        ]


def test_binance_klines_spot_values(shared_data_path: SharedPath) -> None:
    path = shared_data_path("crypto/ADABTC-1m_binance_klines.csv")
    c = load_candles(path)
    fields = path.read_text().splitlines()[3].split(",")  # no header: line 4 is data row 4
    assert int(c.time[3]) == int(fields[0])
    assert [c.open[3], c.high[3], c.low[3], c.close[3], c.volume[3]] == [float(v) for v in fields[1:6]]


def test_feather_spot_values(shared_data_path: SharedPath) -> None:
    path = shared_data_path("crypto/ETH_BTC-5m.feather")
    table = feather.read_table(path).to_pylist()
    c = load_candles(path)
    for i in (0, 2_000, len(c) - 1):
        row = table[i]
        assert int(c.time[i]) == int(row["date"].timestamp() * 1000)
        assert [c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i]] == [
            row[name] for name in ("open", "high", "low", "close", "volume")
        ]


def test_backtesting_eurusd_with_unnamed_time_column() -> None:
    import backtesting  # a dev dependency: `make test` installs it, so its absence is an error, not a skip

    path = Path(backtesting.__file__).parent / "test" / "EURUSD.csv"
    assert path.read_text().startswith(",Open,High,Low,Close,Volume")
    c = load_candles(path)
    assert detect_format(path) == "csv"
    assert (len(c), c.timeframe, c.symbol) == (5_000, "1h", "EURUSD")
    assert int(c.time[0]) == ms("2017-04-19 09:00")
    assert int(c.time[-1]) == ms("2018-02-07 15:00")
    assert [c.open[0], c.close[0], c.volume[0]] == [1.0716, 1.07219, 1413.0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_whose_header_lacks_the_time_column(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Open,High,Low,Close\n2024-01-01 09:00,1,2,0.5,1.5\n2024-01-01 10:00,1,2,0.5,1.5\n")
    c = load_candles(path)
    assert c.time.tolist() == [ms("2024-01-01 09:00"), ms("2024-01-01 10:00")]


def test_mt5_tab_separated_export(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "EURUSD_H1.csv",
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
        "2023.01.02\t00:00:00\t1.07\t1.08\t1.06\t1.075\t120\t0\t5\n"
        "2023.01.02\t01:00:00\t1.075\t1.09\t1.07\t1.08\t80\t0\t5\n",
    )
    assert detect_format(path) == "mt5"
    c = load_candles(path, tz="Europe/Athens")
    assert c.time.tolist() == [ms("2023-01-01 22:00"), ms("2023-01-01 23:00")]  # EET is UTC+2 in winter
    assert c.volume.tolist() == [120.0, 80.0]
    assert c.timeframe == "1h"
    assert c.symbol == "EURUSD"


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000])
def test_csv_numeric_epochs_by_magnitude(tmp_path: Path, scale: int) -> None:
    seconds = [1_700_000_000, 1_700_000_060]
    lines = [f"{s * scale},1,2,0.5,1.5,10" for s in seconds]
    path = write(tmp_path, "x.csv", "time,open,high,low,close,volume\n" + "\n".join(lines))
    assert load_candles(path).time.tolist() == [s * 1000 for s in seconds]


def test_csv_offsets_win_over_tz_and_mixed_dst_offsets(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "x.csv",
        "Datetime,Open,High,Low,Close\n2023-03-26 00:00:00+01:00,1,2,0.5,1.5\n2023-03-26 03:00:00+02:00,1,2,0.5,1.5\n",
    )
    c = load_candles(path, tz="Asia/Tokyo")
    assert c.time.tolist() == [ms("2023-03-25 23:00"), ms("2023-03-26 01:00")]
    assert c.volume.tolist() == [0.0, 0.0]


def test_naive_times_across_a_daylight_saving_change(tmp_path: Path) -> None:
    fall_back = ["00:30", "01:00", "01:30", "01:00", "01:30", "02:00"]  # 01:00 and 01:30 happen twice
    body = "".join(f"2022-11-06 {t},1,2,0.5,1.5\n" for t in fall_back)
    c = load_candles(write(tmp_path, "ny.csv", "date,open,high,low,close\n" + body), tz="America/New_York")
    assert np.all(np.diff(c.time) == 1_800_000)  # the repeated hour is placed by row order
    skipped = write(
        tmp_path,
        "gap.csv",
        "date,open,high,low,close\n2022-03-13 01:30,1,2,0.5,1.5\n2022-03-13 02:30,1,2,0.5,1.5\n",
    )
    with pytest.raises(DataError) as info:
        load_candles(skipped, tz="America/New_York")
    assert (info.value.row, info.value.field) == (2, "date")


def test_binance_json_and_freqtrade_list_json(tmp_path: Path) -> None:
    kline = [1637971200000, "1.0", "2.0", "0.5", "1.5", "10", 1637971259999, "15", 3, "5", "7", "0"]
    binance = write(tmp_path, "ADABTC-1m.json", json.dumps([kline, [kline[0] + 60_000, *kline[1:]]]))
    freqtrade = write(tmp_path, "ADA_BTC-1m.json", json.dumps([[1637971200000, 1.0, 2.0, 0.5, 1.5, 10.0]]))
    assert (detect_format(binance), detect_format(freqtrade)) == ("binance", "freqtrade-json")
    assert load_candles(binance).close.tolist() == [1.5, 1.5]
    c = load_candles(freqtrade)
    assert (c.symbol, c.time.tolist(), c.volume.tolist()) == ("ADA/BTC", [1637971200000], [10.0])


def test_parquet_and_feather_by_magic_number(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "open": [1.0, 2.0],
            "high": [2.0, 3.0],
            "low": [0.5, 1.5],
            "close": [1.5, 2.5],
            "volume": [1.0, 2.0],
        },
        index=pd.DatetimeIndex(["2024-01-01 00:00", "2024-01-01 00:05"], tz="UTC", name="date"),
    )
    frame.to_parquet(tmp_path / "candles.data")  # the index is stored and comes back as the time column
    feather.write_feather(pa.Table.from_pandas(frame.reset_index()), tmp_path / "candles.bin")
    for name, fmt in (("candles.data", "parquet"), ("candles.bin", "feather")):
        assert detect_format(tmp_path / name) == fmt
        c = load_candles(tmp_path / name)
        assert c.time.tolist() == [ms("2024-01-01 00:00"), ms("2024-01-01 00:05")]
        assert c.timeframe == "5m"


def test_symbol_from_path() -> None:
    names = ["EURUSD_15m_mt5.csv", "BTC_USDT-5m_2023.json", "ETH_BTC-5m.feather", "BTC-PERP_1m_2022-01.csv",
             "NIFTY-FUT_15m_2024.csv", "btcusdt-trades.parquet", "EURUSD.csv"]  # fmt: skip
    assert [symbol_from_path(n) for n in names] == [
        "EURUSD", "BTC/USDT", "ETH/BTC", "BTC-PERP", "NIFTY-FUT", "btcusdt", "EURUSD",
    ]  # fmt: skip


def test_symbol_and_timeframe_overrides(shared_data_path: SharedPath) -> None:
    c = load_candles(shared_data_path("crypto/XRP_ETH-1m.feather"), symbol="XRPETH", timeframe="60s")
    assert (c.symbol, c.timeframe) == ("XRPETH", "1m")


def test_read_candles_keeps_file_rows_and_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "x.csv", "Date,Open,High,Low,Close\n2024-01-01,1,2,0.5,1.5\n\n2024-01-02,1,2,0.5,1.5\n")
    raw = read_candles(path)
    assert raw.rows.tolist() == [1, 3]  # the blank line keeps its number
    assert raw.columns == {
        "time": "Date",
        "open": "Open",
        "high": "High",
        "low": "Low",
        "close": "Close",
        "volume": "volume",
    }
    assert raw.format == "csv"
    assert raw.candles.timeframe == "1d"


# ---- bad input: every error names the file, and the row and field where there is one ----

HEADER = "timestamp,open,high,low,close,volume\n"
GOOD = [
    "2024-01-01 00:00,1,2,0.5,1.5,10",
    "2024-01-01 00:01,1.5,2,1,1.2,5",
    "2024-01-01 00:02,1.2,1.3,1,1.1,7",
]


def bad_file(tmp_path: Path, row: int, line: str, header: str = HEADER) -> Path:
    lines = list(GOOD)
    lines[row - 1] = line
    return write(tmp_path, "bad_1m.csv", header + "\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("row", "line", "field", "words"),
    [
        (2, "2024-01-01 00:01,1.5,,1,1.2,5", "high", "NaN"),
        (3, "2024-01-01 00:02,1.2,1.0,1.3,1.1,7", "high", "below low"),  # high and low swapped
        (2, "2024-01-01 00:01,1.5,1.4,1,1.2,5", "high", "below the body"),
        (3, "2024-01-01 00:02,1.2,1.3,1.15,1.1,7", "low", "above the body"),
        (2, "2024-01-01 00:01,1.5,2,1,1.2,-5", "volume", "negative"),
        (3, "2024-01-01 00:00,1.2,1.3,1,1.1,7", "timestamp", "earlier than row 2"),  # unsorted
        (2, "2024-01-01 00:00,1.5,2,1,1.2,5", "timestamp", "repeats the time of row 1"),  # duplicated time
        (3, "2024-13-45 00:02,1.2,1.3,1,1.1,7", "timestamp", "'2024-13-45 00:02'"),  # garbage timestamp
        (2, "2024-01-01 00:01,1.5,abc,1,1.2,5", "high", "not a number: 'abc'"),
    ],
)
def test_bad_rows_are_named(tmp_path: Path, row: int, line: str, field: str, words: str) -> None:
    path = bad_file(tmp_path, row, line)
    with pytest.raises(DataError) as info:
        load_candles(path)
    error = info.value
    assert (error.path, error.row, error.field) == (str(path), row, field)
    assert words in str(error)
    assert error.rule
    assert str(error).startswith(f"{path}: row {row}: field {field}: ")
    assert path.read_text().splitlines()[row] == line  # data row N is line N+1 of the file


def test_reversed_file_needs_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "rev.csv", HEADER + "\n".join(reversed(GOOD)) + "\n")
    with pytest.raises(DataError, match=r"row 2: field timestamp: .*earlier than row 1"):
        load_candles(path)
    c = load_candles(path, fix=True)
    assert c.close.tolist() == [1.5, 1.2, 1.1]
    assert c.timeframe == "1m"


def test_missing_columns(tmp_path: Path) -> None:
    no_close = write(tmp_path, "a.csv", "timestamp,open,high,low\n2024-01-01,1,2,0.5\n")
    with pytest.raises(DataError, match="field close: required column 'close' is missing") as info:
        load_candles(no_close, format="csv")
    assert info.value.path == str(no_close)
    no_time = write(tmp_path, "b.csv", "x,open,high,low,close\n1,1,2,0.5,1.5\n")
    with pytest.raises(DataError, match=r"field time: no time column found .*--time-column NAME"):
        load_candles(no_time)


def test_unknown_format_lists_the_valid_ones(tmp_path: Path) -> None:
    path = bad_file(tmp_path, 1, GOOD[0])
    with pytest.raises(DataError) as info:
        load_candles(path, format="metatrader")
    assert info.value.field == "format"
    assert all(name in str(info.value) for name in FORMATS)


def test_unreadable_inputs(tmp_path: Path) -> None:
    cases = {
        tmp_path / "missing.csv": "file not found",
        write(tmp_path, "empty.csv", ""): "empty",
        write(tmp_path, "notes.txt", "hello world\n"): "cannot tell the format",
        write(tmp_path, "broken.json", '{"date": [1,'): "not valid JSON",
        write(tmp_path, "scalars.json", '{"date": 1}'): "expected a dict of columns",
        write(tmp_path, "broken.parquet", "PAR1 not really"): "cannot read as parquet",
        write(tmp_path, "ragged.csv", HEADER + GOOD[0] + "\n" + GOOD[1] + ",9,9\n"): "row 2",
        tmp_path: "not a regular file",
    }
    for path, words in cases.items():
        with pytest.raises(DataError, match=words) as info:
            load_candles(path)
        assert info.value.path == str(path)


def test_binance_needs_twelve_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "k.csv", "1637971200000,1,2,0.5,1.5,10\n")
    with pytest.raises(DataError, match="at least 12 columns"):
        load_candles(path, format="binance")


def test_timestamps_with_and_without_offset_in_one_column(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", HEADER + "2024-01-01 00:00+00:00,1,2,0.5,1.5,1\n2024-01-01 00:01,1,2,0.5,1.5,1\n")
    with pytest.raises(DataError) as info:
        load_candles(path)
    assert (info.value.row, info.value.field) == (2, "timestamp")


def test_unknown_time_zone(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        load_candles(bad_file(tmp_path, 1, GOOD[0]), tz="Mars/Olympus")


def test_fix_reports_conflicting_duplicates(tmp_path: Path) -> None:
    path = bad_file(tmp_path, 3, "2024-01-01 00:01,9,9,9,9,9")
    with pytest.raises(DataError, match=r"row 3: field time: .*also appears at row 2") as info:
        load_candles(path, fix=True)
    assert info.value.path == str(path)


def test_loading_a_large_csv_is_fast(tmp_path: Path) -> None:
    n = 200_000
    times = pd.date_range("2020-01-01", periods=n, freq="1min").strftime("%Y-%m-%d %H:%M:%S")
    pd.DataFrame({"timestamp": times, "open": 1.0, "high": 2.0, "low": 0.5, "close": 1.5, "volume": 3.0}).to_csv(
        tmp_path / "big.csv", index=False
    )
    start = time.perf_counter()
    c = load_candles(tmp_path / "big.csv")
    assert len(c) == n
    assert time.perf_counter() - start < 3.0
