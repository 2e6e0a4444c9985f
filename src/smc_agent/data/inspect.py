"""The service behind ``smc-agent data inspect FILE``: what a candle file is and whether it is usable.

The CLI (and later the API) only formats this report, so both give the same answer. Reading
problems (missing file, unknown format, unparseable values) raise :class:`DataError`; a file that
reads but breaks a candle rule gives a report with ``ok=False`` and the error message, so the user
sees the format, size and gaps as well as the first bad row.

>>> report = inspect_file("EURUSD_15m_mt5.csv")  # doctest: +SKIP
>>> report.format, report.rows, report.timeframe, report.ok  # doctest: +SKIP
('mt5', 24424, '15m', True)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from smc_agent.data.loaders import read_candles
from smc_agent.data.validation import Gap, validate

__all__ = ["InspectReport", "inspect_file"]


@dataclass(frozen=True, slots=True)
class InspectReport:
    """A summary of one candle file. ``first_time`` and ``last_time`` are the earliest and latest
    open times, epoch ms UTC (None when the file has no rows)."""

    path: str
    format: str
    detected: bool
    symbol: str
    rows: int
    first_time: int | None
    last_time: int | None
    timeframe: str
    gap_count: int
    missing_candles: int
    largest_gap: Gap | None
    first_gaps: tuple[Gap, ...]
    ok: bool
    error: str | None
    fixed: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, with times as ISO 8601 UTC strings."""

        def gap(g: Gap) -> dict[str, object]:
            return {"start": _iso(g.start), "end": _iso(g.end), "missing": g.missing}

        return {
            "path": self.path,
            "format": self.format,
            "detected": self.detected,
            "symbol": self.symbol,
            "rows": self.rows,
            "first_time": _iso(self.first_time),
            "last_time": _iso(self.last_time),
            "timeframe": self.timeframe,
            "gaps": {
                "count": self.gap_count,
                "missing_candles": self.missing_candles,
                "largest": None if self.largest_gap is None else gap(self.largest_gap),
                "first": [gap(g) for g in self.first_gaps],
            },
            "valid": self.ok,
            "error": self.error,
            "fixed": self.fixed,
        }


def inspect_file(
    path: str | Path,
    *,
    format: str | None = None,
    tz: str | None = None,
    fix: bool = False,
    max_gaps: int = 5,
    time_column: str | None = None,
) -> InspectReport:
    """Read ``path`` (format detected unless given; ``tz`` for naive times), validate, summarise.

    ``fix=True`` sorts and drops exact duplicates first, as ``load_candles(fix=True)`` does, and
    the report says what it did. The first ``max_gaps`` gaps are listed. ``time_column`` names the
    time column when detection does not find it.
    """
    raw = read_candles(path, format=format, tz=tz, fix=fix, time_column=time_column)
    candles = raw.candles
    report = validate(candles, path=raw.path, rows=raw.rows, columns=raw.columns, positive_prices=True)
    empty = len(candles) == 0
    return InspectReport(
        path=raw.path,
        format=raw.format,
        detected=format is None,
        symbol=candles.symbol,
        rows=len(candles),
        first_time=None if empty else int(candles.time.min()),
        last_time=None if empty else int(candles.time.max()),
        timeframe=candles.timeframe,
        gap_count=report.gap_count,
        missing_candles=report.missing_candles,
        largest_gap=report.largest_gap,
        first_gaps=tuple(report.gaps(max_gaps)),
        ok=report.ok,
        error=None if report.error is None else str(report.error),
        fixed=None if raw.fix_report is None else raw.fix_report.summary(),
    )


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
