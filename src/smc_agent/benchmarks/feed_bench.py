"""``smc-agent bench feed``: live candles through the feed, the engine and the store, from a loopback Binance.

The loopback server (:mod:`.loopback_binance`) runs in a process of its own and replays the real BTC/USDT
5m candles of the shared data in Binance's wire format; for more than one symbol it serves that same real
series under each name (``S001/USDT``, ...): a load on the pipeline, not more market information. The
agent reads it as ``smc-agent run --source binance`` does (ccxt.pro over a WebSocket on 127.0.0.1, REST for
history and gaps), paper-trades it and commits every candle to a fresh SQLite file. Its market clock reads
the server's replay time, so the server's clock is mirrored here from the same monotonic clock.

For each symbol count, two phases:

- **stream**: ``speed`` candles a second per symbol for ``seconds``, from a few candles after the stream
  began (its first candles closed while it connected and come by REST). The latency runs from a candle's
  closing update arriving on the socket (:meth:`~smc_agent.feeds.ccxt_feed.CcxtFeed.on_final`) to the commit
  that holds its events, its signals and orders among them (a live session commits each candle): p50 and
  p99 over every candle, and over those whose step made a signal or an order.
- **catch-up**: the agent stops, the server's clock jumps ``gap`` candles, and the agent restarts: it
  backfills the gap of every symbol by REST and trades each candle. Candles per second from the restart's
  run until it has caught up: the pipeline's throughput, feed, engine and store together.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from smc_agent.core.errors import DataError
from smc_agent.core.heap import freeze_start
from smc_agent.data.shared import shared_data_dir

__all__ = ["FEED_FILE", "feed_benchmark"]

FEED_FILE = "crypto/BTC_USDT-5m_2023.json"
_TF = 300_000
_START = 600  # the candle forming when the server starts: the 500 before it are the history
_WAIT_S = 120.0  # a phase that has not finished by then failed
_SETTLE_CANDLES = 10  # candle periods after the first streamed candle before the latency is measured


def feed_benchmark(
    counts: tuple[int, ...] = (1, 100), *, seconds: float = 20.0, speed: float = 2.0, gap: int = 200,
    root: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    path = (root or shared_data_dir()) / FEED_FILE
    if not path.exists():
        raise DataError("benchmark source data not found; set SMC_SHARED_DATA", path=str(path))
    runs = [_bench(path, count, seconds, speed, gap) for count in counts]
    return {"file": FEED_FILE, "seconds": seconds, "speed": speed, "gap": gap, "runs": runs}


def _names(count: int) -> list[str]:
    return ["BTC/USDT"] if count == 1 else [f"S{i:03d}/USDT" for i in range(1, count + 1)]


def _serve(conn: Connection, path: str, names: list[str], speed: float) -> None:
    """The server's process: the fake on its own loop; it answers ``jump`` and ``stop`` from the pipe."""
    from smc_agent.benchmarks.loopback_binance import FakeBinance
    from smc_agent.data.loaders import load_candles

    candles = load_candles(path)

    async def main() -> None:
        fake = FakeBinance([candles.with_meta(symbol=name) for name in names], start_index=_START, speed=speed)
        await fake.start()
        conn.send((fake.port, int(candles.time[_START]), speed * _TF, fake.replay.wall0))
        loop = asyncio.get_running_loop()
        while True:
            command, argument = await loop.run_in_executor(None, conn.recv)
            if command == "stop":
                break
            fake.jump(argument)
            conn.send(None)
        await fake.stop()

    asyncio.run(main())


