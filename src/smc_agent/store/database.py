"""The store: one database (SQLite or PostgreSQL) holding sessions, their journals and projections,
candles, backtest runs and the audit log.

:func:`open_store` checks the database before it writes anything: a file that is not a database, a
database that is not smc-agent's, a schema newer than this code, a read-only file or an unreachable
server is refused with a :class:`~smc_agent.core.errors.ConfigError` (key ``db``, source the masked URL)
that says what to do. A database that is ours but behind is upgraded (``upgrade=True``, the default) or
refused with "run smc-agent db upgrade". Nothing is ever reset or overwritten.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, delete, func, inspect, select
from sqlalchemy.engine import URL

from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.store import migrate, schema, sessions
from smc_agent.store.engine import create, default_url, inspect_sqlite_file, masked, parse_url, sqlite_path, translated
from smc_agent.store.journal import SqlJournal, insert_rows, upsert
from smc_agent.store.sessions import StoredSession

__all__ = ["Store", "open_store"]

_OHLCV = ("open", "high", "low", "close", "volume")


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _json(value: Any) -> Any:
    """A JSON document of ``value`` (Decimals and other scalars as their text)."""
    return json.loads(json.dumps(value, default=str))


class Store:
    """An open database; build it with :func:`open_store`. ``clock`` gives the epoch ms that the store
    stamps (session start, audit entries, backtest runs)."""

    def __init__(self, url: URL, engine: Engine, *, clock: Callable[[], int] = _wall_ms) -> None:
        self.url = url
        self._engine = engine
        self._writer = engine.execution_options(smc_write=True)
        self._clock = clock

    # -- connections ------------------------------------------------------------------------------

    @contextmanager
    def writing(self, doing: str) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE), committed at the end or rolled back."""
        with translated(self.url, doing), self._writer.begin() as connection:
            yield connection

    @contextmanager
    def reading(self, doing: str) -> Iterator[Connection]:
        with translated(self.url, doing), self._engine.connect() as connection:
            yield connection

    # -- the database -----------------------------------------------------------------------------

    def masked_url(self) -> str:
        return masked(self.url)

    def revision(self) -> str | None:
        with self.reading("read the schema revision") as connection:
            return migrate.current(connection)

    def upgrade(self) -> str:
        """Migrate to the head revision (an empty database gets the whole schema); returns it."""
        with self.writing("upgrade the schema") as connection:
            migrate.upgrade(connection)
        return migrate.head()

    def row_counts(self) -> dict[str, int]:
        with self.reading("count rows") as connection:
            return {table.name: int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                    for table in schema.metadata.sorted_tables}  # fmt: skip

    def close(self) -> None:
        self._engine.dispose()

    # -- sessions and their journals --------------------------------------------------------------

    def begin_session(self, *, fingerprint: str, mode: str, sources: list[str], settings: dict[str, Any],
                      new: bool = False) -> StoredSession:  # fmt: skip
        with self.writing("begin a session") as connection:
            return sessions.begin(connection, self._clock(), fingerprint=fingerprint, mode=mode, sources=sources,
                                  settings=settings, new=new)  # fmt: skip

    def session(self, session_id: str) -> sessions.SessionRecord:
        with self.reading("read the session") as connection:
            return sessions.record(connection, session_id)

    def end_session(self, session_id: str, stopped_ms: int) -> None:
        with self.writing("end the session") as connection:
            sessions.end(connection, session_id, stopped_ms)

    def journal(self, session_id: str, venue: str | None = None) -> SqlJournal:
        table = schema.sessions
        with self.reading("find the session") as connection:
            if connection.execute(select(table.c.id).where(table.c.id == session_id)).first() is None:
                raise ConfigError(f"no stored session {session_id}", key="db", source=self.masked_url())
        return SqlJournal(self, session_id, venue)

    def cursors(self, session_id: str) -> dict[tuple[str, str], int]:
        table = schema.cursors
        query = select(table.c.symbol, table.c.timeframe, table.c.close_ms).where(table.c.session_id == session_id)
        with self.reading("read the cursors") as connection:
            return {(symbol, timeframe): int(ms) for symbol, timeframe, ms in connection.execute(query)}

    # -- candles ----------------------------------------------------------------------------------

    def save_candles(self, venue: str, candles: Candles) -> int:
        """Store ``candles`` under ``venue`` (a candle already stored at its open time is replaced);
        prices are written as the shortest text that reads back as the same float."""
        symbol, timeframe = candles.symbol, candles.timeframe
        if not symbol or not timeframe:
            raise ConfigError("candles to store need their symbol and timeframe", key="candles")
        columns = [candles.time.tolist(), *(column.tolist() for column in candles.columns)]
        rows = {int(t): {"venue": venue, "symbol": symbol, "timeframe": timeframe, "open_ms": int(t),
                         **{name: repr(float(v)) for name, v in zip(_OHLCV, values, strict=True)}}
                for t, *values in zip(*columns, strict=True)}  # fmt: skip
        with self.writing("save candles") as connection:
            upsert(connection, schema.candles, list(rows.values()))
        return len(rows)

    def load_candles(self, venue: str, symbol: str, timeframe: str, start_ms: int | None = None,
                     end_ms: int | None = None) -> Candles:  # fmt: skip
        """The stored candles opened in ``[start_ms, end_ms]`` (either end open), in time order."""
        table = schema.candles
        query = select(table.c.open_ms, *(table.c[name] for name in _OHLCV)).where(
            table.c.venue == venue, table.c.symbol == symbol, table.c.timeframe == timeframe
        )
        if start_ms is not None:
            query = query.where(table.c.open_ms >= start_ms)
        if end_ms is not None:
            query = query.where(table.c.open_ms <= end_ms)
        with self.reading("load candles") as connection:
            rows = connection.execute(query.order_by(table.c.open_ms)).all()
        times = np.array([row[0] for row in rows], dtype=np.int64)
        values = [np.array([float(row[i]) for row in rows], dtype=np.float64) for i in range(1, 6)]
        return Candles.from_arrays(times, *values, symbol=symbol, timeframe=timeframe)

    def prune_candles(self, older_than_ms: int) -> int:
        """Delete the candles opened before ``older_than_ms``; returns how many."""
        with self.writing("prune candles") as connection:
            return int(connection.execute(delete(schema.candles).where(schema.candles.c.open_ms < older_than_ms))
                       .rowcount)  # fmt: skip

    # -- live data ----------------------------------------------------------------------------------

    def record_feed_health(self, session_id: str, at_ms: int, feed: str, health: str, previous: str,
                           reason: str) -> None:  # fmt: skip
        row = {"session_id": session_id, "at_ms": at_ms, "feed": feed, "health": health, "previous": previous,
               "reason": reason}  # fmt: skip
        with self.writing("record the feed's health") as connection:
            insert_rows(connection, schema.feed_health, [row])

    def feed_health(self, session_id: str) -> list[dict[str, Any]]:
        """The session's changes of feed health, oldest first."""
        table = schema.feed_health
        query = select(table.c.at_ms, table.c.feed, table.c.health, table.c.previous, table.c.reason).where(
            table.c.session_id == session_id).order_by(table.c.id)  # fmt: skip
        with self.reading("read the feed's health") as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def record_differences(self, session_id: str, at_ms: int, differences: Sequence[Mapping[str, Any]]) -> None:
        """What reconciliation found: rows of ``kind``, ``symbol``, ``client_order_id`` and ``detail``."""
        rows = [{"session_id": session_id, "at_ms": at_ms, "kind": d["kind"], "symbol": d.get("symbol"),
                 "client_order_id": d.get("client_order_id"), "detail": d["detail"]} for d in differences]  # fmt: skip
        with self.writing("record the reconciliation") as connection:
            insert_rows(connection, schema.reconciliations, rows)

    def differences(self, session_id: str) -> list[dict[str, Any]]:
        table = schema.reconciliations
        query = select(table.c.at_ms, table.c.kind, table.c.symbol, table.c.client_order_id, table.c.detail).where(
            table.c.session_id == session_id).order_by(table.c.id)  # fmt: skip
        with self.reading("read the reconciliation") as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    # -- audit and backtests ----------------------------------------------------------------------

    def audit(self, action: str, detail: dict[str, Any], *, actor: str = "cli") -> None:
        with self.writing("write the audit log") as connection:
            row = {"at_ms": self._clock(), "actor": actor, "action": action, "detail": _json(detail)}
            insert_rows(connection, schema.audit_log, [row])

    def audit_entries(self) -> list[dict[str, Any]]:
        """The audit log, oldest first."""
        table = schema.audit_log
        with self.reading("read the audit log") as connection:
            rows = connection.execute(select(table).order_by(table.c.id)).all()
        return [dict(row._mapping) for row in rows]

    def record_backtest(self, settings: dict[str, Any], data_fingerprint: str, metrics: dict[str, Any],
                        artefacts: dict[str, Any]) -> str:  # fmt: skip
        run_id = f"bt-{uuid.uuid4().hex[:12]}"
        row = {"id": run_id, "created_ms": self._clock(), "settings": _json(settings),
               "data_fingerprint": data_fingerprint, "metrics": _json(metrics),
               "artefacts": _json(artefacts)}  # fmt: skip
        with self.writing("record the backtest") as connection:
            insert_rows(connection, schema.backtest_runs, [row])
        return run_id


