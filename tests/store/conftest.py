"""Fixtures of the store tests: ``store_url`` runs a test on a fresh SQLite file and on a fresh
PostgreSQL database (skipped when no server answers, unless ``SMC_REQUIRE_POSTGRES=1``), and
``real_events`` are the events of a real SMC backtest (9,000 EURUSD 15m candles: signals in every
version, orders, fills, positions, balance changes and risk denials)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from postgres_support import postgres_database
from smc_agent.bootstrap import EngineSettings, Mode, build
from smc_agent.data.loaders import load_candles
from smc_agent.events import Event
from smc_agent.events.journal import MemoryJournal
from smc_agent.store import Store, open_store
from smc_agent.strategy.registry import StrategyOptions, strategy_kind


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from postgres_database()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def real_events(shared_data_path: Callable[[str], Path]) -> list[Event]:
    streams = [load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))[:9_000]]
    kind, journal = strategy_kind("smc"), MemoryJournal()
    system = build(Mode.BACKTEST, streams, lambda c: kind.create(c.symbol, c.timeframe, StrategyOptions(("1h", "4h"))),
                   EngineSettings(), journal=journal, session_id="proof")  # fmt: skip
    system.run()
    return list(journal.read())
