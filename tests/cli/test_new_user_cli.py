"""What a new user tripped over (issue 9, section 7), command by command, on real files."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from smc_agent.cli import app

SharedPath = Callable[[str], Path]
BTC = "crypto/BTC-PERP_1m_2022-01.csv"


def _run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _btc_until(shared_data_path: SharedPath, tmp_path: Path, last: str) -> Path:
    """The first days of the BTC 1m file, up to and including the minute ``last`` (UTC)."""
    frame = pd.read_csv(shared_data_path(BTC), nrows=5000)
    keep = frame[pd.to_datetime(frame["timestamp"]) <= pd.Timestamp(last)]
    path = tmp_path / last.replace(" ", "T").replace(":", "") / "BTC-PERP_1m.csv"
    path.parent.mkdir()
    keep.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def files(shared_data_path: SharedPath, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Data ending at 10:07 (an unfinished 15m candle 10:00-10:15) and the same data ending at 09:59."""
    tmp = tmp_path_factory.mktemp("btc")
    return _btc_until(shared_data_path, tmp, "2022-01-03 10:07"), _btc_until(shared_data_path, tmp, "2022-01-03 09:59")


def test_no_command_uses_the_unfinished_last_candle(files: tuple[Path, Path], tmp_path: Path) -> None:
    ragged, whole = files
    common = ("--tf", "15m", "--htf", "1h,4h")
    for command in (("signals", "--json"), ("bias", "--json"), ("analyze", "--json"), ("backtest", "--json")):
        extra = common if command[0] != "analyze" else ("--tf", "15m")
        code, out, err = _run(*command, "--data", ragged, *extra)
        assert code == 0, err
        assert "left out the unfinished last 15m candle opening 2022-01-03 10:00:00 UTC" in err, command
        same_code, same_out, _ = _run(*command, "--data", whole, *extra)
        assert same_code == 0
        # Cut before the unfinished candle, the data says exactly the same.
        assert json.loads(out) == json.loads(same_out), command
    backtest = json.loads(_run("backtest", "--data", ragged, *common, "--json")[1])
    assert backtest["equity"][-1][0] <= "2022-01-03T10:00:00Z"
    code, out, err = _run("report", "--data", ragged, *common, "--out", tmp_path)
    assert code == 0, err
    # The page is named by its last closed candle: 09:45-10:00, not the 10:15 of the unfinished one.
    assert "BTC-PERP_15m_20220103T100000Z.md" in out
    assert "left out the unfinished" in err


def test_bias_at_outside_the_data_is_an_error(files: tuple[Path, Path]) -> None:
    ragged, _ = files
    # 10:15 would be the close of the unfinished candle: the data's last close is 10:00.
    for at in ("2022-01-03T10:15Z", "2021-06-01T00:00Z"):
        code, _, err = _run("bias", "--data", ragged, "--tf", "15m", "--htf", "1h", "--at", at)
        assert code == 2
        assert f"option --at: {at} is outside the data" in err
        assert "2022-01-03 10:00:00 UTC" in err
    code, _, err = _run("bias", "--data", ragged, "--tf", "15m", "--htf", "1h", "--at", "2022-01-03T10:00Z")
    assert code == 0, err


@pytest.mark.parametrize(("htf", "words"), [("4h,4h", "4h and 4h"), ("60m,1h", "60m and 1h"), ("1h,1x", "1x")])
def test_a_duplicated_or_bad_htf_list_is_an_error(files: tuple[Path, Path], htf: str, words: str) -> None:
    ragged, _ = files
    for command in ("signals", "bias", "backtest", "report"):
        extra = ("--out", str(ragged.parent / "out")) if command == "report" else ()
        code, _, err = _run(command, "--data", ragged, "--tf", "15m", "--htf", htf, *extra)
        assert code == 2, command
        assert "option --htf:" in err
        assert words in err


