"""The session: one inbox of market data, venue reports and operator commands, handled one at a time.

Everything that changes the engine's state arrives as a message and is handled in one synchronous
*step*: a closed candle (the clock first reaches its close, firing the timers due by then, then the
kernel handles it), an operator command (the kernel carries it out between candles), or a report from
a venue that fills on its own (its event is published). After each step the journal commits the events
the step produced, as one batch. Nothing awaits inside a step, so the engine is as fast and as
deterministic live as in a backtest; only the waiting between steps differs:

* :meth:`Session.drain` and :meth:`Session.replay` step synchronously, for backtests and replays;
* :meth:`Session.run` is an asyncio task for paper and live trading: feeds post candles into the inbox
  as they close, the clock's timers fire when due, and :meth:`Session.send` lets another task (the
  CLI, the API) put a command in and await what came of it. A replayed feed is paced by the clock
  (:class:`~smc_agent.core.clock.ReplayClock`), never by the feed.

Lifecycle: :meth:`start` (publishes :class:`~smc_agent.events.SessionStarted`), :meth:`warm_up` on
history (the strategies learn, no orders), the run, and :meth:`stop`
(:class:`~smc_agent.events.SessionStopped`). Recovery from a journal (:mod:`smc_agent.engine.recovery`)
comes between start and the run.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from smc_agent.core.bus import EventBus
from smc_agent.engine.kernel import TradingKernel
from smc_agent.events import CandleClosed, CommandHandled, Event, SessionStarted, SessionStopped
from smc_agent.events.journal import JournalWriter
from smc_agent.feeds import Feed
from smc_agent.model.commands import OperatorCommand
from smc_agent.model.enums import Mode

__all__ = ["Session", "SessionClock"]

_QUEUE_SIZE = 1024  # candles a feed may run ahead of the engine: a fast replay waits instead of piling up

Message = CandleClosed | OperatorCommand | Event


class SessionClock(Protocol):
    def now_ms(self) -> int: ...

    def advance_to(self, ms: int) -> None: ...

    def next_due(self) -> int | None: ...

    def seconds_until(self, ms: int) -> float: ...


@dataclass(slots=True)
class _Request:
    command: OperatorCommand
    done: asyncio.Future[CommandHandled]


_Item = CandleClosed | _Request | Event | None  # None: a feed ended, or a stop was asked for


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
        self._commit_every = commit_every  # candles per journal commit in a replay (1: every step)
        self._inbox: deque[Message] = deque()
        self._queue: asyncio.Queue[_Item] | None = None
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

    def stop(self, reason: str = "done") -> None:
        now = self.clock.now_ms()
        self.bus.publish(SessionStopped(event_ms=now, known_ms=now, reason=reason))
        self._commit()

    def request_stop(self) -> None:
        """Finish the current step, then stop taking messages (SIGTERM, Ctrl-C)."""
        self._stopping = True
        if self._queue is not None and self._queue.empty():
            self._queue.put_nowait(None)  # wake the loop if it is waiting for a message

    # -- synchronous: backtests and replays -------------------------------------------------------

    def replay(self, candles: Iterable[CandleClosed]) -> None:
        """Step through ``candles`` as fast as possible (a backtest's whole run)."""
        advance, on_candle, every = self.clock.advance_to, self.kernel.on_candle, self._commit_every
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

    def post(self, message: Message) -> None:
        """Put a message in the synchronous inbox (handled by the next :meth:`drain`)."""
        self._inbox.append(message)

    def drain(self) -> None:
        while self._inbox:
            self.step(self._inbox.popleft())

    def step(self, message: Message) -> CommandHandled | None:
        """Handle one message and commit what it caused."""
        handled = None
        if isinstance(message, CandleClosed):
            self.clock.advance_to(message.event_ms)
            self.kernel.on_candle(message)
            self.candles += 1
        elif isinstance(message, Event):
            self.clock.advance_to(self.clock.now_ms())
            self.bus.publish(message)
        else:
            self.clock.advance_to(self.clock.now_ms())
            handled = self.kernel.command(message)
        self._commit()
        return handled

    def _commit(self) -> None:
        if self.journal is not None:
            self.journal.commit()

    # -- asyncio: paper and live ------------------------------------------------------------------

    async def send(self, command: OperatorCommand) -> CommandHandled:
        """Hand ``command`` to the running session and wait until it has been carried out."""
        if self._queue is None:
            raise RuntimeError("the session is not running")
        done: asyncio.Future[CommandHandled] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Request(command, done))
        return await done

    async def run(self, feeds: Sequence[Feed], *, exit_when_done: bool = True) -> None:
        """Take candles from ``feeds`` (and commands from :meth:`send`) until stopped, or until every
        feed has ended when ``exit_when_done``."""
        queue: asyncio.Queue[_Item] = asyncio.Queue(_QUEUE_SIZE)
        self._queue = queue
        pumps = [asyncio.create_task(self._pump(feed, queue)) for feed in feeds]
        running = len(pumps)
        try:
            while not self._stopping:
                item = await self._next(queue)
                if item is None:
                    if self._stopping:
                        break
                    running -= 1
                    if running == 0 and exit_when_done:
                        break
                    continue
                if isinstance(item, CandleClosed):
                    await asyncio.sleep(self.clock.seconds_until(item.event_ms))  # the clock paces a replay
                    self.step(item)
                elif isinstance(item, _Request):
                    handled = self.step(item.command)
                    if not item.done.done() and handled is not None:
                        item.done.set_result(handled)
                else:
                    self.step(item)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._queue = None

    async def _next(self, queue: asyncio.Queue[_Item]) -> _Item:
        """The next message; meanwhile fire the clock's timers as they fall due."""
        while True:
            due = self.clock.next_due()
            if due is None:
                return await queue.get()
            try:
                return await asyncio.wait_for(queue.get(), self.clock.seconds_until(due))
            except TimeoutError:
                self.clock.advance_to(due)
                self._commit()

    async def _pump(self, feed: Feed, queue: asyncio.Queue[_Item]) -> None:
        async for candle in feed.closed():
            await queue.put(candle)
        await queue.put(None)  # this feed is done
