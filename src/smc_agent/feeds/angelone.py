"""Indian equities and futures from Angel One: REST history, then the live tick feed, built into candles here.

:class:`AngelOneFeed` is the :class:`~smc_agent.feeds.Feed` for symbols on NSE/BSE/MCX through Angel One's
SmartAPI (``pip install smc-agent[angelone]``; imported only when the feed is built, see
:mod:`smc_agent.feeds.angelone_client`):

1. **Login** with a TOTP (``pyotp``, at ``wall_clock``'s time: the real one, which is ``clock`` unless the
   market clock is a replay), and again once whenever a call says the session expired.
2. **Backfill** each stream by ``getCandleData`` from its stored cursor (on a first start, ``history_days``
   back), IST on the wire, epoch ms UTC here.
3. **Stream** ``SmartWebSocketV2`` in QUOTE mode: binary little-endian packets (prices in paise, the exchange's
   timestamp in ms, the day's cumulative volume). Each tick goes to our
   :class:`~smc_agent.feeds.candles.CandleBuilder`, which closes a candle at the first tick of a later period
   or when its period plus ``grace_ms`` has passed on the clock. A candle's volume is the growth of the day's
   volume over its ticks.
4. **Recover.** The socket runs in a thread; when it closes or goes silent for ``stall_timeout_s`` while the
   market is open, it is reconnected after an exponential backoff with jitter, and a breaker opens after
   ``breaker_threshold`` failures in a row (:mod:`smc_agent.feeds.resilience`: health DOWN, DEGRADED or
   CONNECTED, logged once per change). The first candle built after a (re)connect began before the socket
   was open, so its ticks are incomplete: it is taken from REST instead, once it has closed, together with
   any candles missed while the socket was down.

**Session rule** (:mod:`smc_agent.feeds.market_hours`): the market trades 09:15 to 15:30 IST on weekdays that
are not holidays (``holidays``; ``special_days`` for a weekend session). A candle that is not wholly inside a
session, from history or from ticks, is dropped and counted (:attr:`AngelOneFeed.dropped`), never delivered,
and one line is logged when a run of such candles begins. Live timeframes are those whose epoch-aligned
buckets fit the 09:15 open (1m, 3m, 5m, 15m); higher ones come from our aggregator.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from smc_agent.core.clock import Clock, Timers
from smc_agent.core.errors import ConfigError
from smc_agent.core.logs import get_logger
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.events import CandleClosed
from smc_agent.feeds import FeedHealth
from smc_agent.feeds.angelone_client import (
    AngelOneAuthError,
    AngelOneClient,
    AngelOneCredentials,
    interval_of,
    load_smartapi,
    quiet_library,
)
from smc_agent.feeds.candles import CandleBuilder
from smc_agent.feeds.market_hours import NSE_HOURS, MarketHours, SessionFilter
from smc_agent.feeds.resilience import Breaker, HealthTracker, backoff, next_wait, retry

__all__ = ["EXCHANGE_TYPES", "LIVE_TIMEFRAMES", "AngelOneFeed", "AngelOneSymbol", "AngelOneTuning"]

_log = get_logger(__name__)
T = TypeVar("T")

# Angel One exchange segment -> SmartWebSocketV2 exchange type.
EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "NCDEX": 7, "CDS": 13}
LIVE_TIMEFRAMES = ("1m", "3m", "5m", "15m")
_QUOTE_MODE = 2


@dataclass(frozen=True, slots=True)
class AngelOneSymbol:
    """One instrument: our name for it, Angel One's symbol token and its exchange segment."""

    symbol: str
    token: str
    exchange: str = "NFO"

    @property
    def price_divisor(self) -> float:
        """Tick prices are integers: paise (/100), or for currency derivatives 1e-7 rupees."""
        return 1e7 if self.exchange == "CDS" else 100.0


@dataclass(frozen=True, slots=True)
class AngelOneTuning:
    """How patient the feed is; ``grace_ms`` is market time, the others wall seconds."""

    history_days: int = 30
    grace_ms: int = 2_000
    stall_timeout_s: float = 60.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter_s: float = 0.5
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    poll_s: float = 0.25


