"""Shared set-up for the optimisation tests: real candles and a local Dask cluster.

Each test module wraps these in its own module-scoped fixtures. A ``tests/backtest/conftest.py``
cannot hold them: under ``--doctest-modules`` it would collide with ``tests/conftest.py`` (both
import as ``conftest``). So a module that needs workers starts its own and stops them when it is
done; within a module they serve many maps, as in the product.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import distributed

from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles

BTC_1M = "crypto/BTC-PERP_1m_2022-01.csv"


def btc_head(shared_data_path: Callable[[str], Path], count: int = 5_000) -> Candles:
    """The first ``count`` one-minute BTC-PERP candles (5,000 is about three and a half days)."""
    return load_candles(shared_data_path(BTC_1M))[:count]


@contextmanager
def local_cluster() -> Iterator[str]:
    """The scheduler address of a one-worker local cluster bound to 127.0.0.1, closed on exit.

    The worker has two threads, so that tasks can finish out of submission order (the ordering
    test needs two slots) and so that two backtests share a worker process, as on a real cluster.
    Every socket is on 127.0.0.1 with a free port: without ``scheduler_kwargs`` the scheduler's HTTP
    endpoint (health and metrics, served even without a dashboard) takes port 8787 and fails to start
    when another cluster on the machine has it.
    """
    cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
