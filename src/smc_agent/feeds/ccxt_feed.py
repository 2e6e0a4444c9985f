"""Live candles from an exchange through CCXT: REST backfill, then the ccxt.pro stream, recovering by itself.

:class:`CcxtFeed` is the :class:`~smc_agent.feeds.Feed` of live data, for many symbols x timeframes on one
exchange (``binance`` by default, any ccxt.pro exchange by name):

1. **Backfill.** For each stream, from its stored cursor (the close time of the last candle handled), or
   on a first start ``warmup`` candles back, by REST ``fetch_ohlcv`` paged with ``since`` and ``until``.
2. **Stream.** ``watch_ohlcv`` per stream (ccxt shares one connection between them). Closing rules are in
   :mod:`smc_agent.feeds.stream_state`: ccxt.pro drops Binance's closed flag and repeats the open candle,
   so a candle counts as closed when a newer one arrives or when its period plus ``grace_ms`` has passed
   on the clock. On Binance-format streams the feed also reads the flag from the raw kline event, so it
   knows when a final update was lost or came out of order, and then confirms that candle by REST. Only
   closed candles reach :meth:`closed`; the one forming is :meth:`forming`.
3. **Recover.** A dropped connection, an error from the stream, or silence for ``stall_timeout_s`` (a
   stall, or ccxt's reader stopped by malformed JSON) closes the sockets; after an exponential backoff
   with jitter the gap since each cursor is backfilled by REST, then streaming resumes. A candle beyond
   the cursor with candles missing in between (a clock jump, lost messages) fills that gap by REST first.
   Duplicates are dropped; out-of-order updates of delivered candles are rejected with a log line.
   REST calls are retried on network errors, 429 (waiting at least its ``Retry-After``) and 5xx, under
   ccxt's own rate limiter (``enableRateLimit``, ``rate_limit_ms``). ``breaker_threshold`` failures in a
   row open a circuit breaker: the feed is DOWN and tries again every ``breaker_reset_s``.
4. **Health.** :attr:`health` is DOWN before the first data and while a breaker is open, DEGRADED while a
   fault is being handled, CONNECTED otherwise, logged once per change of state
   (:mod:`smc_agent.feeds.resilience`).

Each candle is delivered as a :class:`~smc_agent.events.CandleClosed` whose ``event_ms`` is its close and
``known_ms`` the clock's time when the feed handed it on. Per stream they come in close-time order,
without gaps the exchange can fill and without repeats; :attr:`cursors` is what to store.

``urls`` points the real ccxt client elsewhere (a testnet, a gateway, the loopback fake in the tests):
``{"rest": base, "ws": base}`` replaces the exchange's public REST base and its spot WebSocket base, and
``{"api": {...}}`` is merged into ccxt's own ``exchange.urls["api"]`` for any other key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from smc_agent.core.ccxt_client import apply_urls, make_client, market_steps
from smc_agent.core.clock import Clock
from smc_agent.core.errors import ConfigError
from smc_agent.core.logs import get_logger
from smc_agent.events import CandleClosed
from smc_agent.feeds import FeedHealth
from smc_agent.feeds.resilience import Breaker, HealthTracker, backoff, wait_for
from smc_agent.feeds.stream_state import Bar, StreamState
from smc_agent.model.instrument import Instrument

__all__ = ["CcxtFeed", "FeedTuning", "retry_after"]

_log = get_logger(__name__)
_CLOSE_TIMEOUT_S = 5.0  # for the feed's tasks to end and the client's connections to close
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FeedTuning:
    """How patient the feed is. The defaults suit a live exchange; the tests shrink them to a replay's pace.

    ``grace_ms`` is market time (the clock's); the others are wall seconds.
    """

    warmup: int = 500  # candles of history per stream on a first start
    grace_ms: int = 2_000  # after a period ends, how long its final update may take to arrive
    stall_timeout_s: float = 60.0  # no message for this long: the stream is reconnected
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_jitter_s: float = 0.5
    breaker_threshold: int = 5
    breaker_reset_s: float = 30.0
    poll_s: float = 0.5  # how often a quiet stream checks whether its candle's period has passed
    page_limit: int = 1000  # candles per REST page


class _Stalled(Exception):
    pass


class _Fill:
    """A request to a stream's worker: backfill by REST up to now, then set ``done``."""

    def __init__(self) -> None:
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class CcxtFeed:
    def __init__(
        self,
        exchange: str = "binance",
        symbols: Sequence[str] = ("BTC/USDT",),
        timeframes: Sequence[str] = ("1m",),
        *,
        cursors: Mapping[str, int] | None = None,
        urls: Mapping[str, Any] | None = None,
        clock: Clock,
        testnet: bool = False,
        rate_limit_ms: int | None = None,
        tuning: FeedTuning = FeedTuning(),
        options: Mapping[str, Any] | None = None,
        client: Any | None = None,
    ) -> None:
        if not symbols or not timeframes:
            raise ValueError("a ccxt feed needs at least one symbol and one timeframe")
        self._exchange_name, self._clock, self._tuning = exchange, clock, tuning
        self._ex = client if client is not None else make_client(exchange, testnet, rate_limit_ms, options)
        if urls:
            apply_urls(self._ex, urls)
        self._flags = _install_flag_hook(self._ex, self._on_raw_kline)
        cursors = dict(cursors or {})
        self._states: dict[str, StreamState] = {}
        for symbol in symbols:
            for tf in timeframes:
                name = f"{symbol}@{tf}"
                self._states[name] = StreamState(symbol, tf, cursor=cursors.get(name), grace_ms=tuning.grace_ms,
                                                 flags=self._flags)  # fmt: skip
        self._queues: dict[str, asyncio.Queue[Bar | _Fill]] = {}
        self._by_wire: dict[tuple[str, str], str] = {}  # (market id, interval) -> stream name
        self._out: asyncio.Queue[CandleClosed] = asyncio.Queue()
        self._health = HealthTracker(exchange)
        self._rest_breaker = self._health.watch(Breaker("rest", tuning.breaker_threshold, tuning.breaker_reset_s))
        self._ws_breaker = self._health.watch(Breaker("stream", tuning.breaker_threshold, tuning.breaker_reset_s))
        self._wait = backoff(tuning.backoff_initial_s, tuning.backoff_max_s, tuning.backoff_jitter_s)
        self._message_at = 0.0  # set when a stream session starts
        self._got_message = False
        self._tasks: list[asyncio.Task[None]] = []
        self._runner: asyncio.Task[None] | None = None
        self._late_run = False
        self._finals: list[Callable[[str, int], None]] = []
        self.stats = {"reconnects": 0, "stalls": 0, "rest_calls": 0, "rest_retries": 0, "gap_fills": 0,
                      "confirmed_by_rest": 0}  # fmt: skip

    # ---- the Feed port ---------------------------------------------------------------------------------

    @property
    def health(self) -> FeedHealth:
        return self._health.health

    @property
    def health_changes(self) -> list[tuple[FeedHealth, str]]:
        """Every change of health, in order, with its reason (what the log says)."""
        return list(self._health.changes)

    def on_final(self, listener: Callable[[str, int], None]) -> None:
        """Call ``listener(stream, open_ms)`` when a candle's closing update arrives on the socket (Binance-format
        streams): where ``bench feed`` measures the latency to what the candle causes."""
        self._finals.append(listener)

    def on_health(self, listener: Callable[[FeedHealth, FeedHealth, str, int], None]) -> None:
        """Call ``listener(new, previous, reason, at_ms)`` at each change of health (``at_ms``: the feed's clock)."""
        self._health.listeners.append(lambda new, old, reason: listener(new, old, reason, self._clock.now_ms()))

    @property
    def name(self) -> str:
        """The exchange's name: what the health is reported under."""
        return self._exchange_name

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self._states)

    @property
    def cursors(self) -> dict[str, int]:
        """Each stream's last delivered close time (``SYMBOL@TF`` -> ms), for the store."""
        return {name: s.cursor for name, s in self._states.items() if s.cursor is not None}

    @property
    def counts(self) -> dict[str, int]:
        """Updates dropped, summed over the streams: duplicates, late (changed) and stale (after a final)."""
        states = self._states.values()
        return {"duplicates": sum(s.duplicates for s in states), "late": sum(s.late for s in states),
                "stale": sum(s.stale for s in states)}  # fmt: skip

    async def closed(self) -> AsyncIterator[CandleClosed]:
        await self.start()
        try:
            while True:
                candle = await self._out.get()
                yield candle
        finally:
            await self.aclose()

    def forming(self, symbol: str, timeframe: str) -> CandleClosed | None:
        state = self._states.get(f"{symbol}@{timeframe}")
        bar = state.forming() if state is not None else None
        if state is None or bar is None:
            return None
        return self._candle(state, bar)

    def resumed(self, cursors: Mapping[str, int]) -> CcxtFeed:
        """This feed with each named stream from after its cursor (``SYMBOL@TF`` -> the close of its last
        handled candle), set before it starts: a restart backfills only the gap since then."""
        if self._runner is not None:
            raise RuntimeError("a feed's cursors are set before it starts")
        for name, ms in cursors.items():
            state = self._states.get(name)
            if state is not None:
                state.cursor = ms
        return self

    async def instruments(self) -> dict[str, Instrument]:
        """What the exchange says each symbol trades in (tick, lot, minimum notional, quote currency), from
        its markets, loaded by REST with the feed's retries. A symbol it does not list is a ConfigError."""
        import ccxt

        await self._rest("load markets", self._ex.load_markets)
        found: dict[str, Instrument] = {}
        for symbol in dict.fromkeys(state.symbol for state in self._states.values()):
            try:
                found[symbol] = _instrument(self._ex, symbol)
            except ccxt.BadSymbol:
                raise ConfigError(f"{self._exchange_name} has no market {symbol!r}", key="symbols") from None
        return found

    async def history(self, count: int) -> list[CandleClosed]:
        """The last ``count`` closed candles of each stream, by REST, in close-time order (a close shared by
        several streams in stream order): what a first start learns from before it streams. Each stream's
        cursor is then its last candle, so the stream continues from there without a gap or a repeat."""
        await self._rest("load markets", self._ex.load_markets)
        now = self._clock.now_ms()
        for state in self._states.values():
            current = now // state.tf * state.tf
            await self._fetch_into(state, current - count * state.tf, current - state.tf)
        got: list[CandleClosed] = []
        while not self._out.empty():
            got.append(self._out.get_nowait())
        return sorted(got, key=lambda c: c.event_ms)  # stable: the streams' order within a close

    # ---- life ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start backfilling and streaming in the background (``closed()`` calls it)."""
        if self._runner is None:
            for name in self._states:
                self._queues[name] = asyncio.Queue()
            self._runner = asyncio.create_task(self._run(), name=f"ccxt feed {self._exchange_name}")

    async def aclose(self) -> None:
        """Stop the tasks and close the client's connections."""
        tasks = [t for t in [self._runner, *self._tasks] if t is not None]
        for task in tasks:
            task.cancel()
        # Bounded: a task stuck in a socket that is half gone, or ccxt waiting for a close handshake the other
        # side never sends, must not hold a stopping agent (nor a test) for ever.
        _, stuck = await asyncio.wait(tasks, timeout=_CLOSE_TIMEOUT_S) if tasks else (set(), set())
        self._runner, self._tasks = None, []
        try:
            await asyncio.wait_for(self._ex.close(), _CLOSE_TIMEOUT_S)
        except Exception as error:  # closing is best effort (a timeout included): the process may be ending anyway
            _log.warning("the exchange client did not close cleanly", error=f"{type(error).__name__}: {error}"[:200],
                         stuck_tasks=len(stuck))  # fmt: skip

    async def _run(self) -> None:
        await self._rest("load markets", self._ex.load_markets)
        for name, state in self._states.items():
            market = self._ex.market(state.symbol)
            interval = (
                self._ex.timeframes.get(state.timeframe, state.timeframe) if self._ex.timeframes else state.timeframe
            )
            self._by_wire[(market["id"], interval)] = name
        self._tasks = [asyncio.create_task(self._worker(name), name=f"feed {name}") for name in self._states]
        await self._fill_all()
        attempt = 0
        while True:
            try:
                await self._stream_session()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                stalled = isinstance(error, _Stalled)
                self.stats["stalls" if stalled else "reconnects"] += 1
                reason = str(error) if stalled else f"stream lost: {type(error).__name__}: {error}"[:300]
                self._health.open("stream", reason)
                if self._got_message:
                    attempt = 0
                    self._ws_breaker.success()
                else:
                    self._ws_breaker.failure()
                attempt += 1
                self._health.refresh()
                await self._close_sockets()
                open_ = self._ws_breaker.is_open
                await asyncio.sleep(self._ws_breaker.reset_s if open_ else wait_for(self._wait, attempt))
                await self._fill_all()

    async def _stream_session(self) -> None:
        self._message_at = _io_now()
        self._got_message = False
        tasks = [asyncio.create_task(self._watch(s)) for s in self._states.values()]
        tasks.append(asyncio.create_task(self._watchdog()))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, state: StreamState) -> None:
        queue = self._queues[state.name]
        while True:
            # On Binance the raw hook takes the updates (with their flag) and this call only subscribes: it
            # returns when the connection fails, with the error the stream session handles.
            rows = await self._ex.watch_ohlcv(state.symbol, state.timeframe)
            self._on_message()
            if not self._flags:
                for row in rows:
                    queue.put_nowait(_bar(row, None))

    async def _watchdog(self) -> None:
        timeout = self._tuning.stall_timeout_s
        while True:
            await asyncio.sleep(timeout / 4)
            silent = _io_now() - self._message_at
            if silent > timeout:
                raise _Stalled(f"no message for {silent:.1f} s (stall timeout {timeout:g} s)")

    def _on_message(self) -> None:
        self._message_at = _io_now()
        if not self._got_message:
            self._got_message = True
            self._ws_breaker.success()
            self._health.close("stream")
            self._health.ready()

    def _on_raw_kline(self, message: Mapping[str, Any]) -> bool:
        """Queue a Binance kline event of one of our streams, with its flag; False for any other message."""
        k = message.get("k")
        if not isinstance(k, Mapping):
            return False
        name = self._by_wire.get((str(k.get("s")), str(k.get("i"))))
        if name is None or name not in self._queues:
            return False
        self._on_message()
        bar = Bar(int(k["t"]), float(k["o"]), float(k["h"]), float(k["l"]), float(k["c"]), float(k["v"]),
                  final=bool(k.get("x")))  # fmt: skip
        if bar.final:
            for listener in self._finals:
                listener(name, bar.time)
        self._queues[name].put_nowait(bar)
        return True

    async def _close_sockets(self) -> None:
        try:
            await self._ex.close_ws_clients()
        except Exception as error:  # a socket that is already broken may fail to close: it is gone anyway
            _log.debug("closing the stream's sockets failed", error=str(error))

    async def _fill_all(self) -> None:
        """Backfill every stream by REST up to now, before streaming (re)starts."""
        fills = []
        for name in self._states:
            fill = _Fill()
            self._queues[name].put_nowait(fill)
            fills.append(fill.done)
        await asyncio.gather(*fills)

    # ---- per-stream worker -----------------------------------------------------------------------------

    async def _worker(self, name: str) -> None:
        state, queue = self._states[name], self._queues[name]
        while True:
            try:
                item: Bar | _Fill | None = await asyncio.wait_for(queue.get(), self._tuning.poll_s)
            except TimeoutError:
                item = None
            if isinstance(item, _Fill):
                try:
                    await self._backfill(state)
                finally:
                    if not item.done.done():  # cancelled with the feed: no one waits for it any more
                        item.done.set_result(None)
                continue
            if item is not None:
                self._offer(state, item)
                while not queue.empty():  # take the burst before deciding what closed
                    nxt = queue.get_nowait()
                    if isinstance(nxt, _Fill):
                        queue.put_nowait(nxt)
                        break
                    self._offer(state, nxt)
            await self._drain(state)

    def _offer(self, state: StreamState, bar: Bar) -> None:
        outcome = state.offer(bar)
        if outcome in ("late", "stale"):
            if not self._late_run:
                self._late_run = True
                _log.warning("out-of-order update rejected", stream=state.name, candle=bar.time, cursor=state.cursor,
                             kind=outcome, late=state.late, stale=state.stale)  # fmt: skip
        elif outcome in ("new", "update") and self._late_run:
            self._late_run = False
            _log.info("updates in order again", stream=state.name, late=state.late, stale=state.stale)

    async def _drain(self, state: StreamState) -> None:
        """Deliver what has closed, filling gaps and confirming lost finals by REST first."""
        while True:
            now = self._clock.now_ms()
            ready = state.closable(now)
            if not ready:
                return
            bar, needs_rest = ready[0]
            gap = state.cursor is not None and bar.time > state.cursor
            trouble = f"gap {state.name}"
            if not gap:
                self._health.close(trouble)
            if not (gap or needs_rest):
                self._emit(state, bar)
                continue
            if gap:
                self.stats["gap_fills"] += 1
                self._health.open(trouble, f"filling candles from {state.cursor} to {bar.time} by REST")
            last = bar.time if needs_rest else bar.time - state.tf
            start = state.cursor if state.cursor is not None else bar.time
            await self._fetch_into(state, start, last)
            if state.cursor is not None and state.cursor > bar.time:
                if needs_rest:
                    self.stats["confirmed_by_rest"] += 1
                self._health.close(trouble)
                continue  # REST delivered it
            if needs_rest and not state.safe(bar.time, now):
                return  # not surely closed on the exchange yet: ask again on the next poll
            if gap and state.cursor is not None and state.cursor < bar.time:
                if not state.safe(bar.time - state.tf, now):
                    return
                _log.info("the exchange has no candles in a gap", stream=state.name, since=state.cursor,
                          until=bar.time)  # fmt: skip
                state.cursor = bar.time
            if needs_rest:
                _log.warning("closed candle not confirmed by REST; delivering the stream's values", stream=state.name,
                             candle=bar.time)  # fmt: skip
            self._health.close(trouble)
            self._emit(state, bar)

    async def _backfill(self, state: StreamState) -> None:
        """Every closed candle since the cursor; one that closed within ``grace_ms`` is waited for, so that
        streaming resumes right after it (no gap to fill once the stream is back)."""
        while True:
            now = self._clock.now_ms()
            current = now // state.tf * state.tf
            settled = state.safe(current - state.tf, now)
            start = state.cursor
            if start is None:
                start = current - self._tuning.warmup * state.tf
            await self._fetch_into(state, start, now)
            if state.cursor is not None and state.cursor >= current:
                if self._clock.now_ms() // state.tf * state.tf == current:
                    return
                continue  # periods ended while the calls were retried: fetch those too
            if settled:
                return  # the exchange has no more candles (a hole in a thin market)
            await asyncio.sleep(self._tuning.poll_s)

    async def _fetch_into(self, state: StreamState, since: int, last_open: int) -> None:
        """Deliver the exchange's closed candles opened in ``[since, last_open]``, paged, in order."""
        cursor = since
        page = self._tuning.page_limit
        while cursor <= last_open:
            at = cursor

            def call(at: int = at) -> Awaitable[list[list[Any]]]:
                return self._ex.fetch_ohlcv(state.symbol, state.timeframe, since=at, limit=page,  # type: ignore[no-any-return]
                                            params={"until": last_open})  # fmt: skip

            rows = await self._rest(f"candles of {state.name}", call)
            now = self._clock.now_ms()
            taken = [r for r in rows if at <= int(r[0]) <= last_open]
            for row in taken:
                t = int(row[0])
                if not state.safe(t, now):
                    return  # the rest is still forming
                if state.cursor is not None and t < state.cursor:
                    continue
                self._emit(state, _bar(row, True))
            if len(rows) < page or not taken:
                return
            cursor = int(taken[-1][0]) + state.tf

    def _emit(self, state: StreamState, bar: Bar) -> None:
        state.deliver(bar)
        self._out.put_nowait(self._candle(state, bar))

    def _candle(self, state: StreamState, bar: Bar) -> CandleClosed:
        return CandleClosed(bar.time + state.tf, self._clock.now_ms(), state.symbol, state.timeframe, bar.time,
                            bar.open, bar.high, bar.low, bar.close, bar.volume)  # fmt: skip

    # ---- REST with retries and a breaker -----------------------------------------------------------------

    async def _rest(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        import ccxt  # the feed's own dependency; imported here so that importing smc_agent.feeds stays light

        attempt = 0
        while True:
            self.stats["rest_calls"] += 1
            try:
                result = await call()
            except asyncio.CancelledError:
                raise
            except ccxt.OperationFailed as error:  # network errors, 429/418, 5xx, timeouts
                attempt += 1
                self.stats["rest_retries"] += 1
                self._rest_breaker.failure()
                self._health.open("rest", f"{what}: {type(error).__name__}")
                wait = self._rest_breaker.reset_s if self._rest_breaker.is_open else wait_for(self._wait, attempt)
                if isinstance(error, ccxt.DDoSProtection):  # 429 and 418: the exchange says how long to wait
                    wait = max(wait, retry_after(self._ex))
                _log.debug("REST call failed; retrying", what=what, attempt=attempt, wait_s=round(wait, 3),
                           error=str(error)[:200])  # fmt: skip
                await asyncio.sleep(wait)
                continue
            if attempt:
                self._rest_breaker.success()
                self._health.close("rest")
            return result


def _io_now() -> float:
    """The event loop's clock, in seconds: network silence is measured as asyncio's own timeouts are.

    It never stamps a candle or decides what closed (the given clock does); it only says how long the
    socket has been quiet, which is a fact about the connection, not about the market."""
    return asyncio.get_running_loop().time()


def _bar(row: Sequence[Any], final: bool | None) -> Bar:
    """A ccxt OHLCV row ``[ms, open, high, low, close, volume]`` as a :class:`Bar`."""
    t, o, h, lo, c, v = row[:6]
    return Bar(int(t), float(o), float(h), float(lo), float(c), float(v), final=final)


def _instrument(exchange: Any, symbol: str) -> Instrument:
    tick, lot = market_steps(exchange, symbol)
    market = exchange.market(symbol)
    least = ((market.get("limits") or {}).get("cost") or {}).get("min")
    return Instrument(symbol, tick, lot, Decimal(str(least)) if least else Decimal(0), str(market.get("quote") or ""))


def retry_after(exchange: Any) -> float:
    headers = getattr(exchange, "last_response_headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 0.0


def _install_flag_hook(exchange: Any, on_kline: Callable[[Mapping[str, Any]], bool]) -> bool:
    """Take each raw Binance-format kline event (with its ``x`` flag, which ccxt.pro drops) before ccxt.pro.

    ccxt.pro's binance classes dispatch ``"e": "kline"`` events to ``handle_ohlcv(client, message)``. The
    hook hands the event to ``on_kline``; one that it took (a stream of this feed) goes no further: ccxt's
    own parsing, cache and the wake-up of a ``watch_ohlcv`` waiter would repeat, for nothing, what the feed
    has done (a third of the work per message with a hundred streams). The ``watch_ohlcv`` calls still
    subscribe, and their waiters still fail when the connection does, which is how the feed sees a drop.
    Any other event goes on to ccxt unchanged. Other exchanges have no flag: False.
    """
    original = getattr(exchange, "handle_ohlcv", None)
    if original is None or not str(getattr(exchange, "id", "")).startswith("binance"):
        return False

    def handle_ohlcv(client: Any, message: Any) -> Any:
        if isinstance(message, Mapping):
            try:
                if on_kline(message):
                    return None
            except (KeyError, TypeError, ValueError) as error:
                _log.warning("unreadable kline event", error=str(error))
        return original(client, message)

    exchange.handle_ohlcv = handle_ohlcv
    return True
