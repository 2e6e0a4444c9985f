"""``smc-agent data download`` against the loopback fake Binance: the file it writes is what analyze reads,
``kill -9`` mid-download loses nothing on the next run, and bad options are one line naming the option.

The fake runs on its own event loop in a thread (the command runs ``asyncio.run`` itself); its clock stands
at the last candle of real BTC/USDT 5m data. Expected rows are the source file's, read with :mod:`json`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from download_support import SOURCE, Row, file_rows, source_rows
from fakes.binance import FakeBinance
from smc_agent.cli import app
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.loaders import load_candles
from smc_agent.feeds.download import part_path

runner = CliRunner()


@pytest.fixture(scope="module")
def source(shared_data_path: Callable[[str], Path]) -> list[Row]:
    return source_rows(shared_data_path(SOURCE))


@pytest.fixture(scope="module")
def fake(shared_data_path: Callable[[str], Path]) -> Iterator[FakeBinance]:
    candles = load_candles(shared_data_path(SOURCE))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = FakeBinance(candles, start_index=len(candles) - 1, speed=0.0001)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def args(fake: FakeBinance, out: Path, since: int, until: int, rate_limit_ms: int = 5) -> list[str]:
    return ["data", "download", "--exchange", "binance", "--symbol", "BTC/USDT", "--tf", "5m", "--since",
            iso_utc(since), "--until",
            iso_utc(until), "--out", str(out), "--rest-url", fake.rest_url, "--rate-limit-ms",
            str(rate_limit_ms)]  # fmt: skip


def test_the_downloaded_file_is_what_analyze_reads(tmp_path: Path, fake: FakeBinance, source: list[Row]) -> None:
    out = tmp_path / "BTC_USDT-5m.csv"
    result = runner.invoke(app, args(fake, out, source[0][0], source[1500][0]))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote 1,500 candles to {out} (1,500 from 2023-01-02 ")
    assert file_rows(out) == source[:1500]
    again = runner.invoke(app, args(fake, out, source[0][0], source[1500][0]))
    assert again.exit_code == 0
    assert "is already complete: 1,500 candles" in again.stdout
    assert "nothing to do" in again.stdout
    analyzed = runner.invoke(app, ["analyze", "--data", str(out), "--json"])
    assert analyzed.exit_code == 0, analyzed.output
    doc = json.loads(analyzed.stdout)
    assert (doc["symbol"], doc["timeframe"], doc["candles"]) == ("BTC/USDT", "5m", 1500)


def test_the_exchange_settings_point_the_download_at_a_gateway(
    tmp_path: Path, fake: FakeBinance, source: list[Row]
) -> None:
    """exchange.urls and exchange.rate_limit_ms from a settings file reach the client, as --rest-url would."""
    config = tmp_path / "smc.toml"
    config.write_text(f'[exchange]\nname = "binance"\nrate_limit_ms = 5\nurls = {{ rest = "{fake.rest_url}" }}\n')
    out = tmp_path / "BTC_USDT-5m.csv"
    command = ["data", "download", "--symbol", "BTC/USDT", "--tf", "5m", "--since", iso_utc(source[0][0]),
               "--until", iso_utc(source[300][0]), "--out", str(out), "--config", str(config)]  # fmt: skip
    result = runner.invoke(app, command)
    assert result.exit_code == 0, result.output
    assert file_rows(out) == source[:300]


def test_kill_9_mid_download_then_the_same_command_finishes_it_exactly(
    tmp_path: Path, fake: FakeBinance, source: list[Row]
) -> None:
    out = tmp_path / "killed.csv"
    part = part_path(out)
    last = len(source) - 1
    # ccxt's rate limiter spaces the 11 pages of 1000 candles by about a second each: time to kill it mid-way
    command = [sys.executable, "-m", "smc_agent", *args(fake, out, source[0][0], source[last][0], 400)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not (part.exists() and part.stat().st_size > 1000 * 40):  # a page or more is in
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the download never wrote a page"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not out.exists()
    kept = file_rows(part)
    assert 1000 <= len(kept) < last
    assert kept == source[: len(kept)]
    result = runner.invoke(app, args(fake, out, source[0][0], source[last][0]))
    assert result.exit_code == 0, result.output
    assert f"resumed after {len(kept):,} already there" in result.stdout
    assert file_rows(out) == source[:last]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--since": "2023-02-30"}, "option --since: cannot read '2023-02-30' as a date"),
        ({"--until": "2022-12-31"}, "option --until: 2022-12-31T00:00:00Z is not after --since"),
        ({"--exchange": "nope"}, "option --exchange: ccxt.pro has no exchange 'nope'"),
        ({"--symbol": "NOPE/USDT"}, "option --symbol: binance has no market 'NOPE/USDT'"),
        ({"--tf": "7m"}, "option --tf: binance has no timeframe '7m'"),
        ({"--rest-url": "localhost"}, "option --rest-url: 'localhost' is not an http(s) URL"),
    ],
)
def test_bad_options_are_one_line_naming_the_option(
    tmp_path: Path, fake: FakeBinance, source: list[Row], change: dict[str, str], message: str
) -> None:
    argv = args(fake, tmp_path / "x.csv", source[0][0], source[100][0])
    for option, value in change.items():
        argv[argv.index(option) + 1] = value
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not a traceback
    assert result.stderr.strip().startswith(f"error: {message}")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.csv").exists()
    assert not part_path(tmp_path / "x.csv").exists()


def test_an_unwritable_out_names_the_option(tmp_path: Path, fake: FakeBinance, source: list[Row]) -> None:
    for out, words in ((tmp_path / "no" / "x.csv", f"the directory {tmp_path / 'no'} does not exist"),
                       (tmp_path, f"{tmp_path} is a directory; give a file name")):  # fmt: skip
        result = runner.invoke(app, args(fake, out, source[0][0], source[100][0]))
        assert result.exit_code == 2
        assert result.stderr == f"error: option --out: {words}\n"
