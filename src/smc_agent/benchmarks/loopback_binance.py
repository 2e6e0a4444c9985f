"""A loopback fake of Binance spot: REST and WebSocket in Binance's own wire format, replaying real candles.

No exchange can be reached from our machines, so the CCXT feed is tested (and ``smc-agent bench feed``
measured) against this: an aiohttp server on
127.0.0.1 (a random port) that answers what ``ccxt.binance`` / ``ccxt.pro.binance`` ask for, byte for byte as
far as they read it:

* ``GET /api/v3/ping``, ``/api/v3/time``, ``/api/v3/exchangeInfo`` (symbols with PRICE_FILTER, LOT_SIZE and
  NOTIONAL filters, status TRADING, permissions), ``/api/v3/klines`` (12-element rows, prices as strings; like
  Binance, the last row may be the candle still forming, with its values so far);
* WebSocket market streams ``<symbol>@kline_<interval>``: raw on ``/ws/<streams>``, combined
  (``{"stream": ..., "data": ...}``) on ``/stream?streams=a/b`` and on any path under ``/stream`` (ccxt tells
  spot from futures by ``/stream`` in the URL), ``SUBSCRIBE`` / ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS``
  answered ``{"result": ..., "id": N}``; kline events update the forming candle (``"x": false``) a few times
  a period, then send the final one (``"x": true``) at its close.

Time is a replay clock (:class:`ReplayTime`): "now" starts at a chosen candle and runs ``speed`` candles
per wall second, so a test streams hundreds of candles in seconds; :attr:`FakeBinance.clock` reads it, for the
feed under test. REST answers only what has opened by "now"; the stream sends what "now" has reached.

Faults, on command: :meth:`~FakeBinance.drop_connections` (the TCP connection is cut mid-stream),
:meth:`~FakeBinance.stall` (nothing is sent for a while; what happens meanwhile is lost),
:meth:`~FakeBinance.duplicate` and :meth:`~FakeBinance.reorder` (the next messages), :meth:`~FakeBinance.fail_rest`
(HTTP 429 with ``Retry-After``, or a 5xx, on the next REST calls), :meth:`~FakeBinance.malformed` (truncated
JSON on the socket) and :meth:`~FakeBinance.jump` (the clock skips ahead: candles resume after a gap).

Signed endpoints (orders, account) are not served yet: routes go through :meth:`FakeBinance._routes`, so they
can be added beside the public ones.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from smc_agent.core.clock import Timers
from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import parse_timeframe

__all__ = ["FakeBinance", "ReplayTime", "binance_id", "kline_row"]

_FINAL = 1 << 30  # the step number of a candle's final (x=true) message


def binance_id(symbol: str) -> str:
    """``BTC/USDT`` -> ``BTCUSDT``."""
    return symbol.replace("/", "").upper()


def _num(value: float) -> str:
    """A price or quantity as Binance writes it: 8 decimals ("16727.30000000"), or more when 8 would change it."""
    text = f"{value:.8f}"
    return text if float(text) == value else repr(float(value))


class ReplayTime:
    """Market time running ``ms_per_second`` times the wall clock from ``start_ms``, plus any jumps."""

    def __init__(self, start_ms: int, ms_per_second: float, wall0: float | None = None) -> None:
        # ``wall0``: the monotonic time "now" was ``start_ms`` at; another process's, to read its time too.
        self._start, self._rate = start_ms, ms_per_second
        self.wall0 = time.monotonic() if wall0 is None else wall0
        self._offset = 0

    def now_ms(self) -> int:
        return self._start + int((time.monotonic() - self.wall0) * self._rate) + self._offset

    def jump(self, ms: int) -> None:
        self._offset += ms

    def wall_seconds(self, market_ms: float) -> float:
        return market_ms / self._rate


class _ServerClock(Timers):
    """The fake's replay time as a :class:`~smc_agent.core.clock.Clock`, for the feed under test."""

    def __init__(self, replay: ReplayTime) -> None:
        super().__init__()
        self._replay = replay

    def now_ms(self) -> int:
        return self._replay.now_ms() if self._reading is None else self._reading


