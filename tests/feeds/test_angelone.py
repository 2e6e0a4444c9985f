"""The Angel One feed against the loopback fake SmartAPI, on the real NIFTY futures candles.

The fake checks the TOTP with pyotp and replays ``india/NIFTY-FUT_15m_2024.csv``: history by REST, and each
candle's own four prices as ticks (see ``fakes/angelone.py``), so the candles the feed builds from the ticks
must equal the file's exactly.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pyotp
import pytest

from fakes.angelone import FakeAngelOne
from smc_agent.core.clock import WallClock
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import CandleClosed
from smc_agent.feeds import FeedHealth, angelone_client
from smc_agent.feeds.angelone import AngelOneFeed, AngelOneSymbol, AngelOneTuning
from smc_agent.feeds.angelone_client import AngelOneAuthError, AngelOneClient, AngelOneCredentials
from smc_agent.feeds.market_hours import NSE_HOURS

WALL = WallClock()  # the TOTP is computed at the real time, which the fake checks it against
FILE = "india/NIFTY-FUT_15m_2024.csv"
TOKEN = "57920"
NIFTY = AngelOneSymbol("NIFTY-FUT", TOKEN, "NFO")
SPECIAL = ["2024-03-02"]  # NSE's special Saturday session, which the file contains
# NSE's trading holidays of 2024 within the file's months (none of them has a candle in the file).
HOLIDAYS_2024 = ["2024-03-08", "2024-03-25", "2024-03-29", "2024-04-11", "2024-04-17", "2024-05-01"]
ODD = 4  # the bars after 15:30 on 2024-05-17


def run(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """An async test, run in its own event loop (``asyncio.run``), with the fixtures it asks for."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper


@pytest.fixture(autouse=True)
def _library_logs_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # smartapi-python writes logs/<date>/app.log under the working directory


@pytest.fixture
def creds() -> AngelOneCredentials:
    return AngelOneCredentials("key-" + pyotp.random_base32()[:8], "A123456", "1234", pyotp.random_base32())


@pytest.fixture
def nifty(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path(FILE), tz="Asia/Kolkata", timeframe="15m")


def _fake(candles: Candles, creds: AngelOneCredentials, start: str, speed: float = 10) -> FakeAngelOne:
    return FakeAngelOne(candles, token=TOKEN, api_key=creds.api_key, client_code=creds.client_code, pin=creds.pin,
                        totp_secret=creds.totp_secret, start_ms=NSE_HOURS.to_utc_ms(start), speed=speed)  # fmt: skip


def _rows(candles: Candles, keep: np.ndarray | None = None) -> list[tuple[float, ...]]:
    idx = range(len(candles)) if keep is None else np.flatnonzero(keep)
    return [(int(candles.time[i]), *(float(a[i]) for a in (candles.open, candles.high, candles.low, candles.close,
                                                             candles.volume))) for i in idx]  # fmt: skip


def _got(candles: list[CandleClosed]) -> list[tuple[float, ...]]:
    return [(c.time, c.open, c.high, c.low, c.close, c.volume) for c in candles]


def _in_session(candles: Candles) -> np.ndarray:
    hours = NSE_HOURS.with_holidays([], SPECIAL)
    return np.array([hours.contains(int(t), 900_000) for t in candles.time])


@run
async def test_login_with_totp_is_checked_by_the_fake(nifty: Candles, creds: AngelOneCredentials) -> None:
    async with _fake(nifty, creds, "2024-03-04 09:14") as fake:
        client = AngelOneClient(creds, wall=WALL, root_url=fake.root_url)
        await asyncio.to_thread(client.login)
        assert len(fake.logins) == 1
        assert pyotp.TOTP(creds.totp_secret).verify(fake.logins[0], valid_window=1)
        assert client.jwt
        assert client.feed_token

        wrong = AngelOneCredentials(creds.api_key, creds.client_code, creds.pin, pyotp.random_base32())
        with pytest.raises(AngelOneAuthError, match="Invalid totp") as refused:
            await asyncio.to_thread(AngelOneClient(wrong, wall=WALL, root_url=fake.root_url).login)
        assert len(fake.refused) == 1
        assert len(fake.logins) == 1
        assert wrong.totp_secret not in str(refused.value)
        assert wrong.totp_secret not in repr(wrong)


