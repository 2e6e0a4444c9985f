"""The WebSocket stream's hub: the engine's events fanned out to every client, without ever waiting for one.

:class:`StreamHub` subscribes to the engine's :class:`~smc_agent.core.bus.EventBus`. Delivery on the bus is
synchronous, so :meth:`StreamHub.on_event` only turns the event into messages (encoded once, for every client) and
appends them to each subscribed client's bounded queue; the client's own task (:meth:`StreamHub.pump`) sends them.
The engine and the hub share one event loop, so appending needs no lock and waking a client is ``Event.set``.

A client that falls behind never holds anyone up. Once its queue holds ``max_pending`` messages, a new candle
replaces the candle of the same stream still waiting (conflated: the client gets the latest), and any other message
drops the client (the route closes it with :data:`TOO_SLOW`). The last ``ring`` messages stay in a ring buffer, so a
client that reconnects with the last ``seq`` it saw gets what it missed, or a snapshot (the latest message of each
type and symbol) when that is no longer held. docs/api.md describes the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from smc_agent.api.auth import wall_ms
from smc_agent.core.bus import EventBus
from smc_agent.events import (
    BalanceChanged,
    CandleClosed,
    Event,
    OrderEvent,
    PositionChanged,
    RiskCheckpoint,
    RiskRejected,
    SignalChanged,
    TradingStateChanged,
)
from smc_agent.events.codec import to_builtins
from smc_agent.service.metrics import WEBSOCKET_CLIENTS

__all__ = ["DATA_TYPES", "TOO_SLOW", "Client", "StreamHub"]

# What a client may subscribe to, and the message type each one sends. `trade` (market trades) is accepted and
# reserved: the feeds give candles, so nothing is sent for it yet.
DATA_TYPES = {"kline": "market_data", "trade": "market_data", "smc_patterns": "smc_pattern",
              "trade_signal": "trade_signal", "order": "order", "position": "position", "risk": "risk"}  # fmt: skip
TOO_SLOW = 1013  # "try again later": the client's queue was full of messages that cannot be conflated
_RISK = (BalanceChanged, RiskRejected, TradingStateChanged, RiskCheckpoint)
_encode = msgspec.json.Encoder(decimal_format="string").encode


@dataclass(frozen=True, slots=True)
class _Message:
    seq: int
    data_type: str  # what a client subscribes to (kline, order, ...)
    symbol: str | None  # None: account-wide (the balance, the trading state), sent to every subscriber of the type
    key: tuple[str, str, str] | None  # candles of one stream share a key: a newer one may replace an older
    text: str


@dataclass(eq=False)
class Client:
    """One connection: what it subscribed to and what waits to be sent (cells, so a candle can be replaced)."""

    max_pending: int
    symbols: set[str] = field(default_factory=set)  # "*": every symbol
    data_types: set[str] = field(default_factory=set)
    queue: deque[list[_Message]] = field(default_factory=deque)
    slots: dict[tuple[str, str, str], list[_Message]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: bool = False
    conflated: int = 0

    def wants(self, message: _Message) -> bool:
        symbol_ok = message.symbol is None or "*" in self.symbols or message.symbol in self.symbols
        return symbol_ok and message.data_type in self.data_types

    def offer(self, message: _Message) -> None:
        """Queue ``message``; when full, replace a waiting candle of its stream, else drop the client."""
        if self.dropped:
            return
        if len(self.queue) >= self.max_pending:
            cell = self.slots.get(message.key) if message.key else None
            if cell is None:
                self.dropped = True
                self.queue.clear()
                self.slots.clear()
                self.wake.set()
                return
            cell[0] = message
            self.conflated += 1
            return
        cell = [message]
        self.queue.append(cell)
        if message.key:
            self.slots[message.key] = cell
        self.wake.set()

    def reply(self, text: str) -> None:
        """An answer to the client's own request, sent in order with the stream (never conflated nor refused)."""
        self.queue.append([_Message(0, "", None, None, text)])
        self.wake.set()

    def take(self) -> _Message:
        cell = self.queue.popleft()
        message = cell[0]
        if message.key and self.slots.get(message.key) is cell:
            del self.slots[message.key]
        return message


def _candle(candle: CandleClosed, closed: bool) -> dict[str, Any]:
    return {"kind": "kline", "timeframe": candle.timeframe, "time": candle.time, "open": candle.open,
            "high": candle.high, "low": candle.low, "close": candle.close, "volume": candle.volume,
            "close_time": candle.event_ms, "closed": closed}  # fmt: skip


