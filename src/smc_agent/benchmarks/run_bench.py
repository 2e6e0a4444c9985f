"""``smc-agent bench run``: the agent's paper session over ten real markets, with its SQLite store.

Ten symbols, each on three timeframes (its entry candles, then 1h and 4h built from them), replayed
at full speed through :class:`~smc_agent.service.agent.Agent` exactly as ``smc-agent run`` does,
journaling to a fresh SQLite file. The shared data holds three 1m markets (BTC-PERP, GBP/USD and
XRP/ETH); the other seven are the 5m and 15m files, which the report names with their timeframes.

Two passes, each in a fresh process (peak RSS is a high-water mark, see :mod:`.measure`):

- ``grouped``: a replay's commits, :data:`~smc_agent.engine.session.REPLAY_BATCH` candles per
  transaction: the throughput of ``smc-agent run --speed max``;
- ``per_candle``: one transaction per candle, as a live session commits: its latency from a candle's
  arrival at the session to the commit that holds its events is what a live trader waits.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from smc_agent.benchmarks.measure import call_in_subprocess, peak_rss_mb
from smc_agent.core.errors import DataError
from smc_agent.data.shared import shared_data_dir

__all__ = ["RUN_FILES", "RUN_HTFS", "run_benchmark"]

RUN_FILES = (
    "crypto/BTC-PERP_1m_2022-01.csv",
    "forex/GBPUSD_1m_bid_2012-02.csv",
    "crypto/XRP_ETH-1m.feather",
    "crypto/BTC_USDT-5m_2023.json",
    "crypto/ADA_BTC-5m.feather",
    "crypto/DASH_BTC-5m.feather",
    "crypto/ETC_BTC-5m.feather",
    "crypto/ETH_BTC-5m.feather",
    "crypto/LTC_BTC-5m.feather",
    "forex/EURUSD_15m_mt5.csv",
)
RUN_HTFS = "1h,4h"


def run_benchmark(*, root: Path | None = None) -> dict[str, Any]:
    base = root or shared_data_dir()
    paths = [base / name for name in RUN_FILES]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DataError("benchmark source data not found; set SMC_SHARED_DATA", path=missing[0])
    passes = {name: call_in_subprocess(_session, [str(p) for p in paths], every) for name, every in
              (("grouped", None), ("per_candle", 1))}  # fmt: skip
    return {"files": list(RUN_FILES), "htfs": RUN_HTFS.split(","), **passes}


def _session(paths: list[str], commit_every: int | None) -> dict[str, Any]:
    """Runs in a fresh process: one whole session into a new SQLite file."""
    from smc_agent.service.agent import Agent, AgentOptions

    with tempfile.TemporaryDirectory() as scratch:
        options = AgentOptions(data=[Path(p) for p in paths], speed=float("inf"), htf=RUN_HTFS,
                               db=f"sqlite:///{Path(scratch) / 'bench.db'}", commit_every=commit_every)  # fmt: skip
        agent = Agent.open(options)
        try:
            started = time.perf_counter()
            asyncio.run(agent.run())
            seconds = time.perf_counter() - started
            summary = agent.summary()
            rows = agent.store.row_counts()
        finally:
            agent.close()
    samples = sorted(agent.latency.samples)
    return {
        "symbols": len(agent.system.symbols),
        "candles": summary["candles"],
        "seconds": seconds,
        "candles_per_second": summary["candles"] / seconds,
        "latency_ms_p50": 1000 * statistics.median(samples),
        "latency_ms_p99": 1000 * samples[min(len(samples) - 1, int(0.99 * len(samples)))],
        "events": rows["events"],
        "fills": len(summary["trades"]),
        "peak_rss_mb": peak_rss_mb(),
    }
