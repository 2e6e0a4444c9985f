"""The SQL journal: a session's events and, in the same transaction, its cursors and projections.

:class:`SqlJournal` implements the :class:`~smc_agent.events.journal.Journal` port. ``append`` runs in
one write transaction: it reads the last stored ``seq``, keeps what :func:`check_batch` says is new (an
already stored batch is a no-op, a gap is refused), inserts the events with one bulk statement, upserts
the cursors of the batch's candles and writes the projections (:mod:`.projections`). If any part
fails, none of it is stored. ``read`` streams in chunks by ``seq`` (each chunk its own short read), so a
long journal is never held in memory and no connection stays open while the caller works.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite

from smc_agent.events import BalanceChanged, Event
from smc_agent.events.codec import from_msgpack, to_msgpack
from smc_agent.events.journal import check_batch
from smc_agent.store import schema
from smc_agent.store.projections import Row, Rows, open_symbols, project

if TYPE_CHECKING:
    from smc_agent.store import Store

__all__ = ["READ_CHUNK", "SqlJournal", "insert_rows", "upsert"]

READ_CHUNK = 2_000


_INSERTS: dict[str, Any] = {}


def insert_rows(connection: Connection, table: Table, rows: Sequence[Row]) -> None:
    """One bulk insert (executemany) of ``rows``; nothing for none."""
    if rows:
        statement = _INSERTS.get(table.name)
        if statement is None:
            statement = _INSERTS[table.name] = table.insert()
        connection.execute(statement, list(rows))


_UPSERTS: dict[tuple[str, str], Any] = {}


def upsert(connection: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows``, replacing those whose primary key is already stored (one statement, both backends).
    The rows must have distinct keys and every column of the table."""
    if not rows:
        return
    dialect = connection.dialect.name
    statement = _UPSERTS.get((dialect, table.name))
    if statement is None:  # built once: making the ``excluded`` columns costs more than the insert
        insert: Any = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
        keys = [column.name for column in table.primary_key.columns]
        update = {column.name: insert.excluded[column.name] for column in table.columns if column.name not in keys}
        statement = _UPSERTS[(dialect, table.name)] = insert.on_conflict_do_update(index_elements=keys, set_=update)
    connection.execute(statement, list(rows))


class SqlJournal:
    """The journal of one stored session (from :meth:`Store.journal <smc_agent.store.Store.journal>`)."""

    def __init__(self, store: Store, session_id: str, venue: str | None = None) -> None:
        self._store = store
        self.session_id = session_id
        self.venue = venue  # a session on live data keeps its candles in the candles table, under it
        # The last seq this journal committed: a session has one writer, so after its first append it
        # need not ask the database again (a second writer would fail on the events' primary key).
        self._committed: int | None = None

    def append(self, events: Sequence[Event]) -> None:
        if not events:
            return
        try:
            self._append(events)
        except BaseException:
            self._committed = None  # whatever happened, the next append reads the database
            raise

    def _append(self, events: Sequence[Event]) -> None:
        session_id, table = self.session_id, schema.events
        with self._store.writing("append events") as connection:
            last = self._committed if self._committed is not None else self._last_seq(connection)
            fresh = check_batch(events, last)
            if not fresh:
                self._committed = last
                return
            insert_rows(connection, table, [
                {"session_id": session_id, "seq": e.seq, "kind": type(e).__name__, "event_ms": e.event_ms,
                 "payload": to_msgpack(e)} for e in fresh
            ])  # fmt: skip
            balance = any(type(e) is BalanceChanged for e in fresh)  # only a snapshot needs the positions
            rows = Rows(session_id, self._open_symbols(connection) if balance else set(), self.venue)
            project(rows, fresh)
            upsert(connection, schema.cursors, list(rows.cursors.values()))
            upsert(connection, schema.candles, list(rows.candles.values()))
            upsert(connection, schema.orders, list(rows.orders.values()))
            upsert(connection, schema.positions, list(rows.positions.values()))
            insert_rows(connection, schema.fills, rows.fills)
            insert_rows(connection, schema.signals, rows.signals)
            insert_rows(connection, schema.account_snapshots, rows.snapshots)
            insert_rows(connection, schema.risk_events, rows.risk)
        self._committed = fresh[-1].seq  # after the commit: the context above has ended

    def read(self, after_seq: int = 0) -> Iterator[Event]:
        table = schema.events
        last = max(after_seq, 0)
        while True:
            query = (select(table.c.seq, table.c.payload)
                     .where(table.c.session_id == self.session_id, table.c.seq > last)
                     .order_by(table.c.seq).limit(READ_CHUNK))  # fmt: skip
            with self._store.reading("read events") as connection:
                chunk = connection.execute(query).all()
            for _seq, payload in chunk:
                yield from_msgpack(payload)
            if len(chunk) < READ_CHUNK:
                return
            last = chunk[-1][0]

    def last_seq(self) -> int:
        if self._committed is not None:
            return self._committed
        with self._store.reading("read the last event") as connection:
            return self._last_seq(connection)

    def _last_seq(self, connection: Connection) -> int:
        table = schema.events
        found = connection.execute(select(func.max(table.c.seq)).where(table.c.session_id == self.session_id))
        return int(found.scalar() or 0)

    def _open_symbols(self, connection: Connection) -> set[str]:
        table = schema.positions
        stored = connection.execute(
            select(table.c.symbol, table.c.quantity).where(table.c.session_id == self.session_id)
        )
        return open_symbols([(symbol, quantity) for symbol, quantity in stored])
