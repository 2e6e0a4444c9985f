"""Alembic, configured in code: the migrations ship in the package (``store/migrations``), so a user
needs no ``alembic.ini``. Every command runs on a connection the store opened.

>>> head() == known_revisions()[-1]
True
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

__all__ = ["MIGRATIONS", "current", "downgrade", "head", "known_revisions", "stamp", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    revision = _script().get_current_head()
    assert revision is not None
    return revision


def known_revisions() -> list[str]:
    """Every revision this code knows, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def current(connection: Connection) -> str | None:
    """The revision the database is at (None: no version table, or an empty one)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, target: str = "head") -> None:
    command.upgrade(_config(connection), target)


def downgrade(connection: Connection, target: str) -> None:
    command.downgrade(_config(connection), target)


def stamp(connection: Connection, revision: str) -> None:
    command.stamp(_config(connection), revision)
