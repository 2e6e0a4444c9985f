"""The journal port: the session's events, appended in batches and read back in order.

A session appends the events of each step (one candle, one operator command, one venue report) as one
batch, atomically: a batch is stored whole or not at all, so the state that the events rebuild and
the point the session had reached never disagree. ``seq`` numbers are the bus's, consecutive from 1;
appending a batch whose events are already stored is a no-op (a retried commit after a crash), and a
batch that would leave a gap is refused. :class:`MemoryJournal` is the in-package implementation; the
SQL one lives in the store. :class:`JournalWriter` collects what the bus publishes between commits.

>>> from smc_agent.core.bus import EventBus
>>> from smc_agent.events import CandleClosed, stamper
>>> bus, journal = EventBus(stamper("s-1")), MemoryJournal()
>>> writer = JournalWriter(bus, journal)
>>> bus.publish(CandleClosed(60_000, 60_000, "X", "1m", 0, 1.0, 1.0, 1.0, 1.0, 0.0)); writer.commit()
1
>>> [(e.seq, e.session_id, type(e).__name__) for e in journal.read()]
[(1, 's-1', 'CandleClosed')]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from smc_agent.core.bus import EventBus
from smc_agent.core.errors import SmcAgentError
from smc_agent.events import Event
from smc_agent.events.codec import from_msgpack, to_msgpack

__all__ = ["Journal", "JournalWriter", "MemoryJournal"]


class Journal(Protocol):
    def append(self, events: Sequence[Event]) -> None:
        """Store a batch of consecutive events after the last one, all or nothing."""
        ...

    def read(self, after_seq: int = 0) -> Iterator[Event]:
        """The events numbered after ``after_seq``, in order."""
        ...

    def last_seq(self) -> int:
        """The number of the last event stored (0 when empty)."""
        ...


class MemoryJournal:
    """A journal in memory that stores each event as the bytes the serialiser makes of it, so what it
    gives back is what a durable journal would: nothing survives that the codec does not carry."""

    def __init__(self) -> None:
        self._records: list[bytes] = []

    def append(self, events: Sequence[Event]) -> None:
        fresh = check_batch(events, self.last_seq())
        self._records.extend([to_msgpack(event) for event in fresh])

    def read(self, after_seq: int = 0) -> Iterator[Event]:
        for record in self._records[max(after_seq, 0) :]:
            yield from_msgpack(record)

    def last_seq(self) -> int:
        return len(self._records)


def check_batch(events: Sequence[Event], last: int) -> Sequence[Event]:
    """The events of ``events`` not yet stored after ``last``; raises on a gap or a disorder."""
    fresh = [event for event in events if event.seq > last]
    for expected, event in enumerate(fresh, last + 1):
        if event.seq != expected:
            raise SmcAgentError(f"journal: event {type(event).__name__} has seq {event.seq}, expected {expected}")
    return fresh


class JournalWriter:
    """Buffers every event the bus delivers and appends them as one batch at each :meth:`commit`."""

    def __init__(self, bus: EventBus, journal: Journal) -> None:
        self.journal = journal
        self._batch: list[Event] = []
        bus.subscribe(self._batch.append)

    @property
    def pending(self) -> int:
        return len(self._batch)

    def commit(self) -> int:
        """Append what was published since the last commit; returns the journal's last seq."""
        if self._batch:
            self.journal.append(self._batch)
            self._batch.clear()
        return self.journal.last_seq()
