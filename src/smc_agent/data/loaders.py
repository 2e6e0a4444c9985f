"""Read candle files in the formats users actually have, and tell which format a file is in.

Every format goes through the same steps, so they behave alike: a reader turns the file into a
DataFrame (pandas or pyarrow do the parsing) plus the 1-based data row of every record, then the
columns are found by name (any case, MT5 ``<ANGLE>`` spelling), times become epoch ms UTC, prices
become float64, and :func:`~smc_agent.data.validation.check` enforces the candle rules. Any problem is
a :class:`DataError` naming the file, the data row (row 1 is the first record after any header, so in a
CSV with a header row N is on line N+1), the column and the rule.

Formats (see :data:`FORMATS`):

``mt5``            MetaTrader 5 export, ``Date,Open,High,Low,Close,Tickvol,Volume,Spread`` or the
                   tab-separated ``<DATE> <TIME> <OPEN> ... <TICKVOL> <VOL> <SPREAD>`` form; times
                   like ``2022.10.10 00:00:00`` in broker server time (pass ``tz``).
``csv``            header with a timestamp/datetime/date/time column (or an unnamed first column) and
                   open, high, low, close, optional volume; ISO strings with or without offset, other
                   date strings pandas can infer, or numeric epochs (unit by magnitude).
``binance``        Binance kline rows, 12 columns, no header (CSV), or a JSON array of such arrays.
``freqtrade-json`` pandas ``to_json`` dict of columns, or ``[[ms, o, h, l, c, v], ...]``.
``feather``        Arrow IPC/feather with ``date, open, high, low, close, volume``.
``parquet``        parquet with the same columns.

Volume is the ``volume``/``vol`` column unless it is all zero (MT5 forex exports), then the tick
volume; with no volume column at all it is zero. ``tz`` (an IANA name, default UTC) applies only to
naive times and is ignored for times that carry an offset or are epoch numbers.

>>> candles = load_candles("EURUSD_15m_mt5.csv", tz="Europe/Athens")  # doctest: +SKIP
>>> candles.symbol, candles.timeframe  # doctest: +SKIP
('EURUSD', '15m')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from smc_agent.core.errors import DataError
from smc_agent.core.timefmt import resolve_tz
from smc_agent.data import validation
from smc_agent.data.candles import Candles, FloatArray, IntArray
from smc_agent.data.frames import (
    DEFAULT_TIME_FORMATS,
    Table,
    column_lookup,
    delimiter,
    existing_file,
    find_column,
    inner_suffix,
    open_bytes,
    parse_times,
    read_arrow,
    read_delimited,
    read_json,
    require_column,
    sniff_binary,
    to_float,
)
from smc_agent.data.timeframes import format_timeframe, parse_timeframe

__all__ = [
    "FORMATS",
    "RawCandles",
    "detect_format",
    "load_candles",
    "mean_spread",
    "read_candles",
    "symbol_from_path",
]

FORMATS = ("mt5", "csv", "binance", "freqtrade-json", "feather", "parquet")

# The names a time column goes by, each also with a ``_utc`` suffix; ``date`` and ``time`` come last
# because MT5 tab exports split one instant over a ``date`` and a ``time`` column.
_TIME_NAMES = tuple(
    name + suffix
    for name in ("timestamp", "datetime", "date_time", "open_time", "time", "date")
    for suffix in ("", "_utc")
    if name + suffix not in ("time", "date")
)
_VOLUME_NAMES = ("volume", "vol", "real_volume")
_TICK_VOLUME_NAMES = ("tickvol", "tick_volume", "tickvolume", "tick_vol")
_BINANCE_COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time",
    "quote_volume", "trades", "taker_base_volume", "taker_quote_volume", "ignore",
)  # fmt: skip
_OHLC = ("open", "high", "low", "close")
_FREQTRADE_COLUMNS = ("date", *_OHLC, "volume")
_TIME_FORMATS: dict[str, tuple[str | None, ...]] = {
    "mt5": ("%Y.%m.%d %H:%M:%S", "%Y.%m.%d %H:%M", "%Y.%m.%d", None),
}
_SYMBOL = re.compile(r"^(?P<symbol>.+?)[_-](?:\d+[smhdwM]|[MHDW]\d+|MN1|trades|quotes|ticks)(?=[_-]|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True, eq=False)
class RawCandles:
    """Candles as read from a file, not yet validated, with where each one came from.

    ``rows[i]`` is the 1-based data row of candle ``i`` in the file and ``columns`` maps the
    canonical field names (time, open, ..., volume) to the file's own column names, so that a later
    validation error can point at the file exactly. ``fix_report`` says what ``fix=True`` did.
    """

    candles: Candles
    rows: IntArray
    format: str
    path: str
    columns: Mapping[str, str]
    fix_report: validation.FixReport | None = None


def symbol_from_path(path: str | Path) -> str:
    """Guess the symbol from a file name: the part before the first timeframe token (``15m``, or
    MetaTrader's ``H1``, or ``trades``, ``quotes``, ``ticks``), with freqtrade's ``_`` pair separator
    read as ``/``; without such a token, the whole stem.

    >>> [symbol_from_path(p) for p in ("EURUSD_15m_mt5.csv", "BTC_USDT-5m_2023.json", "BTC-PERP_1m.csv")]
    ['EURUSD', 'BTC/USDT', 'BTC-PERP']
    """
    stem = Path(path).name.split(".")[0]
    match = _SYMBOL.match(stem)
    return match.group("symbol").replace("_", "/") if match else stem


def detect_format(path: str | Path) -> str:
    """The name of the format of ``path`` (one of :data:`FORMATS`), from its first bytes.

    Binary files are told by their magic number; JSON by its shape (12-value arrays are Binance
    klines); text by its header: ``Tickvol`` or ``<DATE>`` means MT5, twelve numbers means Binance,
    open/high/low/close columns mean generic CSV.
    """
    file = existing_file(path)
    binary = sniff_binary(file)
    if binary is not None:
        return binary
    with open_bytes(file) as handle:
        head = handle.read(65536)
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text:
        raise DataError("the file is empty", path=str(file), rule="non-empty file")
    if text[0] == "{":
        return "freqtrade-json"
    if text[0] == "[":
        first = re.match(r"\[\s*\[([^\[\]]*)\]", text)
        return "binance" if first and len(first.group(1).split(",")) == 12 else "freqtrade-json"
    line = text.splitlines()[0]
    fields = [f.strip().strip('"') for f in line.split(delimiter(line))]
    names = column_lookup(fields)
    if "tickvol" in names or any(f.startswith("<") for f in fields):
        return "mt5"
    if len(fields) == 12 and all(re.fullmatch(r"[-+.\deE]+", f) for f in fields):
        return "binance"
    if set(_OHLC) <= names.keys():
        return "csv"
    raise DataError(
        f"cannot tell the format from the first line {line[:80]!r}; pass a format, one of: {', '.join(FORMATS)}",
        path=str(file),
        rule="known format",
    )


def read_candles(
    path: str | Path,
    *,
    format: str | None = None,
    tz: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    fix: bool = False,
    time_column: str | None = None,
) -> RawCandles:
    """Read (and with ``fix=True`` sort and de-duplicate) a candle file without validating it.

    See :func:`load_candles` for the options.
    """
    file = existing_file(path)
    fmt = detect_format(file) if format is None else _known_format(format, file)
    tz = resolve_tz(tz)
    table = _READERS[fmt](file)
    return _to_raw(table, path=str(file), fmt=fmt, tz=tz, symbol=symbol, timeframe=timeframe, fix=fix,
                   time_column=time_column)  # fmt: skip


def load_candles(
    path: str | Path,
    *,
    format: str | None = None,
    tz: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    fix: bool = False,
    time_column: str | None = None,
) -> Candles:
    """Read, optionally fix, and validate a candle file.

    ``format`` is one of :data:`FORMATS` (default: detected); ``tz`` an IANA zone for naive times
    (default UTC); ``symbol`` defaults to :func:`symbol_from_path`; ``timeframe`` to the most common
    spacing. ``fix=True`` sorts and drops exact duplicates first (see
    :func:`~smc_agent.data.validation.fix`). ``time_column`` names the time column when detection
    (``time``, ``timestamp``, ``date``, ``datetime``, ``open_time``, any case, optionally ``_utc``)
    does not find it. Raises DataError for anything wrong with the file.
    """
    raw = read_candles(path, format=format, tz=tz, symbol=symbol, timeframe=timeframe, fix=fix,
                       time_column=time_column)  # fmt: skip
    validation.check(raw.candles, path=raw.path, rows=raw.rows, columns=raw.columns, positive_prices=True)
    return raw.candles


def mean_spread(path: str | Path, format: str | None = None) -> float | None:
    """The mean of an MT5 file's ``Spread`` column, in points (the price's last digit); None for
    other formats, or without the column. Forex costs charge half of it a side. The mean, not the
    median: brokers often write a bar's *lowest* spread, mostly 0 on ECN feeds, whose median is free."""
    file = existing_file(path)
    if (format or detect_format(file)) != "mt5":
        return None
    table = _READERS["mt5"](file)
    column = find_column(column_lookup(table.frame.columns), ("spread",))
    if column is None:
        return None
    values = to_float(table.frame[column], rows=table.rows, path=str(file), field=column)
    finite = values[np.isfinite(values)]
    return float(np.mean(finite)) if finite.size else None


