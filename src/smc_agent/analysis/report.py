"""The daily report: one Markdown page per symbol, and one row per run in an Excel log.

A trader reads the page to see *why* the bias is what it is (every piece of evidence and the points
it adds), which zones are live near price, which signals are waiting, and which setups were
rejected. The log (``smc-log.xlsx`` next to the pages) is the history of those verdicts, one row per
run with a link to its page.

Both are written for people who keep them for months, so:

* the page is deterministic: its "as of" is the close of the last candle, never the wall clock, and
  the same candles always give the same bytes (so a diff shows what the market changed);
* nothing is half-written: every file is written to a temporary file in the same directory and
  renamed over the old one only once it is complete;
* earlier rows are never lost: a log that cannot be read, is not ours, or is locked (open in Excel,
  read-only) is left exactly as it was, and the error says which file and what to do.

The Excel side lives in :mod:`smc_agent.analysis.report_log`; this module builds, renders and saves
one report. Which files to report on, read how, is a use case: :mod:`smc_agent.service.reports`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from smc_agent.analysis.bias import Bias, Evidence
from smc_agent.analysis.bias import evidence_points as points_of
from smc_agent.analysis.config import EVIDENCE, AnalysisConfig
from smc_agent.analysis.report_log import LOG_NAME, LogRow, append_log, atomic_write
from smc_agent.analysis.signals import Signal, SignalEngine, SignalStatus
from smc_agent.core.errors import ReportError
from smc_agent.core.timefmt import format_time, iso_utc
from smc_agent.data.prices import format_price, price_tick
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.model import Direction
from smc_agent.smc.snapshot import MarketSnapshot, snapshot

__all__ = [
    "LATEST_SIGNALS",
    "Report",
    "ReportOutcome",
    "build_report",
    "evidence_points",
    "log_row",
    "render_markdown",
    "report_name",
    "save_report",
]

LATEST_SIGNALS = 5  # non-pending signals shown after the pending ones, newest first

_ZONES = (
    ("order_block", "Order blocks"),
    ("breaker_block", "Breaker blocks"),
    ("fvg", "Fair value gaps"),
    ("liquidity", "Liquidity pools"),
)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one page shows, taken from a finished replay (no I/O, no clock)."""

    symbol: str
    timeframe: str
    htfs: tuple[str, ...]
    tz: str | None
    first_ms: int  # open of the first candle
    as_of_ms: int  # close of the last candle: the report's only notion of "now"
    candles: int
    bias: Bias
    neutral_band: float  # the score difference a direction needs (from the analysis config)
    points: tuple[float, ...]  # score points each item of ``bias.signals`` adds (0..100 scale)
    market: MarketSnapshot
    signals: tuple[Signal, ...]
    rejections: tuple[tuple[str, str, int], ...]  # (setup, reason, count)
    tick: Decimal = Decimal("0.00000001")  # the price step the data shows; prices are written to it


@dataclass(frozen=True, slots=True)
class ReportOutcome:
    """What one report run wrote: the page, and the log row it appended (with its row number)."""

    report_path: Path
    log_path: Path
    row_number: int
    row: LogRow
    notes: tuple[str, ...] = ()  # what openpyxl said when reading the log (e.g. parts it drops)


def evidence_points(bias: Bias, config: AnalysisConfig) -> tuple[float, ...]:
    """The points each piece of evidence adds to its side's 0..100 score.

    The weighting of :func:`smc_agent.analysis.bias.combine` itself, so the bullish points sum to
    ``bias.bullish_score`` and the bearish ones to ``bias.bearish_score`` (a test holds them to it).
    """
    return points_of(bias.signals, bias.weights or {}, config)


