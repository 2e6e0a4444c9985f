"""``smc-agent bench api``: REST latency under 100 concurrent clients, and the WebSocket fan-out to 100 subscribers.

Both phases run on loopback (127.0.0.1) only, over a store made at the start from a real paper session (EURUSD
15m from the shared data, replayed at full speed, its candles also saved to the candles table), and both are
bounded in count and in time.

- **REST**: ``smc-agent serve`` in a process of its own (uvicorn, as a user starts it), with ``api.rate_limit``
  raised to 1000000/second so that the generator's one key is never answered 429. The generator (aiohttp,
  keep-alive, up to one connection per client; httpx's client was slower than the server) runs ``clients`` clients
  in this process that share a fixed number of requests, round-robin over ``GET /api/v1/signals``, ``GET
  /api/v1/risk/portfolio`` and ``GET /api/v1/market/candles`` (500 candles). One request per route before the
  timing (the key's hash is checked once, then remembered). ``runs`` paced runs, each client polling every
  ``interval_s`` (judged: the median of their p99s), then one run at saturation, each client sending again as
  soon as it is answered (the throughput). p50/p90/p99/max per route and overall, requests/s and errors.
- **WebSocket**: an :class:`~smc_agent.service.agent.Agent` replaying the same file at full speed, its bus feeding
  a :class:`~smc_agent.api.stream.StreamHub` served by :class:`~smc_agent.api.serving.ApiServer` in this
  process, as ``smc-agent run`` wires them. ``subscribers`` clients (the ``websockets`` library) in another
  process subscribe to kline, trade_signal, order, position and risk of the symbol; the replay starts once all are
  subscribed. A delivery's latency is the wall time it was received minus the message's ``timestamp`` (stamped by
  the hub when it made the message, in whole ms, so a latency reads up to 1 ms high). Each client's count is
  checked against what the hub made for its subscription, in ``seq`` order: a client dropped, conflated or short
  fails "every event". The hub's ``max_pending`` is raised for the bench (reported) so a backlog is measured as
  latency rather than turned into drops.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

from smc_agent.core.errors import DataError

__all__ = ["API_FILE", "REST_GOAL_MS", "REST_INTERVAL_S", "WS_DATA_TYPES", "WS_GOAL_MS", "api_benchmark"]

API_FILE = "forex/EURUSD_15m_mt5.csv"
REST_GOAL_MS = 50.0
REST_INTERVAL_S = 1.0  # a paced client's request every second: a dashboard polling its panels
WS_GOAL_MS = 100.0
WS_DATA_TYPES = ["kline", "trade_signal", "order", "position", "risk"]
_RATE_LIMIT = "1000000/second"
_START_S = 30.0  # the server's process answering /healthz, the subscribers connecting
_SESSION_S = 300.0  # the paper session that fills the store


def api_benchmark(*, clients: int = 100, requests: int = 3000, subscribers: int = 100, runs: int = 3,
                  interval_s: float = REST_INTERVAL_S, data: Path | None = None, root: Path | None = None,
                  rest_time_s: float = 60.0,
                  ws_time_s: float = 300.0, max_pending: int = 1_000_000) -> dict[str, Any]:  # fmt: skip
    """Both phases over ``data`` (default: the shared EURUSD 15m file); a dict of figures, JSON-ready."""
    from smc_agent.data.shared import shared_data_dir

    path = data if data is not None else (root or shared_data_dir()) / API_FILE
    if not path.exists():
        raise DataError("benchmark source data not found; set SMC_SHARED_DATA or pass --data", path=str(path))
    load_start = os.getloadavg()[0]  # the machine is shared: how busy it was is part of the figures
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "session.db"
        symbol, timeframe, alone = _session_store(path, f"sqlite:///{db}")
        key = _read_key(f"sqlite:///{db}", path, symbol, timeframe)
        config = Path(scratch) / "smc.toml"
        config.write_text(f'[api]\nrate_limit = "{_RATE_LIMIT}"\n')
        rest = _rest(db, config, key, symbol, timeframe, clients, requests, runs, interval_s, rest_time_s)
        ws = _websocket(path, Path(scratch) / "stream.db", subscribers, max_pending, ws_time_s)
    ws["replay_alone"] = alone  # the same replay with no hub, when the store was made: what the stream costs it
    return {"file": path.name, "symbol": symbol, "timeframe": timeframe, "cores": os.cpu_count(),
            "load_average_1m": {"start": load_start, "end": os.getloadavg()[0]}, "rest": rest,
            "websocket": ws}  # fmt: skip


# -- the store ------------------------------------------------------------------------------------------------


def _session_store(path: Path, url: str) -> tuple[str, str, dict[str, float]]:
    """A paper session of ``path`` into ``url``: (symbol, timeframe, its replay's figures with no subscriber)."""
    from smc_agent.service.agent import Agent, AgentOptions

    agent = Agent.open(AgentOptions(data=[path], speed=float("inf"), db=url))
    try:
        started = time.perf_counter()
        asyncio.run(asyncio.wait_for(agent.run(), timeout=_SESSION_S))
        seconds = time.perf_counter() - started
    finally:
        agent.close()
    symbol, candles = next(iter(agent.system.entry.items()))
    handled = agent.system.session.candles
    return symbol, candles.timeframe, {"seconds": seconds, "candles_per_second": handled / seconds}


def _read_key(url: str, path: Path, symbol: str, timeframe: str) -> str:
    """The session's candles saved to the candles table (what ``GET /market/candles`` reads), and a read key."""
    from smc_agent.api import keys
    from smc_agent.api.auth import wall_ms
    from smc_agent.data.loaders import load_candles
    from smc_agent.store import open_store

    store = open_store(url, upgrade=False)
    try:
        store.save_candles("file", load_candles(path).with_meta(symbol=symbol, timeframe=timeframe))
        return keys.create_key(store, "read", wall_ms())[1]
    finally:
        store.close()


# -- REST -----------------------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _routes(symbol: str, timeframe: str) -> dict[str, str]:
    return {"signals": "/api/v1/signals", "risk/portfolio": "/api/v1/risk/portfolio",
            "market/candles": f"/api/v1/market/candles?symbol={symbol}&tf={timeframe}&limit=500"}  # fmt: skip


def _rest(db: Path, config: Path, key: str, symbol: str, timeframe: str, clients: int, requests: int, runs: int,
          interval_s: float, time_s: float) -> dict[str, Any]:  # fmt: skip
    """``smc-agent serve`` in its own process: ``runs`` paced runs (judged), then one run at saturation."""
    import httpx

    port = _free_port()
    command = [sys.executable, "-m", "smc_agent", "serve", "--db", f"sqlite:///{db}", "--port", str(port),
               "--config", str(config)]  # fmt: skip
    # Its log (an access line a request) goes to a file: a pipe nobody reads would fill and stall the server.
    with tempfile.TemporaryFile("w+") as log:
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + _START_S
            while True:
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise DataError(f"smc-agent serve did not answer: {log.read()[-2000:]}") from None
                    time.sleep(0.1)
            routes = _routes(symbol, timeframe)
            paced = [asyncio.run(_load(base, key, routes, clients, requests, time_s, interval_s)) for _ in range(runs)]
            saturated = asyncio.run(_load(base, key, routes, clients, requests, time_s, None))
        finally:
            server.terminate()
            server.wait(timeout=10)
    median_p99 = statistics.median(run["overall"]["p99_ms"] for run in paced)
    clean = all(run["errors"] == 0 and run["done"] == requests for run in paced)
    return {"clients": clients, "requests": requests, "interval_s": interval_s, "rate_limit": _RATE_LIMIT,
            "time_limit_s": time_s, "runs": paced, "p99_ms_median": median_p99, "goal_p99_ms": REST_GOAL_MS,
            "goal_met": clean and median_p99 < REST_GOAL_MS, "saturation": saturated}  # fmt: skip


async def _load(base: str, key: str, routes: dict[str, str], clients: int, requests: int, time_s: float,
                interval_s: float | None) -> dict[str, Any]:  # fmt: skip
    """``clients`` clients share ``requests`` (client i takes i, i + clients, ...), each on its route in turn.

    Paced (``interval_s``), a client sends one request every ``interval_s``, the clients' first ones spread evenly
    over one interval (dashboards polling); a latency counts from when its request was due, so one held up by the
    answer before it counts that wait too. Saturated (None), a client sends its next request as soon as the last
    is answered: the server's throughput, and the latency of a closed loop of ``clients`` (their count divided by
    the throughput, by Little's law)."""
    import aiohttp

    names = list(routes)
    samples: dict[str, list[float]] = {name: [] for name in names}
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    async with aiohttp.ClientSession(base, headers={"X-API-Key": key}, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:  # fmt: skip
        for path in routes.values():  # warm: the key's hash is checked once, then remembered
            async with session.get(path) as answer:
                answer.raise_for_status()
                await answer.read()
        begin = loop.time()

        async def client(first: int) -> None:
            due = begin + (first / clients) * (interval_s or 0)
            for index in range(first, requests, clients):
                if interval_s is not None:
                    await asyncio.sleep(max(0.0, due - loop.time()))
                started = due if interval_s is not None else loop.time()
                name = names[index % len(names)]
                try:
                    async with session.get(routes[name]) as answer:
                        await answer.read()
                        failed = None if answer.status == 200 else f"HTTP {answer.status}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failed = type(exc).__name__
                samples[name].append(1000 * (loop.time() - started))
                if failed is not None:
                    errors[failed] = errors.get(failed, 0) + 1
                due += interval_s or 0

        tasks = [asyncio.create_task(client(i)) for i in range(min(clients, requests))]
        _, late = await asyncio.wait(tasks, timeout=time_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)  # before the session closes their connections
        seconds = loop.time() - begin
    done = sum(len(s) for s in samples.values())
    everything = [x for s in samples.values() for x in s]
    return {"done": done, "seconds": seconds, "requests_per_second": done / seconds, "timed_out": bool(late),
            "errors": sum(errors.values()), "error_kinds": errors, "overall": _spread(everything),
            "routes": {name: {"requests": len(s), **_spread(s)} for name, s in samples.items()}}  # fmt: skip


def _spread(samples: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max of ``samples`` (ms), the p-th by rank; None when there are none."""
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    rank: Callable[[float], float] = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return {"p50_ms": statistics.median(ordered), "p90_ms": rank(0.90), "p99_ms": rank(0.99), "max_ms": ordered[-1]}


# -- WebSocket ------------------------------------------------------------------------------------------------


def _websocket(path: Path, db: Path, subscribers: int, max_pending: int, time_s: float) -> dict[str, Any]:
    """The engine, hub and server here; the subscribers in a process of their own, told when the replay is done."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_subscribers, args=(child, subscribers, time_s), daemon=True)
    process.start()
    try:
        figures = asyncio.run(_engine(path, db, parent, subscribers, max_pending, time_s))
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
    return figures


async def _engine(path: Path, db: Path, conn: Connection, subscribers: int, max_pending: int,
                  time_s: float) -> dict[str, Any]:  # fmt: skip
    from smc_agent.api import create_app, keys
    from smc_agent.api.auth import wall_ms
    from smc_agent.api.serving import SHARE_LOOP_EVERY, ApiServer
    from smc_agent.api.stream import StreamHub
    from smc_agent.core.heap import freeze_start
    from smc_agent.service.agent import Agent, AgentOptions
    from smc_agent.store import Store

    agent = Agent.open(AgentOptions(data=[path], speed=float("inf"), db=f"sqlite:///{db}"))
    agent.system.session.yield_every = SHARE_LOOP_EVERY  # as smc-agent run does when it serves the API
    freeze_start()  # as run does, once its start is done
    loop = asyncio.get_running_loop()
    try:
        store = agent.store
        assert isinstance(store, Store)  # a SQLite URL opens the SQL store
        hub = StreamHub(agent.system.bus, max_pending=max_pending)
        # What a subscriber should get: a client of the hub's own with the same subscription, never sent to.
        probe = hub.connect()
        symbol = next(iter(agent.system.entry))
        probe.symbols, probe.data_types = {symbol}, set(WS_DATA_TYPES)
        key = keys.create_key(store, "read", wall_ms())[1]
        server = ApiServer(create_app(store, agent=agent, hub=hub), "127.0.0.1", 0)
        await server.start()
        try:
            conn.send((server.port, key, symbol))
            ready = await asyncio.wait_for(loop.run_in_executor(None, conn.recv), _START_S)
            if ready != "subscribed":
                raise DataError(f"the subscribers did not connect: {ready}")
            started = time.perf_counter()
            largest, subscribed = [0], hub.clients - {probe}  # kept: the hub forgets a client once it disconnects
            backlog = asyncio.create_task(_largest_backlog(subscribed, largest))
            await asyncio.wait_for(agent.run(), time_s)
            replay_s = time.perf_counter() - started
            backlog.cancel()
            expected = len(probe.queue)
            conn.send((expected, time_s - replay_s))
            got: dict[str, Any] = await asyncio.wait_for(loop.run_in_executor(None, conn.recv), time_s + _START_S)
        finally:
            await server.stop()
        dropped = sum(client.dropped for client in subscribed)
    finally:
        agent.close()
    complete = got.pop("complete")
    return {"subscribers": subscribers, "data_types": WS_DATA_TYPES, "max_pending": max_pending,
            "time_limit_s": time_s, "candles": agent.system.session.candles, "replay_seconds": replay_s,
            "replay_candles_per_second": agent.system.session.candles / replay_s, "largest_backlog": largest[0],
            "hub_messages": hub.seq, "messages_per_subscriber": expected, "complete_subscribers": complete,
            "dropped_by_hub": dropped, **got, "goal_p99_ms": WS_GOAL_MS,
            "goal_met": complete == subscribers and (got["latency"]["p99_ms"] or 0) < WS_GOAL_MS}  # fmt: skip


async def _largest_backlog(clients: set[Any], largest: list[int]) -> None:
    """The most messages seen waiting for one subscriber, in ``largest[0]``: sampled every 10 ms, which runs
    only when the engine yields to the loop, as the subscribers' pumps do."""
    while True:
        largest[0] = max([largest[0], *(len(c.queue) for c in clients)])
        await asyncio.sleep(0.01)


class _Stamp(msgspec.Struct):
    """The fields a subscriber reads of a message (the rest is skipped by the decoder)."""

    type: str
    seq: int
    timestamp: int


def _subscribers(conn: Connection, count: int, time_s: float) -> None:
    """The subscribers' process: connect, subscribe, report ``subscribed``, then receive until told the total."""
    port, key, symbol = conn.recv()
    conn.send(asyncio.run(_receive_all(conn, port, key, symbol, count, time_s)))


async def _receive_all(conn: Connection, port: int, key: str, symbol: str, count: int,
                       time_s: float) -> dict[str, Any] | str:  # fmt: skip
    import json

    from websockets.asyncio.client import ClientConnection, connect

    decode = msgspec.json.Decoder(_Stamp).decode
    received = [0] * count
    in_order = [True] * count
    latencies: list[float] = []
    closed: list[str] = []
    loop = asyncio.get_running_loop()
    url = f"ws://127.0.0.1:{port}/api/v1/market/stream"
    request = json.dumps({"action": "subscribe", "symbols": [symbol], "data_types": WS_DATA_TYPES})

    async def subscribe() -> ClientConnection:
        ws = await connect(url, additional_headers={"X-API-Key": key}, compression=None, proxy=None,
                           max_size=None, ping_interval=None)  # fmt: skip
        await ws.send(request)
        while decode(await ws.recv()).type != "subscribed":
            pass
        return ws

    async def listen(index: int, ws: ClientConnection) -> None:
        last = 0
        try:
            async for text in ws:
                now = time.time() * 1000
                stamp = decode(text)
                if stamp.type == "heartbeat":
                    continue
                latencies.append(now - stamp.timestamp)
                received[index] += 1
                in_order[index] = in_order[index] and stamp.seq > last
                last = stamp.seq
        except Exception as exc:  # a close by the hub (1013, too slow) or a lost connection: counted, not raised
            closed.append(f"{type(exc).__name__}: {exc}")

    try:
        sockets = await asyncio.wait_for(asyncio.gather(*(subscribe() for _ in range(count))), _START_S)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    tasks = [asyncio.create_task(listen(i, ws)) for i, ws in enumerate(sockets)]
    conn.send("subscribed")
    expected, left_s = await loop.run_in_executor(None, conn.recv)
    replayed = time.monotonic()
    deadline = replayed + max(1.0, left_s)
    while min(received) < expected and time.monotonic() < deadline and not all(t.done() for t in tasks):
        await asyncio.sleep(0.01)
    drain_s = time.monotonic() - replayed
    for ws in sockets:
        await ws.close()
    await asyncio.gather(*tasks)
    complete = sum(r == expected and ok for r, ok in zip(received, in_order, strict=True))
    return {"received_min": min(received), "received_max": max(received), "deliveries": sum(received),
            "complete": complete, "in_order": all(in_order), "closed_early": len(closed),
            "drain_after_replay_s": drain_s, "latency": _spread(latencies)}  # fmt: skip
