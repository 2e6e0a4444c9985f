"""``smc-agent report``: the page says what the engine found, and the Excel log never loses a row.

The data is the first 6,980 EURUSD 15m candles: a bullish bias of medium confidence, one pending
signal created at the last candle and two triggered ones before it. Everything the page shows is
checked against a separate replay of the same file, not against text copied from an output.
"""

from __future__ import annotations

import errno
import os
import re
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

import openpyxl
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from smc_agent.analysis import report_log
from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.report import (
    LATEST_SIGNALS,
    Report,
    build_report,
    evidence_points,
    render_markdown,
    report_name,
    save_report,
)
from smc_agent.analysis.report_log import LOG_COLUMNS, LOG_NAME
from smc_agent.analysis.signals import SignalEngine, SignalStatus
from smc_agent.core.errors import ReportError
from smc_agent.model import Direction
from smc_agent.service import AnalysisRequest, report_request, signals_request
from smc_agent.smc.snapshot import snapshot

EURUSD = "forex/EURUSD_15m_mt5.csv"
NIFTY = "india/NIFTY-FUT_15m_2024.csv"
HTFS = ["1h", "4h", "1d"]
ROWS = 6980

SharedData = Callable[[str], Path]


@pytest.fixture(scope="module")
def eurusd(shared_data_path: SharedData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first ``ROWS`` candles of the real EURUSD file, under the same name (so the same symbol)."""
    lines = shared_data_path(EURUSD).read_text().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("data") / "EURUSD_15m_mt5.csv"
    path.write_text("".join(lines[: ROWS + 1]))
    return path


@pytest.fixture(scope="module")
def engine(eurusd: Path) -> SignalEngine:
    """An independent replay of the same input: what the page is checked against."""
    return signals_request(AnalysisRequest(eurusd, timeframe="15m"), HTFS)


@pytest.fixture(scope="module")
def report(eurusd: Path) -> Report:
    return report_request(AnalysisRequest(eurusd, timeframe="15m"), HTFS)


def _table(text: str, header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose header line starts with ``header``."""
    lines = text.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def _log_rows(path: Path) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(path)
    return [tuple(row) for row in book.worksheets[0].iter_rows(values_only=True)]


# --- the page --------------------------------------------------------------------------------


def test_the_data_has_what_the_page_must_show(engine: SignalEngine) -> None:
    # Guards the other tests: a neutral bias or no pending signal would leave parts untested.
    assert engine.mtf.bias().direction is Direction.BULLISH
    statuses = [s.status for s in engine.signals]
    assert SignalStatus.PENDING in statuses
    assert any(status is not SignalStatus.PENDING for status in statuses)
    assert engine.rejections


def test_bias_line_and_title_match_the_engine(report: Report, engine: SignalEngine) -> None:
    text = render_markdown(report)
    bias = engine.mtf.bias()
    match = re.search(
        r"^\*\*(\w+)\*\*, confidence ([\d.]+) \((\w+)\); bullish score ([\d.]+), bearish score ([\d.]+)$", text, re.M
    )
    assert match is not None
    assert match[1] == bias.direction.value
    assert match[3] == bias.confidence_level.value
    got = [float(match[k]) for k in (2, 4, 5)]
    assert got == pytest.approx([bias.confidence, bias.bullish_score, bias.bearish_score], abs=0.005)
    candles = engine.mtf.entry.result(copy=False).candles
    assert text.startswith("# EURUSD 15m: SMC report as of 2023-01-19T10:00:00Z\n")
    assert f"{len(candles)} candles of 15m" in text
    assert "Neutral because" not in text


def test_evidence_table_lists_every_piece_of_evidence(report: Report, engine: SignalEngine) -> None:
    rows = _table(render_markdown(report), "| type | timeframe |")
    bias = engine.mtf.bias()
    expected = sorted((e.type, e.timeframe, e.direction.value, e.detail) for e in bias.signals)
    assert sorted((r[0], r[1], r[2], r[5]) for r in rows) == expected
    strengths = {(e.type, e.timeframe, e.direction.value): e.strength for e in bias.signals}
    for row in rows:
        assert float(row[3]) == pytest.approx(strengths[(row[0], row[1], row[2])], abs=0.0005)
    # Grouped: all rows of one type together, higher timeframes first within it.
    types = [row[0] for row in rows]
    assert types == sorted(types, key=types.index)


def test_points_add_up_to_the_scores(report: Report, engine: SignalEngine) -> None:
    bias = engine.mtf.bias()
    points = evidence_points(bias, engine.config)
    bull = sum(p for p, e in zip(points, bias.signals, strict=True) if e.direction is Direction.BULLISH)
    bear = sum(p for p, e in zip(points, bias.signals, strict=True) if e.direction is Direction.BEARISH)
    assert (bull, bear) == pytest.approx((bias.bullish_score, bias.bearish_score), rel=1e-9)
    # The subtotals on the page add up too (to within their rounding).
    rows = _table(render_markdown(report), "| type | bullish points |")
    assert sum(float(r[1]) for r in rows) == pytest.approx(bias.bullish_score, abs=0.005 * len(rows))
    assert sum(float(r[2]) for r in rows) == pytest.approx(bias.bearish_score, abs=0.005 * len(rows))


def test_signals_pending_first_with_the_engines_prices(report: Report, engine: SignalEngine) -> None:
    text = render_markdown(report)
    rows = _table(text, "| id | setup |")
    by_id = {s.id: s for s in engine.signals}
    pending = [s.id for s in reversed(engine.signals) if s.status is SignalStatus.PENDING]
    assert [r[0] for r in rows[: len(pending)]] == pending
    assert {r[0] for r in rows} == set(by_id)  # few enough here that all are shown
    for row in rows:
        s = by_id[row[0]]
        assert (row[1], row[2], row[8]) == (s.setup, s.side.value, s.status.value)
        # Prices are written to the tick the data shows (EURUSD: 0.00001), so within half a tick.
        half = float(report.tick) / 2 + 1e-12
        assert report.tick == Decimal("0.00001")
        assert float(row[3]) == pytest.approx(s.entry, abs=half)
        assert float(row[4]) == pytest.approx(s.stop, abs=half)
        assert [float(t) for t in row[5].split(", ")] == pytest.approx(list(s.targets), abs=half)
        assert all(len(price.partition(".")[2]) == 5 for price in (row[3], row[4], *row[5].split(", ")))
        assert float(row[6]) == pytest.approx(s.rr, abs=0.005)
        assert float(row[7]) == pytest.approx(s.quality, abs=0.0005)
        # Each has its section with the quality breakdown and every link of the evidence chain.
        section = text.split(f"### {s.id}\n", 1)[1].split("\n### ", 1)[0].split("\n## ", 1)[0]
        for name, value in s.quality_breakdown.items():
            assert f"{name} {value:.2f}" in section
        for link in s.evidence:
            assert f"{link['role']} `{link['id']}` at {link['time']}" in section


def test_only_the_latest_others_follow_the_pending_signals(report: Report) -> None:
    from dataclasses import replace

    done = next(s for s in report.signals if s.status is not SignalStatus.PENDING)
    pending = next(s for s in report.signals if s.status is SignalStatus.PENDING)
    older = [replace(done, id=f"old-{k}", created_ms=done.created_ms + k) for k in range(LATEST_SIGNALS + 3)]
    text = render_markdown(replace(report, signals=(*older, pending)))
    shown = [row[0] for row in _table(text, "| id | setup |")]
    assert shown == [pending.id] + [f"old-{k}" for k in reversed(range(3, LATEST_SIGNALS + 3))]
    assert f"{LATEST_SIGNALS + 4} in the data, 1 pending." in text
    assert "`smc-agent signals` lists all" in text


def test_zones_are_the_live_ones_nearest_price(report: Report, engine: SignalEngine) -> None:
    text = render_markdown(report)
    snap = snapshot(engine.mtf.entry.result(copy=False))
    for kind, title in (("order_block", "Order blocks"), ("fvg", "Fair value gaps"), ("liquidity", "Liquidity")):
        section = text.split(f"### {title}", 1)[1]
        rows = _table(section, "| direction |")
        expected = [(z["direction"], z["bottom"], z["top"], z["state"]) for z in snap.zones[kind]]
        assert expected, kind
        got = [(r[0], float(r[1]), float(r[2]), r[4]) for r in rows]
        assert got == [(d, pytest.approx(b), pytest.approx(t), s) for d, b, t, s in expected]
    dr = snap.dealing_range
    assert dr is not None
    assert f"Close in **{dr.zone}** at {dr.position:.0%}" in text


def test_rejections_are_counted_by_setup_and_reason(report: Report, engine: SignalEngine) -> None:
    rows = _table(render_markdown(report), "| setup | reason |")
    assert {(r[0], r[1]): int(r[2]) for r in rows} == dict(engine.rejections)


def test_neutral_bias_says_why_and_local_times_follow_tz(shared_data_path: SharedData) -> None:
    request = AnalysisRequest(shared_data_path(NIFTY), tz="Asia/Kolkata")
    # The file's last bias is bullish by 12.75 points; with a neutral band of 15 it is too close to call.
    engine = signals_request(request, ["1h", "1d"], AnalysisConfig(neutral_band=15.0))
    bias = engine.mtf.bias()
    assert bias.direction is Direction.NEUTRAL
    text = render_markdown(build_report(engine, tz="Asia/Kolkata"))
    assert "Neutral because bullish minus bearish is" in text
    assert "Timeframes: used 1d (0.64), 1h (0.36)." in text
    assert "(2024-05-17 17:00:00 IST)" in text  # the last close, 11:30 UTC, in exchange time


def test_page_is_byte_identical_across_runs(eurusd: Path, report: Report, tmp_path: Path) -> None:
    again = report_request(AnalysisRequest(eurusd, timeframe="15m"), HTFS)
    first = save_report(report, tmp_path / "a")
    second = save_report(again, tmp_path / "b")
    assert first.report_path.name == second.report_path.name == "EURUSD_15m_20230119T100000Z.md"
    assert first.report_path.read_bytes() == second.report_path.read_bytes()
    assert b"\r\n" not in first.report_path.read_bytes()


def test_report_name_is_safe_for_any_symbol(report: Report) -> None:
    from dataclasses import replace

    assert report_name(replace(report, symbol="BTC/USDT")) == "BTC-USDT_15m_20230119T100000Z.md"
    assert report_name(replace(report, symbol="../..")) == "symbol_15m_20230119T100000Z.md"


# --- the log ---------------------------------------------------------------------------------


def test_each_run_appends_a_row_and_keeps_the_earlier_ones(report: Report, tmp_path: Path) -> None:
    first = save_report(report, tmp_path)
    second = save_report(report, tmp_path)
    assert (first.row_number, second.row_number) == (2, 3)
    rows = _log_rows(tmp_path / LOG_NAME)
    bias = report.bias
    expected = (
        "2023-01-19T10:00:00Z", "EURUSD", bias.direction.value, pytest.approx(bias.confidence),
        bias.confidence_level.value, pytest.approx(bias.bullish_score), pytest.approx(bias.bearish_score),
        len(report.signals), first.report_path.name,
    )  # fmt: skip
    assert rows == [LOG_COLUMNS, expected, expected]
    link = openpyxl.load_workbook(tmp_path / LOG_NAME).worksheets[0].cell(2, len(LOG_COLUMNS)).hyperlink
    assert link is not None
    assert link.target == first.report_path.name  # relative: the page sits next to the log
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def _untouched_log_error(report: Report, out: Path, match: str) -> ReportError:
    """Run a report against ``out``'s prepared log; it must fail, naming the log, leaving it as it was."""
    log = out / LOG_NAME
    before = log.read_bytes()
    with pytest.raises(ReportError, match=match) as caught:
        save_report(report, out)
    message = str(caught.value)
    assert str(log) in message
    assert "was written, but not logged" in message  # and the page indeed was:
    assert (out / report_name(report)).exists()
    assert log.read_bytes() == before
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    return caught.value


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_an_unreadable_log_is_left_alone(report: Report, tmp_path: Path, damage: str) -> None:
    log = tmp_path / LOG_NAME
    if damage == "garbage":
        log.write_bytes(b"this is not a workbook\x00\xff" * 40)
    else:  # e.g. a copy that was cut short
        save_report(report, tmp_path)
        log.write_bytes(log.read_bytes()[:1000])
    _untouched_log_error(report, tmp_path, "not a readable Excel workbook")


def test_a_log_with_another_header_is_left_alone(report: Report, tmp_path: Path) -> None:
    book = Workbook()
    book.worksheets[0].append(["date", "symbol", "pnl"])
    book.worksheets[0].append(["2023-01-01", "EURUSD", 12.5])
    book.save(tmp_path / LOG_NAME)
    _untouched_log_error(report, tmp_path, "not the smc-agent log header")


def test_columns_the_user_added_after_ours_are_kept(report: Report, tmp_path: Path) -> None:
    save_report(report, tmp_path)
    book = openpyxl.load_workbook(tmp_path / LOG_NAME)
    sheet = book.worksheets[0]
    sheet.cell(1, len(LOG_COLUMNS) + 1, "my notes")
    sheet.cell(2, len(LOG_COLUMNS) + 1, "took the long")
    book.save(tmp_path / LOG_NAME)
    save_report(report, tmp_path)
    rows = _log_rows(tmp_path / LOG_NAME)
    assert rows[0][-1] == "my notes"
    assert rows[1][-1] == "took the long"
    assert len(rows) == 3


@pytest.mark.parametrize("step", ["save", "replace", "read_only"])
def test_a_locked_log_keeps_its_rows(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # Tests run as root, where chmod does not stop writes: simulate the lock (Excel on Windows holds
    # the file; a read-only file refuses) at each step where it would show.
    save_report(report, tmp_path)
    log = tmp_path / LOG_NAME

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(log))

    if step == "save":
        monkeypatch.setattr(Workbook, "save", denied)
    elif step == "replace":
        real_replace = os.replace

        def replace(src: str | Path, dst: str | Path) -> None:
            if Path(dst).name == LOG_NAME:
                denied()
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
    else:
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != log and real_access(p, mode))
    _untouched_log_error(report, tmp_path, "locked or read-only")
    monkeypatch.undo()
    assert len(_log_rows(log)) == 2


