"""The base schema: sessions, the event journal and its cursors, candles, and the projections.

Revision ID: 0001
Revises:
Create Date: 2024-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("audit_log", "backtest_runs", "risk_events", "account_snapshots", "positions", "fills", "orders",
           "signals", "candles", "cursors", "events", "sessions")  # fmt: skip


def _session_id() -> sa.Column[str]:
    return sa.Column("session_id", sa.String(64), nullable=False)


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name=f"fk_{table}_session_id_sessions")


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("started_ms", sa.BigInteger, nullable=False),
        sa.Column("stopped_ms", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_started_ms", "sessions", ["started_ms"])
    op.create_table(
        "events",
        _session_id(),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("event_ms", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_events"),
        _session_fk("events"),
    )
    op.create_table(
        "cursors",
        _session_id(),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("close_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "symbol", "timeframe", name="pk_cursors"),
        _session_fk("cursors"),
    )
    op.create_table(
        "candles",
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("timeframe", sa.String(16), nullable=False),
        sa.Column("open_ms", sa.BigInteger, nullable=False, autoincrement=False),
        *(sa.Column(name, sa.Text, nullable=False) for name in ("open", "high", "low", "close", "volume")),
        sa.PrimaryKeyConstraint("venue", "symbol", "timeframe", "open_ms", name="pk_candles"),
    )
    op.create_index("ix_candles_open_ms", "candles", ["open_ms"])
    op.create_table(
        "signals",
        _session_id(),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("signal_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("setup", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("outcome_r", sa.Text, nullable=True),
        sa.Column("event_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_signals"),
        _session_fk("signals"),
    )
    op.create_index("ix_signals_signal_id", "signals", ["session_id", "signal_id", "version"])
    op.create_table(
        "orders",
        _session_id(),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("venue_order_id", sa.String(128), nullable=True),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("price", sa.Text, nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "client_order_id", name="pk_orders"),
        _session_fk("orders"),
    )
    op.create_table(
        "fills",
        _session_id(),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("price", sa.Text, nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("fee", sa.Text, nullable=False),
        sa.Column("event_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_fills"),
        _session_fk("fills"),
    )
    op.create_table(
        "positions",
        _session_id(),
        sa.Column("symbol", sa.String(64), nullable=False),
        sa.Column("side", sa.String(8), nullable=True),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("average_price", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "symbol", name="pk_positions"),
        _session_fk("positions"),
    )
    op.create_table(
        "account_snapshots",
        _session_id(),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("event_ms", sa.BigInteger, nullable=False),
        sa.Column("balance", sa.Text, nullable=False),
        sa.Column("equity", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_account_snapshots"),
        _session_fk("account_snapshots"),
    )
    op.create_table(
        "risk_events",
        _session_id(),
        sa.Column("seq", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("event_ms", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("symbol", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "seq", name="pk_risk_events"),
        _session_fk("risk_events"),
    )
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("data_fingerprint", sa.String(128), nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("artefacts", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_runs"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
