"""Alembic's environment for the store: always run on the connection the store hands over
(``config.attributes["connection"]``), so no ``alembic.ini`` and no URL are needed here."""

from __future__ import annotations

from alembic import context

from smc_agent.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
