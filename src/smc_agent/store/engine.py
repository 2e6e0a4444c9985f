"""Opening a database: the URL, the engine and its SQLite pragmas, and errors a person can act on.

SQLite runs in WAL mode with a ``busy_timeout``, so one writer and many readers in other processes
never see "database is locked"; writes take the lock at their start (``BEGIN IMMEDIATE``), so a
transaction never fails half-way for want of it. Foreign keys are on and ``synchronous=NORMAL`` (safe
in WAL: a power cut may lose the last commits, never corrupt the file). PostgreSQL gets the same
promise with ``synchronous_commit=off``, unless the URL gives its own ``options``.

Before anything is written, a SQLite file is looked at read-only (:func:`inspect_sqlite_file`): a file
that is not a database, a database that is not ours, or a read-only file is refused with a
:class:`~smc_agent.core.errors.ConfigError` and left exactly as it was. Nothing here ever resets or
overwrites a database. The password of a URL never appears in a message (:func:`masked`).

>>> masked("postgresql+psycopg://trader:s3cret@db.example:5432/smc")
'postgresql+psycopg://trader:***@db.example:5432/smc'
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from smc_agent.core.errors import ConfigError

__all__ = [
    "BUSY_TIMEOUT_MS",
    "create",
    "default_url",
    "inspect_sqlite_file",
    "masked",
    "parse_url",
    "sqlite_path",
    "translated",
]

BUSY_TIMEOUT_MS = 10_000
APP_NAME = "smc-agent"
_OURS = "alembic_version"  # a database of ours has Alembic's version table


def default_url() -> str:
    """``sqlite:///<user data dir>/smc-agent.db``; the directory is created."""
    directory = Path(platformdirs.user_data_dir(APP_NAME))
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'smc-agent.db'}"


def parse_url(text: str) -> URL:
    """The URL, with ``postgresql://`` meaning psycopg 3; refuses other backends with what to give."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError("not a database URL: give sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
                          key="db", source=_scrub(text, None)) from None  # fmt: skip
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"unsupported database {url.get_backend_name()!r}: give sqlite:///PATH or "
                          "postgresql+psycopg://USER@HOST/DB", key="db", source=masked(url))  # fmt: skip
    return url


def masked(url: URL | str) -> str:
    """The URL with its password replaced by ``***``."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL (None for another backend or an in-memory database)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _scrub(text: str, url: URL | None) -> str:
    """``text`` with the URL's password (if any) replaced by ``***``."""
    password = None if url is None else url.password
    if password:
        text = text.replace(str(password), "***")
    return text


def inspect_sqlite_file(path: Path, source: str) -> str | None:
    """The Alembic revision of the SQLite file at ``path`` (None when it is missing or empty), read
    without writing a byte; a file that cannot be written, or that is not ours, is refused."""
    if not path.exists() or path.stat().st_size == 0:
        if not path.parent.is_dir():
            raise ConfigError(f"the directory {path.parent} does not exist: create it or give another --db",
                              key="db", source=source)  # fmt: skip
        if not os.access(path.parent, os.W_OK):
            raise ConfigError(f"cannot create a database in {path.parent} (not writable): give another --db",
                              key="db", source=source)  # fmt: skip
        return None
    if path.is_dir():
        raise ConfigError("is a directory, not a database file: give the file's path", key="db", source=source)
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
        where = path if not os.access(path, os.W_OK) else path.parent
        raise ConfigError(f"{where} is read-only: the store must write its journal there; make it writable "
                          "(chmod u+w) or copy the database elsewhere", key="db", source=source)  # fmt: skip
    # Not mode=ro: a read-only connection to a WAL database leaves its -wal and -shm files behind. Reading
    # writes nothing to the file, and query_only refuses any write.
    try:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA query_only = ON")
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the database ({exc}): check the path and its permissions",
                          key="db", source=source) from None  # fmt: skip
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = None
        if _OURS in tables:
            row = connection.execute(f"SELECT version_num FROM {_OURS}").fetchone()
            revision = None if row is None else str(row[0])
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"not a readable SQLite database ({exc}); the file was left as it is: restore a "
                          "backup (smc-agent db backup makes one) or give another --db",
                          key="db", source=source) from None  # fmt: skip
    finally:
        connection.close()
    if tables and _OURS not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise ConfigError(f"a SQLite database that is not smc-agent's (it has the tables {shown} and no "
                          "alembic_version); it was left as it is: give another --db",
                          key="db", source=source)  # fmt: skip
    return revision


def create(url: URL) -> Engine:
    """The engine for ``url``: SQLite with WAL, busy timeout, foreign keys and BEGIN IMMEDIATE writes;
    PostgreSQL through psycopg 3 with pre-pinged pooled connections."""
    source = masked(url)
    try:
        if url.get_backend_name() == "sqlite":
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            _sqlite_events(engine)
        else:
            # Commits as durable as SQLite's WAL with synchronous=NORMAL: a killed agent loses nothing it
            # committed, a crash of the server's machine may lose the last commits and never corrupts.
            # A URL that sets its own libpq ``options`` (synchronous_commit=on) keeps them.
            durability = {} if "options" in url.query else {"options": "-c synchronous_commit=off"}
            engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5, **durability})
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"no driver for this database ({exc}): install psycopg[binary] for PostgreSQL",
                          key="db", source=source) from None  # fmt: skip
    return engine


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling off: the "begin" hook below says how each one starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A writer takes the lock up front (waiting up to the busy timeout for another writer) instead
        # of failing with "database is locked" when a read turns into a write.
        write = connection.get_execution_options().get("smc_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


@contextmanager
def translated(url: URL, doing: str) -> Iterator[None]:
    """Database errors as a :class:`ConfigError` naming the database (masked) and what to do."""
    try:
        yield
    except DBAPIError as exc:
        raise _config_error(url, doing, exc) from None
    except SQLAlchemyError as exc:
        raise ConfigError(f"{doing}: {_scrub(str(exc), url)}", key="db", source=masked(url)) from None


def _config_error(url: URL, doing: str, exc: DBAPIError) -> ConfigError:
    source = masked(url)
    original = _scrub(str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else repr(exc.orig), url)
    text = original.lower()
    if (
        url.get_backend_name() == "postgresql"
        and exc.connection_invalidated is False
        and ("connection" in text or "could not" in text or "timeout" in text or "password" in text)
    ):
        hint = ("is the server running and reachable, and the user, password and database right? "
                "(smc-agent db info --db URL checks)")  # fmt: skip
        return ConfigError(f"cannot connect to PostgreSQL ({original}): {hint}", key="db", source=source)
    if "readonly" in text or "read-only" in text:
        return ConfigError(f"the database is read-only ({original}): make the file and its directory writable",
                           key="db", source=source)  # fmt: skip
    if "not a database" in text or "malformed" in text:
        return ConfigError(f"{doing}: the file is not a readable SQLite database ({original}); restore a backup "
                           "or give another --db", key="db", source=source)  # fmt: skip
    if "locked" in text or "busy" in text:
        return ConfigError(f"{doing}: the database stayed locked for {BUSY_TIMEOUT_MS // 1000} s by another "
                           "process; stop it or try again", key="db", source=source)  # fmt: skip
    return ConfigError(f"{doing}: {original}", key="db", source=source)
