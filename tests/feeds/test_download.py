"""Downloading candles into a file, against the loopback fake Binance replaying real BTC/USDT 5m candles.

The real ccxt client pages ``GET /api/v3/klines`` on :class:`fakes.binance.FakeBinance`, whose clock stands
(almost) still at the candle ``START``: everything before it has closed, ``START`` itself is forming. The
expected rows are the source file's, read here with :mod:`json`, never by the code under test.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from download_support import SOURCE, Row, file_rows, source_rows
from fakes.binance import FakeBinance
from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import detect_format, load_candles
from smc_agent.feeds.ccxt_feed import FeedTuning
from smc_agent.feeds.download import HEADER, DownloadResult, Progress, download, open_client, part_path

START = 700  # the candle forming on the fake: 0..699 have closed
PAGE = 100
# grace_ms=0: the fake's clock is the exchange's own, so a candle is closed the moment its period ends
TUNING = FeedTuning(page_limit=PAGE, backoff_initial_s=0.05, backoff_max_s=0.2, backoff_jitter_s=0.01,
                    breaker_threshold=4, breaker_reset_s=0.3, grace_ms=0)  # fmt: skip


@pytest.fixture(scope="module")
def source(shared_data_path: Callable[[str], Path]) -> list[Row]:
    """The source file's rows, read with json alone."""
    return source_rows(shared_data_path(SOURCE))[: START + 100]


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path(SOURCE))[: START + 100]


def klines(fake: FakeBinance) -> list[tuple[float, dict[str, str], int]]:
    return [(at, q, status) for at, path, q, status in fake.requests if path == "/api/v3/klines"]


def run(coro: Callable[[FakeBinance], Coroutine[Any, Any, None]], btc: Candles) -> None:
    async def main() -> None:
        async with FakeBinance(btc, start_index=START, speed=0.0001) as fake:
            await asyncio.wait_for(coro(fake), 30)

    asyncio.run(main())


async def fetch(fake: FakeBinance, out: Path, since: int, *, until: int | None = None, symbol: str = "BTC/USDT",
                tf: str = "5m", progress: Progress | None = None,
                tuning: FeedTuning = TUNING) -> DownloadResult:  # fmt: skip
    client = open_client("binance", urls={"rest": fake.rest_url}, rate_limit_ms=5)
    try:
        return await asyncio.wait_for(download(client, symbol, tf, out, since_ms=since, until_ms=until,
                                               clock=fake.clock, tuning=tuning, progress=progress), 20)  # fmt: skip
    finally:
        await client.close()


def test_the_file_loads_and_equals_the_source_without_the_forming_candle(
    tmp_path: Path, source: list[Row], btc: Candles
) -> None:
    out = tmp_path / "BTC_USDT-5m.csv"
    seen: list[tuple[int, int]] = []

    async def body(fake: FakeBinance) -> None:
        result = await fetch(fake, out, source[0][0], progress=lambda done, total: seen.append((done, total)))
        assert (result.written, result.total, result.resumed_from, result.up_to_date) == (START, START, 0, False)
        assert (result.first_ms, result.last_ms) == (source[0][0], source[START - 1][0])
        starts = [int(q["startTime"]) for _, q, _ in klines(fake)]
        # paged by since: each page starts just after the last candle of the one before
        assert starts[:3] == [source[0][0], source[PAGE - 1][0] + 1, source[2 * PAGE - 1][0] + 1]
        assert all(q["limit"] == str(PAGE) and int(q["endTime"]) < source[START][0] for _, q, _ in klines(fake))

    run(body, btc)
    assert not part_path(out).exists()
    assert detect_format(out) == "csv"
    assert out.read_text().splitlines()[0] == HEADER
    assert file_rows(out) == source[:START]
    candles = load_candles(out)
    assert (candles.symbol, candles.timeframe) == ("BTC/USDT", "5m")
    assert seen[0][0] == 0
    assert seen[-1] == (START, START)
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})


