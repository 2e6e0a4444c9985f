"""inspect_file and the ``data inspect`` command: what users see for good files, bad files and bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smc_agent.cli.data import app
from smc_agent.core.errors import DataError
from smc_agent.data.inspect import inspect_file

SharedPath = Callable[[str], Path]
runner = CliRunner()

GOOD = "timestamp,open,high,low,close,volume\n2024-01-01 00:00,1,2,0.5,1.5,10\n2024-01-01 00:01,1.5,2,1,1.2,5\n"


def test_inspect_report_for_real_forex(shared_data_path: SharedPath) -> None:
    report = inspect_file(shared_data_path("forex/EURUSD_15m_mt5.csv"))
    assert (report.format, report.detected, report.rows, report.timeframe, report.ok) == (
        "mt5",
        True,
        24_424,
        "15m",
        True,
    )
    assert report.gap_count > 40  # weekends, which are reported, never filled
    assert report.largest_gap is not None
    assert report.largest_gap.missing >= 192
    assert len(report.first_gaps) == 5
    data = report.to_dict()
    assert (data["first_time"], data["last_time"]) == ("2022-10-10T00:00:00Z", "2023-10-02T06:45:00Z")
    json.dumps(data)


def test_inspect_report_for_a_file_that_breaks_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(GOOD + "2024-01-01 00:02,1.2,1.0,1.3,1.1,7\n")
    report = inspect_file(path, format="csv")
    assert (report.ok, report.detected, report.rows) == (False, False, 3)
    assert report.error == f"{path}: row 3: field high: high 1.0 is below low 1.3 (rule: high >= low)"


def test_cli_prints_the_summary(shared_data_path: SharedPath) -> None:
    path = shared_data_path("india/NIFTY-FUT_15m_2024.csv")
    result = runner.invoke(app, ["inspect", str(path), "--tz", "Asia/Kolkata"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # Rich may wrap long lines
    for words in (
        "csv (detected)",
        "1,261",
        "15m",
        "2024-03-01 03:45:00 UTC (2024-03-01 09:15:00 IST)",
        "OK",
    ):
        assert words in out
    assert "largest gap" in out


def test_cli_json(shared_data_path: SharedPath) -> None:
    path = shared_data_path("crypto/BTC-PERP_1m_2022-01.csv")
    result = runner.invoke(app, ["inspect", str(path), "--json", "--format", "csv"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["format"], data["detected"], data["rows"], data["valid"]) == ("csv", False, 45_031, True)
    assert data["gaps"]["count"] == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["{dir}/missing.csv"], "file not found"),
        (["{dir}/good.csv", "--format", "excel"], "unknown format 'excel'; choose one of: mt5, csv"),
        (["{dir}/good.csv", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["{dir}/garbage.csv"], "row 2: field timestamp: missing or unparseable timestamp: 'soon'"),
    ],
)
def test_cli_errors_are_one_red_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "good.csv").write_text(GOOD)
    (tmp_path / "garbage.csv").write_text(GOOD.replace("2024-01-01 00:01", "soon"))
    result = runner.invoke(app, ["inspect", *(a.format(dir=tmp_path) for a in args)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert words in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_cli_shows_a_failed_validation_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "rev.csv"
    lines = GOOD.splitlines()
    path.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    result = runner.invoke(app, ["inspect", str(path)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "FAILED" in out
    assert "row 2: field timestamp" in out
    assert "rows 2" in out
    as_json = runner.invoke(app, ["inspect", str(path), "--json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["valid"] is False
    fixed = runner.invoke(app, ["inspect", str(path), "--fix"])
    assert fixed.exit_code == 0, fixed.output
    assert "sorted by time (2 rows moved), dropped 0 exact duplicate rows" in " ".join(fixed.output.split())


def test_inspect_file_raises_for_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        inspect_file(tmp_path / "nope.csv")