@dataclass
class _Series:
    symbol_id: str
    interval: str
    tf: int
    opens: list[int]
    rows: list[tuple[float, float, float, float, float]]

    def index_at(self, now: int) -> int | None:
        """The candle whose period contains ``now``, if the data has one."""
        i = bisect.bisect_right(self.opens, now) - 1
        return i if i >= 0 and now < self.opens[i] + self.tf else None


def kline_row(series: _Series, i: int, step: int, steps: int) -> list[Any]:
    """Candle ``i`` as a ``GET /api/v3/klines`` row; ``step`` < ``steps`` gives its values so far."""
    o, h, lo, c, v = _values(series, i, step, steps)
    t = series.opens[i]
    trades = _trades(i, step, steps)
    quote = v * (o + c) / 2
    return [
        t, _num(o), _num(h), _num(lo), _num(c), _num(v), t + series.tf - 1,
        _num(round(quote, 8)), trades, _num(round(v / 2, 8)), _num(round(quote / 2, 8)), "0",
    ]  # fmt: skip


def _values(series: _Series, i: int, step: int, steps: int) -> tuple[float, float, float, float, float]:
    o, h, lo, c, v = series.rows[i]
    if step >= steps:
        return o, h, lo, c, v
    f = (step + 1) / (steps + 1)  # a forming candle: part of the way from its open to its close
    pc = round(o + (c - o) * f, 8)
    return o, max(o, pc), min(o, pc), pc, round(v * f, 8)


