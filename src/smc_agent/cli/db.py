"""``smc-agent db ...``: the store's database: upgrade its schema, show what it holds, back it up, prune.

The database is ``--db URL``, else the settings' ``store.url`` (``SMC_STORE__URL``), else the default
SQLite file in the user data directory. Every command is written to the store's audit log.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.cli.common import fail, user_errors
from smc_agent.config import load_settings
from smc_agent.core.errors import ConfigError
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.store import Store, open_store
from smc_agent.store.maintenance import backup_sqlite, pg_dump_command

__all__ = ["DbOption", "app", "open_db"]

app = typer.Typer(help="The store's database: schema, contents, backups.", no_args_is_help=True, add_completion=False)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Store URL (default: settings store.url, else a SQLite file in the user data directory).",
                 show_default=False),
]  # fmt: skip


def _url(db: str | None) -> str | None:
    return db if db else load_settings().store.url


def open_db(db: str | None, *, upgrade: bool = False) -> Store:
    return open_store(_url(db), upgrade=upgrade)


@app.callback()
def db() -> None:
    """Upgrade, inspect, back up and prune the store (see docs/store.md)."""


@app.command("upgrade")
def upgrade_command(db: DbOption = None) -> None:
    """Create the schema in an empty database, or migrate an older one to this version's."""
    with user_errors():
        store = open_db(db, upgrade=True)
        try:
            revision = store.revision()
            store.audit("db upgrade", {"db": store.masked_url(), "revision": revision})
            typer.echo(f"{store.masked_url()}: schema at revision {revision} (head)")
        finally:
            store.close()


@app.command("info")
def info_command(db: DbOption = None) -> None:
    """The database (password masked), its schema revision and the rows of each table."""
    with user_errors():
        store = open_db(db)
        try:
            counts = store.row_counts()
            console = Console()
            console.print(f"database: {store.masked_url()}", soft_wrap=True, highlight=False, markup=False)
            console.print(f"revision: {store.revision()}", highlight=False)
            table = Table(title="Rows", title_justify="left")
            table.add_column("table")
            table.add_column("rows", justify="right")
            for name, count in counts.items():
                table.add_row(name, f"{count:,}")
            console.print(table)
            store.audit("db info", {"db": store.masked_url()})
        finally:
            store.close()


@app.command("backup")
def backup_command(
    out: Annotated[Path, typer.Argument(help="The backup file to write (a new file).", show_default=False)],
    db: DbOption = None,
) -> None:
    """Copy a SQLite database (online: safe while the agent writes); for PostgreSQL, print the pg_dump line."""
    with user_errors():
        store = open_db(db)
        try:
            if store.url.get_backend_name() == "postgresql":
                command = pg_dump_command(store.url, out)
                typer.echo(f"run this to back up {store.masked_url()} (PGPASSWORD: the real password):")
                typer.echo(command)
                store.audit("db backup", {"db": store.masked_url(), "pg_dump": command})
                return
            written = backup_sqlite(store.url, out)
            store.audit("db backup", {"db": store.masked_url(), "out": str(written.resolve())})
            typer.echo(f"backed up {store.masked_url()} to {written}")
        finally:
            store.close()


@app.command("prune")
def prune_command(
    candles_older_than: Annotated[
        str, typer.Option("--candles-older-than", help="Delete stored candles opened longer ago than this (90d, 12h).")
    ],
    db: DbOption = None,
) -> None:
    """Delete old stored candles (the journals are never pruned)."""
    try:
        age = parse_timeframe(candles_older_than)
    except (ConfigError, ValueError):
        fail(f"--candles-older-than takes a duration such as 90d or 12h, got {candles_older_than!r}")
    with user_errors():
        store = open_db(db)
        try:
            cutoff = time.time_ns() // 1_000_000 - age
            deleted = store.prune_candles(cutoff)
            store.audit("db prune", {"db": store.masked_url(), "candles_older_than": candles_older_than,
                                     "cutoff_ms": cutoff, "deleted": deleted})  # fmt: skip
            typer.echo(f"deleted {deleted:,} candles opened before {candles_older_than} ago")
        finally:
            store.close()