def test_a_candle_closed_less_than_the_grace_ago_is_left_for_the_next_run(
    tmp_path: Path, source: list[Row], btc: Candles
) -> None:
    out = tmp_path / "graced.csv"

    async def body(fake: FakeBinance) -> None:
        # the fake says candle START - 1 closed a moment ago; a clock 2 s ahead could be wrong about that
        result = await fetch(fake, out, source[0][0], tuning=replace(TUNING, grace_ms=2_000))
        assert result.last_ms == source[START - 2][0]

    run(body, btc)
    assert file_rows(out) == source[: START - 1]


def test_until_ends_the_range_before_it(tmp_path: Path, source: list[Row], btc: Candles) -> None:
    out = tmp_path / "part.csv"

    async def body(fake: FakeBinance) -> None:
        result = await fetch(fake, out, source[100][0], until=source[350][0])
        assert result.written == 250

    run(body, btc)
    assert file_rows(out) == source[100:350]


def test_429_and_500_mid_download_are_retried_honouring_retry_after(
    tmp_path: Path, source: list[Row], btc: Candles
) -> None:
    out = tmp_path / "retried.csv"

    async def body(fake: FakeBinance) -> None:
        def faults(done: int, total: int) -> None:
            if done == 2 * PAGE:
                fake.fail_rest(429, 1, retry_after=0.4)
                fake.fail_rest(500, 2)

        await fetch(fake, out, source[0][0], progress=faults)
        calls = klines(fake)
        statuses = [status for _, _, status in calls]
        assert statuses.count(429) == 1
        assert statuses.count(500) == 2
        i = statuses.index(429)
        assert statuses[i : i + 4] == [429, 500, 500, 200]
        assert calls[i + 1][0] - calls[i][0] >= 0.4  # Retry-After: 0.4 s, above the backoff's 0.05 s
        assert calls[i + 3][1]["startTime"] == calls[i][1]["startTime"]  # the same page, asked again

    run(body, btc)
    assert file_rows(out) == source[:START]


def test_the_rate_limiter_spaces_the_calls(tmp_path: Path, source: list[Row], btc: Candles) -> None:
    async def body(fake: FakeBinance) -> None:
        client = open_client("binance", urls={"rest": fake.rest_url}, rate_limit_ms=60)
        try:
            await asyncio.wait_for(
                download(
                    client,
                    "BTC/USDT",
                    "5m",
                    tmp_path / "slow.csv",
                    since_ms=source[0][0],
                    until_ms=source[400][0],
                    clock=fake.clock,
                    tuning=TUNING,
                ),
                20,
            )
        finally:
            await client.close()
        times = [at for at, _, _ in klines(fake)]
        assert len(times) >= 4
        # ccxt weighs a 100-candle klines call at under one rateLimit (about 0.45 of it): ~27 ms apart here,
        # where the loopback answers in ~2 ms
        assert min(b - a for a, b in itertools.pairwise(times)) >= 0.02

    run(body, btc)


def test_an_interrupted_download_resumes_without_missing_or_repeated_rows(
    tmp_path: Path, source: list[Row], btc: Candles
) -> None:
    out = tmp_path / "resumed.csv"
    part = part_path(out)

    async def body(fake: FakeBinance) -> None:
        task: asyncio.Task[DownloadResult] | None = None

        def stop_after_three_pages(done: int, total: int) -> None:
            if done == 3 * PAGE and task is not None:
                task.cancel()

        task = asyncio.create_task(fetch(fake, out, source[0][0], progress=stop_after_three_pages))
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not out.exists()
        assert file_rows(part) == source[: 3 * PAGE]  # every page written was whole
        with part.open("a") as handle:  # and kill -9 in the middle of a write leaves half a line
            handle.write("2023-01-03T01:05:00Z,16700.1,167")
        before = len(fake.requests)
        result = await fetch(fake, out, source[0][0])
        assert (result.written, result.resumed_from, result.total) == (START - 3 * PAGE, 3 * PAGE, START)
        first = next(q for _, p, q, _ in fake.requests[before:] if p == "/api/v3/klines")
        assert int(first["startTime"]) == source[3 * PAGE - 1][0] + 1

    run(body, btc)
    assert not part.exists()
    assert file_rows(out) == source[:START]