def test_a_save_that_fails_halfway_leaves_the_old_log(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk: the save has written part of the file when it fails. Writing in place would leave
    # a broken log; the temporary file takes the damage and is removed.
    save_report(report, tmp_path)
    real_save = Workbook.save

    def half(self: Workbook, handle: BinaryIO) -> None:
        real_save(self, handle)
        handle.truncate(handle.tell() // 2)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Workbook, "save", half)
    error = _untouched_log_error(report, tmp_path, "No space left on device")
    assert "cannot save the log" in str(error)
    monkeypatch.undo()
    assert len(_log_rows(tmp_path / LOG_NAME)) == 2


def test_what_openpyxl_says_on_reading_is_returned_not_raised(report: Report, tmp_path: Path) -> None:
    # Excel writes some data validations as an extension that openpyxl cannot keep, and says so with
    # a warning; with warnings as errors this test fails if that warning escaped. It becomes a note
    # for the user, and the row is appended.
    save_report(report, tmp_path)
    log = tmp_path / LOG_NAME
    edited = tmp_path / "edited.xlsx"
    extension = b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}"/></extLst></worksheet>'
    with zipfile.ZipFile(log) as source, zipfile.ZipFile(edited, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", extension)
            target.writestr(item, data)
    os.replace(edited, log)
    outcome = save_report(report, tmp_path)
    assert outcome.notes == ("Data Validation extension is not supported and will be removed",)
    assert outcome.row_number == 3
    assert len(_log_rows(log)) == 3


def test_foreign_warnings_still_reach_the_caller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import warnings

    real_load = report_log.load_workbook

    def load(path: Path) -> Workbook:
        warnings.warn("not openpyxl's", DeprecationWarning, stacklevel=1)
        return real_load(path)

    Workbook().save(tmp_path / LOG_NAME)
    monkeypatch.setattr(report_log, "load_workbook", load)
    with pytest.raises(DeprecationWarning, match="not openpyxl's"):
        report_log.append_log(tmp_path / LOG_NAME, report_log.LogRow("d", "s", "b", 0.0, "low", 0.0, 0.0, 0, "r"))


# --- the command -----------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    from smc_agent.cli import app

    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_cli_two_files_give_two_reports_and_two_rows(
    eurusd: Path, shared_data_path: SharedData, tmp_path: Path
) -> None:
    nifty = shared_data_path(NIFTY)
    out = tmp_path / "out"
    code, stdout, _ = _run("--data", str(eurusd), "--data", str(nifty), "--htf", "1h,1d", "--out", str(out))
    assert code == 0, stdout
    pages = sorted(p.name for p in out.glob("*.md"))
    # No --tz: NIFTY's naive exchange times are read as UTC, so its last close is 17:00 "UTC".
    assert pages == ["EURUSD_15m_20230119T100000Z.md", "NIFTY-FUT_15m_20240517T170000Z.md"]
    rows = _log_rows(out / LOG_NAME)
    assert [(r[1], r[-1]) for r in rows[1:]] == [("EURUSD", pages[0]), ("NIFTY-FUT", pages[1])]
    for page in pages:
        assert f"report: {out / page}" in stdout
    assert f"log: {out / LOG_NAME} row 2: " in stdout
    assert f"log: {out / LOG_NAME} row 3: " in stdout


@pytest.mark.parametrize("damage", ["garbage", "header", "locked"])
def test_cli_log_problems_are_one_line_and_exit_code_2(
    eurusd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    log = tmp_path / LOG_NAME
    if damage == "garbage":
        log.write_bytes(b"\x00" * 100)
    elif damage == "header":
        book = Workbook()
        book.worksheets[0].append(["when", "what"])
        book.save(log)
    else:  # a good log, then a lock at save time
        assert _run("--data", str(eurusd), "--out", str(tmp_path))[0] == 0

        def locked(*args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(Workbook, "save", locked)
    before = log.read_bytes()
    code, _, stderr = _run("--data", str(eurusd), "--out", str(tmp_path))
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("error: ")
    assert str(log) in stderr
    assert "Traceback" not in stderr
    assert log.read_bytes() == before


def test_cli_refuses_symbol_with_several_files(eurusd: Path, tmp_path: Path) -> None:
    code, _, stderr = _run("--data", str(eurusd), "--data", str(eurusd), "--symbol", "X", "--out", str(tmp_path))
    assert code == 2
    assert "--symbol" in stderr
    assert list(tmp_path.iterdir()) == []


def test_two_files_that_would_share_a_page_stop_before_overwriting(eurusd: Path, tmp_path: Path) -> None:
    # Same symbol, timeframe and last candle (like the bid and the ask file of one pair).
    twin = tmp_path / "twin" / eurusd.name
    twin.parent.mkdir()
    twin.write_bytes(eurusd.read_bytes())
    out = tmp_path / "out"
    code, stdout, stderr = _run("--data", str(eurusd), "--data", str(twin), "--out", str(out))
    assert code == 2
    assert str(twin) in stderr
    assert "same report" in stderr
    assert "row 2" in stdout  # the first file was reported and logged
    assert len(_log_rows(out / LOG_NAME)) == 2
