"""Files as users have them: compressed, with their own time-column names, with broken prices."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from smc_agent.core.errors import DataError
from smc_agent.data.inspect import inspect_file
from smc_agent.data.loaders import load_candles

SharedPath = Callable[[str], Path]

ROWS = "2024-01-01 00:00,1.0,2.0,0.5,1.5\n2024-01-01 00:01,1.5,2.5,1.0,2.0\n2024-01-01 00:02,2.0,2.2,1.8,2.1\n"


def _compress(source: Path, target: Path) -> Path:
    data = source.read_bytes()
    if target.suffix == ".zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(source.name, data)
    else:
        target.write_bytes({".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[target.suffix](data))
    return target


@pytest.mark.parametrize(
    ("relpath", "suffix"),
    [
        ("crypto/BTC-PERP_1m_2022-01.csv", ".gz"),
        ("india/NIFTY-FUT_15m_2024.csv", ".bz2"),
        ("crypto/BTC_USDT-5m_2023.json", ".zip"),
        ("crypto/ETH_BTC-5m.feather", ".xz"),
        ("forex/EURUSD_15m_mt5.csv", ".zip"),
    ],
)
def test_compressed_files_load_as_the_plain_file(
    shared_data_path: SharedPath, tmp_path: Path, relpath: str, suffix: str
) -> None:
    plain = shared_data_path(relpath)
    packed = _compress(plain, tmp_path / (plain.name + suffix))
    want, got = load_candles(plain), load_candles(packed)
    assert (got.symbol, got.timeframe, len(got)) == (want.symbol, want.timeframe, len(want))
    for a, b in zip((want.time, *want.columns), (got.time, *got.columns), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_zip_with_two_files_and_a_corrupt_gzip_are_named(tmp_path: Path) -> None:
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    with pytest.raises(DataError, match="exactly one file, this one holds 2") as info:
        load_candles(two)
    assert info.value.path == str(two)
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(b"timestamp,open,high,low,close\n" * 50)[:30])
    with pytest.raises(DataError, match=r"broken\.csv\.gz"):
        load_candles(broken)


@pytest.mark.parametrize("name", ["time", "Timestamp", "DATE", "datetime", "open_time", "Time_UTC", "timestamp_utc",
                                  "DateTime_UTC", "Open Time", "date_utc"])  # fmt: skip
def test_common_time_column_names_are_found(tmp_path: Path, name: str) -> None:
    path = tmp_path / "X_1m.csv"
    path.write_text(f"{name},open,high,low,close\n{ROWS}")
    candles = load_candles(path)
    assert candles.time.tolist() == [1_704_067_200_000, 1_704_067_260_000, 1_704_067_320_000]


def test_time_column_names_an_unusual_column(tmp_path: Path) -> None:
    path = tmp_path / "X_1m.csv"
    path.write_text(f"bar start,open,high,low,close\n{ROWS}")
    with pytest.raises(DataError, match=r"no time column found .*bar start.*--time-column"):
        load_candles(path)
    assert load_candles(path, time_column="Bar Start").time[0] == 1_704_067_200_000
    assert inspect_file(path, time_column="bar start").rows == 3
    with pytest.raises(DataError, match="'stamp' given with --time-column is not in the file"):
        load_candles(path, time_column="stamp")


@pytest.mark.parametrize(
    ("row", "bad_field", "values"),
    [
        (2, "low", "1.5,2.5,0,2.0"),
        (2, "open", "-1.5,2.5,-2,2.0"),
        (2, "close", "1.5,2.5,1.0,0.0"),
    ],
)
def test_zero_and_negative_prices_are_refused_with_file_row_and_rule(
    tmp_path: Path, row: int, bad_field: str, values: str
) -> None:
    lines = ROWS.splitlines()
    lines[row - 1] = f"{lines[row - 1].split(',')[0]},{values}"
    path = tmp_path / "X_1m.csv"
    path.write_text("timestamp,Open,High,Low,Close\n" + "\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_candles(path)
    err = info.value
    assert (err.path, err.row, err.field, err.rule) == (str(path), row, bad_field.capitalize(), "prices > 0")
    assert "is not above zero (rule: prices > 0)" in str(err)
    report = inspect_file(path)
    assert not report.ok
    assert report.error is not None
    assert "prices > 0" in report.error
