"""The live venue's test rig: a :class:`~fakes.binance_spot.FakeBinanceSpot`, a real :class:`CcxtVenue` signed
with test keys, and what the venue published and reported; the venue and reconciliation tests share it.

The fake's clock stands still (a millionth of a candle a second) and moves only by ``fake.jump``, so each
expected price is read from the source candles at a known index.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from fakes.binance_spot import FakeBinanceSpot
from smc_agent.core.bus import EventBus
from smc_agent.core.clock import SimulatedClock
from smc_agent.data.candles import Candles
from smc_agent.events import Event
from smc_agent.model.enums import Side
from smc_agent.model.orders import Order, OrderType
from smc_agent.venues.ccxt_venue import CcxtVenue, VenueTuning
from smc_agent.venues.keys import ApiKeys

__all__ = ["BTC", "FAST", "KEY", "SECRET", "START", "TIMEOUT", "USDT", "Rig", "close_of", "first_touch", "order",
           "rig", "run"]  # fmt: skip

KEY, SECRET = "vk-7Hq2LmZ9xP4tR8wN", "vs-3Jd6Fk1Qa8Zr5Tx0Bc7Vn2Mp9Ly4We"
START = 200  # the candle forming when the fake starts: candle START - 1 is the last closed one
FAST = VenueTuning(poll_s=0.02, attempts=3, retry_wait_s=0.01)
TIMEOUT = 10.0
BTC, USDT = "BTC/USDT", "USDT"


def close_of(c: Candles, i: int) -> Decimal:
    return Decimal(repr(float(c.close[i])))


@dataclass
class Rig:
    fake: FakeBinanceSpot
    venue: CcxtVenue
    published: list[Event] = field(default_factory=list)  # on the bus, synchronously
    reported: list[Event] = field(default_factory=list)  # through report(), from the venue's tasks

    async def until(self, check: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not check():
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(wait(), TIMEOUT)
        except TimeoutError:
            pytest.fail(f"timed out waiting for {what}; reported {self.reported}")

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.reported if isinstance(e, kind)]


@asynccontextmanager
async def rig(btc: Candles, balances: dict[str, str], *, timeout_ms: int | None = None,
              fake: FakeBinanceSpot | None = None) -> AsyncIterator[Rig]:  # fmt: skip
    async with _fake(btc, balances, fake) as server:
        bus = EventBus()
        reported: list[Event] = []
        venue = CcxtVenue.connect("binance", ApiKeys(SecretStr(KEY), SecretStr(SECRET)), bus, SimulatedClock(0),
                                  reported.append, urls=server.urls, rate_limit_ms=1, timeout_ms=timeout_ms,
                                  tuning=FAST)  # fmt: skip
        r = Rig(server, venue, reported=reported)
        bus.subscribe(r.published.append)
        await asyncio.wait_for(venue.start([BTC]), TIMEOUT)
        try:
            yield r
        finally:
            await asyncio.wait_for(venue.close(), TIMEOUT)


@asynccontextmanager
async def _fake(
    btc: Candles, balances: dict[str, str], given: FakeBinanceSpot | None
) -> AsyncIterator[FakeBinanceSpot]:
    if given is not None:
        yield given
        return
    async with FakeBinanceSpot(btc, start_index=START, speed=1e-6, api_key=KEY, api_secret=SECRET,
                               balances=balances) as fake:  # fmt: skip
        yield fake


def order(cid: str, side: Side, kind: OrderType, qty: str, *, price: str | None = None, trigger: str | None = None,
          reduce_only: bool = False) -> Order:  # fmt: skip
    return Order(cid, BTC, side, kind, Decimal(qty), price=None if price is None else Decimal(price),
                 trigger=None if trigger is None else Decimal(trigger), reduce_only=reduce_only)  # fmt: skip


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))


def first_touch(btc: Candles, level: Decimal, falls_to: bool) -> tuple[int, Decimal]:
    """The first candle from START whose range reaches ``level``, and the price it fills at there."""
    for i in range(START, len(btc)):
        o, h, lo = (Decimal(repr(float(x[i]))) for x in (btc.open, btc.high, btc.low))
        if (lo <= level) if falls_to else (h >= level):
            return i, (o if (o <= level if falls_to else o >= level) else level)
    raise AssertionError("never touched")
