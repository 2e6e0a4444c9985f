"""A loopback fake of Angel One's SmartAPI: the REST login and candle endpoints, and the binary tick WebSocket.

No broker can be reached from our machines, so the Angel One feed is tested against this aiohttp server on
127.0.0.1, which the real ``smartapi-python`` client talks to (``SmartConnect(root=...)``,
``SmartWebSocketV2.ROOT_URI``):

* ``POST /rest/auth/angelbroking/user/v1/loginByPassword``: checks the ``X-PrivateKey`` header, the client
  code, the PIN and the **TOTP code with pyotp** against the account's secret; answers the JWT, refresh and
  feed tokens;
* ``GET /rest/secure/angelbroking/user/v1/getProfile`` (the library calls it after each login);
* ``POST /rest/secure/angelbroking/historical/v1/getCandleData``: ``exchange``, ``symboltoken``, ``interval``,
  ``fromdate``/``todate`` as IST ``"YYYY-MM-DD HH:MM"``, at most the interval's day limit per call; rows
  ``["2024-03-01T09:15:00+05:30", o, h, l, c, v]`` of the candles that have closed by the fake's clock.
  An expired session is answered ``{"status": false, "errorcode": "AG8001", "message": "Invalid Token"}``;
* ``GET /smart-stream``: the tick feed. It checks the ``Authorization``, ``x-api-key``, ``x-client-code`` and
  ``x-feed-token`` headers, takes the JSON subscribe request, and sends QUOTE-mode packets (123 bytes,
  little-endian, prices in paise) for the subscribed tokens.

**The ticks are the candles' own prices, not market ticks.** Each replayed real candle is sent as four
ticks: its open at the candle's open time, then its low and high (low first in a candle that closed up,
high first in one that closed down) a quarter and a half of the period later, and its close three quarters
in. The day's cumulative volume grows by the candle's volume at its open tick. So a correct tick-to-candle
aggregation must give back the source candles exactly (open, high, low, close and volume): that is what the
tests assert, not that these ticks look like a real market's.

Time is the fake's replay clock (:class:`~fakes.binance.ReplayTime`, ``speed`` candles per wall second), standing at
``start_ms`` until the first subscription; overnight and over weekends it jumps to the next candle, so a test
streams several sessions in seconds. :attr:`FakeAngelOne.clock` reads it, for the feed under test. Faults:
:meth:`~FakeAngelOne.expire_sessions` (every issued JWT stops working) and :meth:`~FakeAngelOne.drop_connections`.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import secrets
import struct
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import pyotp
from aiohttp import WSMsgType, web

from fakes.binance import ReplayTime, _ServerClock
from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import parse_timeframe

__all__ = ["FakeAngelOne", "quote_packet"]

IST = timezone(timedelta(hours=5, minutes=30))
_INTERVALS = {"ONE_MINUTE": (60_000, 30), "THREE_MINUTE": (180_000, 60), "FIVE_MINUTE": (300_000, 100),
              "TEN_MINUTE": (600_000, 100), "FIFTEEN_MINUTE": (900_000, 200), "THIRTY_MINUTE": (1_800_000, 200),
              "ONE_HOUR": (3_600_000, 400), "ONE_DAY": (86_400_000, 2000)}  # fmt: skip
_EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "NCDEX": 7, "CDS": 13}


def quote_packet(exchange_type: int, token: str, seq: int, time_ms: int, ltp_paise: int, ltq: int, volume: int,
                 day: tuple[int, int, int, int]) -> bytes:  # fmt: skip
    """One SmartWebSocketV2 QUOTE packet (mode 2), as ``SmartWebSocketV2._parse_binary_data`` reads it."""
    o, h, lo, prev_close = day
    return struct.pack("<BB25sqqqqqqddqqqq", 2, exchange_type, token.encode(), seq, time_ms, ltp_paise, ltq,
                       ltp_paise, volume, 0.0, 0.0, o, h, lo, prev_close)  # fmt: skip


def _ist(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, IST).isoformat()


def _paise(price: float) -> int:
    paise = round(price * 100)
    assert paise / 100 == price, f"{price} is not a whole number of paise"
    return paise


class _HeldTime(ReplayTime):
    """Replay time that stands still at its start until the first subscription, so that no tick is sent
    before the feed under test listens (its login and backfill take wall time)."""

    held = True

    def now_ms(self) -> int:
        return self._start + self._offset if self.held else super().now_ms()

    def release(self) -> None:
        if self.held:
            self.held = False
            self._wall0 = time.monotonic()


@dataclass
class _Tick:
    time: int
    paise: int
    ltq: int
    day_volume: int


@dataclass
class _Conn:
    ws: web.WebSocketResponse
    transport: Any
    tokens: set[tuple[int, str]] = field(default_factory=set)


class FakeAngelOne:
    """``async with FakeAngelOne(candles, token="57920", api_key=..., client_code=..., pin=..., totp_secret=...,
    start_ms=..., speed=10) as fake``: ``candles`` are the instrument's real candles (REST serves those closed
    by the clock; the stream sends the ticks of those that open at or after ``start_ms``)."""

    def __init__(self, candles: Candles, *, token: str, exchange: str = "NFO", api_key: str, client_code: str,
                 pin: str, totp_secret: str, start_ms: int, speed: float) -> None:  # fmt: skip
        self._candles, self._token, self._ex_type = candles, token, _EXCHANGE_TYPES[exchange]
        self._exchange = exchange
        self._account = (api_key, client_code, pin, totp_secret)
        self._tf = parse_timeframe(candles.timeframe)
        self._opens = candles.time.tolist()
        self.replay = _HeldTime(start_ms, speed * self._tf)
        self.clock = _ServerClock(self.replay)
        self._ticks = self._make_ticks(start_ms)
        self._sent = 0  # ticks sent so far (the same stream for every connection)
        self._jwts: dict[str, bool] = {}  # issued JWT -> still valid
        self._feed_tokens: set[str] = set()
        self._conns: list[_Conn] = []
        self._runner: web.AppRunner | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._pace = max(0.002, min(0.02, 1 / (speed * 16)))
        self.port = 0
        self.logins: list[str] = []  # the TOTP code of each accepted login
        self.refused: list[str] = []
        self.candle_calls: list[dict[str, Any]] = []
        self.ws_connections = 0

    def _make_ticks(self, start_ms: int) -> list[_Tick]:
        c, tf = self._candles, self._tf
        ticks: list[_Tick] = []
        day, day_volume = None, 0
        for i in range(len(c)):
            t = int(c.time[i])
            d = datetime.fromtimestamp(t / 1000, IST).date()
            if d != day:
                day, day_volume = d, 0
            day_volume += int(c.volume[i])
            if t < start_ms:
                continue
            o, h, lo, cl, v = (float(x[i]) for x in (c.open, c.high, c.low, c.close, c.volume))
            first, second = (lo, h) if cl >= o else (h, lo)
            ticks.append(_Tick(t, _paise(o), int(v), day_volume))
            for k, price in ((1, first), (2, second), (3, cl)):
                ticks.append(_Tick(t + k * tf // 4, _paise(price), 0, day_volume))
        return ticks

    # ---- life ----------------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeAngelOne:
        app = web.Application()
        app.add_routes([
            web.post("/rest/auth/angelbroking/user/v1/loginByPassword", self._login),
            web.get("/rest/secure/angelbroking/user/v1/getProfile", self._profile),
            web.post("/rest/secure/angelbroking/historical/v1/getCandleData", self._candle_data),
            web.get("/smart-stream", self._websocket),
        ])  # fmt: skip
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._publisher = asyncio.create_task(self._publish())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
        for conn in list(self._conns):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/smart-stream"

    @property
    def streamed_all(self) -> bool:
        return self._sent >= len(self._ticks)

    # ---- faults --------------------------------------------------------------------------------------

    def expire_sessions(self) -> None:
        """Every JWT issued so far stops working (as at Angel One's daily expiry)."""
        for jwt in self._jwts:
            self._jwts[jwt] = False

    def drop_connections(self) -> int:
        conns = list(self._conns)
        for conn in conns:
            conn.transport.abort()
        return len(conns)

    # ---- REST ----------------------------------------------------------------------------------------

    async def _login(self, request: web.Request) -> web.Response:
        api_key, client_code, pin, secret = self._account
        body = await request.json()
        code = str(body.get("totp", ""))
        if request.headers.get("X-PrivateKey") != api_key:
            return _answer(None, "Invalid API Key", "AG8004")
        if body.get("clientcode") != client_code or body.get("password") != pin:
            return _answer(None, "Invalid clientcode or password", "AB1007")
        if not pyotp.TOTP(secret).verify(code, valid_window=1):
            self.refused.append(code)
            return _answer(None, "Invalid totp", "AB1050")
        self.logins.append(code)
        jwt, feed = "eyJ" + secrets.token_urlsafe(24), secrets.token_hex(8)
        self._jwts[jwt] = True
        self._feed_tokens.add(feed)
        return _answer({"jwtToken": jwt, "refreshToken": secrets.token_urlsafe(24), "feedToken": feed})

    def _session_ok(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        return auth.startswith("Bearer ") and self._jwts.get(auth[7:], False)

    async def _profile(self, request: web.Request) -> web.Response:
        if not self._session_ok(request):
            return _answer(None, "Invalid Token", "AG8001")
        return _answer({"clientcode": self._account[1], "name": "TEST", "exchanges": ["nse_fo"]})

    async def _candle_data(self, request: web.Request) -> web.Response:
        if not self._session_ok(request):
            return _answer(None, "Invalid Token", "AG8001")
        body = await request.json()
        self.candle_calls.append(body)
        interval = _INTERVALS.get(str(body.get("interval")))
        if interval is None:
            return _answer(None, "Invalid interval", "AB1024")
        try:
            start = datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
            end = datetime.strptime(body["todate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        except (KeyError, ValueError):
            return _answer(None, "Invalid date or time format", "AB1023")
        if end - start > timedelta(days=interval[1]):
            return _answer(None, f"Exceeded the maximum of {interval[1]} days", "AB1021")
        if body.get("exchange") != self._exchange or body.get("symboltoken") != self._token or interval[0] != self._tf:
            return _answer([])
        lo = bisect.bisect_left(self._opens, int(start.timestamp() * 1000))
        hi = bisect.bisect_right(self._opens, int(end.timestamp() * 1000))
        now, c = self.replay.now_ms(), self._candles
        rows = [[_ist(self._opens[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i]),
                 int(c.volume[i])] for i in range(lo, hi) if self._opens[i] + self._tf <= now]  # fmt: skip
        return _answer(rows)

    # ---- the tick WebSocket --------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        h = request.headers
        if not (
            self._jwts.get(h.get("Authorization", ""), False)
            and h.get("x-api-key") == self._account[0]
            and h.get("x-client-code") == self._account[1]
            and h.get("x-feed-token") in self._feed_tokens
        ):
            return web.Response(status=401, text="Unauthorized")  # fmt: skip
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.ws_connections += 1
        conn = _Conn(ws, request.transport)
        self._conns.append(conn)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "ping":
                    await ws.send_str("pong")
                    continue
                req = json.loads(msg.data)
                for group in req["params"]["tokenList"]:
                    for token in group["tokens"]:
                        key = (int(group["exchangeType"]), str(token))
                        (conn.tokens.add if req["action"] == 1 else conn.tokens.discard)(key)
                if conn.tokens:
                    self.replay.release()
        finally:
            self._conns.remove(conn)
        return ws

    async def _publish(self) -> None:
        key = (self._ex_type, self._token)
        day: tuple[int, int, int, int] = (0, 0, 0, 0)
        prev_close = 0
        while True:
            await asyncio.sleep(self._pace)
            now = self.replay.now_ms()
            while self._sent < len(self._ticks) and self._ticks[self._sent].time <= now:
                tick = self._ticks[self._sent]
                if tick.ltq and day[0] and _ist(tick.time)[:10] != _ist(self._ticks[self._sent - 1].time)[:10]:
                    prev_close, day = self._ticks[self._sent - 1].paise, (0, 0, 0, 0)
                o = day[0] or tick.paise
                day = (o, max(day[1], tick.paise), min(day[2] or tick.paise, tick.paise), prev_close)
                packet = quote_packet(self._ex_type, self._token, self._sent + 1, tick.time, tick.paise, tick.ltq,
                                      tick.day_volume, day)  # fmt: skip
                for conn in list(self._conns):
                    if key in conn.tokens:
                        with contextlib.suppress(ConnectionError, RuntimeError):
                            await conn.ws.send_bytes(packet)
                self._sent += 1
            if self._sent < len(self._ticks):
                nxt, last = self._ticks[self._sent].time, self._ticks[self._sent - 1].time if self._sent else now
                if nxt - now > 2 * self._tf and now - last >= 2 * self._tf:  # the market is shut: skip ahead
                    self.replay.jump(nxt - now - self._tf // 8)


def _answer(data: Any, message: str = "SUCCESS", errorcode: str = "") -> web.Response:
    ok = not errorcode
    body = {"status": ok, "message": message, "errorcode": errorcode, "data": data}
    return web.Response(text=json.dumps(body), content_type="application/json")
