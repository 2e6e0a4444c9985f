"""The store's tables: one set for SQLite and PostgreSQL, defined once and only here.

Times are UTC epoch milliseconds (``BigInteger``); money, prices and quantities are Decimals written as
text (``str(Decimal)``, exact, never a float); documents are JSON. ``events`` is the journal itself, the
one source of truth: ``payload`` is :func:`smc_agent.events.codec.to_msgpack` of the event. Every other
session table is a projection of it, written in the same transaction as the events it comes from, so a
query never sees an order or a fill that the journal does not hold.

The Alembic migrations (``store/migrations``) create exactly these tables; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "account_snapshots",
    "api_keys",
    "api_settings",
    "audit_log",
    "backtest_runs",
    "candles",
    "cursors",
    "events",
    "feed_health",
    "fills",
    "metadata",
    "orders",
    "positions",
    "reconciliations",
    "risk_events",
    "sessions",
    "signals",
]

# Named constraints, so a migration can refer to each the same way on both backends.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _session_id() -> Column[str]:
    return Column("session_id", String(64), ForeignKey("sessions.id"), primary_key=True)


sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("mode", String(16), nullable=False),
    Column("sources", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("settings", JSON, nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("stopped_ms", BigInteger),
)
Index("ix_sessions_started_ms", sessions.c.started_ms)

events = Table(
    "events",
    metadata,
    _session_id(),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(32), nullable=False),
    Column("event_ms", BigInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    _session_id(),
    Column("symbol", String(64), primary_key=True),
    Column("timeframe", String(16), primary_key=True),
    Column("close_ms", BigInteger, nullable=False),
)

candles = Table(
    "candles",
    metadata,
    Column("venue", String(64), primary_key=True),
    Column("symbol", String(64), primary_key=True),
    Column("timeframe", String(16), primary_key=True),
    Column("open_ms", BigInteger, primary_key=True, autoincrement=False),
    Column("open", Text, nullable=False),
    Column("high", Text, nullable=False),
    Column("low", Text, nullable=False),
    Column("close", Text, nullable=False),
    Column("volume", Text, nullable=False),
)
Index("ix_candles_open_ms", candles.c.open_ms)

# Every version of every signal: one row per SignalChanged (its seq), so none is ever overwritten.
signals = Table(
    "signals",
    metadata,
    _session_id(),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("signal_id", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("setup", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("outcome_r", Text),
    Column("event_ms", BigInteger, nullable=False),
)
Index("ix_signals_signal_id", signals.c.session_id, signals.c.signal_id, signals.c.version)

# Each order as it stands after its latest event.
orders = Table(
    "orders",
    metadata,
    _session_id(),
    Column("client_order_id", String(128), primary_key=True),
    Column("venue_order_id", String(128)),
    Column("symbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("type", String(16), nullable=False),
    Column("quantity", Text, nullable=False),
    Column("price", Text),
    Column("status", String(24), nullable=False),
    Column("tag", String(32), nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

fills = Table(
    "fills",
    metadata,
    _session_id(),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("client_order_id", String(128), nullable=False),
    Column("price", Text, nullable=False),
    Column("quantity", Text, nullable=False),
    Column("fee", Text, nullable=False),
    Column("event_ms", BigInteger, nullable=False),
)

# The latest position per symbol; ``side`` NULL and ``quantity`` 0 when flat.
positions = Table(
    "positions",
    metadata,
    _session_id(),
    Column("symbol", String(64), primary_key=True),
    Column("side", String(8)),
    Column("quantity", Text, nullable=False),
    Column("average_price", Text, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# The equity curve: one row per BalanceChanged. ``equity`` is the balance when every position is flat
# (exact), NULL while one is open (the event carries no mark price to value it with).
account_snapshots = Table(
    "account_snapshots",
    metadata,
    _session_id(),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_ms", BigInteger, nullable=False),
    Column("balance", Text, nullable=False),
    Column("equity", Text),
)

# What the risk gate did: 'denied' (RiskRejected), 'halted', 'reducing', 'reset' (TradingStateChanged).
risk_events = Table(
    "risk_events",
    metadata,
    _session_id(),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_ms", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("symbol", String(64)),
    Column("reason", Text, nullable=False),
)

backtest_runs = Table(
    "backtest_runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_ms", BigInteger, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("data_fingerprint", String(128), nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("artefacts", JSON, nullable=False),
)

# Each change of a live feed's health (connected, degraded, down), with its reason: once per change.
feed_health = Table(
    "feed_health",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("feed", String(64), nullable=False),
    Column("health", String(16), nullable=False),
    Column("previous", String(16), nullable=False),
    Column("reason", Text, nullable=False),
)

# What reconciliation with an exchange found at a live session's start: each difference, settled by an
# event (a fill while down, an order cancelled outside) or left for a person (an order we did not place).
reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False),
    Column("at_ms", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("symbol", String(64)),
    Column("client_order_id", String(64)),
    Column("detail", Text, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", JSON, nullable=False),
)

# The API's keys (smc_agent.api.keys): never the key itself, only its argon2 hash and its public prefix, by
# which a request's key is found. ``scopes`` is a comma-separated list (read, trade, admin).
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("hash", Text, nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
    Column("revoked_ms", BigInteger),
    Column("last_used_ms", BigInteger),
)

# The API's own settings by name: ``password`` (the dashboard password's argon2 hash) and ``jwt_secret``
# (the random key that signs the login tokens, made once).
api_settings = Table(
    "api_settings",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)