def test_data_with_demo_is_an_error_everywhere(files: tuple[Path, Path], tmp_path: Path) -> None:
    ragged, _ = files
    commands = [("analyze",), ("signals",), ("bias",), ("backtest",), ("report", "--out", str(tmp_path)),
                ("optimize", "--grid", "fast=5;slow=20", "--strategy", "sma_cross")]  # fmt: skip
    for command in commands:
        code, _, err = _run(*command, "--data", ragged, "--demo")
        assert code == 2, command
        assert "give either --data FILE or --demo, not both" in err, command


def test_tf_1M_is_a_month(shared_data_path: SharedPath) -> None:
    code, out, err = _run("analyze", "--data", shared_data_path("forex/EURUSD_15m_mt5.csv"), "--tf", "1M", "--json")
    assert code == 0, err
    doc = json.loads(out)
    # 2022-10-10 to 2023-10-02: October 2022 to September 2023 closed, October 2023 unfinished.
    assert (doc["timeframe"], doc["candles"]) == ("1M", 12)
    code, out, _ = _run("analyze", "--data", shared_data_path(BTC), "--tf", "1m", "--json")
    assert json.loads(out)["timeframe"] == "1m"


def test_time_column_on_the_commands(files: tuple[Path, Path], tmp_path: Path) -> None:
    ragged, _ = files
    odd = tmp_path / "BTC-PERP_1m.csv"
    odd.write_text(ragged.read_text().replace("timestamp,", "bar_open,", 1))
    code, _, err = _run("analyze", "--data", odd)
    assert code == 2
    assert "no time column found" in err
    assert "--time-column" in err
    for command in (("analyze",), ("signals", "--htf", "1h"), ("bias", "--htf", "1h"), ("backtest", "--htf", "1h"),
                    ("data", "inspect")):  # fmt: skip
        target = (odd,) if command[0] == "data" else ("--data", odd)
        code, _, err = _run(*command, *target, "--time-column", "bar_open")
        assert code == 0, (command, err)


def test_fix_says_what_it_did_in_every_command(files: tuple[Path, Path], tmp_path: Path) -> None:
    _, whole = files
    lines = whole.read_text().splitlines()
    # Two rows swapped and one row repeated: --fix moves 2 rows and drops 1.
    lines[10], lines[11] = lines[11], lines[10]
    messy = tmp_path / "BTC-PERP_1m.csv"
    messy.write_text("\n".join([*lines, lines[-1]]) + "\n")
    said = f"note: {messy}: --fix sorted by time (2 rows moved), dropped 1 exact duplicate rows"
    commands = [("analyze",), ("signals", "--htf", "1h"), ("bias", "--htf", "1h"), ("backtest", "--htf", "1h"),
                ("report", "--htf", "1h", "--out", str(tmp_path / "out")),
                ("optimize", "--grid", "fast=5;slow=20", "--strategy", "sma_cross", "--workers", "1")]  # fmt: skip
    for command in commands:
        code, _, err = _run(*command, "--data", messy)
        assert code == 2, command
        assert "--fix" in err  # the refusal points at the repair
        code, _, err = _run(*command, "--data", messy, "--fix")
        assert code == 0, (command, err)
        assert said in " ".join(err.split()), command


def test_version() -> None:
    from importlib.metadata import version

    code, out, _ = _run("--version")
    assert code == 0
    assert out.strip() == f"smc-agent {version('smc-agent')}"


def test_report_takes_the_settings_file(files: tuple[Path, Path], tmp_path: Path) -> None:
    _, whole = files
    args = ("report", "--data", whole, "--tf", "5m", "--htf", "1h")
    code, out, err = _run(*args, "--out", tmp_path / "default")
    assert code == 0, err
    assert " neutral 0.00 " not in out  # by default the timeframes vote
    strict = tmp_path / "strict.toml"
    # No candle count reaches this, so no timeframe may vote: the bias must be neutral.
    strict.write_text("[analysis]\nmin_candles = 1000000\n")
    code, out, err = _run(*args, "--out", tmp_path / "strict", "--config", strict)
    assert code == 0, err
    assert " neutral 0.00 " in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[analysis]\nmin_candle = 3\n")
    code, _, err = _run(*args, "--out", tmp_path / "bad", "--config", bad)
    assert code == 2
    assert f"{bad}: key analysis.min_candle: unknown setting" in " ".join(err.split())


