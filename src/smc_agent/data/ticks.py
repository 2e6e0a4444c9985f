"""Trades and quotes (ticks) and their aggregation into candles.

A trade candle is what an exchange would publish: open is the first trade price in the bucket, high
the highest, low the lowest, close the last, and volume the summed quantity. A quote candle follows
the mid (or the bid or the ask) and its volume is the number of quotes, the "tick volume" that forex
brokers report. Buckets are aligned to the epoch in UTC; buckets without ticks are not emitted.

A tick stream never says that a bucket is over, so the last candle is marked incomplete unless
``end_ms`` (the time up to which the stream is known to be complete) reaches its close.

:func:`load_ticks` reads trades (columns time + price + quantity/amount/qty/size) or quotes
(time + bid + ask) from parquet, feather or CSV, and HistData tick CSVs (no header,
``YYYYMMDD HHMMSSmmm,bid,ask,volume``; HistData times are EST without daylight saving, so pass
``tz="Etc/GMT+5"`` to get true UTC). Order-book depth files (snapshots and diffs) are events, not
ticks; they are not read here and raise a DataError saying so.

>>> c = trades_to_candles([0, 30_000, 61_000], [10.0, 12.0, 11.0], [1.0, 2.0, 0.5], "1m")
>>> c.time.tolist(), c.high.tolist(), c.volume.tolist(), c.last_complete
([0, 60000], [12.0, 11.0], [3.0, 0.5], False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from smc_agent.core.errors import DataError
from smc_agent.data.candles import Candles, FloatArray, IntArray
from smc_agent.data.frames import (
    DEFAULT_TIME_FORMATS,
    Table,
    column_lookup,
    existing_file,
    find_column,
    open_bytes,
    parse_times,
    read_arrow,
    read_delimited,
    require_column,
    sniff_binary,
    to_float,
)
from smc_agent.data.loaders import symbol_from_path
from smc_agent.data.resample import aggregate, group_starts
from smc_agent.data.timeframes import format_timeframe, parse_timeframe

__all__ = ["Quotes", "Trades", "load_ticks", "quotes_to_candles", "trades_to_candles"]

PriceSide = Literal["mid", "bid", "ask"]

_TIME_NAMES = ("timestamp", "time", "datetime", "date", "ts")
_QUANTITY_NAMES = ("quantity", "amount", "qty", "size", "volume")
_DEPTH_NAMES = ("update_type", "first_update_id", "last_update_id")
_HISTDATA = re.compile(r"^\d{8} \d{9},")
_HISTDATA_COLUMNS = ("time", "bid", "ask", "volume")
_HISTDATA_TIME: tuple[str | None, ...] = ("%Y%m%d %H%M%S%f",)


@dataclass(frozen=True, slots=True, eq=False)
class Trades:
    """Executed trades in time order: epoch-ms times, prices and quantities."""

    time: IntArray
    price: FloatArray
    quantity: FloatArray
    symbol: str = ""

    def to_candles(self, timeframe: str, *, end_ms: int | None = None) -> Candles:
        return trades_to_candles(self.time, self.price, self.quantity, timeframe, symbol=self.symbol, end_ms=end_ms)


@dataclass(frozen=True, slots=True, eq=False)
class Quotes:
    """Best bid and ask updates in time order."""

    time: IntArray
    bid: FloatArray
    ask: FloatArray
    symbol: str = ""

    def to_candles(self, timeframe: str, *, price: PriceSide = "mid", end_ms: int | None = None) -> Candles:
        return quotes_to_candles(
            self.time, self.bid, self.ask, timeframe, price=price, symbol=self.symbol, end_ms=end_ms
        )


def trades_to_candles(
    times_ms: npt.ArrayLike,
    prices: npt.ArrayLike,
    quantities: npt.ArrayLike,
    timeframe: str,
    *,
    symbol: str = "",
    end_ms: int | None = None,
) -> Candles:
    """Candles from trades; volume is the summed quantity. Times must not decrease."""
    time, (price, quantity) = _checked(times_ms, {"price": prices, "quantity": quantities})
    return _to_candles(time, price, quantity, timeframe, symbol, end_ms)


def quotes_to_candles(
    times_ms: npt.ArrayLike,
    bid: npt.ArrayLike,
    ask: npt.ArrayLike,
    timeframe: str,
    *,
    price: PriceSide = "mid",
    symbol: str = "",
    end_ms: int | None = None,
) -> Candles:
    """Candles of the mid, bid or ask; volume is the number of quotes (tick volume)."""
    if price not in ("mid", "bid", "ask"):
        raise ValueError(f"price must be 'mid', 'bid' or 'ask', not {price!r}")
    time, (bids, asks) = _checked(times_ms, {"bid": bid, "ask": ask})
    series = {"mid": (bids + asks) / 2, "bid": bids, "ask": asks}[price]
    return _to_candles(time, series, np.ones(len(time)), timeframe, symbol, end_ms)


def load_ticks(path: str | Path, *, tz: str | None = None, symbol: str | None = None) -> Trades | Quotes:
    """Read a trades or quotes file (see the module docstring for what is recognised).

    ``tz`` applies to naive times only (default UTC); rows are checked like :func:`trades_to_candles`
    checks its input, and errors name the file's data row (1-based, header not counted).
    """
    file = existing_file(path)
    symbol = symbol or symbol_from_path(file)
    binary = sniff_binary(file)
    if binary is not None:
        return _ticks_from_table(read_arrow(file, binary), str(file), tz, symbol, DEFAULT_TIME_FORMATS)
    with open_bytes(file) as handle:
        histdata = bool(_HISTDATA.match(handle.read(64).decode("utf-8", errors="replace")))
    table = read_delimited(file, header=not histdata)
    if histdata:
        names = _HISTDATA_COLUMNS[: table.frame.shape[1]]
        table = Table(table.frame.set_axis(list(names), axis=1), table.rows)
    return _ticks_from_table(table, str(file), tz, symbol, _HISTDATA_TIME if histdata else DEFAULT_TIME_FORMATS)


def _ticks_from_table(
    table: Table, path: str, tz: str | None, symbol: str, formats: tuple[str | None, ...]
) -> Trades | Quotes:
    frame, rows = table.frame, table.rows
    lookup = column_lookup(frame.columns)
    quantity = find_column(lookup, _QUANTITY_NAMES)
    if find_column(lookup, _DEPTH_NAMES) is not None:
        raise DataError(
            "this is an order-book depth file (snapshots or diffs); only trades and quotes are read",
            path=path,
            rule="tick columns",
        )
    if "price" in lookup and quantity is not None:
        fields = {"price": lookup["price"], "quantity": quantity}
    elif "bid" in lookup and "ask" in lookup:
        fields = {"bid": lookup["bid"], "ask": lookup["ask"]}
    else:
        raise DataError(
            "expected trades (time, price, quantity) or quotes (time, bid, ask) columns; "
            f"found {', '.join(lookup.values())}",
            path=path,
            rule="tick columns",
        )
    time_column = require_column(lookup, "time", _TIME_NAMES, path=path)
    times = parse_times(frame[time_column], rows=rows, path=path, field=time_column, tz=tz, formats=formats)
    values = {name: to_float(frame[column], rows=rows, path=path, field=column) for name, column in fields.items()}
    names = {"time": time_column, **fields}
    time, (first, second) = _checked(times, values, rows=rows, path=path, names=names)
    return Trades(time, first, second, symbol) if "price" in fields else Quotes(time, first, second, symbol)


def _checked(
    times_ms: npt.ArrayLike,
    columns: Mapping[str, npt.ArrayLike],
    *,
    rows: IntArray | None = None,
    path: str | None = None,
    names: Mapping[str, str] | None = None,
) -> tuple[IntArray, list[FloatArray]]:
    """Check tick arrays: equal lengths, finite values, no negative quantity, times never decreasing."""
    time = np.ascontiguousarray(times_ms, dtype=np.int64)
    rows = np.arange(1, len(time) + 1, dtype=np.int64) if rows is None else rows
    arrays = [np.ascontiguousarray(values, dtype=np.float64) for values in columns.values()]
    for name, array in zip(columns, arrays, strict=True):
        field = (names or {}).get(name, name)
        if array.shape != time.shape:
            raise DataError(f"{name} has {array.shape[0]} values but there are {time.shape[0]} times", field=field)
        rule = f"{name} finite and {'>= 0' if name == 'quantity' else '> 0'}"
        bad = ~np.isfinite(array) | ((array < 0) if name == "quantity" else (array <= 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"{float(array[i])!r} breaks rule: {rule}",
                path=path,
                row=int(rows[i]),
                field=field,
                rule=rule,
            )
    back = np.flatnonzero(np.diff(time) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise DataError(
            f"tick time goes backwards from row {rows[i - 1]} (rule: times never decrease)",
            path=path,
            row=int(rows[i]),
            field=(names or {}).get("time", "time"),
            rule="times never decrease",
        )
    return time, arrays


def _to_candles(
    time: IntArray, price: FloatArray, volume: FloatArray, timeframe: str, symbol: str, end_ms: int | None
) -> Candles:
    tf = parse_timeframe(timeframe)
    keys = time // tf
    first = group_starts(keys)
    complete = first.size == 0 or (end_ms is not None and end_ms >= (int(keys[-1]) + 1) * tf)
    return aggregate(
        first,
        keys[first] * tf,
        price,
        price,
        price,
        price,
        volume,
        symbol=symbol,
        timeframe=format_timeframe(tf),
        last_complete=complete,
    )
