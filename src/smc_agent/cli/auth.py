"""``smc-agent auth ...``: the API's credentials: keys with a scope, and the dashboard password.

A key is printed once, when it is made; the store keeps only its argon2 hash and its public prefix, so ``list``
shows ids, prefixes, scopes and dates, never a key. Every change goes to the audit log under the key's id.
The database is ``--db URL`` (else the settings' ``store.url``, else the default file); it is upgraded first.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smc_agent.api import keys
from smc_agent.api.auth import wall_ms
from smc_agent.cli.common import fail, user_errors
from smc_agent.cli.db import DbOption, open_db
from smc_agent.core.timefmt import iso_utc

__all__ = ["app"]

app = typer.Typer(help="The API's keys and password.", no_args_is_help=True, add_completion=False)


@app.callback()
def auth() -> None:
    """Create, list and revoke API keys; set the dashboard password (see docs/api.md)."""


@app.command("create-key")
def create_key_command(
    scope: Annotated[
        str, typer.Option("--scope", help=f"One of {', '.join(keys.SCOPES)} (each implies the ones before it).")
    ] = "read",
    db: DbOption = None,
) -> None:
    """Make an API key and print it, once: it is stored only as a hash."""
    with user_errors():
        store = open_db(db, upgrade=True)
        try:
            made, key = keys.create_key(store, scope, wall_ms())
        finally:
            store.close()
    typer.echo(key)
    typer.echo(f"key {made.id} (prefix {made.prefix}, scope {scope}): shown this once; send it as X-API-Key",
               err=True)  # fmt: skip


@app.command("list")
def list_command(db: DbOption = None) -> None:
    """Every key's id, prefix, scopes, and when it was made, last used and revoked."""
    with user_errors():
        store = open_db(db, upgrade=True)
        try:
            found = keys.list_keys(store)
        finally:
            store.close()
    table = Table(title="API keys", title_justify="left")
    for column in ("id", "prefix", "scopes", "created", "last used", "revoked"):
        table.add_column(column)
    for key in found:
        dates = (key.created_ms, key.last_used_ms, key.revoked_ms)
        table.add_row(str(key.id), key.prefix, ",".join(key.scopes), *("-" if ms is None else iso_utc(ms)
                                                                         for ms in dates))  # fmt: skip
    Console().print(table)


@app.command("revoke")
def revoke_command(
    key_id: Annotated[int, typer.Argument(help="The key's id (auth list).")], db: DbOption = None
) -> None:
    """Revoke a key: it is refused from the next request on."""
    with user_errors():
        store = open_db(db, upgrade=True)
        try:
            key = keys.revoke_key(store, key_id, wall_ms())
        finally:
            store.close()
    typer.echo(f"revoked key {key.id} (prefix {key.prefix})")


@app.command("set-password")
def set_password_command(
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    db: DbOption = None,
) -> None:
    """Set the dashboard password (POST /api/v1/auth/login takes it); prompted for unless --password-stdin."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("the password is empty")
    with user_errors():
        store = open_db(db, upgrade=True)
        try:
            keys.set_password(store, password, wall_ms())
        finally:
            store.close()
    typer.echo("password set")