@run
async def test_an_expired_session_logs_in_again_once(nifty: Candles, creds: AngelOneCredentials) -> None:
    async with _fake(nifty, creds, "2024-03-05 09:14") as fake:
        client = AngelOneClient(creds, wall=WALL, root_url=fake.root_url)
        first = NSE_HOURS.to_utc_ms("2024-03-01 09:15")
        before = await asyncio.to_thread(client.candles, "NFO", TOKEN, "15m", first, first + 6 * 3_600_000)
        fake.expire_sessions()
        after = await asyncio.to_thread(client.candles, "NFO", TOKEN, "15m", first, first + 6 * 3_600_000)
        assert len(fake.logins) == 2
        assert client.logins == 2
        assert after == before
        assert len(before) == 25

        fake.expire_sessions()
        fake._account = (creds.api_key, creds.client_code, "9999", creds.totp_secret)  # the PIN was changed
        with pytest.raises(AngelOneAuthError, match="refused"):
            await asyncio.to_thread(client.candles, "NFO", TOKEN, "15m", first, first + 6 * 3_600_000)


@run
async def test_history_equals_the_file_in_utc_and_drops_the_bars_after_the_close(
    nifty: Candles, creds: AngelOneCredentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(angelone_client.MAX_DAYS, "FIFTEEN_MINUTE", 10)  # so that the 78 days take 8 pages
    async with _fake(nifty, creds, "2024-05-18 09:00") as fake:
        feed = AngelOneFeed(creds, [NIFTY], ["15m"], clock=fake.clock, wall_clock=WALL, root_url=fake.root_url,
                            holidays=HOLIDAYS_2024, special_days=SPECIAL)  # fmt: skip
        got = await feed.history("NIFTY-FUT", "15m", int(nifty.time[0]), int(nifty.time[-1]))
    assert len(fake.candle_calls) == 8
    assert {c["fromdate"][11:] for c in fake.candle_calls} == {"09:15"}  # IST on the wire
    keep = _in_session(nifty)
    assert int((~keep).sum()) == ODD
    assert feed.dropped == {"NIFTY-FUT@15m": ODD}
    assert _got(got) == _rows(nifty, keep)  # every session candle, exactly, with UTC open times
    assert got[0].time == 1709264700000  # 2024-03-01 09:15 IST is 03:45 UTC


@run
async def test_holidays_and_special_days_decide_which_candles_belong(
    nifty: Candles, creds: AngelOneCredentials
) -> None:
    start, end = int(nifty.time[0]), int(nifty.time[-1])
    async with _fake(nifty, creds, "2024-05-18 09:00") as fake:
        plain = AngelOneFeed(creds, [NIFTY], ["15m"], clock=fake.clock, wall_clock=WALL, root_url=fake.root_url)
        no_special = await plain.history("NIFTY-FUT", "15m", start, end)
        marked = AngelOneFeed(creds, [NIFTY], ["15m"], clock=fake.clock, wall_clock=WALL, root_url=fake.root_url,
                              holidays=["2024-03-04"], special_days=SPECIAL)  # fmt: skip
        with_holiday = await marked.history("NIFTY-FUT", "15m", start, end)
    assert plain.dropped["NIFTY-FUT@15m"] == ODD + 7  # the Saturday session is not a trading day without it
    assert len(no_special) == len(nifty) - ODD - 7
    assert marked.dropped["NIFTY-FUT@15m"] == ODD + 25
    assert not [c for c in with_holiday if NSE_HOURS.format_local(c.time).startswith("2024-03-04")]
    assert marked.hours.format_local(marked.hours.next_open(NSE_HOURS.to_utc_ms("2024-03-01 15:30"))) == \
        "2024-03-02 09:15"  # fmt: skip
    assert marked.hours.format_local(marked.hours.next_open(NSE_HOURS.to_utc_ms("2024-03-02 15:30"))) == \
        "2024-03-05 09:15"  # Sunday, then the holiday  # fmt: skip


def _live_data(nifty: Candles) -> tuple[Candles, list[tuple[float, ...]], int]:
    """Two days of history, then two days and the day with the odd bars streamed as ticks."""
    days = [NSE_HOURS.format_local(int(t))[:10] for t in nifty.time]
    pick = np.array([d in ("2024-03-01", "2024-03-02", "2024-03-04", "2024-03-05", "2024-05-17") for d in days])
    data = Candles.from_arrays(nifty.time[pick], nifty.open[pick], nifty.high[pick], nifty.low[pick],
                               nifty.close[pick], nifty.volume[pick], symbol="NIFTY-FUT", timeframe="15m")  # fmt: skip
    n_live = sum(NSE_HOURS.format_local(t) >= "2024-03-04" for t in data.time.tolist())
    return data, _rows(data, _in_session(data)), n_live


async def _stream(
    feed: AngelOneFeed, expected: int, on_candle: Callable[[list[CandleClosed]], None] = lambda got: None
) -> list[CandleClosed]:
    """The feed's candles until ``expected`` were delivered and the odd bars dropped."""
    got: list[CandleClosed] = []

    async def collect() -> None:
        async for candle in feed.closed():
            got.append(candle)
            on_candle(got)

    async def until_done() -> None:
        while len(got) < expected or feed.dropped["NIFTY-FUT@15m"] < ODD:
            await asyncio.sleep(0.05)

    task = asyncio.create_task(collect())
    try:
        await asyncio.wait_for(until_done(), 60)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await feed.aclose()
    return got


# A 15m candle lasts 83 ms of wall time at speed 12: the grace (40 of those 83 ms) must outlast a hiccup of a
# loaded 2-core machine, or a candle's last ticks count as late and it is taken from REST.
TUNING = AngelOneTuning(history_days=10, grace_ms=450_000, stall_timeout_s=30, poll_s=0.01, backoff_initial_s=0.05,
                        backoff_jitter_s=0.01)  # fmt: skip


@run
async def test_ticks_build_the_source_candles_exactly(nifty: Candles, creds: AngelOneCredentials) -> None:
    data, expected, n_live = _live_data(nifty)
    # The fake starts 15 market minutes before the open (75 ms of wall time at speed 12): the login, the history
    # and the socket are done before the first live candle opens, so none of its ticks can be missed and it is
    # built from ticks, not fetched by REST. (At 09:14 there were 5 ms, and a slow start made it come by REST.)
    async with _fake(data, creds, "2024-03-04 09:00", speed=12) as fake:
        feed = AngelOneFeed(creds, [NIFTY], ["15m"], clock=fake.clock, wall_clock=WALL, root_url=fake.root_url,
                            ws_url=fake.ws_url, special_days=SPECIAL, tuning=TUNING)  # fmt: skip
        got = await _stream(feed, len(expected))
    assert _got(got) == expected
    assert feed.stats["ticks"] == 4 * n_live
    assert feed.stats["late_ticks"] == 0
    assert feed.stats["from_rest"] == len(expected) - (n_live - ODD)  # only the history came by REST
    assert feed.dropped == {"NIFTY-FUT@15m": ODD}
    assert feed.health == FeedHealth.CONNECTED
    assert fake.ws_connections == 1


@run
async def test_a_dropped_socket_reconnects_and_rest_fills_what_the_ticks_missed(
    nifty: Candles, creds: AngelOneCredentials
) -> None:
    data, expected, n_live = _live_data(nifty)
    async with _fake(data, creds, "2024-03-04 09:14", speed=12) as fake:
        feed = AngelOneFeed(creds, [NIFTY], ["15m"], clock=fake.clock, wall_clock=WALL, root_url=fake.root_url,
                            ws_url=fake.ws_url, special_days=SPECIAL, tuning=TUNING)  # fmt: skip

        def drop(got: list[CandleClosed]) -> None:
            if len(got) == 45:  # mid-session on 4 March
                assert fake.drop_connections() == 1

        got = await _stream(feed, len(expected), drop)
    assert _got(got) == expected  # nothing missing, repeated or changed
    assert fake.ws_connections == 2
    assert feed.stats["reconnects"] == 1
    assert feed.stats["ticks"] < 4 * n_live  # ticks sent while the socket was down are lost...
    assert feed.stats["from_rest"] > len(expected) - (n_live - ODD)  # ...and their candles came by REST
    assert [h.value for h, _ in feed.health_changes] == ["connected", "degraded", "connected"]