def build_report(engine: SignalEngine, *, tz: str | None = None) -> Report:
    """Collect the page's content from a replayed engine; ``tz`` only adds local times to the text."""
    result = engine.mtf.entry.result(copy=False)
    candles = result.candles
    if len(candles) == 0:
        raise ReportError(f"no candles of {engine.symbol or 'the symbol'} to report on; check the file and --tf")
    bias = engine.mtf.bias()
    rejections = sorted(engine.rejections.items(), key=lambda item: (item[0][0], -item[1], item[0][1]))
    return Report(
        symbol=engine.symbol,
        timeframe=engine.timeframe,
        htfs=tuple(engine.mtf.htf),
        tz=tz,
        first_ms=int(candles.time[0]),
        as_of_ms=int(candles.time[-1]) + candles.timeframe_ms,
        candles=len(candles),
        bias=bias,
        neutral_band=engine.config.neutral_band,
        points=evidence_points(bias, engine.config),
        market=snapshot(result),
        signals=tuple(engine.signals),
        rejections=tuple((setup, reason, count) for (setup, reason), count in rejections),
        tick=price_tick(candles),
    )


def report_name(report: Report) -> str:
    """``<symbol>_<timeframe>_<last close, YYYYMMDDTHHMMSSZ>.md``, safe on every file system.

    Anything but letters, digits, dot and dash in the symbol becomes ``-`` (``BTC/USDT`` is
    ``BTC-USDT``), so a symbol never makes a path or a name Windows refuses.
    """
    symbol = re.sub(r"[^A-Za-z0-9.\-]+", "-", report.symbol).strip(".-") or "symbol"
    stamp = iso_utc(report.as_of_ms).replace("-", "").replace(":", "")
    return f"{symbol}_{report.timeframe}_{stamp}.md"


def log_row(report: Report, link: str) -> LogRow:
    """The log's row for a report; ``link`` is the page's path relative to the log."""
    bias = report.bias
    return LogRow(
        date=iso_utc(report.as_of_ms),
        symbol=report.symbol,
        bias=bias.direction.value,
        confidence=round(bias.confidence, 6),
        confidence_level=bias.confidence_level.value,
        bullish_score=round(bias.bullish_score, 6),
        bearish_score=round(bias.bearish_score, 6),
        signal_count=len(report.signals),
        report=link,
    )


# --- saving ----------------------------------------------------------------------------------


def save_report(report: Report, out_dir: Path) -> ReportOutcome:
    """Write the page, then append its row to ``out_dir/smc-log.xlsx``.

    The page is written first: if the log then cannot be updated the error says that the page
    exists but has no row, and running again (once the log is fixed) adds it.
    """
    _make_dir(out_dir)
    page = out_dir / report_name(report)
    text = render_markdown(report)
    try:
        atomic_write(page, lambda handle: handle.write(text.encode("utf-8")))
    except PermissionError:
        raise ReportError(
            "cannot write the report: the file or its directory is read-only; make it writable or choose another --out",
            path=str(page),
        ) from None
    except OSError as exc:
        raise ReportError(f"cannot write the report: {exc.strerror or exc}", path=str(page)) from None
    log = out_dir / LOG_NAME
    row = log_row(report, page.name)  # the page sits next to the log
    try:
        number, notes = append_log(log, row)
    except ReportError as exc:
        raise ReportError(f"{exc.message}; the report {page} was written, but not logged", path=exc.path) from None
    return ReportOutcome(page, log, number, row, notes)


def _make_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(
            f"cannot create the output directory: {exc.strerror or exc}; choose another --out", path=str(out_dir)
        ) from None


# --- Markdown --------------------------------------------------------------------------------


def render_markdown(report: Report) -> str:
    """The page as Markdown text (``\\n`` line ends; same report, same text)."""
    parts = [
        _title(report),
        _bias(report.bias, report.neutral_band),
        _evidence(report.bias.signals, report.points),
        _zones(report.market, report.tick),
        _signals(report.signals, report.tz, report.tick),
        _rejections(report.rejections),
    ]
    return "\n\n".join(part.rstrip("\n") for part in parts) + "\n"


