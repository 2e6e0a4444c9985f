"""The store: the SQL side of the journal port, on SQLite (the default) or PostgreSQL.

SQLAlchemy tables (:mod:`.schema`), Alembic migrations shipped in the package (``migrations/``), the
journal with its projections (:mod:`.journal`, :mod:`.projections`), sessions (:mod:`.sessions`) and
the engine with its checks (:mod:`.engine`). :func:`open_store` is the way in; ``docs/store.md``
describes the tables and the commands (``smc-agent db ...``).
"""

from __future__ import annotations

from smc_agent.store.database import Store, open_store
from smc_agent.store.engine import default_url, masked
from smc_agent.store.journal import SqlJournal
from smc_agent.store.sessions import SessionMismatch, StoredSession

__all__ = ["SessionMismatch", "SqlJournal", "Store", "StoredSession", "default_url", "masked", "open_store"]