def _known_format(name: str, file: Path) -> str:
    if name.lower() not in FORMATS:
        raise DataError(
            f"unknown format {name!r}; choose one of: {', '.join(FORMATS)}",
            path=str(file),
            field="format",
            rule="known format",
        )
    return name.lower()


def _positional(frame: pd.DataFrame, names: tuple[str, ...], file: Path, minimum: int) -> pd.DataFrame:
    """Name the columns of a header-less table by position, keeping at most ``len(names)``."""
    if frame.shape[1] < minimum:
        raise DataError(
            f"expected at least {minimum} columns ({', '.join(names[:minimum])}), found {frame.shape[1]}",
            path=str(file),
            rule="column count",
        )
    frame = frame.iloc[:, : len(names)]
    frame.columns = pd.Index(names[: frame.shape[1]])
    return frame


def _json_frame(data: Any, file: Path) -> pd.DataFrame:
    try:
        return pd.DataFrame(data)
    except (ValueError, TypeError):
        raise DataError(
            "expected a dict of columns, a list of records or a list of rows",
            path=str(file),
            rule="JSON shape",
        ) from None


def _read_binance(file: Path) -> Table:
    if inner_suffix(file) == ".json":
        frame = _json_frame(read_json(file), file)
        return Table.of(_positional(frame, _BINANCE_COLUMNS, file, len(_BINANCE_COLUMNS)))
    table = read_delimited(file, header=False)
    return Table(_positional(table.frame, _BINANCE_COLUMNS, file, len(_BINANCE_COLUMNS)), table.rows)


