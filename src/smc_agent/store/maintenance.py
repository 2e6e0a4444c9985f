"""Backups: a SQLite file copied with SQLite's online backup API (consistent while the agent writes),
or, for PostgreSQL, the ``pg_dump`` command that makes one (printed with its password masked).

>>> from sqlalchemy.engine import make_url
>>> pg_dump_command(make_url("postgresql+psycopg://smc:pw@db:5432/smc"), Path("smc.dump"))
'PGPASSWORD=*** pg_dump --format=custom --file=smc.dump postgresql://smc@db:5432/smc'
"""

from __future__ import annotations

import shlex
import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL

from smc_agent.core.errors import ConfigError
from smc_agent.store.engine import masked, sqlite_path

__all__ = ["backup_sqlite", "pg_dump_command"]


def backup_sqlite(url: URL, out: Path) -> Path:
    """Copy the SQLite database at ``url`` to the new file ``out`` (never over an existing one)."""
    source = sqlite_path(url)
    if source is None:
        raise ConfigError("the online backup copies SQLite files only", key="db", source=masked(url))
    if out.exists():
        raise ConfigError(f"{out} exists: give a new file name (a backup never overwrites)", key="out")
    if not out.parent.is_dir():
        raise ConfigError(f"the directory {out.parent} does not exist", key="out")
    try:
        with sqlite3.connect(source) as reader, sqlite3.connect(out) as writer:
            reader.backup(writer)
    except sqlite3.Error as exc:
        out.unlink(missing_ok=True)
        raise ConfigError(f"the backup failed ({exc}); nothing was written", key="db", source=masked(url)) from None
    finally:
        reader.close()
        writer.close()
    return out


def pg_dump_command(url: URL, out: Path) -> str:
    """The ``pg_dump`` line that backs up the PostgreSQL database at ``url`` into ``out`` (custom format,
    for ``pg_restore``); the password, if the URL has one, is shown as ``***`` in ``PGPASSWORD``."""
    bare = URL.create("postgresql", url.username, None, url.host, url.port, url.database, url.query)
    plain = bare.render_as_string(hide_password=False)
    prefix = "PGPASSWORD=*** " if url.password else ""
    return f"{prefix}pg_dump --format=custom --file={shlex.quote(str(out))} {shlex.quote(plain)}"
