"""Where an optimisation's backtests run: in this process, in a process pool, or on a Dask cluster.

A grid is many independent backtests, so it parallelises by running them elsewhere. The code that
plans and ranks the runs sees only :class:`Executor`, one method that maps a function over items, so
the same optimisation runs serially in a test, on every core of a laptop, or on a cluster.

Each implementation returns the results in the order of the items, whatever order they finish in,
so an optimisation's output does not depend on scheduling. ``progress(done, total)`` is called in
the calling thread after each item finishes, which is what a progress bar needs. The function and
the items must be picklable (a module-level function and small dataclasses) for the pool and Dask;
send a path to large data rather than the data itself.

Dask is optional: :class:`DaskExecutor` imports ``distributed`` only when it is created and says
which extra to install when it is missing.

>>> with SerialExecutor() as executor:
...     executor.map(abs, [-2, 1, -3])
[2, 1, 3]
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

from smc_agent.core.errors import ConfigError

__all__ = ["DaskExecutor", "Executor", "ProcessExecutor", "ProgressHook", "SerialExecutor", "make_executor"]

T = TypeVar("T")
R = TypeVar("R")

ProgressHook = Callable[[int, int], None]
"""Called with (items finished, items in all) after each item finishes; callers may announce (0, total)."""

DASK_EXTRA = "dask"


class Executor(Protocol):
    """Runs ``fn`` over ``items``; the results are in the order of the items."""

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: ProgressHook | None = None) -> list[R]: ...


class _Closing:
    """Context-manager support: ``with SomeExecutor() as executor:`` releases its workers on exit."""

    def close(self) -> None:
        """Release workers or connections; nothing to do by default."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class SerialExecutor(_Closing):
    """One item after another in this process: the reference the parallel executors must agree with."""

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: ProgressHook | None = None) -> list[R]:
        results: list[R] = []
        for item in items:
            results.append(fn(item))
            if progress is not None:
                progress(len(results), len(items))
        return results


class ProcessExecutor(_Closing):
    """A :class:`concurrent.futures.ProcessPoolExecutor` kept open across maps.

    Keeping the pool lets a worker reuse what it loaded for an earlier map (candles, compiled
    kernels). Workers are started with ``spawn`` by default: a forked child of a process that runs
    threads (a progress bar's refresher, a Dask client) can inherit a held lock and hang.
    ``max_workers`` defaults to :func:`os.cpu_count`.
    """

    def __init__(self, max_workers: int | None = None, *, start_method: str = "spawn") -> None:
        workers = max_workers if max_workers is not None else os.cpu_count() or 1
        if workers < 1:
            raise ConfigError(f"must be at least 1, got {workers}", key="workers")
        self.max_workers = workers
        self._context = multiprocessing.get_context(start_method)
        self._pool: cf.ProcessPoolExecutor | None = None

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: ProgressHook | None = None) -> list[R]:
        if not items:
            return []
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(self.max_workers, mp_context=self._context)
        futures = [self._pool.submit(fn, item) for item in items]
        try:
            for done, future in enumerate(cf.as_completed(futures), start=1):
                future.result()  # the first failure surfaces here, not after every other run
                if progress is not None:
                    progress(done, len(items))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return [future.result() for future in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskExecutor(_Closing):
    """Items as tasks on a running Dask cluster, through ``distributed.Client(address)``.

    The workers must be able to import smc_agent and read any path an item names (a local
    cluster, or a shared filesystem). A backtest is Python code that holds the GIL, so parallelism
    comes from worker processes, not threads: start workers with ``--nthreads 1``. ``timeout`` is how
    long to wait for the scheduler, in seconds.
    """

    def __init__(self, address: str, *, timeout: float = 10.0) -> None:
        distributed = _distributed()
        self.address = address
        # A client that failed to connect still tries to close itself when collected, and waits for
        # that; probing the socket first turns the usual mistakes (wrong port, nothing running) into
        # an immediate error without ever creating one.
        _probe(address, timeout)
        try:
            self._client: Any = distributed.Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {error}", key="dask-scheduler") from None
        self._as_completed: Any = distributed.as_completed

    def map(self, fn: Callable[[T], R], items: Sequence[T], progress: ProgressHook | None = None) -> list[R]:
        if not items:
            return []
        futures = self._client.map(fn, list(items), pure=False)
        position = {future.key: n for n, future in enumerate(futures)}
        results: list[Any] = [None] * len(items)
        try:
            # Each result crosses the network once, as it finishes; its key puts it back in place.
            finished = self._as_completed(futures, loop=self._client.loop, with_results=True)
            for done, (future, result) in enumerate(finished, start=1):
                results[position[future.key]] = result
                if progress is not None:
                    progress(done, len(items))
        except BaseException:
            self._client.cancel(futures)
            raise
        return results

    def close(self) -> None:
        self._client.close()


def make_executor(
    workers: int | None = None, dask_scheduler: str | None = None
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """The executor the command line asks for: Dask when given a scheduler, serial for one worker,
    else a process pool (``workers`` processes, default one per core)."""
    if dask_scheduler is not None:
        return DaskExecutor(dask_scheduler)
    if workers is not None and workers < 1:
        raise ConfigError(f"must be at least 1, got {workers}", key="workers")
    if workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers)


def _distributed() -> Any:
    """The ``distributed`` module, or a ConfigError that says how to install it."""
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            f"needs the optional packages dask and distributed: pip install 'smc-agent[{DASK_EXTRA}]'",
            key="dask-scheduler",
        ) from None
    return distributed


def _probe(address: str, timeout: float) -> None:
    """Check that something listens at a ``tcp://host:port`` address (other schemes are left to Dask)."""
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    if scheme not in ("tcp", "tls", "ws", "wss"):
        if scheme in ("inproc", "ucx"):
            return
        raise ConfigError(f"{address!r} is not a scheduler address such as tcp://127.0.0.1:8786", key="dask-scheduler")
    host, _, port = rest.rstrip("/").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"{address!r} is not a scheduler address such as tcp://127.0.0.1:8786", key="dask-scheduler")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {reason}", key="dask-scheduler") from None
