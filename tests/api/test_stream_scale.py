"""The WebSocket stream at scale, over real sockets: 50 subscribers and clients that never read, while an agent
replays 8,000 real EURUSD 15m candles at full speed. Every subscriber that reads gets every message of its
subscription, in order; the stuck ones are conflated (candles only) or dropped with 1013 (orders too), and hold
nobody up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from smc_agent.api import create_app, keys
from smc_agent.api.auth import wall_ms
from smc_agent.api.stream import TOO_SLOW, StreamHub
from smc_agent.events import (
    BalanceChanged,
    CandleClosed,
    OrderEvent,
    PositionChanged,
    RiskCheckpoint,
    RiskRejected,
    SignalChanged,
    TradingStateChanged,
)
from smc_agent.service.agent import Agent, AgentOptions
from smc_agent.store import Store

CANDLES = 8000  # the first order comes at the 6,980th
FAST = 50
# Above what the engine makes between two yields to the loop at full speed (a queue of 1,024 candles, stepped
# without a wait): the readers are never dropped for a burst, and a client that never reads passes it.
MAX_PENDING = 1500
TYPES = ["kline", "trade_signal", "order", "position", "risk"]
# The journaled events behind each message type of the subscription (docs/api.md, WebSocket).
_MADE_BY: dict[str, Any] = {"market_data": CandleClosed, "trade_signal": SignalChanged, "order": OrderEvent,
                            "position": PositionChanged,
                            "risk": (BalanceChanged, RiskRejected, TradingStateChanged, RiskCheckpoint)}  # fmt: skip


@pytest.fixture(scope="module")
def candles_file(shared_data_path: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 8,000 real EURUSD 15m candles, under the file's own name (its symbol is read from it)."""
    source = shared_data_path("forex/EURUSD_15m_mt5.csv")
    lines = source.read_text().splitlines(keepends=True)
    path = tmp_path_factory.mktemp("scale") / source.name
    path.write_text("".join(lines[: CANDLES + 1]))
    return path


def _small_buffers(sock: socket.socket) -> socket.socket:
    """A few KB of kernel buffer: on loopback Linux lets a socket hold megabytes, which a client that never reads
    would absorb before anything waits in the hub (over a real link its window bounds it the same way)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    return sock


def _stuck_socket(port: int) -> socket.socket:
    sock = _small_buffers(socket.socket())
    sock.connect(("127.0.0.1", port))
    return sock


class _Uvicorn(uvicorn.Server):
    """The app served on a listening socket of the test's own (accepted sockets inherit its small buffers)."""

    def __init__(self, app: Any) -> None:
        super().__init__(uvicorn.Config(app, log_level="warning"))
        self.sock = _small_buffers(socket.socket())
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # pytest keeps its own

    async def start(self) -> None:
        self.task = asyncio.create_task(self.serve(sockets=[self.sock]))
        while not self.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.should_exit = True
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


async def _subscribe(url: str, key: str, data_types: list[str], sock: socket.socket | None = None) -> ClientConnection:
    ws = await connect(url, additional_headers={"X-API-Key": key}, sock=sock, compression=None, proxy=None,
                       max_queue=1 if sock else 16, ping_interval=None)  # fmt: skip
    await ws.send(json.dumps({"action": "subscribe", "symbols": ["EURUSD"], "data_types": data_types}))
    while json.loads(await ws.recv())["type"] != "subscribed":
        pass
    return ws


async def _read(ws: ClientConnection, into: list[dict[str, Any]]) -> None:
    """Read every message until the socket closes (heartbeats left out)."""
    async for text in ws:
        message = json.loads(text)
        if message["type"] != "heartbeat":
            into.append(message)


async def _caught_up(got: list[list[dict[str, Any]]], last_seq: int) -> None:
    while not all(messages and messages[-1]["seq"] >= last_seq for messages in got):
        await asyncio.sleep(0.01)


async def _closed(ws: ClientConnection) -> ConnectionClosed:
    try:
        while True:
            await ws.recv()
    except ConnectionClosed as exc:
        return exc


async def _scale(path: Path, db: str) -> dict[str, Any]:
    agent = Agent.open(AgentOptions(data=[path], speed=float("inf"), db=db))
    try:
        store = agent.store
        assert isinstance(store, Store)
        hub = StreamHub(agent.system.bus, max_pending=MAX_PENDING, heartbeat_s=30)
        key = keys.create_key(store, "read", wall_ms())[1]
        server = _Uvicorn(create_app(store, agent=agent, hub=hub))
        await server.start()
        try:
            url = f"ws://127.0.0.1:{server.port}/api/v1/market/stream"
            fast = await asyncio.gather(*(_subscribe(url, key, TYPES) for _ in range(FAST)))
            stuck_candles = await _subscribe(url, key, ["kline"], _stuck_socket(server.port))
            stuck_all = await _subscribe(url, key, TYPES, _stuck_socket(server.port))
            assert len(hub.clients) == FAST + 2
            (candle_client,) = (client for client in hub.clients if "trade_signal" not in client.data_types)
            got: list[list[dict[str, Any]]] = [[] for _ in fast]
            readers = [asyncio.create_task(_read(ws, into)) for ws, into in zip(fast, got, strict=True)]
            await asyncio.wait_for(agent.run(), 120)
            last = hub.seq
            journal = [type(e) for e in agent.journal.read()]
            await asyncio.wait_for(_caught_up(got, last), 120)
            stuck_state = {"candle_dropped": candle_client.dropped, "conflated": candle_client.conflated}
            closed = await asyncio.wait_for(_closed(stuck_all), 30)  # it reads, at last: what it had, then the close
            stuck_candles.transport.abort()
            for ws in fast:
                await ws.close()
            await asyncio.gather(*readers)
        finally:
            await server.stop()
    finally:
        agent.close()
    made = {kind: sum(issubclass(e, classes) for e in journal) for kind, classes in _MADE_BY.items()}
    return {"got": got, "last": last, "closed": closed, "made": made, **stuck_state}


def test_fifty_readers_get_everything_in_order_while_stuck_clients_are_conflated_or_dropped(
    candles_file: Path, tmp_path: Path
) -> None:
    outcome = asyncio.run(asyncio.wait_for(_scale(candles_file, f"sqlite:///{tmp_path / 'scale.db'}"), 300))
    got = outcome["got"]
    first = got[0]
    klines = [m for m in first if m["type"] == "market_data"]
    assert len(klines) == CANDLES  # every candle of the file, each once
    assert [m["data"]["time"] for m in klines] == sorted({m["data"]["time"] for m in klines})
    made = outcome["made"]
    assert min(made.values()) > 0, made  # the session signalled, traded and moved its balance
    assert {kind: sum(m["type"] == kind for m in first) for kind in made} == made  # a message for each event
    assert [m["seq"] for m in first] == sorted(set(m["seq"] for m in first))  # in order, none twice
    assert first[-1]["seq"] == outcome["last"]
    for messages in got[1:]:
        assert [m["seq"] for m in messages] == [m["seq"] for m in first]  # every reader, the same messages
    assert outcome["closed"].rcvd is not None
    assert outcome["closed"].rcvd.code == TOO_SLOW  # orders cannot be conflated: dropped
    assert not outcome["candle_dropped"]  # candles can: it stays, with the newest candle of its stream
    assert outcome["conflated"] > 0