def _contents(event: Event) -> list[tuple[str, str | None, dict[str, Any]]]:
    """The (data type, symbol, data) of each message an event makes; none for the session's bookkeeping."""
    if isinstance(event, CandleClosed):
        return [("kline", event.symbol, _candle(event, closed=True))]
    if isinstance(event, SignalChanged):
        signal = event.signal
        found: list[tuple[str, str | None, dict[str, Any]]] = [("trade_signal", signal.symbol, signal.to_dict())]
        if signal.version == 1:  # a new signal: the patterns that made it
            patterns = {"signal_id": signal.id, "timeframe": signal.timeframe, "patterns": list(signal.evidence)}
            found.append(("smc_patterns", signal.symbol, patterns))
        return found
    if isinstance(event, OrderEvent):
        return [("order", event.order.symbol, to_builtins(event))]
    if isinstance(event, PositionChanged):
        return [("position", event.symbol, to_builtins(event))]
    if isinstance(event, _RISK):
        return [("risk", getattr(event, "symbol", None), to_builtins(event))]
    return []


class StreamHub:
    """Fans the bus's events (and the forming candles, polled every second) out to the WebSocket clients."""

    def __init__(self, bus: EventBus, *, forming: Callable[[], Iterable[CandleClosed]] | None = None,
                 max_pending: int = 1000, ring: int = 10_000, heartbeat_s: float = 15.0,
                 clock: Callable[[], int] = wall_ms) -> None:  # fmt: skip
        self.clients: set[Client] = set()
        self.heartbeat_s = heartbeat_s
        self._forming = forming
        self._max_pending = max_pending
        self._ring: deque[_Message] = deque(maxlen=ring)
        self._latest: dict[tuple[str, str | None, str], _Message] = {}  # the snapshot: by data type, symbol, stream
        self._clock = clock
        self._seq = 0
        self._poller: asyncio.Task[None] | None = None
        bus.subscribe(self.on_event)

    @property
    def seq(self) -> int:
        """The number of the last message made (``seq`` counts the hub's messages, from 1)."""
        return self._seq

    def on_event(self, event: Event) -> None:
        """The bus's handler: never awaits, never sends; O(clients) appends."""
        for data_type, symbol, data in _contents(event):
            self._publish(data_type, symbol, data)

    def _publish(self, data_type: str, symbol: str | None, data: dict[str, Any], *, keep: bool = True) -> None:
        self._seq += 1
        stream = str(data.get("timeframe", "")) if data_type == "kline" else ""
        key = (data_type, symbol or "", stream) if data_type == "kline" else None
        text = _encode({"type": DATA_TYPES[data_type], "symbol": symbol, "data": data,
                        "timestamp": self._clock(), "seq": self._seq}).decode()  # fmt: skip
        message = _Message(self._seq, data_type, symbol, key, text)
        if keep:
            self._ring.append(message)
        self._latest[(data_type, symbol, stream)] = message
        for client in self.clients:
            if client.wants(message):
                client.offer(message)

    def connect(self) -> Client:
        client = Client(self._max_pending)
        self.clients.add(client)
        WEBSOCKET_CLIENTS.inc()
        if self._forming is not None and self._poller is None:
            self._poller = asyncio.get_running_loop().create_task(self._poll_forming())
        return client

    def disconnect(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
            WEBSOCKET_CLIENTS.dec()
        if not self.clients and self._poller is not None:
            self._poller.cancel()
            self._poller = None

    async def _poll_forming(self) -> None:
        assert self._forming is not None
        while True:
            for candle in self._forming():
                # Not in the ring: a resumed client wants the candles that closed, not every second of one forming.
                self._publish("kline", candle.symbol, _candle(candle, closed=False), keep=False)
            await asyncio.sleep(1.0)

    def resume(self, client: Client, after: int) -> dict[str, Any] | None:
        """Queue what ``client`` missed after ``after``; when the ring no longer holds it, the snapshot to send."""
        oldest = self._ring[0].seq if self._ring else self._seq + 1
        missed = [m for m in self._ring if m.seq > after and client.wants(m)]
        if oldest <= after + 1 and after <= self._seq and len(missed) <= client.max_pending:
            for message in missed:
                client.offer(message)
            return None
        latest = [msgspec.json.decode(m.text) for m in self._latest.values() if client.wants(m)]
        return {"type": "snapshot", "symbol": None, "seq": self._seq, "timestamp": self._clock(),
                "data": {"resumed": False, "messages": sorted(latest, key=lambda m: m["seq"])}}  # fmt: skip

    def heartbeat(self) -> dict[str, Any]:
        return {"type": "heartbeat", "symbol": None, "data": {"clients": len(self.clients)},
                "timestamp": self._clock(), "seq": self._seq}  # fmt: skip

    async def pump(self, client: Client, send: Callable[[str], Awaitable[None]]) -> None:
        """Send ``client`` its queue as it fills, and a heartbeat every ``heartbeat_s``; returns once it is dropped."""
        beat = time.monotonic() + self.heartbeat_s
        while not client.dropped:
            if not client.queue:
                client.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(client.wake.wait(), max(0.0, beat - time.monotonic()))
            if time.monotonic() >= beat:
                await send(_encode(self.heartbeat()).decode())
                beat = time.monotonic() + self.heartbeat_s
            while client.queue and not client.dropped and time.monotonic() < beat:
                await send(client.take().text)
