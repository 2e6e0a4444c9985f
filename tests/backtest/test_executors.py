"""Executors: results in input order whatever the completion order, and the same results everywhere.

To make items finish out of order without relying on timing, item 2k waits until item 2k+1 has
finished; with two slots (two pool processes, or two Dask worker threads) the completion order is
then 1, 0, 3, 2, ..., which each item records as its rank. Nothing here asserts how long anything takes.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from optimize_support import btc_head, local_cluster

from smc_agent.backtest.executors import DaskExecutor, ProcessExecutor, SerialExecutor, make_executor
from smc_agent.backtest.grid import StrategySpec, expand_grid, parse_grid
from smc_agent.backtest.optimize import RunTask, run_task, shared_candles
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles

COUNT = 6


@pytest.fixture(scope="module")
def btc_candles(shared_data_path: Callable[[str], Path]) -> Candles:
    return btc_head(shared_data_path)


@pytest.fixture(scope="module")
def process_executor() -> Iterator[ProcessExecutor]:
    with ProcessExecutor(2) as executor:
        yield executor


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    with local_cluster() as address:
        yield address


def finish_after_partner(item: tuple[int, str]) -> tuple[int, int]:
    """(index, how many items had finished before it); an even item waits for the odd one after it."""
    index, folder = item
    directory = Path(folder)
    if index % 2 == 0:
        partner = directory / f"done-{index + 1}"
        deadline = time.monotonic() + 10  # only a one-slot executor waits this long, and then fails below
        while not partner.exists() and time.monotonic() < deadline:
            time.sleep(0.002)
    rank = len(list(directory.glob("done-*")))
    (directory / f"done-{index}").touch()
    return index, rank


def fails_on_three(index: int) -> int:
    if index == 3:
        raise ValueError("item 3 is bad")
    return index


def _check_order(executor: ProcessExecutor | DaskExecutor, folder: Path) -> None:
    calls: list[tuple[int, int]] = []
    threads: set[int] = set()

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        threads.add(threading.get_ident())

    results = executor.map(finish_after_partner, [(i, str(folder)) for i in range(COUNT)], progress)
    assert [index for index, _ in results] == list(range(COUNT))  # input order ...
    assert [rank for _, rank in results] == [1, 0, 3, 2, 5, 4]  # ... although they finished in pairs reversed
    assert calls == [(n, COUNT) for n in range(1, COUNT + 1)]
    assert threads == {threading.get_ident()}  # the hook runs in the caller's thread, safe for a UI
    assert executor.map(abs, []) == []


def test_serial_runs_in_order_and_reports_progress() -> None:
    calls: list[tuple[int, int]] = []
    with SerialExecutor() as executor:
        assert executor.map(abs, [-3, 2, -1], lambda done, total: calls.append((done, total))) == [3, 2, 1]
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_process_pool_keeps_order(process_executor: ProcessExecutor, tmp_path: Path) -> None:
    _check_order(process_executor, tmp_path)


def test_dask_keeps_order(dask_address: str, tmp_path: Path) -> None:
    with DaskExecutor(dask_address) as executor:
        _check_order(executor, tmp_path)


def test_a_failure_surfaces_as_itself(process_executor: ProcessExecutor) -> None:
    with pytest.raises(ValueError, match="item 3 is bad"):
        process_executor.map(fails_on_three, list(range(COUNT)))
    with pytest.raises(ValueError, match="item 3 is bad"), SerialExecutor() as serial:
        serial.map(fails_on_three, list(range(COUNT)))
    assert process_executor.map(abs, [-1, -2]) == [1, 2]  # the pool still works afterwards


@pytest.mark.parametrize("where", ["process", "dask"])
def test_parallel_backtests_equal_serial_ones(
    where: str, btc_candles: Candles, process_executor: ProcessExecutor, request: pytest.FixtureRequest
) -> None:
    spec = StrategySpec("sma_cross", btc_candles.symbol, btc_candles.timeframe)
    with shared_candles(btc_candles) as source:
        tasks = [
            RunTask(source, spec, params, 0, len(btc_candles), keep_curve=True)
            for params in expand_grid(parse_grid("fast=5,10;slow=20,40"))
        ]
        serial = SerialExecutor().map(run_task, tasks)
        if where == "process":
            parallel = process_executor.map(run_task, tasks)
        else:
            with DaskExecutor(request.getfixturevalue("dask_address")) as dask:
                parallel = dask.map(run_task, tasks)
    assert [o.params for o in parallel] == [t.params for t in tasks]
    assert all(o.metrics.trades > 0 for o in serial)
    assert len({o.metrics.net_profit for o in serial}) == len(tasks)  # the parameters made a difference
    assert parallel == serial  # metrics, every equity point and every trade, exactly


def test_make_executor_picks_by_options() -> None:
    with make_executor(1) as serial:
        assert isinstance(serial, SerialExecutor)
    with make_executor(3) as pool:
        assert isinstance(pool, ProcessExecutor)
        assert pool.max_workers == 3
    with make_executor() as pool:
        assert isinstance(pool, ProcessExecutor)
        assert pool.max_workers >= 1  # one per core
    with pytest.raises(ConfigError, match="at least 1") as caught:
        make_executor(0)
    assert caught.value.key == "workers"


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler"),
        ("127.0.0.1:1", "cannot reach the Dask scheduler"),
        ("tcp://127.0.0.1", "not a scheduler address"),
        ("http://127.0.0.1:8786", "not a scheduler address"),
    ],
)
def test_an_unreachable_scheduler_is_a_clear_error(address: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        DaskExecutor(address, timeout=2)
    assert caught.value.key == "dask-scheduler"


def test_missing_dask_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # what an environment without it looks like
    with pytest.raises(ConfigError, match=r"pip install 'smc-agent\[dask\]'"):
        DaskExecutor("tcp://127.0.0.1:8786")