class _FeedTimers(Timers):
    """The builders' close timers, read on the feed's clock and fired by the feed's own poll."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    def now_ms(self) -> int:
        return self._clock.now_ms() if self._reading is None else self._reading


class _Stream:
    def __init__(self, sym: AngelOneSymbol, timeframe: str, cursor: int | None, filt: SessionFilter) -> None:
        self.sym, self.timeframe, self.cursor, self.filter = sym, timeframe, cursor, filt
        self.tf = parse_timeframe(timeframe)
        self.name = f"{sym.symbol}@{timeframe}"
        self.builder: CandleBuilder | None = None
        self.queue: asyncio.Queue[CandleClosed] = asyncio.Queue()


class AngelOneFeed:
    def __init__(
        self,
        credentials: AngelOneCredentials,
        symbols: Sequence[AngelOneSymbol],
        timeframes: Sequence[str] = ("15m",),
        *,
        clock: Clock,
        wall_clock: Clock | None = None,
        hours: MarketHours = NSE_HOURS,
        holidays: Sequence[date | str] = (),
        special_days: Sequence[date | str] = (),
        cursors: Mapping[str, int] | None = None,
        root_url: str | None = None,
        ws_url: str | None = None,
        tuning: AngelOneTuning = AngelOneTuning(),
        client: AngelOneClient | None = None,
    ) -> None:
        if not symbols or not timeframes:
            raise ValueError("an Angel One feed needs at least one symbol and one timeframe")
        for tf in timeframes:
            interval_of(tf)
            if tf not in LIVE_TIMEFRAMES:
                raise ConfigError(f"Angel One live candles are built for {', '.join(LIVE_TIMEFRAMES)}, not {tf!r}; "
                                  "higher timeframes come from the aggregator", key="tf")  # fmt: skip
        for sym in symbols:
            if sym.exchange not in EXCHANGE_TYPES:
                raise ConfigError(f"unknown Angel One exchange {sym.exchange!r}; one of {', '.join(EXCHANGE_TYPES)}",
                                  key="exchange")  # fmt: skip
        self._smartapi = load_smartapi()
        self._clock, self._tuning, self._ws_url = clock, tuning, ws_url
        self._hours = hours.with_holidays([*hours.holidays, *holidays], [*hours.special_days, *special_days])
        self._client = client or AngelOneClient(
            credentials, wall=wall_clock or clock, root_url=root_url, hours=self._hours
        )
        cursors = dict(cursors or {})
        self._streams: dict[str, _Stream] = {}
        for sym in symbols:
            for tf in timeframes:
                name = f"{sym.symbol}@{tf}"
                filt = SessionFilter(self._hours, name, parse_timeframe(tf))
                self._streams[name] = _Stream(sym, tf, cursors.get(name), filt)
        self._by_token = {(EXCHANGE_TYPES[s.exchange], s.token): s for s in symbols}
        self._day_volume: dict[str, tuple[date, float]] = {}  # token -> (IST day, cumulative volume seen)
        self._timers = _FeedTimers(clock)
        self._out: asyncio.Queue[CandleClosed | BaseException] = asyncio.Queue()
        self._health = HealthTracker("angelone")
        self._rest_breaker = self._health.watch(Breaker("rest", tuning.breaker_threshold, tuning.breaker_reset_s))
        self._ws_breaker = self._health.watch(Breaker("stream", tuning.breaker_threshold, tuning.breaker_reset_s))
        self._rest_counts: dict[str, int] = {}
        self._wait = backoff(tuning.backoff_initial_s, tuning.backoff_max_s, tuning.backoff_jitter_s)
        self._socket: Any = None
        self._connected_at: int | None = None  # market time the current socket subscribed
        self._message_at = 0.0
        self._got_tick = False
        self._tasks: list[asyncio.Task[None]] = []
        self.stats = {"ticks": 0, "late_ticks": 0, "reconnects": 0, "stalls": 0, "rest_retries": 0,
                      "from_rest": 0, "duplicates": 0}  # fmt: skip

    # ---- the Feed port ---------------------------------------------------------------------------------

    @property
    def health(self) -> FeedHealth:
        return self._health.health

    @property
    def health_changes(self) -> list[tuple[FeedHealth, str]]:
        return list(self._health.changes)

    @property
    def hours(self) -> MarketHours:
        return self._hours

    @property
    def cursors(self) -> dict[str, int]:
        return {n: s.cursor for n, s in self._streams.items() if s.cursor is not None}

    @property
    def dropped(self) -> dict[str, int]:
        """Candles dropped by the session rule, per stream."""
        return {n: s.filter.dropped for n, s in self._streams.items()}

    async def closed(self) -> AsyncIterator[CandleClosed]:
        await self.start()
        try:
            while True:
                item = await self._out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await self.aclose()

    def forming(self, symbol: str, timeframe: str) -> CandleClosed | None:
        stream = self._streams.get(f"{symbol}@{timeframe}")
        return stream.builder.forming() if stream is not None and stream.builder is not None else None

    # ---- history ---------------------------------------------------------------------------------------

    async def history(self, symbol: str, timeframe: str, from_ms: int, to_ms: int) -> list[CandleClosed]:
        """The session candles of ``symbol`` opened in ``[from_ms, to_ms]`` and closed by now, oldest first
        (candles outside the session are dropped and counted, as live)."""
        stream = self._streams[f"{symbol}@{timeframe}"]
        rows = await self._rest(f"candles of {stream.name}", lambda: self._client.candles(
            stream.sym.exchange, stream.sym.token, timeframe, from_ms, to_ms))  # fmt: skip
        now = self._clock.now_ms()
        out = []
        for row in rows:
            t = self._hours.to_utc_ms(str(row[0]))
            if t + stream.tf > now or not stream.filter.keep(t):
                continue
            o, h, lo, c, v = (float(x) for x in row[1:6])
            out.append(CandleClosed(t + stream.tf, now, stream.sym.symbol, timeframe, t, o, h, lo, c, v))
        return out

    # ---- life ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._run(), name="angelone feed"),
                           asyncio.create_task(self._poll(), name="angelone timers")]  # fmt: skip

    async def aclose(self) -> None:
        self._close_socket()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for stream in self._streams.values():
            if stream.builder is not None:
                stream.builder.stop()

    async def _run(self) -> None:
        try:
            await self._rest("login", self._client.login)
            for stream in self._streams.values():
                since = stream.cursor
                if since is None:
                    since = self._clock.now_ms() - self._tuning.history_days * 86_400_000
                await self._deliver_rest(stream, since, self._clock.now_ms())
                self._tasks.append(asyncio.create_task(self._worker(stream), name=f"angelone {stream.name}"))
            self._health.ready()
            await self._stream_forever()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a refused login, a bad token: the session must hear of it
            _log.error("Angel One feed stopped", error=str(error))
            self._out.put_nowait(error)

    async def _stream_forever(self) -> None:
        attempt = 0
        while True:
            reason = await self._stream_session()
            self.stats["stalls" if reason.startswith("no tick") else "reconnects"] += 1
            self._health.open("stream", reason)
            if self._got_tick:
                attempt = 0
                self._ws_breaker.success()
            else:
                self._ws_breaker.failure()
            attempt += 1
            self._health.refresh()
            await asyncio.sleep(next_wait(self._ws_breaker, self._wait, attempt))

    async def _stream_session(self) -> str:
        """Run one socket until it closes or stalls; why it ended."""
        loop = asyncio.get_running_loop()
        ws_cls = self._smartapi.smartWebSocketV2.SmartWebSocketV2
        c = self._client.credentials
        socket = ws_cls(self._client.jwt, c.api_key, c.client_code, self._client.feed_token, max_retry_attempt=0)
        quiet_library()
        socket.input_request_dict = {}  # a class attribute in the library, shared by every instance
        if self._ws_url:
            socket.ROOT_URI = self._ws_url
        tokens: dict[int, list[str]] = {}
        for ex_type, token in self._by_token:
            tokens.setdefault(ex_type, []).append(token)
        token_list = [{"exchangeType": k, "tokens": v} for k, v in tokens.items()]

        def on_open(wsapp: Any) -> None:
            socket.subscribe("smcagent", _QUOTE_MODE, token_list)
            loop.call_soon_threadsafe(self._on_open)

        socket.on_open = on_open
        socket.on_data = lambda wsapp, data: loop.call_soon_threadsafe(self._on_tick, data)
        socket.on_error = lambda *args: None  # the thread ends and says why; the library's retries are off
        socket.on_close = lambda wsapp: None
        self._socket, self._got_tick, self._connected_at = socket, False, None
        self._message_at = loop.time()
        runner = asyncio.ensure_future(asyncio.to_thread(socket.connect))
        try:
            while True:
                done, _ = await asyncio.wait([runner], timeout=self._tuning.stall_timeout_s / 4)
                if done:
                    error = runner.exception()
                    return f"stream lost: {type(error).__name__}: {error}"[:300] if error else "stream closed"
                silent = loop.time() - self._message_at
                if silent > self._tuning.stall_timeout_s and self._hours.is_open(self._clock.now_ms()):
                    return f"no tick for {silent:.1f} s while the market is open"
        finally:
            self._close_socket()
            await asyncio.gather(runner, return_exceptions=True)

    def _close_socket(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None and socket.wsapp is not None:
            socket.close_connection()

    def _on_open(self) -> None:
        self._connected_at = self._clock.now_ms()
        self._message_at = asyncio.get_running_loop().time()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._tuning.poll_s)
            self._timers.fire_due(self._clock.now_ms())

    # ---- ticks -----------------------------------------------------------------------------------------

    def _on_tick(self, data: Mapping[str, Any]) -> None:
        sym = self._by_token.get((int(data.get("exchange_type", -1)), str(data.get("token"))))
        if sym is None or "last_traded_price" not in data:
            return
        self._message_at = asyncio.get_running_loop().time()
        if not self._got_tick:
            self._got_tick = True
            self._ws_breaker.success()
            self._health.close("stream")
            self._health.ready()
        self.stats["ticks"] += 1
        t = int(data["exchange_timestamp"])
        price = int(data["last_traded_price"]) / sym.price_divisor
        volume = self._volume(sym.token, t, float(data.get("volume_trade_for_the_day", 0)))
        for stream in self._streams.values():
            if stream.sym is sym:
                if stream.builder is None:
                    stream.builder = CandleBuilder(sym.symbol, stream.timeframe, self._timers,
                                                   stream.queue.put_nowait, grace_ms=self._tuning.grace_ms)  # fmt: skip
                if not stream.builder.add_trade(t, price, volume):
                    self.stats["late_ticks"] += 1

    def _volume(self, token: str, t: int, day_total: float) -> float:
        """The volume traded since the token's previous tick: the growth of the day's cumulative volume.

        On the first tick of a day the baseline is 0 when the socket was open before that day's session
        began (it saw the whole day), else the tick's own total (what traded before is not ours to count)."""
        day = self._hours.local(t).date()
        seen = self._day_volume.get(token)
        if seen is None or seen[0] != day:
            day_open = self._hours.next_open(self._hours.to_utc_ms(f"{day.isoformat()} 00:00"))
            whole_day = self._connected_at is not None and self._connected_at <= day_open
            base = 0.0 if whole_day else day_total
        else:
            base = seen[1]
        self._day_volume[token] = (day, max(base, day_total))
        return max(0.0, day_total - base)

    # ---- delivering ------------------------------------------------------------------------------------

    async def _worker(self, stream: _Stream) -> None:
        """Deliver one stream's built candles in order; partial ones and gaps are filled from REST first."""
        while True:
            candle = await stream.queue.get()
            if stream.cursor is not None and candle.time < stream.cursor:
                self.stats["duplicates"] += 1
                continue
            partial = self._connected_at is None or candle.time < self._connected_at
            gap = stream.cursor is not None and self._session_candles_between(stream, stream.cursor, candle.time)
            if partial or gap:
                last = candle.time if partial else candle.time - stream.tf
                await self._deliver_rest(stream, stream.cursor if stream.cursor is not None else candle.time, last)
                if stream.cursor is not None and stream.cursor > candle.time:
                    continue  # REST delivered it
                if partial:
                    _log.warning("candle not confirmed by REST; delivering the ticks' values", stream=stream.name,
                                 candle=self._hours.format_local(candle.time))  # fmt: skip
            if stream.filter.keep(candle.time):
                self._emit(stream, candle)

    def _session_candles_between(self, stream: _Stream, start: int, end: int) -> bool:
        """Whether a session candle opens in ``[start, end)`` (closed hours are skipped, not walked)."""
        t = start
        while t < end:
            if self._hours.contains(t, stream.tf):
                return True
            t = t + stream.tf if self._hours.is_open(t) else max(t + stream.tf, self._hours.next_open(t))
        return False

    async def _deliver_rest(self, stream: _Stream, since: int, last_open: int) -> None:
        for candle in await self.history(stream.sym.symbol, stream.timeframe, since, last_open):
            if stream.cursor is None or candle.time >= stream.cursor:
                self.stats["from_rest"] += 1
                self._emit(stream, candle)

    def _emit(self, stream: _Stream, candle: CandleClosed) -> None:
        stream.cursor = candle.time + stream.tf
        self._out.put_nowait(candle)

    async def _rest(self, what: str, call: Callable[[], T]) -> T:
        """``call`` in a thread, retried with backoff on anything but a refused login; the breaker counts."""
        try:
            return await retry(what, lambda: asyncio.to_thread(call), health=self._health, breaker=self._rest_breaker,
                               wait=self._wait, retry_on=Exception, fatal=(AngelOneAuthError, ConfigError),
                               counts=self._rest_counts)  # fmt: skip
        finally:
            self.stats["rest_retries"] = self._rest_counts.get("retries", 0)
