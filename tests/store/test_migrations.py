"""Migrations: an empty database gets the whole schema, the schema equals the tables in schema.py, a
database at the previous revision (base) upgrades, and ``upgrade=False`` refuses one that is behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from smc_agent.core.errors import ConfigError
from smc_agent.store import migrate, open_store, schema

TABLES = {"sessions", "events", "cursors", "candles", "signals", "orders", "fills", "positions",
          "account_snapshots", "risk_events", "backtest_runs", "audit_log", "feed_health",
          "reconciliations", "api_keys", "api_settings"}  # fmt: skip


def test_an_empty_database_is_migrated_to_head_and_matches_the_tables(store_url: str) -> None:
    store = open_store(store_url)
    try:
        assert store.revision() == migrate.head() == "0003"
        assert set(store.row_counts()) == TABLES
    finally:
        store.close()
    engine = create_engine(store_url)
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == TABLES | {"alembic_version"}
            assert compare_metadata(MigrationContext.configure(connection), schema.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(store_url: str) -> None:
    store = open_store(store_url)
    store.begin_session(fingerprint="f", mode="paper", sources=[], settings={})
    with store.writing("downgrade") as connection:
        migrate.downgrade(connection, "base")
    assert store.revision() is None
    store.close()
    engine = create_engine(store_url)
    with engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    with pytest.raises(ConfigError, match=r"has no schema yet, not 0003: run `smc-agent db upgrade` first"):
        open_store(store_url, upgrade=False)
    again = open_store(store_url)  # the previous revision (base) upgrades to head
    try:
        assert again.revision() == "0003"
        assert again.row_counts()["sessions"] == 0
    finally:
        again.close()


def test_a_database_at_the_previous_revision_upgrades_and_keeps_its_rows(store_url: str) -> None:
    store = open_store(store_url)
    session = store.begin_session(fingerprint="f", mode="paper", sources=[], settings={})
    with store.writing("downgrade") as connection:
        migrate.downgrade(connection, "0001")
    assert store.revision() == "0001"
    store.close()
    engine = create_engine(store_url)
    with engine.connect() as connection:
        assert "feed_health" not in inspect(connection).get_table_names()
    engine.dispose()
    again = open_store(store_url)  # 0001 upgrades to head: the new tables, the old rows
    try:
        assert again.revision() == "0003"
        assert again.row_counts()["sessions"] == 1
        again.record_feed_health(session.id, 1, "binance", "down", "connected", "stream lost")
        assert again.feed_health(session.id) == [{"at_ms": 1, "feed": "binance", "health": "down",
                                                  "previous": "connected", "reason": "stream lost"}]  # fmt: skip
    finally:
        again.close()


def test_upgrade_false_opens_a_database_at_head(store_url: str) -> None:
    open_store(store_url).close()
    store = open_store(store_url, upgrade=False)
    try:
        assert store.revision() == "0003"
    finally:
        store.close()


def test_upgrade_false_never_creates_a_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(ConfigError, match="run `smc-agent db upgrade` first"):
        open_store(f"sqlite:///{path}", upgrade=False)
    assert not path.exists()


def test_the_default_url_is_a_file_in_the_user_data_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    store = open_store()
    try:
        assert store.masked_url() == f"sqlite:///{tmp_path / 'data' / 'smc-agent' / 'smc-agent.db'}"
        assert (tmp_path / "data" / "smc-agent" / "smc-agent.db").is_file()
    finally:
        store.close()