def test_prices_print_to_the_tick_and_order_blocks_show_their_scope(shared_data_path: SharedPath) -> None:
    eurusd = shared_data_path("forex/EURUSD_15m_mt5.csv")
    wide = {"COLUMNS": "200"}  # one table row a line
    result = CliRunner().invoke(app, ["analyze", "--data", str(eurusd)], env=wide)
    code, out, err = result.exit_code, result.stdout, result.stderr
    assert code == 0, err
    rows = [line for line in out.splitlines() if "order block" in line]
    assert rows
    for row in rows:
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert cells[1] in ("internal", "swing"), row
        assert all(re.fullmatch(r"\d\.\d{5}", price) for price in cells[3:5]), row  # EURUSD quotes 5 decimals
    assert re.search(r"last close \d\.\d{5} ", out)
    signals = CliRunner().invoke(app, ["signals", "--data", str(eurusd)], env=wide).stdout
    table = [line for line in signals.splitlines() if re.match(r"│ \d{4}-", line)]
    assert table
    for line in table:
        for price in (c.strip() for c in line.strip("│ ").split("│")[3:5]):  # entry, stop
            assert re.fullmatch(r"\d\.\d{5}", price), line


def test_no_sessions_or_killzones_on_daily_and_weekly_candles(shared_data_path: SharedPath) -> None:
    from smc_agent.data.loaders import load_candles
    from smc_agent.data.resample import resample
    from smc_agent.smc.detector import analyze

    eurusd = shared_data_path("forex/EURUSD_15m_mt5.csv")
    candles = load_candles(eurusd)
    assert analyze(candles).session_mask.any()  # intraday candles do sit in sessions
    for tf in ("1d", "1w"):
        assert not analyze(resample(candles, tf, drop_incomplete=True)).session_mask.any(), tf
    counts = {}
    for tf in ("4h", "1d", "1w"):
        code, out, err = _run("analyze", "--data", eurusd, "--tf", tf, "--json")
        assert code == 0, err
        counts[tf] = sum(event["type"] == "session" for event in json.loads(out)["events"])
    assert counts["4h"] > 0
    assert counts["1d"] == counts["1w"] == 0
    code, out, _ = _run("analyze", "--data", eurusd, "--tf", "1d")
    assert "sessions now: none" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("analyze", "--tz", "Mars"), ["option --tz: unknown time zone 'Mars'", "Europe/London"]),
        (("signals", "--tz", "Mars"), ["option --tz: unknown time zone 'Mars'"]),
        (("analyze", "--tf", "1x"), ["option --tf: invalid timeframe '1x'", "s, m (minute), h, d, w or M (month)"]),
        (("analyze", "--tf", "20m"), ["option --tf: cannot resample 15m candles to 20m", "30m, 1h, 2h, 4h"]),
        (("analyze", "--format", "metatrader"), ["option --format: unknown format", "mt5, csv, binance"]),
        (("analyze", "--break", "foo"), ["unknown structure break 'foo'", "close, wick"]),
        (("backtest", "--from", "2030-01-01"), ["option --from/--to: ", "open from 2022-10-10 00:00:00 UTC"]),
    ],
)
def test_errors_name_the_option_and_the_choices(shared_data_path: SharedPath, args: tuple[str, ...],
                                                words: list[str]) -> None:  # fmt: skip
    code, _, err = _run(args[0], "--data", shared_data_path("forex/EURUSD_15m_mt5.csv"), *args[1:])
    assert code == 2
    text = " ".join(err.replace("│", " ").split())
    for word in words:
        assert word in text
    for internal in ("calendar_tz", "key tz", "key tf", "key timeframe", "key from", "key at"):
        assert internal not in text
