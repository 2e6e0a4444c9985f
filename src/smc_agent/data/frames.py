"""Read raw tables from files and turn their columns into checked NumPy arrays.

The candle loaders and the tick loaders share this: read a delimited, JSON, feather or parquet file
into a DataFrame (pandas and pyarrow do the parsing) with the row number of every record, find a
column whatever its case or MT5 ``<ANGLE>`` spelling, parse a time column (ISO strings, other
string formats, epoch numbers of any unit, or datetime columns) into epoch milliseconds UTC, and
parse a number column into float64. A value that cannot be parsed raises a :class:`DataError`
naming the file, the data row and the column.

A file whose name ends in ``.gz``, ``.bz2``, ``.xz`` or ``.zip`` (one file inside) is read through
the standard library's decompressor of that kind (:func:`open_bytes`); everything else about it is
as for the plain file, so ``EURUSD_15m.csv.gz`` is detected and read as the CSV it holds.

Row numbers are the 1-based *data* rows of the file: the first record after any header line is
row 1 (in a CSV with a header, row N is on line N+1; in JSON it is the N-th record). Callers pass the
row number of every value, so rows dropped or reordered on the way keep their original number.

>>> import numpy as np, pandas as pd
>>> parse_times(pd.Series(["2024-03-01 09:15:00"]), rows=np.array([1]), tz="Asia/Kolkata").tolist()
[1709264700000]
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq

from smc_agent.core.errors import DataError
from smc_agent.core.timefmt import resolve_tz
from smc_agent.data.candles import FloatArray, IntArray

__all__ = [
    "DEFAULT_TIME_FORMATS",
    "Table",
    "column_lookup",
    "delimiter",
    "existing_file",
    "find_column",
    "inner_suffix",
    "open_bytes",
    "parse_times",
    "read_arrow",
    "read_delimited",
    "read_json",
    "require_column",
    "sniff_binary",
    "to_float",
]

#: String time formats tried in order when a caller gives none; None lets pandas infer one.
DEFAULT_TIME_FORMATS: tuple[str | None, ...] = ("ISO8601", None)

_MS_PER_UNIT = {"s": 1_000, "ms": 1, "us": 1, "ns": 1}
_DIV_PER_UNIT = {"s": 1, "ms": 1, "us": 1_000, "ns": 1_000_000}
_MAGIC = {b"PAR1": "parquet", b"ARROW1": "feather", b"FEA1": "feather"}
_TZ_SUFFIX = r"(?:Z|[+-]\d\d:?\d\d)\s*$"
_COMPRESSED = (".gz", ".bz2", ".xz", ".zip")
_DECOMPRESS_ERRORS = (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError)


@dataclass(frozen=True, slots=True, eq=False)
class Table:
    """A file's records as a DataFrame, and the 1-based data row of each record in the file."""

    frame: pd.DataFrame
    rows: IntArray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> Table:
        """Number the records 1..n, then drop blank ones (which keep the numbers of the rest)."""
        rows = np.arange(1, len(frame) + 1, dtype=np.int64)
        blank = frame.isna().all(axis=1).to_numpy()
        if blank.any():
            frame, rows = frame.loc[~blank], rows[~blank]
        return cls(frame.reset_index(drop=True), rows)


def existing_file(path: str | Path) -> Path:
    """``path`` as a Path, or a DataError if it is missing or not a file."""
    file = Path(path)
    if not file.exists():
        raise DataError("file not found", path=str(file), rule="file exists")
    if not file.is_file():
        raise DataError("not a regular file", path=str(file), rule="file exists")
    return file


def inner_suffix(file: Path) -> str:
    """The suffix of the file itself, under any compression suffix, in lower case.

    >>> inner_suffix(Path("klines.JSON.gz")), inner_suffix(Path("a.csv"))
    ('.json', '.csv')
    """
    name = Path(file.name)
    if name.suffix.lower() in _COMPRESSED:
        name = Path(name.stem)
    return name.suffix.lower()