def _bench(path: Path, count: int, seconds: float, speed: float, gap: int) -> dict[str, Any]:
    from smc_agent.benchmarks.loopback_binance import ReplayTime
    from smc_agent.feeds.ccxt_feed import FeedTuning
    from smc_agent.service.agent import Agent, AgentOptions

    names = _names(count)
    parent, child = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(child, str(path), names, speed),
                                                          daemon=True)  # fmt: skip
    server.start()
    try:
        port, start_ms, rate, wall0 = parent.recv()
        replay = ReplayTime(start_ms, rate, wall0)
        with tempfile.TemporaryDirectory() as scratch:
            config = Path(scratch) / "smc.toml"
            base = f"127.0.0.1:{port}"
            config.write_text(f'[run]\nwarmup_bars = 40\n\n[exchange]\nrate_limit_ms = 1\nurls = {{ rest = '
                              f'"http://{base}/api/v3", ws = "ws://{base}/stream" }}\n')  # fmt: skip
            options = AgentOptions(source="binance", symbols=",".join(names), tf="5m", htf="15m,1h", config=config,
                                   db=f"sqlite:///{Path(scratch) / 'bench.db'}", wall_ms=replay.now_ms,
                                   tuning=FeedTuning(grace_ms=_TF // 4))  # fmt: skip
            stream = _stream(Agent.open(options), names, seconds, speed)
            parent.send(("jump", gap))
            parent.recv()
            replay.jump(gap * _TF)
            catch_up = _catch_up(Agent.open(options), names, replay.now_ms() // _TF * _TF - _TF)
    finally:
        parent.send(("stop", None))
        server.join(10)
    return {"symbols": count, **stream, **catch_up}


def _percentiles(samples: list[float]) -> dict[str, float | None]:
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None}
    return {"p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}  # fmt: skip


def _stream(agent: Any, names: list[str], seconds: float, speed: float) -> dict[str, Any]:
    """Stream for ``seconds`` once settled; the latency of each candle from the socket to its commit."""
    freeze_start()  # as run does, once its start is done
    latency = agent.latency
    latency.external = True
    feed = agent.system.feed

    def arrived(stream: str, open_ms: int) -> None:
        latency.arrived[(stream.split("@")[0], open_ms + _TF)] = time.perf_counter()

    feed.on_final(arrived)
    before: dict[str, int] = {}

    async def main() -> int:
        task = asyncio.create_task(agent.run(exit_when_done=False))
        deadline = time.monotonic() + _WAIT_S
        while agent.system.session.candles == 0:
            _check(task, deadline, "the first streamed candle")
            await asyncio.sleep(0.01)
        # Each stream's first candles after the history come by REST (they closed while it connected):
        # the steady state starts after them.
        await asyncio.sleep(_SETTLE_CANDLES / speed)
        latency.samples.clear()
        latency.caused.clear()
        before.update(feed.stats)
        first = agent.system.session.candles
        await asyncio.sleep(seconds)
        handled: int = agent.system.session.candles - first
        agent.stop()
        await asyncio.wait_for(task, 30)
        return handled

    try:
        handled = asyncio.run(main())
    finally:
        agent.close()
    # What the feed had to do while the latency was measured (reconnects, gap fills by REST): what it includes.
    during = {key: value - before.get(key, 0) for key, value in feed.stats.items()}
    return {"stream_candles": handled, "stream_candles_per_second": handled / seconds, "feed": during,
            "health_changes": [f"{health.value}: {reason}" for health, reason in feed.health_changes],
            "latency": _percentiles(latency.samples), "latency_signal_or_order": _percentiles(latency.caused),
            "signal_or_order_candles": len(latency.caused)}  # fmt: skip


def _catch_up(agent: Any, names: list[str], last_open: int) -> dict[str, Any]:
    """Restart after the jump: backfill and trade every symbol's gap; candles per second until caught up."""

    async def main() -> tuple[int, float]:
        started = time.perf_counter()
        task = asyncio.create_task(agent.run(exit_when_done=False))
        deadline = time.monotonic() + _WAIT_S
        while min(agent.last_candle_ms(name) for name in names) < last_open + _TF:
            _check(task, deadline, "the catch-up")
            await asyncio.sleep(0.005)
        took = time.perf_counter() - started
        handled = agent.system.session.candles
        agent.stop()
        await asyncio.wait_for(task, 30)
        return handled, took

    try:
        handled, took = asyncio.run(main())
    finally:
        agent.close()
    return {"catch_up_candles": handled, "catch_up_seconds": took, "catch_up_candles_per_second": handled / took}


def _check(task: asyncio.Task[None], deadline: float, what: str) -> None:
    if task.done():
        task.result()  # raises what stopped the run
        raise DataError(f"the agent stopped before {what}")
    if time.monotonic() > deadline:
        raise DataError(f"timed out waiting for {what} ({_WAIT_S:g} s)")