def _title(r: Report) -> str:
    htfs = ", ".join(f"{tf} ({(r.bias.candles or {}).get(tf, 0)} closed candles)" for tf in r.htfs) or "none"
    return "\n".join(
        [
            f"# {r.symbol or 'symbol'} {r.timeframe}: SMC report as of {iso_utc(r.as_of_ms)}",
            "",
            f"- Data: {iso_utc(r.first_ms)} to {iso_utc(r.as_of_ms)}, {r.candles} candles of {r.timeframe}",
            f"- As of: close of the last candle, {_when(r.as_of_ms, r.tz)}",
            f"- Higher timeframes: {htfs}",
        ]
    )


def _bias(bias: Bias, band: float) -> str:
    lines = [
        "## Bias",
        "",
        f"**{bias.direction.value}**, confidence {bias.confidence:.2f} ({bias.confidence_level.value}); "
        f"bullish score {bias.bullish_score:.2f}, bearish score {bias.bearish_score:.2f}",
    ]
    if not bias.weights:
        lines += ["", f"Neutral because {bias.reason}."]
        return "\n".join(lines)
    lines += ["", f"Timeframes: {bias.reason}."]
    if bias.direction is Direction.NEUTRAL:
        gap = bias.bullish_score - bias.bearish_score
        lines += ["", f"Neutral because bullish minus bearish is {gap:.2f}, inside the neutral band of ±{band:g}."]
    return "\n".join(lines)


def _evidence(evidence: tuple[Evidence, ...], points: tuple[float, ...]) -> str:
    lines = ["## Score breakdown", ""]
    if not evidence:
        return "\n".join([*lines, "No evidence: no timeframe voted."])
    order = sorted(
        range(len(evidence)),
        key=lambda k: (_rank(evidence[k].type), -parse_timeframe(evidence[k].timeframe), evidence[k].direction.value),
    )
    lines += [
        "| type | timeframe | direction | strength | points | detail |",
        "|---|---|---|---:|---:|---|",
    ]
    for k in order:
        e = evidence[k]
        cells = (e.type, e.timeframe, e.direction.value, f"{e.strength:.3f}", f"{points[k]:.2f}", _cell(e.detail))
        lines.append(f"| {' | '.join(cells)} |")
    lines += ["", "| type | bullish points | bearish points |", "|---|---:|---:|"]
    for kind in sorted({e.type for e in evidence}, key=_rank):
        bull = sum(points[k] for k, e in enumerate(evidence) if e.type == kind and e.direction is Direction.BULLISH)
        bear = sum(points[k] for k, e in enumerate(evidence) if e.type == kind and e.direction is Direction.BEARISH)
        lines.append(f"| {kind} | {bull:.2f} | {bear:.2f} |")
    return "\n".join(lines)


def _zones(market: MarketSnapshot, tick: Decimal) -> str:
    close = market.last_close
    lines = [
        "## Active zones",
        "",
        f"Last close {_price(close, tick)}; structure: internal {market.trend.get('internal', 'neutral')}, "
        f"swing {market.trend.get('swing', 'neutral')}. Live zones, nearest to price first.",
    ]
    for kind, title in _ZONES:
        found = market.zones.get(kind, [])
        lines += ["", f"### {title}", ""]
        if not found:
            lines.append("None live.")
            continue
        lines += ["| direction | bottom | top | where | state | scope | confirmed |", "|---|---:|---:|---|---|---|---|"]
        for z in found:
            lines.append(
                f"| {z['direction']} | {_price(z['bottom'], tick)} | {_price(z['top'], tick)} | {_where(z, close)} "
                f"| {z['state']} | {z.get('scope', '-')} | {z['confirmed_time']} |"
            )
    lines += ["", "### Dealing range", ""]
    dr = market.dealing_range
    if dr is None:
        lines.append("No dealing range yet.")
    else:
        low, high = dr.ote
        lines += [
            f"- Range {_price(dr.bottom, tick)} to {_price(dr.top, tick)} ({dr.direction} leg), "
            f"equilibrium {_price(dr.equilibrium, tick)}",
            f"- Close in **{dr.zone}** at {dr.position:.0%} of the range",
            f"- OTE (62-79% retracement) {_price(low, tick)} to {_price(high, tick)}",
        ]
    if market.levels:
        lines += ["", "### Previous day, week and month", ""]
    for kind, level in market.levels.items():
        name = kind.replace("_", " ")
        lines.append(
            f"- {name}: high {_price(level['top'], tick)}, low {_price(level['bottom'], tick)} ({level['state']})"
        )
    return "\n".join(lines)


