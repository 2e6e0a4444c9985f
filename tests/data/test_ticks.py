"""Ticks to candles: real trades and quotes, checked against simple loops and against exchange candles."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow.parquet as pq
import pytest

from smc_agent.core.errors import DataError
from smc_agent.data.loaders import load_candles
from smc_agent.data.ticks import Quotes, Trades, load_ticks, quotes_to_candles, trades_to_candles
from smc_agent.data.validation import check

SharedPath = Callable[[str], Path]


def by_loop(times: list[int], prices: list[float], start: int, size: int) -> tuple[float, float, float, float]:
    """Open, high, low and close of the ticks in [start, start + size), the slow and obvious way."""
    inside = [p for t, p in zip(times, prices, strict=True) if start <= t < start + size]
    return inside[0], max(inside), min(inside), inside[-1]


@pytest.mark.parametrize(("timeframe", "size"), [("1m", 60_000), ("5s", 5_000)])
def test_btcusdt_trade_candles_match_a_loop(shared_data_path: SharedPath, timeframe: str, size: int) -> None:
    path = shared_data_path("ticks/btcusdt-trades.parquet")
    trades = load_ticks(path)
    assert isinstance(trades, Trades)
    assert (len(trades.time), trades.symbol) == (2_001, "btcusdt")
    raw = pq.read_table(path).to_pydict()
    times = [int(t.timestamp() * 1000) for t in raw["timestamp"]]
    assert trades.time.tolist() == times
    candles = trades.to_candles(timeframe)
    check(candles)
    for k in range(len(candles)):
        start = int(candles.time[k])
        assert start % size == 0
        assert (candles.open[k], candles.high[k], candles.low[k], candles.close[k]) == by_loop(
            times, raw["price"], start, size
        )
        quantity = sum(q for t, q in zip(times, raw["quantity"], strict=True) if start <= t < start + size)
        assert candles.volume[k] == pytest.approx(quantity, rel=1e-12)
    assert candles.volume.sum() == pytest.approx(sum(raw["quantity"]), rel=1e-12)
    assert not candles.last_complete  # the stream could go on within the last bucket


def test_xrp_trades_rebuild_the_exchange_minute_candles(shared_data_path: SharedPath) -> None:
    trades = load_ticks(shared_data_path("ticks/XRP_ETH-trades.feather"))
    assert isinstance(trades, Trades)
    assert len(trades.time) == 12_477
    mine = trades.to_candles("1m")
    theirs = load_candles(shared_data_path("crypto/XRP_ETH-1m.feather"))  # freqtrade built these from the trades
    np.testing.assert_array_equal(mine.time, theirs.time)
    for a, b in zip(mine.columns, theirs.columns, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert mine.volume.sum() == pytest.approx(trades.quantity.sum())


def test_btcusdt_quotes(shared_data_path: SharedPath) -> None:
    path = shared_data_path("ticks/btcusdt-quotes.parquet")
    quotes = load_ticks(path)
    assert isinstance(quotes, Quotes)
    assert len(quotes.time) == 451
    raw = pq.read_table(path).to_pydict()
    times = [int(t.timestamp() * 1000) for t in raw["timestamp"]]
    mids = [(b + a) / 2 for b, a in zip(raw["bid"], raw["ask"], strict=True)]
    candles = quotes.to_candles("10s")
    for k in range(len(candles)):
        start = int(candles.time[k])
        assert (candles.open[k], candles.high[k], candles.low[k], candles.close[k]) == by_loop(
            times, mids, start, 10_000
        )
        assert candles.volume[k] == sum(1 for t in times if start <= t < start + 10_000)  # tick volume
    assert candles.volume.sum() == 451
    asks = quotes.to_candles("10s", price="ask")
    assert asks.high[0] == by_loop(times, raw["ask"], int(asks.time[0]), 10_000)[1]


def test_histdata_eurusd_ticks(shared_data_path: SharedPath) -> None:
    path = shared_data_path("ticks/EURUSD_ticks_histdata_20200101.csv")
    quotes = load_ticks(path)
    assert isinstance(quotes, Quotes)
    assert (len(quotes.time), quotes.symbol) == (9_500, "EURUSD")
    first = path.read_text().splitlines()[0].split(",")  # 20200101 170000065,1.121200,1.121720,0
    stamp = datetime.strptime(first[0] + "000", "%Y%m%d %H%M%S%f").replace(tzinfo=ZoneInfo("UTC"))
    assert int(quotes.time[0]) == int(stamp.timestamp() * 1000)
    assert (quotes.bid[0], quotes.ask[0]) == (float(first[1]), float(first[2]))
    est = load_ticks(path, tz="Etc/GMT+5")  # HistData writes EST without daylight saving
    assert int(est.time[0]) - int(quotes.time[0]) == 5 * 3_600_000
    minutes = quotes.to_candles("1m", price="bid")
    assert minutes.volume.sum() == 9_500
    assert minutes.low.min() == quotes.bid.min()


@pytest.mark.parametrize("name", ["btcusdt-depth-snap.csv", "btcusdt-depth-update.csv"])
def test_depth_files_are_refused(shared_data_path: SharedPath, name: str) -> None:
    path = shared_data_path(f"ticks/{name}")
    with pytest.raises(DataError, match="order-book depth") as info:
        load_ticks(path)
    assert info.value.path == str(path)


def test_last_candle_is_complete_only_when_the_stream_is_known_to_have_passed_it() -> None:
    times, prices, qty = [0, 30_000, 61_000], [10.0, 12.0, 11.0], [1.0, 2.0, 0.5]
    assert not trades_to_candles(times, prices, qty, "1m").last_complete
    assert not trades_to_candles(times, prices, qty, "1m", end_ms=119_999).last_complete
    assert trades_to_candles(times, prices, qty, "1m", end_ms=120_000).last_complete
    assert len(trades_to_candles([], [], [], "1m")) == 0


def test_quote_price_choices_and_gaps() -> None:
    c = quotes_to_candles([0, 1_000, 180_000], [1.0, 2.0, 3.0], [1.2, 2.2, 3.2], "1m", price="bid")
    assert (c.time.tolist(), c.high.tolist(), c.volume.tolist()) == ([0, 180_000], [2.0, 3.0], [2.0, 1.0])
    mid = quotes_to_candles([0], [1.0], [1.2], "1m")
    assert mid.close[0] == pytest.approx(1.1)
    with pytest.raises(ValueError, match="price must be"):
        quotes_to_candles([0], [1.0], [1.2], "1m", price="last")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("times", "prices", "quantities", "row", "field"),
    [
        ([0, 2, 1], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0], 3, "time"),
        ([0, 1, 2], [1.0, np.nan, 1.0], [1.0, 1.0, 1.0], 2, "price"),
        ([0, 1, 2], [1.0, 1.0, -3.0], [1.0, 1.0, 1.0], 3, "price"),
        ([0, 1, 2], [1.0, 1.0, 1.0], [1.0, -1.0, 1.0], 2, "quantity"),
    ],
)
def test_bad_ticks_name_the_row(
    times: list[int], prices: list[float], quantities: list[float], row: int, field: str
) -> None:
    with pytest.raises(DataError) as info:
        trades_to_candles(times, prices, quantities, "1m")
    assert (info.value.row, info.value.field) == (row, field)


def test_bad_tick_file_names_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "ETHUSDT-trades.csv"
    path.write_text("time,price,qty\n2024-01-01 00:00:00.100,10,1\n2024-01-01 00:00:00.050,10,1\n")
    with pytest.raises(DataError) as info:
        load_ticks(path)
    assert (info.value.path, info.value.row, info.value.field) == (str(path), 2, "time")
    path.write_text("time,price,qty\n2024-01-01 00:00:00.100,10,x\n")
    with pytest.raises(DataError, match="not a number: 'x'") as info:
        load_ticks(path)
    assert (info.value.row, info.value.field) == (1, "qty")
    path.write_text("time,open,close\n2024-01-01,1,2\n")
    with pytest.raises(DataError, match="expected trades"):
        load_ticks(path)
    with pytest.raises(DataError, match="has 2 values"):
        trades_to_candles([0, 1, 2], [1.0, 1.0], [1.0, 1.0, 1.0], "1m")
