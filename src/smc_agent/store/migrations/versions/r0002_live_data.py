"""Live data: each feed's changes of health, and what reconciliation with an exchange found.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _columns(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name=f"fk_{table}_session_id_sessions"),
    ]


def upgrade() -> None:
    op.create_table(
        "feed_health",
        *_columns("feed_health"),
        sa.Column("feed", sa.String(64), nullable=False),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "reconciliations",
        *_columns("reconciliations"),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("symbol", sa.String(64)),
        sa.Column("client_order_id", sa.String(64)),
        sa.Column("detail", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reconciliations")
    op.drop_table("feed_health")