def _signals(signals: tuple[Signal, ...], tz: str | None, tick: Decimal) -> str:
    pending = [s for s in reversed(signals) if s.status is SignalStatus.PENDING]
    others = [s for s in reversed(signals) if s.status is not SignalStatus.PENDING]
    shown = pending + others[:LATEST_SIGNALS]
    lines = ["## Signals", "", f"{len(signals)} in the data, {len(pending)} pending."]
    if not shown:
        return "\n".join(lines)
    hidden = len(others) - min(len(others), LATEST_SIGNALS)
    if hidden:
        lines.append(f"Showing the pending ones and the latest {LATEST_SIGNALS} others; `smc-agent signals` lists all.")
    lines += [
        "",
        "| id | setup | side | entry | stop | targets | RR | quality | status |",
        "|---|---|---|---:|---:|---|---:|---:|---|",
    ]
    for s in shown:
        targets = ", ".join(_price(t, tick) for t in s.targets)
        lines.append(
            f"| {_cell(s.id)} | {s.setup} | {s.side.value} | {_price(s.entry, tick)} | {_price(s.stop, tick)} "
            f"| {targets} | {s.rr:.2f} | {s.quality:.3f} | {s.status.value} |"
        )
    for s in shown:
        status = f"{s.status.value} at {_when(s.status_ms, tz)}" + (f" ({s.status_reason})" if s.status_reason else "")
        quality = ", ".join(f"{name} {value:.2f}" for name, value in s.quality_breakdown.items())
        lines += [
            "",
            f"### {s.id}",
            "",
            f"- Created {_when(s.created_ms, tz)}, expires {_when(s.expires_ms, tz)}, version {s.version}",
            f"- Status: {status}",
            f"- Quality {s.quality:.3f}: {quality}",
            f"- Bias when created: {s.bias.direction.value}, confidence {s.bias.confidence:.2f}",
            "- Evidence chain:",
        ]
        lines += [f"  {n}. {_link(link, tick)}" for n, link in enumerate(s.evidence, 1)]
    return "\n".join(lines)


def _rejections(rejections: tuple[tuple[str, str, int], ...]) -> str:
    lines = ["## Rejected setups", ""]
    if not rejections:
        return "\n".join([*lines, "None."])
    lines += [
        f"{sum(count for _, _, count in rejections)} candidate setups were rejected, by setup and reason:",
        "",
        "| setup | reason | count |",
        "|---|---|---:|",
    ]
    lines += [f"| {setup} | {reason} | {count} |" for setup, reason, count in rejections]
    return "\n".join(lines)


def _link(link: dict[str, object], tick: Decimal) -> str:
    prices = ", ".join(f"{name} {_price(link[name], tick)}" for name in ("level", "top", "bottom") if name in link)
    return f"{link['role']} `{link['id']}` at {link['time']}" + (f": {prices}" if prices else "")


def _where(zone: dict[str, object], close: float | None) -> str:
    top, bottom = _float(zone.get("top")), _float(zone.get("bottom"))
    if close is None or top is None or bottom is None:
        return "-"
    if bottom <= close <= top:
        return "at price"
    return "above" if bottom > close else "below"


def _when(ms: int, tz: str | None) -> str:
    utc = iso_utc(ms)
    return f"{utc} ({format_time(ms, tz)})" if tz else utc


def _rank(kind: str) -> int:
    return EVIDENCE.index(kind) if kind in EVIDENCE else len(EVIDENCE)


def _price(value: object, tick: Decimal) -> str:
    return format_price(_float(value), tick)


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")