def _read_freqtrade_json(file: Path) -> Table:
    data = read_json(file)
    frame = _json_frame(data, file)
    if isinstance(data, list) and data and isinstance(data[0], list):  # [[time, o, h, l, c, v], ...]
        frame = _positional(frame, _FREQTRADE_COLUMNS, file, 5)
    return Table.of(frame)  # or a dict of columns (pandas to_json), or a list of records


_READERS: dict[str, Callable[[Path], Table]] = {
    "mt5": lambda file: read_delimited(file, header=True),
    "csv": lambda file: read_delimited(file, header=True),
    "binance": _read_binance,
    "freqtrade-json": _read_freqtrade_json,
    "feather": lambda file: read_arrow(file, "feather"),
    "parquet": lambda file: read_arrow(file, "parquet"),
}


def _time_values(frame: pd.DataFrame, lookup: Mapping[str, str], path: str, given: str | None) -> tuple[str, pd.Series]:
    """The time column; separate ``date`` and ``time`` columns (MT5 tab exports) are joined."""
    if given is not None:
        named = find_column(lookup, tuple(column_lookup([given])))
        if named is None:
            have = ", ".join(lookup.values()) or "none"
            raise DataError(f"the time column {given!r} given with --time-column is not in the file (columns "
                            f"found: {have})", path=path, field=given, rule="required column")  # fmt: skip
        return named, frame[named]
    named = find_column(lookup, _TIME_NAMES)
    date, clock = lookup.get("date"), lookup.get("time")
    if named is None and date is not None and clock is not None:
        return f"{date}+{clock}", frame[date].astype("str") + " " + frame[clock].astype("str")
    # Without a named time column, the first column counts if it has no name (pandas' saved index).
    unnamed = find_column(lookup, ("unnamed:_0", "index"))
    found = named or clock or date or unnamed
    if found is None:
        have = ", ".join(lookup.values()) or "none"
        raise DataError(f"no time column found (columns found: {have}); name it with --time-column NAME",
                        path=path, field="time", rule="required column")  # fmt: skip
    return found, frame[found]


def _volume(frame: pd.DataFrame, lookup: Mapping[str, str], rows: IntArray, path: str) -> tuple[str, FloatArray | None]:
    """Real volume, unless it is all zero and a tick volume exists (MT5 forex exports)."""
    found = [
        (column, to_float(frame[column], rows=rows, path=path, field=column))
        for column in (find_column(lookup, _VOLUME_NAMES), find_column(lookup, _TICK_VOLUME_NAMES))
        if column is not None
    ]
    chosen = next((pair for pair in found if pair[1].any()), found[0] if found else None)
    return chosen if chosen is not None else ("volume", None)


def _to_raw(
    table: Table,
    *,
    path: str,
    fmt: str,
    tz: str,
    symbol: str | None,
    timeframe: str | None,
    fix: bool,
    time_column: str | None = None,
) -> RawCandles:
    frame, rows = table.frame, table.rows
    lookup = column_lookup(frame.columns)
    time_field, time_values = _time_values(frame, lookup, path, time_column)
    columns = {"time": time_field} | {n: require_column(lookup, n, (n,), path=path) for n in _OHLC}
    formats = _TIME_FORMATS.get(fmt, DEFAULT_TIME_FORMATS)
    time = parse_times(time_values, rows=rows, path=path, field=time_field, tz=tz, formats=formats)
    o, h, low, c = (to_float(frame[columns[n]], rows=rows, path=path, field=columns[n]) for n in _OHLC)
    columns["volume"], volume = _volume(frame, lookup, rows, path)
    candles = Candles.from_arrays(time, o, h, low, c, volume, symbol=symbol or symbol_from_path(path))
    report = None
    if fix:
        candles, report = validation.fix(candles, rows=rows, path=path)
        rows = report.rows
    label = format_timeframe(parse_timeframe(timeframe)) if timeframe else candles.infer_timeframe()
    return RawCandles(candles.with_meta(timeframe=label), rows, fmt, path, columns, report)