def test_a_finished_file_is_left_alone_and_a_later_until_extends_it(
    tmp_path: Path, source: list[Row], btc: Candles
) -> None:
    out = tmp_path / "done.csv"

    async def body(fake: FakeBinance) -> None:
        await fetch(fake, out, source[0][0], until=source[300][0])
        text = out.read_text()
        calls = len(klines(fake))
        again = await fetch(fake, out, source[0][0], until=source[300][0])
        assert (again.up_to_date, again.written, again.total) == (True, 0, 300)
        assert len(klines(fake)) == calls  # nothing asked
        assert out.read_text() == text
        more = await fetch(fake, out, source[0][0], until=source[500][0])
        assert (more.up_to_date, more.written, more.resumed_from) == (False, 200, 300)

    run(body, btc)
    assert file_rows(out) == source[:500]


def test_bad_options_are_errors_naming_the_option(tmp_path: Path, source: list[Row], btc: Candles) -> None:
    async def body(fake: FakeBinance) -> None:
        since = source[0][0]
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({"symbol": "DOGE/EUR"}, "symbol", "no market 'DOGE/EUR'"),
            ({"tf": "7m"}, "tf", "no timeframe '7m'"),
            ({"tf": "fortnight"}, "tf", "invalid timeframe"),
            ({"until": since}, "until", "is not after --since"),
            ({"out": tmp_path / "missing" / "x.csv"}, "out", "does not exist"),
            ({"out": tmp_path}, "out", "is a directory"),
        ]
        for change, key, words in cases:
            args = {"out": tmp_path / "x.csv", **change}
            with pytest.raises(ConfigError, match=words) as caught:
                await fetch(fake, args.pop("out"), since, **args)
            assert caught.value.key == key
        assert not (tmp_path / "x.csv").exists()
        assert not part_path(tmp_path / "x.csv").exists()

        with pytest.raises(ConfigError, match=r"no candle of 5m opening at .* has closed yet") as caught:
            await fetch(fake, tmp_path / "x.csv", source[START][0])
        assert caught.value.key == "since"

        (tmp_path / "other.csv").write_text("time,price\n1,2\n")
        with pytest.raises(ConfigError, match="not a download of smc-agent") as caught:
            await fetch(fake, tmp_path / "other.csv", since)
        assert caught.value.key == "out"

        await fetch(fake, tmp_path / "early.csv", since, until=source[50][0])
        with pytest.raises(ConfigError, match="before --since") as caught:
            await fetch(fake, tmp_path / "early.csv", source[10][0], until=source[50][0])
        assert caught.value.key == "out"

        part_path(tmp_path / "early.csv").write_text(HEADER + "\n")
        with pytest.raises(ConfigError, match=r"both .* exist") as caught:
            await fetch(fake, tmp_path / "early.csv", since, until=source[50][0])
        assert caught.value.key == "out"

        (tmp_path / "bad.csv.part").write_text(HEADER + "\nyesterday,1,1,1,1,1\n")
        with pytest.raises(DataError, match="row 1: field timestamp: unreadable time 'yesterday'"):
            await fetch(fake, tmp_path / "bad.csv", since)

    run(body, btc)


def test_unknown_exchange_and_testnet_name_their_option() -> None:
    with pytest.raises(ConfigError, match="no exchange 'nope'") as caught:
        open_client("nope")
    assert caught.value.key == "exchange"
    with pytest.raises(ConfigError, match="not an http") as caught:
        open_client("binance", urls={"rest": "127.0.0.1:9/api/v3"})
    assert caught.value.key == "rest_url"
