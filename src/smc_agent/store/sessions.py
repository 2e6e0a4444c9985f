"""Sessions: resume the latest one when its fingerprint is this run's, refuse it when it differs.

A session's fingerprint is a hash of its sources and settings (the agent makes it). The latest session
(the one started last) is resumed when the fingerprint is the same; when it differs,
:class:`SessionMismatch` says which of sources, mode and settings differ, stored against now, and how to
start afresh. ``new=True`` always starts a new session; the old ones stay, with their journals.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from smc_agent.core.errors import ConfigError
from smc_agent.store import schema

__all__ = ["SessionMismatch", "SessionRecord", "StoredSession", "begin", "changes", "end", "record"]


class SessionMismatch(ConfigError):
    """The stored session's sources, mode or settings differ from this run's."""


@dataclass
class StoredSession:
    id: str
    resumed: bool
    started_ms: int


@dataclass(frozen=True)
class SessionRecord:
    """A stored session as its row has it (its settings document as the agent wrote it)."""

    id: str
    mode: str
    sources: list[str]
    settings: dict[str, Any]
    started_ms: int
    stopped_ms: int | None


def record(connection: Connection, session_id: str) -> SessionRecord:
    table = schema.sessions
    row = connection.execute(select(table).where(table.c.id == session_id)).first()
    if row is None:
        raise ConfigError(f"no stored session {session_id}", key="session")
    return SessionRecord(row.id, row.mode, list(row.sources), dict(row.settings), int(row.started_ms),
                         None if row.stopped_ms is None else int(row.stopped_ms))  # fmt: skip


def _plain(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples become lists), so a stored document compares equal."""
    return json.loads(json.dumps(value, sort_keys=True))


def begin(connection: Connection, now_ms: int, *, fingerprint: str, mode: str, sources: list[str],
          settings: dict[str, Any], new: bool) -> StoredSession:  # fmt: skip
    """Resume or start a session (inside the caller's write transaction)."""
    table = schema.sessions
    latest = connection.execute(select(table).order_by(table.c.started_ms.desc(), table.c.id.desc()).limit(1)).first()
    if latest is not None and not new:
        if latest.fingerprint == fingerprint:
            connection.execute(update(table).where(table.c.id == latest.id).values(stopped_ms=None))
            return StoredSession(latest.id, True, int(latest.started_ms))
        now = {"sources": _plain(list(sources)), "mode": mode, "settings": _plain(settings)}
        stored = {"sources": latest.sources, "mode": latest.mode, "settings": latest.settings}
        differs = [name for name in ("sources", "mode", "settings") if stored[name] != now[name]] or ["settings"]
        detail = "; ".join(change for name in differs for change in changes(name, stored[name], now[name]))
        raise SessionMismatch(f"the stored session {latest.id} has other {', '.join(differs)} ({detail}); "
                              "start afresh with --new-session", key="db")  # fmt: skip
    # Started strictly after the latest, so "the latest" is never a tie.
    started = now_ms if latest is None else max(now_ms, int(latest.started_ms) + 1)
    session_id = f"s-{uuid.uuid4().hex[:12]}"
    row = {"id": session_id, "mode": mode, "sources": _plain(list(sources)), "fingerprint": fingerprint,
           "settings": _plain(settings), "started_ms": started}  # fmt: skip
    connection.execute(table.insert().values(**row))
    return StoredSession(session_id, False, started)


def changes(key: str, stored: Any, now: Any, limit: int = 5) -> list[str]:
    """What differs between two stored documents, key by key (``settings.engine.risk.min_rr: stored 2,
    now 3``), the first ``limit`` of them: a whole settings document would bury the one change.

    >>> changes("settings", {"risk": {"min_rr": 2, "a": 1}}, {"risk": {"min_rr": 3, "a": 1}})
    ['settings.risk.min_rr: stored 2, now 3']
    """
    if isinstance(stored, dict) and isinstance(now, dict):
        found = [change for name in sorted(set(stored) | set(now), key=str)
                 if stored.get(name) != now.get(name)
                 for change in changes(f"{key}.{name}", stored.get(name), now.get(name), limit)]  # fmt: skip
        return found[:limit] + ([f"and {len(found) - limit} more"] if len(found) > limit else [])
    return [f"{key}: stored {stored!r}, now {now!r}"]


def end(connection: Connection, session_id: str, stopped_ms: int) -> None:
    table = schema.sessions
    done = connection.execute(update(table).where(table.c.id == session_id).values(stopped_ms=stopped_ms))
    if done.rowcount == 0:
        raise ConfigError(f"no stored session {session_id}", key="db")
