"""The CCXT feed against the loopback fake Binance, on real BTC/USDT 5m candles.

The real ccxt.pro client talks to :class:`fakes.binance.FakeBinance` on 127.0.0.1, which replays the
source file at 10 candles a wall second. Expected candles come from the source file, never from the feed.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from fakes.binance import FakeBinance
from smc_agent.core.logs import configure_logging
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import CandleClosed
from smc_agent.feeds import FeedHealth
from smc_agent.feeds.ccxt_feed import CcxtFeed, FeedTuning

TF = 300_000
STREAM = "BTC/USDT@5m"
SPEED = 10.0  # candles per wall second
# A replay's pace: a candle lasts 0.1 s, so the feed's patience shrinks with it.
TUNING = FeedTuning(warmup=50, grace_ms=TF // 2, stall_timeout_s=0.6, backoff_initial_s=0.05, backoff_max_s=0.3,
                    backoff_jitter_s=0.05, breaker_threshold=4, breaker_reset_s=0.4, poll_s=0.02)  # fmt: skip


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Candles:
    candles = load_candles(shared_data_path("crypto/BTC_USDT-5m_2023.json"))
    assert candles.symbol == "BTC/USDT"
    assert candles.timeframe == "5m"
    return candles[:400]


def source_rows(c: Candles, start: int, stop: int) -> list[tuple[int, float, float, float, float, float]]:
    return [(int(c.time[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i]),
             float(c.volume[i])) for i in range(start, stop)]  # fmt: skip


def rows(candles: list[CandleClosed]) -> list[tuple[int, float, float, float, float, float]]:
    return [(c.time, c.open, c.high, c.low, c.close, c.volume) for c in candles]


def make_feed(fake: FakeBinance, cursor: int | None, tuning: FeedTuning = TUNING) -> CcxtFeed:
    return CcxtFeed("binance", ["BTC/USDT"], ["5m"], cursors={STREAM: cursor} if cursor is not None else None,
                    urls=fake.urls, clock=fake.clock, rate_limit_ms=5, tuning=tuning)  # fmt: skip


async def consume(feed: CcxtFeed, out: list[CandleClosed], arrivals: list[int], fake: FakeBinance) -> None:
    async for candle in feed.closed():
        out.append(candle)
        arrivals.append(fake.now_ms())


async def until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def session(
    fake: FakeBinance, feed: CcxtFeed, body: Callable[[list[CandleClosed]], Awaitable[None]]
) -> list[CandleClosed]:
    out: list[CandleClosed] = []
    arrivals: list[int] = []
    task = asyncio.create_task(consume(feed, out, arrivals, fake))
    try:
        await body(out)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() or task.exception() is None  # the feed never crashed its consumer
    for candle, seen_at in zip(out, arrivals, strict=True):
        assert candle.event_ms == candle.time + TF
        assert candle.event_ms <= seen_at  # only closed candles: none arrives before its close
        assert candle.known_ms >= candle.event_ms
    return out


def test_backfill_pages_rest_from_the_cursor_and_equals_the_source(btc: Candles) -> None:
    async def main() -> None:
        async with FakeBinance(btc, start_index=120, speed=SPEED) as fake:
            feed = make_feed(fake, int(btc.time[0]), FeedTuning(**{**_fields(TUNING), "page_limit": 50}))

            async def body(out: list[CandleClosed]) -> None:
                await until(lambda: len(out) >= 120, 10, "the backfill")

            got = await session(fake, feed, body)
            assert rows(got[:120]) == source_rows(btc, 0, 120)
            klines = [q for _, path, q, status in fake.requests if path == "/api/v3/klines" and status == 200]
            # paged: since (startTime) moves a page at a time, each call bounded by until (endTime)
            starts = [int(q["startTime"]) for q in klines]
            assert starts[:3] == [int(btc.time[0]), int(btc.time[50]), int(btc.time[100])]
            assert all("endTime" in q and q["limit"] == "50" and q["symbol"] == "BTCUSDT" for q in klines)
            assert next(p for _, p, _, _ in fake.requests) == "/api/v3/exchangeInfo"  # load_markets asks only that

    asyncio.run(main())


def test_first_start_warms_up_and_streams_only_closed_candles_with_the_forming_one_apart(btc: Candles) -> None:
    async def main() -> None:
        async with FakeBinance(btc, start_index=100, speed=SPEED) as fake:
            feed = make_feed(fake, None)
            forming: list[CandleClosed] = []

            async def body(out: list[CandleClosed]) -> None:
                await until(lambda: feed.health == FeedHealth.CONNECTED, 10, "the stream")
                start_close = fake.now_ms()
                await until(lambda: bool(out) and out[-1].event_ms > start_close + 10 * TF, 10, "streamed candles")
                candle = feed.forming("BTC/USDT", "5m")
                assert candle is not None
                forming.append(candle)
                forming.append(fake.now_ms())  # type: ignore[arg-type]

            got = await session(fake, feed, body)
            first = btc.time.tolist().index(got[0].time)
            # warm-up: about TUNING.warmup candles before the start (the clock ran on while ccxt loaded)
            assert 100 - TUNING.warmup <= first <= 100 - TUNING.warmup + 10
            assert rows(got) == source_rows(btc, first, first + len(got))
            candle, now = forming
            assert isinstance(candle, CandleClosed)
            assert isinstance(now, int)
            i = btc.time.tolist().index(candle.time)
            assert candle.time <= now < candle.event_ms  # still forming: its close is ahead
            assert candle.open == btc.open[i]  # a forming candle opens where the real one opened
            assert candle.time > got[-1].time
            assert feed.forming("ETH/USDT", "5m") is None

    asyncio.run(main())


def _fields(t: FeedTuning) -> dict[str, object]:
    return {name: getattr(t, name) for name in t.__slots__}  # type: ignore[attr-defined]


def _health_lines(log: io.StringIO) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in log.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line["event"] == "feed health changed"]


def test_every_fault_in_one_session_loses_nothing_and_logs_once_per_change_of_state(btc: Candles) -> None:
    log = io.StringIO()
    configure_logging("info", json=True, stream=log)

    async def main() -> tuple[list[CandleClosed], CcxtFeed, FakeBinance]:
        async with FakeBinance(btc, start_index=60, speed=SPEED) as fake:
            feed = make_feed(fake, int(btc.time[0]))
            faults: list[tuple[str, Callable[[], object]]] = [
                ("drop", fake.drop_connections),
                ("stall", lambda: fake.stall(1.0)),
                ("duplicate", lambda: fake.duplicate(6)),
                ("reorder", lambda: fake.reorder(6)),
                ("429", lambda: (fake.fail_rest(429, 2, retry_after=0.2), fake.jump(3))),
                ("5xx", lambda: (fake.fail_rest(503, 1), fake.fail_rest(500, 1), fake.jump(2))),
                ("malformed", lambda: fake.malformed(1)),
                ("jump", lambda: fake.jump(6)),
            ]

            async def body(out: list[CandleClosed]) -> None:
                await until(lambda: feed.health == FeedHealth.CONNECTED, 10, "the stream")
                for name, inject in faults:
                    await asyncio.sleep(0.3)
                    inject()
                    await asyncio.sleep(0.4)
                    await until(lambda: feed.health == FeedHealth.CONNECTED, 10, f"recovery from {name}")
                await asyncio.sleep(0.5)

            return await session(fake, feed, body), feed, fake

    try:
        got, feed, fake = asyncio.run(main())
    finally:
        configure_logging("warning")
    # Nothing missing, duplicated or changed: the closed candles are the source's, from the cursor on.
    assert len(got) > 100
    assert rows(got) == source_rows(btc, 0, len(got))
    # Every fault happened, and the feed saw it.
    assert fake.ws_connections >= 4  # the first, and after the drop, the stall and the malformed frame
    statuses = [status for _, _, _, status in fake.requests]
    assert statuses.count(429) == 2
    assert statuses.count(503) == 1
    assert statuses.count(500) == 1
    assert feed.stats["rest_retries"] == 4
    assert feed.stats["gap_fills"] >= 3
    assert feed.counts["duplicates"] >= 1
    # Retry-After was respected: the call after a 429 waited at least 0.2 s.
    times = [t for t, _, _, status in fake.requests]
    for k, status in enumerate(statuses[:-1]):
        if status == 429:
            assert times[k + 1] - times[k] >= 0.2
    # The log: one line per change of health, never two alike in a row, never one per retry.
    lines = _health_lines(log)
    assert [line["health"] for line in lines] == [h.value for h, _ in feed.health_changes]
    assert lines[0]["previous"] == "down"
    assert lines[0]["health"] == "connected"
    assert all(a["health"] != b["health"] for a, b in itertools.pairwise(lines))
    assert all(line["previous"] == prev["health"] for prev, line in itertools.pairwise(lines))
    reasons = " | ".join(line["reason"] for line in lines)
    for expected in ("stream lost", "no message for", "DDoSProtection", "ExchangeNotAvailable", "gap BTC/USDT@5m"):
        assert expected in reasons
    degraded = [line for line in lines if line["health"] == "degraded"]
    # drop, stall, the 429s, the 5xxs, malformed and jump each degrade the feed once (gaps may add one
    # each when a candle closes while the stream reconnects); duplicates and reordering do not.
    assert 6 <= len(degraded) <= 12
    assert len(lines) == 2 * len(degraded) + 1  # every degradation ends connected again
    assert lines[-1]["health"] == "connected"


def test_repeated_failures_open_the_breaker_once_and_the_feed_comes_back(btc: Candles) -> None:
    log = io.StringIO()
    configure_logging("info", json=True, stream=log)

    async def main() -> tuple[list[CandleClosed], CcxtFeed]:
        async with FakeBinance(btc, start_index=60, speed=SPEED) as fake:
            feed = make_feed(fake, int(btc.time[0]))
            seen: list[FeedHealth] = []

            async def body(out: list[CandleClosed]) -> None:
                await until(lambda: feed.health == FeedHealth.CONNECTED, 10, "the stream")
                fake.fail_rest(503, 7)
                fake.drop_connections()
                await until(lambda: seen.append(feed.health) or feed.health == FeedHealth.DOWN, 10, "the breaker")
                await until(lambda: feed.health == FeedHealth.CONNECTED, 10, "recovery")
                await asyncio.sleep(0.3)

            return await session(fake, feed, body), feed

    try:
        got, feed = asyncio.run(main())
    finally:
        configure_logging("warning")
    assert rows(got) == source_rows(btc, 0, len(got))
    assert feed.stats["rest_retries"] == 7
    lines = _health_lines(log)
    states = [line["health"] for line in lines]
    # 7 failed calls, one "down" line: the breaker opened once (a busy machine may add a stall's
    # degraded/connected pair around it, never a line per retry).
    assert states[:3] == ["connected", "degraded", "down"]
    assert states.count("down") == 1
    assert states[-1] == "connected"
    assert len(states) <= 7
    assert "circuit open" in lines[2]["reason"]


def test_urls_setting_reaches_the_ccxt_client() -> None:
    from smc_agent.core.clock import SimulatedClock

    feed = CcxtFeed("binance", ["BTC/USDT"], ["1m"], clock=SimulatedClock(),
                    urls={"rest": "http://127.0.0.1:1/api/v3", "ws": "ws://127.0.0.1:1/stream",
                          "api": {"sapi": "http://127.0.0.1:1/sapi/v1"}})  # fmt: skip
    api = feed._ex.urls["api"]
    assert api["public"] == api["private"] == "http://127.0.0.1:1/api/v3"
    assert api["ws"]["spot"] == "ws://127.0.0.1:1/stream"
    assert api["sapi"] == "http://127.0.0.1:1/sapi/v1"
    assert feed._ex.enableRateLimit
    with pytest.raises(ValueError, match=r"unknown exchange\.urls keys"):
        CcxtFeed("binance", ["BTC/USDT"], ["1m"], clock=SimulatedClock(), urls={"websocket": "x"})
    with pytest.raises(ValueError, match="no exchange 'nosuchexchange'"):
        CcxtFeed("nosuchexchange", ["BTC/USDT"], ["1m"], clock=SimulatedClock())
