"""The session: one inbox of market data, venue reports and operator commands, handled one at a time.

Everything that changes the engine's state arrives as a message and is handled in one synchronous
*step*: a closed candle (the clock first reaches its close, firing the timers due by then, then the
kernel handles it), an operator command (the kernel carries it out between candles), or a report from
a venue that fills on its own (its event is published). After each step the journal commits the events
the step produced, as one batch. Nothing awaits inside a step, so the engine is as fast and as
deterministic live as in a backtest; only the waiting between steps differs:

* :meth:`Session.step` (one message) and :meth:`Session.replay` (every candle) step synchronously,
  for backtests and replays;
* :meth:`Session.run` is an asyncio task for paper and live trading: feeds post candles into the inbox
  as they close, the clock's timers fire when due, and :meth:`Session.send` lets another task (the
  CLI, the API) put a command in and await what came of it; :meth:`Session.report` lets a venue that
  fills on its own (the live venue's tasks) queue an event without waiting. A replayed feed is paced by
  the clock (:class:`~smc_agent.core.clock.ReplayClock`), never by the feed.

Lifecycle: :meth:`start` (publishes :class:`~smc_agent.events.SessionStarted`), :meth:`warm_up` on
history (the strategies learn, no orders), the run, and :meth:`stop`
(:class:`~smc_agent.events.SessionStopped`). Recovery from a journal (:mod:`smc_agent.engine.recovery`)
comes between start and the run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Timer
from smc_agent.engine.kernel import TradingKernel
from smc_agent.events import CandleClosed, CommandHandled, Event, SessionStarted, SessionStopped
from smc_agent.events.journal import JournalWriter
from smc_agent.feeds import Feed
from smc_agent.model.commands import OperatorCommand
from smc_agent.model.enums import Mode

__all__ = ["REPLAY_BATCH", "Session", "SessionClock"]

_QUEUE_SIZE = 1024  # candles a feed may run ahead of the engine: a fast replay waits instead of piling up

Message = CandleClosed | OperatorCommand | Event


class SessionClock(Protocol):
    def now_ms(self) -> int: ...

    def every(self, period_ms: int, callback: Callable[[], None]) -> Timer: ...

    def advance_to(self, ms: int) -> None: ...

    def next_due(self) -> int | None: ...

    def seconds_until(self, ms: int) -> float: ...

    def present_ms(self) -> int: ...


@dataclass(slots=True)
class _Request:
    command: OperatorCommand
    done: asyncio.Future[CommandHandled]


# Candles per commit at most: in a replay at full speed, a backtest, and a burst of live candles (a session
# on live data commits when none is waiting); a paced replay commits each candle.
REPLAY_BATCH = 64


class Session:
    def __init__(
        self,
        session_id: str,
        mode: Mode,
        clock: SessionClock,
        bus: EventBus,
        kernel: TradingKernel,
        streams: Sequence[str],
        journal: JournalWriter | None = None,
        *,
        commit_every: int = 1,
    ) -> None:
        self.session_id, self._mode = session_id, mode  # recorded in SessionStarted, never branched on
        self.clock, self.bus, self.kernel = clock, bus, kernel
        self.streams = tuple(streams)
        self.journal = journal
        # Candles per journal commit in a replay (1: every step). A replay may group them, since after a
        # crash it re-processes the uncommitted candles and gets the same events; a live session may not.
        self.commit_every = commit_every
        # Candles stepped in a row before the run commits and lets the event loop run its other tasks (the API's
        # requests, the WebSocket's senders); None: only when no candle is due, as a replay at full speed wants.
        self.yield_every: int | None = None
        self._requests: deque[_Request] = deque()  # commands sent to the running session
        self._reports: deque[Event] = deque()  # venue reports, stepped in the order they came
        self._wake: asyncio.Event | None = None  # set when a command arrives, or a stop is asked for
        self._stopping = False
        self.candles = 0  # candles handled by this session's run (not warm-up)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, *, resumed: bool = False) -> None:
        self.kernel.start()
        now = self.clock.now_ms()
        self.bus.publish(SessionStarted(event_ms=now, known_ms=now, mode=self._mode, streams=self.streams,
                                        resumed=resumed))  # fmt: skip
        self._commit()

    def warm_up(self, candles: Iterable[CandleClosed]) -> None:
        warm = self.kernel.warm_up
        for candle in candles:
            warm(candle)

    def history(self, candles: Iterable[CandleClosed]) -> None:
        """The history a session on live data starts from: journaled (a restart restores the strategies
        from it), learnt from, never traded; committed like a replay's candles."""
        on_history = self.kernel.on_history
        for count, candle in enumerate(candles, 1):
            on_history(candle)
            if count % REPLAY_BATCH == 0:
                self._commit()
        self._commit()

    def stop(self, reason: str = "done") -> None:
        now = self.clock.now_ms()
        self.bus.publish(SessionStopped(event_ms=now, known_ms=now, reason=reason))
        self._commit()

    def request_stop(self) -> None:
        """Finish the current step, then stop taking messages (SIGTERM, Ctrl-C)."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()  # wake the loop if it is waiting

    # -- synchronous: backtests and replays -------------------------------------------------------

    def replay(self, candles: Iterable[CandleClosed]) -> None:
        """Step through ``candles`` as fast as possible (a backtest's whole run)."""
        advance, on_candle, every = self.clock.advance_to, self.kernel.on_candle, self.commit_every
        journal = self.journal
        count = 0
        for candle in candles:
            advance(candle.event_ms)
            on_candle(candle)
            count += 1
            if journal is not None and count % every == 0:
                journal.commit()
        self.candles += count
        self._commit()

    def step(self, message: Message) -> CommandHandled | None:
        """Handle one message and commit what it caused."""
        handled = None
        if isinstance(message, CandleClosed):
            self.clock.advance_to(message.event_ms)
            self.kernel.on_candle(message)
            self.candles += 1
            if self.candles % self.commit_every:
                return None  # grouped with the next candles' (a replay): the stop commits what is left
        elif isinstance(message, Event):
            self.clock.advance_to(self.clock.present_ms())
            self.bus.publish(message)
        else:
            self.clock.advance_to(self.clock.present_ms())
            handled = self.kernel.command(message)
        self._commit()
        return handled

    def _commit(self) -> None:
        if self.journal is not None:
            self.journal.commit()

    # -- asyncio: paper and live ------------------------------------------------------------------

    async def send(self, command: OperatorCommand) -> CommandHandled:
        """Hand ``command`` to the running session and wait until it has been carried out.

        Commands jump the queue of market data: the session handles each before the next candle.
        """
        if self._wake is None:
            raise RuntimeError("the session is not running")
        done: asyncio.Future[CommandHandled] = asyncio.get_running_loop().create_future()
        self._requests.append(_Request(command, done))
        self._wake.set()
        return await done

    def report(self, event: Event) -> None:
        """Queue a venue's report (an order accepted, filled, cancelled ...) for the running session and wake
        it; never waits. Reports are stepped in arrival order, after waiting commands and before the next
        candle; one that arrives while the session is not running waits for the next run."""
        self._reports.append(event)
        if self._wake is not None:
            self._wake.set()

    def settle_reports(self) -> int:
        """Step the venue reports still queued once the run has ended (the venue has answered the requests it
        had in flight), so that what the exchange said before the stop is journaled; how many there were."""
        count = 0
        while self._reports:
            self.step(self._reports.popleft())
            count += 1
        return count

    def heartbeat(self, period_ms: int, beat: Callable[[int], None]) -> Timer:
        """Call ``beat(now_ms)`` every ``period_ms`` of clock time while the session runs, whether or not
        candles come (the API's WebSocket heartbeat, a feed watchdog); cancel it with the returned timer."""
        return self.clock.every(period_ms, lambda: beat(self.clock.now_ms()))

    async def run(self, feeds: Sequence[Feed], *, exit_when_done: bool = True) -> None:
        """Take candles from ``feeds`` (and commands from :meth:`send`) until stopped, or until every
        feed has ended when ``exit_when_done``.

        Each candle waits until the clock reaches its close (a replay is paced by its clock; a live
        candle is already due); meanwhile commands are handled and timers fire as they fall due.
        """
        queue: asyncio.Queue[CandleClosed | None] = asyncio.Queue(_QUEUE_SIZE)
        self._wake = wake = asyncio.Event()
        pumps = [asyncio.create_task(self._pump(feed, queue)) for feed in feeds]
        running, held, streak = len(pumps), None, 0
        getting: asyncio.Task[CandleClosed | None] | None = None
        clock = self.clock
        try:
            while not self._stopping:
                if self._requests:
                    request = self._requests.popleft()
                    handled = self.step(request.command)
                    if handled is not None and not request.done.done():
                        request.done.set_result(handled)
                    continue
                if self._reports:
                    self.step(self._reports.popleft())
                    continue
                due = clock.next_due()
                candle_first = held is not None and (due is None or held.event_ms <= due)
                if held is not None and candle_first and clock.seconds_until(held.event_ms) <= 0:
                    self.step(held)
                    held, streak = None, streak + 1
                    if self.yield_every is not None and streak >= self.yield_every:
                        streak = 0
                        self._commit()  # as below: nothing waits with steps uncommitted
                        await asyncio.sleep(0)
                    continue
                if held is None and running == 0 and exit_when_done:
                    break
                if held is None and getting is None and not queue.empty():
                    # A candle is waiting: take it without a round through the event loop (a replay's
                    # queue is rarely empty; once it is, the wait below lets the feeds and signals run).
                    item = queue.get_nowait()
                    if item is None:
                        running -= 1
                    else:
                        held = item
                    continue
                waits: list[float] = [clock.seconds_until(due)] if due is not None else []
                if held is not None:
                    waits.append(clock.seconds_until(held.event_ms))
                # Nothing waits with steps uncommitted: grouped candles wait for no one, and a venue's request
                # (sent by a task, which runs only while the session waits) never leaves before its intent.
                self._commit()
                streak = 0
                waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(wake.wait())}
                if held is None and running:
                    getting = getting or asyncio.ensure_future(queue.get())
                    waiters.add(getting)
                done, _ = await asyncio.wait(waiters, timeout=min(waits) if waits else None,
                                             return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                for waiter in waiters - {getting}:
                    waiter.cancel()
                wake.clear()
                if getting is not None and getting in done:
                    item, getting = getting.result(), None
                    if item is None:
                        running -= 1
                    else:
                        held = item
                elif not done and due is not None and (held is None or due < held.event_ms):
                    clock.advance_to(due)  # a timer fell due before the next candle
                    self._commit()
        finally:
            if getting is not None:
                getting.cancel()
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._wake = None
            while self._requests:
                request = self._requests.popleft()
                if not request.done.done():
                    request.done.set_exception(RuntimeError("the session stopped before handling the command"))

    async def _pump(self, feed: Feed, queue: asyncio.Queue[CandleClosed | None]) -> None:
        async for candle in feed.closed():
            await queue.put(candle)
        await queue.put(None)  # this feed is done
