"""Fixtures of the API tests: a store filled by a real paper session (EURUSD 15m, replayed in-process at full
speed, once per test run) copied afresh for each test, the app over it, and keys of every scope."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from postgres_support import postgres_database
from smc_agent.api import create_app, keys
from smc_agent.service.agent import Agent, AgentOptions
from smc_agent.store import Store, open_store

SESSION_FILE = "forex/EURUSD_15m_mt5.csv"


def run_session(data: Path, url: str) -> None:
    """A paper session of ``data`` into the store at ``url``, replayed at full speed (two minutes at most)."""
    agent = Agent.open(AgentOptions(data=[data], speed=float("inf"), db=url))
    try:
        asyncio.run(asyncio.wait_for(agent.run(), timeout=120))
    finally:
        agent.close()


@pytest.fixture(scope="session")
def session_data(shared_data_path: Callable[[str], Path]) -> Path:
    return shared_data_path(SESSION_FILE)


@pytest.fixture(scope="session")
def session_db(tmp_path_factory: pytest.TempPathFactory, session_data: Path) -> Path:
    path = tmp_path_factory.mktemp("api") / "session.db"
    run_session(session_data, f"sqlite:///{path}")
    return path


@pytest.fixture
def db_path(session_db: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "store.db"
    shutil.copy(session_db, copy)
    return copy


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{db_path}", upgrade=False)
    yield opened
    opened.close()


@pytest.fixture(params=["sqlite", "postgres"])
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store at head, on SQLite and on PostgreSQL (skipped when no server answers)."""
    urls = iter([f"sqlite:///{tmp_path / 'empty.db'}"]) if request.param == "sqlite" else postgres_database()
    url = next(urls)
    opened = open_store(url)
    yield opened
    opened.close()
    for _ in urls:  # the PostgreSQL database is dropped
        pass


@pytest.fixture
def postgres_store(session_data: Path) -> Iterator[Store]:
    """The same paper session, stored in a fresh PostgreSQL database (skipped when no server answers)."""
    for url in postgres_database():
        run_session(session_data, url)
        opened = open_store(url, upgrade=False)
        yield opened
        opened.close()


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store, jwt_ttl_s=60)) as test_client:
        yield test_client


@pytest.fixture
def key(store: Store) -> Callable[[str], dict[str, str]]:
    """The X-API-Key header of a new key with the scope."""

    def make(scope: str) -> dict[str, str]:
        return {"X-API-Key": keys.create_key(store, scope, 1_000)[1]}

    return make
