"""The daily-report use case: replay each file as ``smc-agent signals`` does, then save its page and log row.

What a page says and how it is saved is :mod:`smc_agent.analysis.report`; this module only decides
which files are read and refuses a run that would overwrite one file's page with another's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.report import Report, ReportOutcome, build_report, report_name, save_report
from smc_agent.core.errors import ReportError
from smc_agent.service.analysis import AnalysisRequest, signals_request

__all__ = ["report_request", "write_reports"]


def report_request(
    request: AnalysisRequest, htfs: Sequence[str] | None, config: AnalysisConfig | None = None
) -> Report:
    """Load and replay one file (exactly as ``smc-agent signals`` does) and build its report."""
    engine = signals_request(request, None if htfs is None else list(htfs), config)
    return build_report(engine, tz=request.tz)


def write_reports(
    requests: Iterable[AnalysisRequest], htfs: Sequence[str] | None, out_dir: Path, config: AnalysisConfig | None = None
) -> Iterator[ReportOutcome]:
    """One report and one log row per file, in order, yielded as each is done.

    Two files that would give the same page (same symbol, timeframe and last candle, e.g. the bid
    and the ask file of one pair) stop the run before the second overwrites the first.
    """
    written: dict[str, Path] = {}
    for request in requests:
        report = report_request(request, htfs, config)
        name = report_name(report)
        if name in written:
            raise ReportError(
                f"gives the same report {name} as {written[name]} (same symbol, timeframe and last candle); "
                "report it in a separate run with --symbol to tell them apart",
                path=str(request.path),
            )
        written[name] = request.path
        yield save_report(report, out_dir)
