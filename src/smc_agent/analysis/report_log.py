"""The Excel log of reports, ``smc-log.xlsx``: one row per run, never losing an earlier one.

People open this file in Excel, keep it for months and add their own columns, so it is treated as
theirs:

* it is read and checked before anything is written: if it is not a workbook, or its first row is
  not our header, it is left alone and the error names it and says what to do;
* the new version is saved to a temporary file in the same directory and renamed over the old one
  only after the save succeeded, so a crash, a full disk or a lock never leaves half a file;
* a locked or read-only log (open in Excel on Windows, ``chmod a-w``) gives a clear error, and the
  old file stays as it was.

Columns the user adds after ours are kept; openpyxl keeps cell values and formatting, but drops
what it cannot read (shapes, some extensions): it says so when reading, and those notes are
returned so the caller can show them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import warnings
from collections.abc import Callable
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import BinaryIO

import openpyxl
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from smc_agent.core.errors import ReportError

__all__ = ["LOG_COLUMNS", "LOG_NAME", "LogRow", "append_log", "atomic_write"]

LOG_NAME = "smc-log.xlsx"

_OPENPYXL_DIR = Path(openpyxl.__file__).resolve().parent
_LOCKED = (
    "the log is locked or read-only (open in Excel or another program?); close it or make it writable, then run again"
)


@dataclass(frozen=True, slots=True)
class LogRow:
    """One run's verdict. ``signal_count`` counts every signal in the replayed data, as ``signals`` lists."""

    date: str  # close of the last candle, ISO-8601 UTC
    symbol: str
    bias: str
    confidence: float
    confidence_level: str
    bullish_score: float
    bearish_score: float
    signal_count: int
    report: str  # the page, relative to the log: also the cell's hyperlink


LOG_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(LogRow))
_WIDTHS = {"date": 22, "symbol": 14, "bias": 10, "report": 48}
_NUMBER_FORMATS = {"confidence": "0.00", "bullish_score": "0.00", "bearish_score": "0.00"}


def append_log(path: Path, row: LogRow) -> tuple[int, tuple[str, ...]]:
    """Append ``row`` to the log at ``path`` (created with a header if missing).

    Returns the row's number in the sheet and what openpyxl noted while reading the old file.
    """
    notes: tuple[str, ...] = ()
    if path.exists():
        book, notes = _read(path)
    else:
        book = _new_book()
    sheet = book.worksheets[0]
    sheet.append(astuple(row))
    number = sheet.max_row
    for name, fmt in _NUMBER_FORMATS.items():
        sheet.cell(number, LOG_COLUMNS.index(name) + 1).number_format = fmt
    link = sheet.cell(number, LOG_COLUMNS.index("report") + 1)
    link.hyperlink = row.report
    link.style = "Hyperlink"
    try:
        atomic_write(path, book.save)
    except PermissionError:
        raise ReportError(_LOCKED, path=str(path)) from None
    except OSError as exc:
        raise ReportError(
            f"cannot save the log: {exc.strerror or exc}; it was left as it was; free some space or fix the "
            "directory, then run again",
            path=str(path),
        ) from None
    return number, notes


def atomic_write(target: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write ``target`` through a temporary file in its directory, then rename it into place.

    A rename within one directory replaces the file in one step, so readers and crashes see the
    old file or the new one, never a mix. The temporary file is opened like any new file (so the
    umask applies, unlike ``mkstemp``'s 0600) and takes an existing target's permissions. A target
    that is not writable is refused with :class:`PermissionError` even where a rename could
    replace it (POSIX), because read-only means "do not change this".
    """
    if target.exists() and not os.access(target, os.W_OK):
        raise PermissionError(13, "read-only", str(target))
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        with open(temporary, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            shutil.copymode(target, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _new_book() -> Workbook:
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.title = "log"
    sheet.append(LOG_COLUMNS)
    for number, name in enumerate(LOG_COLUMNS, 1):
        sheet.cell(1, number).font = Font(bold=True)
        sheet.column_dimensions[get_column_letter(number)].width = _WIDTHS.get(name, len(name) + 4)
    sheet.freeze_panes = "A2"
    return book


def _read(path: Path) -> tuple[Workbook, tuple[str, ...]]:
    """The existing log, checked; its own clear error when it cannot be used as it is."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            book = load_workbook(path)
        except PermissionError:
            raise ReportError(_LOCKED, path=str(path)) from None
        except Exception as exc:  # openpyxl reports a damaged file with many exception types
            raise ReportError(
                f"not a readable Excel workbook ({type(exc).__name__}: {exc}); it was left as it was: restore it "
                "from a backup, or move it away so that a new log is started",
                path=str(path),
            ) from None
    notes = []
    for warning in caught:
        if issubclass(warning.category, UserWarning) and _from_openpyxl(warning.filename):
            notes.append(str(warning.message))
        else:  # not ours to judge: hand it back to the caller's warning filters
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    sheet = book.worksheets[0]
    header = tuple(cell.value for cell in sheet[1])[: len(LOG_COLUMNS)]
    if header != LOG_COLUMNS:
        raise ReportError(
            f"the first row is {list(header)}, not the smc-agent log header {list(LOG_COLUMNS)}; it was left "
            "as it was: give another --out, or move the file away so that a new log is started",
            path=str(path),
        )
    return book, tuple(notes)


def _from_openpyxl(filename: str) -> bool:
    return Path(filename).resolve().is_relative_to(_OPENPYXL_DIR)
