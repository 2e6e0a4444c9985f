"""A store double implementing exactly the interface of ``smc_agent.store`` that the agent uses, in memory.

Each URL names one store that lives as long as the test process (``STORES``), so a second
``smc-agent run`` in the same test resumes the first one's session. The journal is a
:class:`~smc_agent.events.journal.MemoryJournal`; its ``append`` records the cursors of the batch's
candles with the events, as the SQL store does in one transaction. Tests install it with
:func:`install` (monkeypatching :func:`smc_agent.service.agent.open_store`, the one place the agent opens
a store).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from smc_agent.core.errors import ConfigError
from smc_agent.events import CandleClosed, Event
from smc_agent.events.journal import MemoryJournal

__all__ = ["STORES", "MemoryStore", "SessionMismatch", "StoredSession", "install"]


class SessionMismatch(ConfigError):
    """The stored session's sources or settings differ from this run's."""


@dataclass
class StoredSession:
    id: str
    resumed: bool
    started_ms: int


@dataclass
class _Session:
    id: str
    fingerprint: str
    mode: str
    sources: list[str]
    settings: dict[str, Any]
    journal: MemoryJournal = field(default_factory=MemoryJournal)
    cursors: dict[tuple[str, str], int] = field(default_factory=dict)
    stopped_ms: int | None = None


class _CursorJournal:
    def __init__(self, session: _Session) -> None:
        self._session = session

    def append(self, events: Sequence[Event]) -> None:
        self._session.journal.append(events)
        for event in events:
            if isinstance(event, CandleClosed):
                self._session.cursors[(event.symbol, event.timeframe)] = event.event_ms

    def read(self, after_seq: int = 0) -> Iterator[Event]:
        return self._session.journal.read(after_seq)

    def last_seq(self) -> int:
        return self._session.journal.last_seq()


_ids = itertools.count(1)


class MemoryStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sessions: list[_Session] = []
        self.audits: list[tuple[str, dict[str, Any], str]] = []
        self.feed_health: list[tuple[str, int, str, str, str, str]] = []
        self.differences: list[dict[str, Any]] = []
        self.closed = 0

    def masked_url(self) -> str:
        return self.url

    def begin_session(
        self, *, fingerprint: str, mode: str, sources: list[str], settings: dict[str, Any], new: bool = False
    ) -> StoredSession:
        latest = self.sessions[-1] if self.sessions else None
        if latest is not None and not new:
            if latest.fingerprint == fingerprint:
                return StoredSession(latest.id, True, 0)
            differs = [name for name, old, now in (("sources", latest.sources, sources), ("mode", latest.mode, mode),
                                                    ("settings", latest.settings, settings)) if old != now]  # fmt: skip
            now = {"sources": sources, "mode": mode, "settings": settings}
            detail = "; ".join(f"{name}: stored {getattr(latest, name)!r}, now {now[name]!r}" for name in differs)
            raise SessionMismatch(f"the stored session {latest.id} has other {', '.join(differs)} ({detail}); "
                                  "start afresh with --new-session", key="db")  # fmt: skip
        session = _Session(f"session-{next(_ids)}", fingerprint, mode, list(sources), dict(settings))
        self.sessions.append(session)
        return StoredSession(session.id, False, 0)

    def _session(self, session_id: str) -> _Session:
        return next(s for s in self.sessions if s.id == session_id)

    def end_session(self, session_id: str, stopped_ms: int) -> None:
        self._session(session_id).stopped_ms = stopped_ms

    def journal(self, session_id: str, venue: str | None = None) -> _CursorJournal:
        return _CursorJournal(self._session(session_id))

    def cursors(self, session_id: str) -> dict[tuple[str, str], int]:
        return dict(self._session(session_id).cursors)

    def row_counts(self) -> dict[str, int]:
        return {"sessions": len(self.sessions), "events": sum(s.journal.last_seq() for s in self.sessions)}

    def record_feed_health(self, session_id: str, at_ms: int, feed: str, health: str, previous: str,
                           reason: str) -> None:  # fmt: skip
        self.feed_health.append((session_id, at_ms, feed, health, previous, reason))

    def record_differences(self, session_id: str, at_ms: int, differences: Sequence[dict[str, Any]]) -> None:
        self.differences.extend(differences)

    def audit(self, action: str, detail: dict[str, Any], *, actor: str = "cli") -> None:
        self.audits.append((action, detail, actor))

    def close(self) -> None:
        self.closed += 1


STORES: dict[str, MemoryStore] = {}


def open_memory_store(url: str | None = None, *, upgrade: bool = True) -> MemoryStore:
    key = url or "memory://default"
    return STORES.setdefault(key, MemoryStore(key))


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the agent open memory stores (fresh ones for each test)."""
    STORES.clear()
    monkeypatch.setattr("smc_agent.service.agent.open_store", open_memory_store)