def open_store(url: str | None = None, *, upgrade: bool = True, clock: Callable[[], int] = _wall_ms) -> Store:
    """The store at ``url`` (default: :func:`~smc_agent.store.engine.default_url`), checked and, with
    ``upgrade``, migrated to the head revision; refused with a ConfigError when it cannot be used as is."""
    parsed = parse_url(url or default_url())
    source = masked(parsed)
    path = sqlite_path(parsed)
    revision = inspect_sqlite_file(path, source) if path is not None else None
    _check_known(revision, source)
    if path is not None and revision is None and not upgrade:
        raise _behind(None, source)
    engine = create(parsed)
    store = Store(parsed, engine, clock=clock)
    try:
        with store.reading("open the database") as connection:
            revision = _revision(connection, source)
        _check_known(revision, source)
        if revision != migrate.head():
            if not upgrade:
                raise _behind(revision, source)
            store.upgrade()
    except BaseException:
        store.close()
        raise
    return store


def _revision(connection: Connection, source: str) -> str | None:
    """The database's revision; a database with tables and no version table is not ours."""
    tables = set(inspect(connection).get_table_names())
    if tables and "alembic_version" not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise ConfigError(f"a database that is not smc-agent's (it has the tables {shown} and no alembic_version); "
                          "it was left as it is: give another --db", key="db", source=source)  # fmt: skip
    return migrate.current(connection)


def _check_known(revision: str | None, source: str) -> None:
    if revision is not None and revision not in migrate.known_revisions():
        raise ConfigError(f"the database's schema is at revision {revision!r}, which this smc-agent does not know "
                          "(a newer version made it): upgrade smc-agent, or give another --db; it was left as it is",
                          key="db", source=source)  # fmt: skip


def _behind(revision: str | None, source: str) -> ConfigError:
    at = "has no schema yet" if revision is None else f"is at revision {revision}"
    return ConfigError(f"the database {at}, not {migrate.head()}: run `smc-agent db upgrade` first",
                       key="db", source=source)  # fmt: skip
