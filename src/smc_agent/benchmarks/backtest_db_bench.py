"""A backtest kept in the store against the same backtest in memory (``smc-agent bench store``).

The SMC strategy over a real candle file (EURUSD 15m, a year) through ``backtest_request``, once with
no journal and once with ``backtest --db``'s recording into a fresh SQLite file, alternating so the
machine's noise falls on both; the medians and their ratio are reported (target: at most 1.5).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from smc_agent.config import AppConfig
from smc_agent.core.errors import DataError
from smc_agent.data.shared import shared_data_dir
from smc_agent.events.journal import Journal
from smc_agent.service import AnalysisRequest, backtest_request
from smc_agent.service.recording import recorded_backtest
from smc_agent.service.store import open_store

__all__ = ["BACKTEST_DB_SOURCE", "backtest_db_benchmark"]

BACKTEST_DB_SOURCE = "forex/EURUSD_15m_mt5.csv"


def backtest_db_benchmark(*, source: Path | None = None, repeats: int = 3) -> dict[str, Any]:
    path = source or shared_data_dir() / BACKTEST_DB_SOURCE
    if not path.exists():
        raise DataError("benchmark source data not found; pass --data FILE or set SMC_SHARED_DATA", path=str(path))
    request, app = AnalysisRequest(path), AppConfig()

    def run(journal: Journal | None = None, session_id: str = "") -> Any:
        return backtest_request(request, journal=journal, session_id=session_id)

    run()  # compile and warm the caches before timing
    memory: list[float] = []
    stored: list[float] = []
    events = 0
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(repeats):
            started = time.perf_counter()
            result = run()
            memory.append(time.perf_counter() - started)
            url = f"sqlite:///{Path(scratch) / f'run{round_}.db'}"
            started = time.perf_counter()
            recorded_backtest(url, [path], "smc", app, run, {})
            stored.append(time.perf_counter() - started)
            events = _events(url)
    seconds_memory, seconds_db = statistics.median(memory), statistics.median(stored)
    return {
        "source": str(path),
        "candles": len(result.streams[next(iter(result.streams))]),
        "trades": len(result.trades),
        "events": events,
        "seconds_memory": seconds_memory,
        "seconds_db": seconds_db,
        "ratio": seconds_db / seconds_memory,
        "memory_runs": memory,
        "db_runs": stored,
    }


def _events(url: str) -> int:
    store = open_store(url)
    try:
        return store.row_counts()["events"]
    finally:
        store.close()