@contextmanager
def open_bytes(file: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed when its name ends in ``.gz``, ``.bz2``, ``.xz`` or ``.zip``.

    A zip archive must hold exactly one file. A corrupt archive is a DataError naming the file.
    """
    kind = file.suffix.lower()
    try:
        if kind == ".zip":
            with zipfile.ZipFile(file) as archive:
                members = [m for m in archive.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise DataError(f"a zip archive must hold exactly one file, this one holds {len(members)}",
                                    path=str(file), rule="one file per archive")  # fmt: skip
                with archive.open(members[0]) as handle:
                    yield handle
            return
        opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(kind)
        with opener(file, "rb") if opener else file.open("rb") as handle:  # type: ignore[operator]
            yield handle
    except _DECOMPRESS_ERRORS as exc:
        if kind not in _COMPRESSED:
            raise
        raise DataError(f"cannot decompress the {kind} file: {exc}", path=str(file), rule="readable archive") from None


def sniff_binary(file: Path) -> str | None:
    """``"parquet"`` or ``"feather"`` when the file starts with that format's magic number, else None."""
    with open_bytes(file) as handle:
        head = handle.read(8)
    return next((kind for magic, kind in _MAGIC.items() if head.startswith(magic)), None)


def delimiter(line: str) -> str:
    """The most frequent of comma, tab, semicolon and bar in a header line."""
    return max((",", "\t", ";", "|"), key=line.count)


def read_delimited(file: Path, *, header: bool) -> Table:
    """Read delimited text with pandas (C parser); the delimiter is taken from the first line."""
    try:
        with open_bytes(file) as handle:
            first = handle.readline().decode("utf-8-sig", errors="replace")
        with open_bytes(file) as handle:
            frame = pd.read_csv(
                handle,
                sep=delimiter(first),
                header=0 if header else None,
                skip_blank_lines=False,
                skipinitialspace=True,
                encoding="utf-8-sig",
            )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        line = re.search(r"line (\d+)", message)
        row = int(line.group(1)) - int(header) if line else None
        raise DataError(
            f"cannot read as delimited text: {message}", path=str(file), row=row, rule="well-formed CSV"
        ) from None
    if not isinstance(frame.index, pd.RangeIndex):  # the header is a field short: keep column 1 as data
        frame = frame.reset_index()
    return Table.of(frame)


def read_json(file: Path) -> Any:
    """The parsed JSON document, or a DataError saying where it is malformed."""
    try:
        with open_bytes(file) as handle:
            return json.loads(handle.read().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"not valid JSON: {exc}", path=str(file), rule="valid JSON") from None


def read_arrow(file: Path, kind: str) -> Table:
    """Read a ``feather`` or ``parquet`` file; a saved pandas DatetimeIndex becomes a column."""
    reader = feather.read_table if kind == "feather" else pq.read_table
    try:
        if file.suffix.lower() in _COMPRESSED:  # pyarrow needs random access: decompress into memory
            with open_bytes(file) as handle:
                frame = reader(pa.BufferReader(handle.read())).to_pandas()
        else:
            frame = reader(file).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read as {kind}: {exc}", path=str(file), rule="readable file") from None
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.reset_index()
    return Table.of(frame)


def column_lookup(columns: Iterable[object]) -> dict[str, str]:
    """Map normalised names (lower case, no spaces or MT5 angle brackets) to the file's own names.

    >>> column_lookup(["<DATE>", " Open", "Tick Volume"])
    {'date': '<DATE>', 'open': ' Open', 'tick_volume': 'Tick Volume'}
    """
    lookup: dict[str, str] = {}
    for column in columns:
        key = re.sub(r"\s+", "_", str(column).strip().strip("<>").strip().lower())
        lookup.setdefault(key, str(column))
    return lookup


def find_column(lookup: Mapping[str, str], candidates: Sequence[str]) -> str | None:
    """The file's name of the first candidate present, or None."""
    return next((lookup[name] for name in candidates if name in lookup), None)


def require_column(lookup: Mapping[str, str], field: str, candidates: Sequence[str], *, path: str | None) -> str:
    """Like :func:`find_column` but a missing column is a DataError naming it and listing what exists."""
    found = find_column(lookup, candidates)
    if found is None:
        have = ", ".join(lookup.values()) or "none"
        raise DataError(
            f"required column {field!r} is missing (columns found: {have})",
            path=path,
            field=field,
            rule="required column",
        )
    return found


def to_float(values: pd.Series, *, rows: IntArray, path: str | None = None, field: str = "") -> FloatArray:
    """A column as float64; text that is not a number is a DataError naming its row.

    Empty cells become NaN, which validation then reports as a non-finite value.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    numbers = pd.to_numeric(values, errors="coerce")
    _raise_first(numbers.isna() & values.notna(), values, rows, path, field, "not a number", "number")
    return numbers.to_numpy(dtype=np.float64, na_value=np.nan)


def parse_times(
    values: pd.Series,
    *,
    rows: IntArray,
    path: str | None = None,
    field: str = "time",
    tz: str | None = None,
    formats: Sequence[str | None] = DEFAULT_TIME_FORMATS,
) -> IntArray:
    """A time column as epoch milliseconds UTC (sub-millisecond parts are floored).

    Accepts datetime columns, numeric epochs (the unit is chosen by magnitude: below 1e11 seconds,
    below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds) and strings in one of
    ``formats``. Naive times are wall-clock times in ``tz`` (default UTC); ``tz`` is ignored for
    times that carry their own offset. A wall-clock time repeated by a daylight-saving change is
    resolved from the order of the rows (the first is the summer time), as pandas' ``ambiguous="infer"``
    does; a time that cannot be resolved that way, or one skipped by the clock change, is a DataError.
    """
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return _epoch_to_ms(values, rows, path, field)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        stamps = pd.DatetimeIndex(values)
    else:
        stamps = _parse_strings(values, rows, path, field, formats)
    _raise_first(stamps.isna(), values, rows, path, field, "missing or unparseable timestamp", "timestamp")
    if stamps.tz is None:
        stamps = _localize(stamps, resolve_tz(tz), rows, path, field)
    scale = _MS_PER_UNIT[stamps.unit]
    return np.asarray(stamps.asi8 * scale // _DIV_PER_UNIT[stamps.unit], dtype=np.int64)


def _parse_strings(
    values: pd.Series, rows: IntArray, path: str | None, field: str, formats: Sequence[str | None]
) -> pd.DatetimeIndex:
    """Parse with each format in turn and keep the first that reads every row (or the best one)."""
    text = values.astype("str").where(values.notna())
    best: pd.DatetimeIndex | None = None
    fewest = -1
    for fmt in formats:
        with warnings.catch_warnings():
            # pandas warns when it falls back to parsing element by element; that is the point here.
            warnings.simplefilter("ignore", UserWarning)
            try:
                parsed = pd.DatetimeIndex(pd.to_datetime(text, format=fmt, errors="coerce"))
            except ValueError:  # mixed UTC offsets (a DST change), or offsets mixed with naive times
                _check_offsets_consistent(text, rows, path, field)
                parsed = pd.DatetimeIndex(pd.to_datetime(text, format=fmt, errors="coerce", utc=True))
        bad = int(np.count_nonzero(parsed.isna()))
        if best is None or bad < fewest:
            best, fewest = parsed, bad
        if bad == 0:
            break
    assert best is not None, "formats must not be empty"
    return best


def _check_offsets_consistent(text: pd.Series, rows: IntArray, path: str | None, field: str) -> None:
    aware = text.str.contains(_TZ_SUFFIX, regex=True, na=False).to_numpy()
    _raise_first(
        aware != aware[0],
        text,
        rows,
        path,
        field,
        "timestamp with and without a UTC offset in one column",
        "one timestamp style",
    )


def _localize(stamps: pd.DatetimeIndex, tz: str, rows: IntArray, path: str | None, field: str) -> pd.DatetimeIndex:
    try:
        return stamps.tz_localize(tz, ambiguous="infer", nonexistent="raise")
    except ValueError:
        probe = stamps.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        i = int(np.argmax(probe.isna()))
        skipped = stamps[i : i + 1].tz_localize(tz, ambiguous=np.ones(1, dtype=bool), nonexistent="NaT").isna()[0]
        what = "does not exist (the clocks jump over it)" if skipped else "occurs twice (the clocks go back)"
        raise DataError(
            f"local time {stamps[i]} {what} in {tz}, and the order of the rows does not settle it",
            path=path,
            row=int(rows[i]),
            field=field,
            rule="unambiguous local time",
        ) from None


def _epoch_to_ms(values: pd.Series, rows: IntArray, path: str | None, field: str) -> IntArray:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    _raise_first(~np.isfinite(numbers), values, rows, path, field, "missing timestamp", "timestamp")
    magnitude = float(np.max(np.abs(numbers))) if numbers.size else 0.0
    unit = "s" if magnitude < 1e11 else "ms" if magnitude < 1e14 else "us" if magnitude < 1e17 else "ns"
    if pd.api.types.is_integer_dtype(values.dtype):
        ints = values.to_numpy(dtype=np.int64)
        return np.asarray(ints * _MS_PER_UNIT[unit] // _DIV_PER_UNIT[unit], dtype=np.int64)
    # Float epochs (fractional seconds) are rounded to the nearest millisecond.
    return np.round(numbers * _MS_PER_UNIT[unit] / _DIV_PER_UNIT[unit]).astype(np.int64)


def _raise_first(
    bad: npt.ArrayLike,
    values: pd.Series,
    rows: IntArray,
    path: str | None,
    field: str,
    what: str,
    rule: str,
) -> None:
    """Raise a DataError for the first True in ``bad`` (a boolean mask over ``values``)."""
    mask = np.asarray(bad, dtype=bool)
    if mask.any():
        i = int(np.argmax(mask))
        value = values.iloc[i]
        shown = value.item() if isinstance(value, np.generic) else value  # 1.5, not np.float64(1.5)
        raise DataError(f"{what}: {shown!r}", path=path, row=int(rows[i]), field=field, rule=rule)