def _trades(i: int, step: int, steps: int) -> int:
    full = 100 + (i * 37) % 900
    return full if step >= steps else max(1, full * (step + 1) // (steps + 1))


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    transport: Any
    combined: bool
    streams: list[str] = field(default_factory=list)
    last: dict[str, tuple[int, int]] = field(default_factory=dict)  # stream -> (candle index, step sent)
    held: str | None = None


class FakeBinance:
    """The fake exchange. ``async with FakeBinance(candles, start_index=100, speed=20) as fake: ...``

    ``candles`` are the replayed streams (their ``symbol`` like ``BTC/USDT``, their ``timeframe`` a Binance
    interval); ``start_index`` is the candle of the first stream that is forming at the start (the candles
    before it are history, served by REST); ``speed`` is candles of the first stream per wall second;
    ``updates`` how many forming updates each candle gets before its final one.
    """

    def __init__(
        self,
        candles: Candles | Sequence[Candles],
        *,
        start_index: int,
        speed: float,
        updates: int = 4,
        tick_size: str = "0.01000000",
        step_size: str = "0.00001000",
        min_notional: str = "5.00000000",
    ) -> None:
        streams = [candles] if isinstance(candles, Candles) else list(candles)
        self._series: dict[str, _Series] = {}
        for c in streams:
            name = f"{binance_id(c.symbol).lower()}@kline_{c.timeframe}"
            rows = list(zip(c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist(), c.volume.tolist(),
                            strict=True))  # fmt: skip
            self._series[name] = _Series(binance_id(c.symbol), c.timeframe, parse_timeframe(c.timeframe),
                                         c.time.tolist(), rows)  # fmt: skip
        self._symbols = {binance_id(c.symbol): c.symbol for c in streams}
        first = streams[0]
        tf = parse_timeframe(first.timeframe)
        self.replay = ReplayTime(int(first.time[start_index]), speed * tf)
        self.clock = _ServerClock(self.replay)
        self._updates = updates
        self._filters = (tick_size, step_size, min_notional)
        self._connections: list[_Connection] = []
        self._runner: web.AppRunner | None = None
        self._publisher: asyncio.Task[None] | None = None
        self._tick = max(0.002, min(0.02, 1 / (speed * (updates + 1) * 3)))
        self.port = 0
        # faults
        self._stall_until = 0.0
        self._duplicate = 0
        self._reorder = 0
        self._malformed = 0
        self._rest_faults: deque[tuple[int, float | None]] = deque()
        # what happened, for assertions
        self.requests: list[tuple[float, str, dict[str, str], int]] = []  # wall time, path, query, status
        self.ws_connections = 0
        self.sent_finals = 0

    # ---- life ----------------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeBinance:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(middlewares=[self._rest_middleware])
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._publisher = asyncio.create_task(self._publish())

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            await asyncio.gather(self._publisher, return_exceptions=True)
        for conn in list(self._connections):
            await conn.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def rest_url(self) -> str:
        """The REST base, as ccxt's ``urls["api"]["public"]`` wants it."""
        return f"http://127.0.0.1:{self.port}/api/v3"

    @property
    def ws_url(self) -> str:
        """The WebSocket base, as ccxt.pro's ``urls["api"]["ws"]["spot"]`` wants it (a path under /stream)."""
        return f"ws://127.0.0.1:{self.port}/stream"

    @property
    def urls(self) -> dict[str, str]:
        """The ``urls`` setting that points a :class:`~smc_agent.feeds.ccxt_feed.CcxtFeed` here."""
        return {"rest": self.rest_url, "ws": self.ws_url}

    def now_ms(self) -> int:
        return self.replay.now_ms()

    # ---- faults --------------------------------------------------------------------------------------

    def drop_connections(self) -> int:
        """Cut every WebSocket connection now, without a close frame; how many were cut."""
        conns = list(self._connections)
        for conn in conns:
            conn.transport.abort()
        return len(conns)

    def stall(self, seconds: float) -> None:
        """Send nothing for ``seconds`` of wall time; the updates meant for that time are lost."""
        self._stall_until = time.monotonic() + seconds

    def duplicate(self, count: int = 1) -> None:
        """Send each of the next ``count`` stream messages twice."""
        self._duplicate += count

    def reorder(self, count: int = 1) -> None:
        """Hold back each of the next ``count`` stream messages and send it after the one that follows it."""
        self._reorder += count

    def malformed(self, count: int = 1) -> None:
        """Truncate the next ``count`` stream messages mid-object (invalid JSON)."""
        self._malformed += count

    def fail_rest(self, status: int, count: int = 1, *, retry_after: float | None = None) -> None:
        """Answer the next ``count`` REST calls with ``status`` (429 sends ``Retry-After: retry_after``)."""
        self._rest_faults.extend([(status, retry_after)] * count)

    def jump(self, candles: int) -> None:
        """Skip the clock ahead by ``candles`` periods of the first stream (those candles are never streamed)."""
        tf = next(iter(self._series.values())).tf
        self.replay.jump(candles * tf)

    # ---- REST ----------------------------------------------------------------------------------------

    def _routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/api/v3/ping", self._ping),
            web.get("/api/v3/time", self._time),
            web.get("/api/v3/exchangeInfo", self._exchange_info),
            web.get("/api/v3/klines", self._klines),
            web.get("/ws", self._websocket),
            web.get("/ws/{streams:.*}", self._websocket),
            web.get("/stream", self._websocket),
            web.get("/stream/{rest:.*}", self._websocket),
        ]

    @web.middleware
    async def _rest_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)  # type: ignore[no-any-return]
        if self._rest_faults:
            status, retry_after = self._rest_faults.popleft()
            self.requests.append((time.monotonic(), request.path, dict(request.query), status))
            return _error_response(status, retry_after)
        response: web.StreamResponse = await handler(request)
        self.requests.append((time.monotonic(), request.path, dict(request.query), response.status))
        return response

    async def _ping(self, request: web.Request) -> web.Response:
        return _json({})

    async def _time(self, request: web.Request) -> web.Response:
        return _json({"serverTime": self.now_ms()})

    async def _exchange_info(self, request: web.Request) -> web.Response:
        tick, step, notional = self._filters
        symbols = []
        for symbol_id, unified in self._symbols.items():
            base, quote = unified.split("/")
            symbols.append({
                "symbol": symbol_id, "status": "TRADING", "baseAsset": base, "baseAssetPrecision": 8,
                "quoteAsset": quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
                               "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True, "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": True, "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000", "tickSize": tick},
                    {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000.00000000", "stepSize": step},
                    {"filterType": "ICEBERG_PARTS", "limit": 10},
                    {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": "100.00000000",
                     "stepSize": "0.00000000"},
                    {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
                     "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000},
                    {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5", "bidMultiplierDown": "0.2",
                     "askMultiplierUp": "5", "askMultiplierDown": "0.2", "avgPriceMins": 5},
                    {"filterType": "NOTIONAL", "minNotional": notional, "applyMinToMarket": True,
                     "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
                    {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
                ],
                "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
            })  # fmt: skip
        return _json({
            "timezone": "UTC", "serverTime": self.now_ms(),
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
            ],
            "exchangeFilters": [], "symbols": symbols,
        })  # fmt: skip

    async def _klines(self, request: web.Request) -> web.Response:
        q = request.query
        symbol, interval = q.get("symbol"), q.get("interval")
        if not symbol or not interval:
            name = "symbol" if not symbol else "interval"
            return _json({"code": -1102, "msg": f"Mandatory parameter '{name}' was not sent, was empty/null, or "
                          "malformed."}, status=400)  # fmt: skip
        series = self._series.get(f"{symbol.lower()}@kline_{interval}")
        if series is None:
            if symbol not in self._symbols:
                return _json({"code": -1121, "msg": "Invalid symbol."}, status=400)
            return _json({"code": -1120, "msg": "Invalid interval."}, status=400)
        try:
            limit = int(q.get("limit", "500"))
            start = int(q["startTime"]) if "startTime" in q else None
            end = int(q["endTime"]) if "endTime" in q else None
        except ValueError:
            return _json({"code": -1100, "msg": "Illegal characters found in a parameter."}, status=400)
        if not 1 <= limit <= 1000:
            return _json({"code": -1130, "msg": "Invalid data sent for a parameter."}, status=400)
        now = self.now_ms()
        opened = bisect.bisect_right(series.opens, now)  # candles [0, opened) have opened by now
        hi = opened if end is None else min(opened, bisect.bisect_right(series.opens, end))
        if start is not None:
            lo = bisect.bisect_left(series.opens, start)
            picked = range(lo, min(hi, lo + limit))
        else:
            picked = range(max(0, hi - limit), hi)
        rows = []
        for i in picked:
            t = series.opens[i]
            if t + series.tf <= now:
                rows.append(kline_row(series, i, _FINAL, self._updates))
            else:  # the candle still forming, as Binance returns it: its values so far
                step = min(self._updates - 1, (now - t) * self._updates // series.tf)
                rows.append(kline_row(series, i, step, self._updates))
        return _json(rows)

    # ---- WebSocket -------------------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.ws_connections += 1
        conn = _Connection(ws, request.transport, combined=request.path.startswith("/stream"))
        names = request.query.get("streams", "") if conn.combined else request.match_info.get("streams", "")
        conn.streams = [s for s in names.split("/") if s in self._series]
        self._connections.append(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_request(conn, msg.data)
        finally:
            self._connections.remove(conn)
        return ws

    async def _on_request(self, conn: _Connection, text: str) -> None:
        try:
            req = json.loads(text)
            method, params, rid = req["method"], req.get("params", []), req["id"]
        except (ValueError, KeyError, TypeError):
            await conn.ws.send_str(_dumps({"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 "
                                           "column 1"}}))  # fmt: skip
            return
        result: Any = None
        if method == "SUBSCRIBE":
            for name in params:
                if name in self._series and name not in conn.streams:
                    conn.streams.append(name)
        elif method == "UNSUBSCRIBE":
            for name in params:
                if name in conn.streams:
                    conn.streams.remove(name)
                    conn.last.pop(name, None)
        elif method == "LIST_SUBSCRIPTIONS":
            result = list(conn.streams)
        else:
            await conn.ws.send_str(_dumps({"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
                                           "id": rid}))  # fmt: skip
            return
        await conn.ws.send_str(_dumps({"result": result, "id": rid}))

    async def _publish(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            now = self.now_ms()
            for conn in list(self._connections):
                for name in list(conn.streams):
                    for message in self._due(conn, name, now):
                        try:
                            await self._send(conn, message)
                        except (ConnectionError, RuntimeError):
                            break

    def _due(self, conn: _Connection, name: str, now: int) -> list[str]:
        """The messages of stream ``name`` that ``conn`` is owed at ``now``; records what it was sent."""
        series, steps = self._series[name], self._updates
        j = series.index_at(now)
        step = None if j is None else min(steps - 1, (now - series.opens[j]) * steps // series.tf)
        last = conn.last.get(name)
        out: list[tuple[int, int]] = []
        if last is None:
            if j is not None and step is not None:
                out.append((j, step))
        else:
            i, sent = last
            if j == i and step is not None and step > sent:
                out.append((j, step))
            elif j != i and sent != _FINAL:
                close = series.opens[i] + series.tf
                if close <= now < close + series.tf:  # its close has just passed (not a clock jump over it)
                    out.append((i, _FINAL))
                if j is not None and step is not None:
                    out.append((j, step))
            elif j is not None and j != i and step is not None:
                out.append((j, step))
        messages = []
        for i, s in out:
            conn.last[name] = (i, s)
            if s == _FINAL:
                self.sent_finals += 1
            messages.append(self._event(name, series, i, s, now, conn.combined))
        return messages

    def _event(self, name: str, series: _Series, i: int, step: int, now: int, combined: bool) -> str:
        row = kline_row(series, i, step, self._updates)
        first = i * 1000
        k = {
            "t": row[0], "T": row[6], "s": series.symbol_id, "i": series.interval, "f": first, "L": first + row[8] - 1,
            "o": row[1], "c": row[4], "h": row[2], "l": row[3], "v": row[5], "n": row[8], "x": step == _FINAL,
            "q": row[7], "V": row[9], "Q": row[10], "B": "0",
        }  # fmt: skip
        data = {"e": "kline", "E": now, "s": series.symbol_id, "k": k}
        return _dumps({"stream": name, "data": data} if combined else data)

    async def _send(self, conn: _Connection, text: str) -> None:
        if time.monotonic() < self._stall_until:
            return
        if self._malformed > 0:
            self._malformed -= 1
            text = text[: len(text) // 2]
        copies = 1
        if self._duplicate > 0:
            self._duplicate -= 1
            copies = 2
        if self._reorder > 0 and conn.held is None:
            self._reorder -= 1
            conn.held = text
            return
        for _ in range(copies):
            await conn.ws.send_str(text)
        if conn.held is not None:
            held, conn.held = conn.held, None
            await conn.ws.send_str(held)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(text=_dumps(value), status=status, content_type="application/json",
                        headers={"x-mbx-used-weight": "2", "x-mbx-used-weight-1m": "2"})  # fmt: skip


def _error_response(status: int, retry_after: float | None) -> web.Response:
    if status in (418, 429):
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        msg = "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. Please use the " \
              "websocket for live updates to avoid polling the API."  # fmt: skip
        return web.Response(text=_dumps({"code": -1003, "msg": msg}), status=status,
                            content_type="application/json", headers=headers)  # fmt: skip
    if status == 500:
        return _json({"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
                     status=500)  # fmt: skip
    # 502/503/504 come from the edge in front of the API, as an HTML page
    return web.Response(text=f"<html><body><h1>{status} Service Unavailable</h1></body></html>", status=status,
                        content_type="text/html")  # fmt: skip
