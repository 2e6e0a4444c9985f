"""What every use case that keeps its results needs of the store: the port, and the fingerprints.

:func:`open_store` is the one place that opens the SQL store (``smc_agent.store``); the agent
imports it by name, so tests can put their own store in its place. A session's *fingerprint* hashes
its sources (each file's path, size and content hash) and the settings its results depend on: the
same fingerprint resumes the stored session, another one is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from smc_agent import store as sql_store
from smc_agent.events.journal import Journal
from smc_agent.store.sessions import SessionRecord

__all__ = ["Store", "StoredSession", "describe_file", "fingerprint", "open_store", "plain"]


class StoredSession(Protocol):
    id: str
    resumed: bool
    started_ms: int


class Store(Protocol):
    """What the agent and the backtests need of the store (``smc_agent.store.Store`` implements it)."""

    def masked_url(self) -> str: ...

    def begin_session(
        self, *, fingerprint: str, mode: str, sources: list[str], settings: dict[str, Any], new: bool = False
    ) -> StoredSession: ...

    def session(self, session_id: str) -> SessionRecord: ...

    def end_session(self, session_id: str, stopped_ms: int) -> None: ...

    def journal(self, session_id: str, venue: str | None = None) -> Journal:
        """The session's journal; with ``venue`` (live data), its candles also go to the candles table."""
        ...

    def cursors(self, session_id: str) -> dict[tuple[str, str], int]: ...

    def row_counts(self) -> dict[str, int]: ...

    def record_feed_health(self, session_id: str, at_ms: int, feed: str, health: str, previous: str,
                           reason: str) -> None: ...  # fmt: skip

    def record_differences(self, session_id: str, at_ms: int, differences: Sequence[Mapping[str, Any]]) -> None: ...

    def record_backtest(
        self, *, settings: dict[str, Any], data_fingerprint: str, metrics: dict[str, Any], artefacts: dict[str, str]
    ) -> str: ...

    def audit(self, action: str, detail: dict[str, Any], *, actor: str = "cli") -> None: ...

    def close(self) -> None: ...


def open_store(url: str | None = None, *, upgrade: bool = True) -> Store:
    """The store at ``url`` (the settings' or the default SQLite file when None)."""
    return sql_store.open_store(url, upgrade=upgrade)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def describe_file(path: Path) -> str:
    """A source as a session stores it: its absolute path, size and content hash."""
    resolved = path.resolve()
    return f"{resolved} ({resolved.stat().st_size} bytes, sha256 {_file_hash(resolved)})"


def plain(value: Any) -> Any:
    """A settings object as JSON values: what the store keeps and the fingerprint hashes."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)  # Decimal, enums, timezones: their exact text


def fingerprint(sources: Sequence[str], settings: dict[str, Any]) -> str:
    text = json.dumps({"sources": list(sources), "settings": settings}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
