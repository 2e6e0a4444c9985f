"""The WebSocket stream over a real paper session's events, replayed from its journal into a real EventBus:
auth, subscribing and unsubscribing, the message shapes, heartbeats, the forming candle, resuming, and a slow client
that neither delays publishing nor the other clients (conflated when it only takes candles, else dropped)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from smc_agent.api import create_app, keys, queries
from smc_agent.api.stream import TOO_SLOW, StreamHub
from smc_agent.core.bus import EventBus
from smc_agent.events import CandleClosed, Event, OrderEvent, OrderFilled, PositionChanged
from smc_agent.store import Store, open_store

URL = "/api/v1/market/stream"
ALL = ["kline", "trade", "smc_patterns", "trade_signal", "order", "position", "risk"]
SHAPE = {"type", "symbol", "data", "timestamp", "seq"}


@pytest.fixture(scope="module")
def events(session_db: Path) -> list[Event]:
    """Every event the paper session journaled, in order."""
    store = open_store(f"sqlite:///{session_db}", upgrade=False)
    try:
        return list(store.journal(queries.session(store, None)["id"]).read())
    finally:
        store.close()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


def _client(store: Store, hub: StreamHub) -> Iterator[TestClient]:
    with TestClient(create_app(store, hub=hub)) as test_client:
        yield test_client


@pytest.fixture
def client(store: Store, bus: EventBus) -> Iterator[TestClient]:
    yield from _client(store, StreamHub(bus, max_pending=100_000, heartbeat_s=30))


@pytest.fixture
def read_key(store: Store) -> str:
    return keys.create_key(store, "read", 1_000)[1]


def _publish(client: TestClient, bus: EventBus, events: list[Event]) -> None:
    """Publish in the app's event loop, as the engine does."""
    assert client.portal is not None

    def publish_all() -> None:
        for event in events:
            bus.publish(event)

    client.portal.call(publish_all)


def _receive(ws: Any, *, skip_heartbeats: bool = True) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = ws.receive_json()
        if not (skip_heartbeats and message["type"] == "heartbeat"):
            return message


def _until(ws: Any, kind: str) -> list[dict[str, Any]]:
    """The messages received before the next one of type ``kind`` (the answer to a request sent after them)."""
    seen = []
    while (message := _receive(ws))["type"] != kind:
        seen.append(message)
    return seen


def test_a_subscriber_gets_every_event_of_its_symbol_in_order(client: TestClient, bus: EventBus,
                                                              events: list[Event], read_key: str) -> None:  # fmt: skip
    candles = [e for e in events if isinstance(e, CandleClosed)]
    orders = [e for e in events if isinstance(e, OrderEvent)]
    fills = [e for e in events if isinstance(e, OrderFilled)]
    positions = [e for e in events if isinstance(e, PositionChanged)]
    assert min(len(candles), len(fills), len(positions)) > 0, "the session traded, or the test compares nothing"
    with client.websocket_connect(URL, headers={"X-API-Key": read_key}) as ws:
        ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": ALL})
        assert _receive(ws)["data"] == {"symbols": ["EURUSD"], "data_types": sorted(ALL)}
        _publish(client, bus, events)
        ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": ALL})
        got = _until(ws, "subscribed")
    assert all(set(m) == SHAPE for m in got)
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(set(seqs))
    assert all(isinstance(m["timestamp"], int) and m["timestamp"] > 1_600_000_000_000 for m in got)
    by_type = {kind: [m for m in got if m["type"] == kind] for kind in {m["type"] for m in got}}
    klines = by_type["market_data"]
    assert [(k["data"]["time"], k["data"]["close"]) for k in klines] == [(c.time, c.close) for c in candles]
    assert all(k["symbol"] == "EURUSD" and k["data"]["closed"] is True for k in klines)
    assert len(by_type["order"]) == len(orders)
    filled = [m["data"] for m in by_type["order"] if m["data"]["type"] == "OrderFilled"]
    assert [(Decimal(f["price"]), Decimal(f["quantity"])) for f in filled] == [(f.price, f.quantity) for f in fills]
    assert [Decimal(p["data"]["quantity"]) for p in by_type["position"]] == [p.quantity for p in positions]
    assert by_type["trade_signal"]
    assert by_type["smc_pattern"]
    assert by_type["risk"]
    assert {m["symbol"] for m in by_type["risk"]} <= {"EURUSD", None}  # None: account-wide (balance, state)


def test_unsubscribe_and_other_symbols(client: TestClient, bus: EventBus, events: list[Event], read_key: str) -> None:
    half = len(events) // 2
    with client.websocket_connect(f"{URL}?token={read_key}") as ws:
        ws.send_json({"action": "subscribe", "symbols": ["XAUUSD"], "data_types": ["kline", "order"]})
        _until(ws, "subscribed")
        _publish(client, bus, events[:half])
        ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": ["kline", "order"]})
        assert _until(ws, "subscribed") == []  # nothing of another symbol came
        _publish(client, bus, events[:half])
        ws.send_json({"action": "unsubscribe", "data_types": ["kline"]})
        before = _until(ws, "unsubscribed")
        _publish(client, bus, events[half:])
        ws.send_json({"action": "unsubscribe", "symbols": ["EURUSD"]})
        after = _until(ws, "unsubscribed")
    assert {m["type"] for m in before} == {"market_data", "order"}
    assert after
    assert {m["type"] for m in after} == {"order"}
    assert len(after) == sum(isinstance(e, OrderEvent) for e in events[half:])


def test_bad_requests_are_answered_with_the_reason(client: TestClient, read_key: str) -> None:
    with client.websocket_connect(URL, headers={"X-API-Key": read_key}) as ws:
        ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": ["kline", "candles"]})
        error = _receive(ws)
        assert (error["type"], error["data"]["detail"]) == (
            "error",
            "data_types: unknown candles; use kline, order, position, risk, smc_patterns, trade, trade_signal",
        )
        ws.send_text("not json")
        assert _receive(ws)["type"] == "error"
        ws.send_json({"action": "resume", "symbols": ["EURUSD"], "data_types": ["kline"], "seq": -1})
        assert "resume needs seq" in _receive(ws)["data"]["detail"]
        ws.send_json({"action": "dance"})
        assert _receive(ws)["data"]["detail"] == "action must be subscribe, unsubscribe or resume"


def _closed(client: TestClient, url: str, headers: dict[str, str] | None = None,
            first: dict[str, Any] | None = None) -> tuple[int, str]:  # fmt: skip
    with client.websocket_connect(url, headers=headers or {}) as ws:
        if first is not None:
            ws.send_json(first)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    return closed.value.code, closed.value.reason


def test_the_stream_needs_a_read_credential(client: TestClient, store: Store, read_key: str) -> None:
    assert _closed(client, URL, first={"action": "subscribe"}) == (
        4401,
        "authentication required: send an X-API-Key header or a bearer token",
    )
    assert _closed(client, URL, {"X-API-Key": read_key[:-3] + "xyz"})[0] == 4401
    assert _closed(client, f"{URL}?token=not.a.jwt")[0] == 4401
    token, _ = client.app.state.auth.issue("read")  # type: ignore[attr-defined]
    with client.websocket_connect(URL) as ws:  # the first message authenticates
        ws.send_json({"action": "auth", "token": token})
        ws.send_json({"action": "subscribe", "symbols": ["*"], "data_types": ["risk"]})
        assert _receive(ws)["type"] == "subscribed"
    assert _closed(client, URL, {"Authorization": f"Bearer {token}x"})[0] == 4401  # a tampered signature


def test_a_token_without_the_read_scope_is_refused(store: Store, bus: EventBus) -> None:
    import jwt

    hub = StreamHub(bus)
    for test_client in _client(store, hub):
        claims = {"sub": "login", "scopes": [], "exp": int(time.time()) + 60}
        token = jwt.encode(claims, keys.jwt_secret(store, 1), algorithm="HS256")
        assert _closed(test_client, f"{URL}?token={token}") == (4403, "this needs the 'read' scope")


def test_heartbeats_and_the_forming_candle(store: Store, bus: EventBus, events: list[Event], read_key: str) -> None:
    last = next(e for e in reversed(events) if isinstance(e, CandleClosed))
    hub = StreamHub(bus, heartbeat_s=0.05, forming=lambda: [last])
    for test_client in _client(store, hub):
        with test_client.websocket_connect(URL, headers={"X-API-Key": read_key}) as ws:
            beats = [ws.receive_json(), ws.receive_json()]
            assert [(set(b), b["type"], b["data"]["clients"]) for b in beats] == [(SHAPE, "heartbeat", 1)] * 2
            ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": ["kline"]})
            _until(ws, "subscribed")
            forming = _receive(ws)  # polled once a second
            assert forming["type"] == "market_data"
            assert forming["data"]["closed"] is False
            assert (forming["data"]["time"], forming["data"]["close"]) == (last.time, last.close)


def test_resume_replays_what_was_missed_or_sends_a_snapshot(store: Store, bus: EventBus, events: list[Event],
                                                            read_key: str) -> None:  # fmt: skip
    half = len(events) // 2
    orders = ["order", "position"]
    hub = StreamHub(bus, heartbeat_s=30, ring=100_000, max_pending=100_000)
    for test_client in _client(store, hub):
        headers = {"X-API-Key": read_key}
        with test_client.websocket_connect(URL, headers=headers) as ws:
            ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": orders})
            _until(ws, "subscribed")
            _publish(test_client, bus, events[:half])
            ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": orders})
            seen = _until(ws, "subscribed")
        _publish(test_client, bus, events[half:])  # while it is away
        with test_client.websocket_connect(URL, headers=headers) as ws:
            ws.send_json({"action": "resume", "symbols": ["EURUSD"], "data_types": orders, "seq": seen[-1]["seq"]})
            ws.send_json({"action": "subscribe", "symbols": ["EURUSD"], "data_types": orders})
            missed = _until(ws, "subscribed")
            expected = sum(isinstance(e, OrderEvent | PositionChanged) for e in events[half:])
            assert expected
            assert len(missed) == expected
            assert missed[0]["seq"] > seen[-1]["seq"]
            ws.send_json({"action": "resume", "symbols": ["EURUSD"], "data_types": orders, "seq": hub.seq + 5})
            snapshot = _receive(ws)  # a seq this hub never made (another process's): the latest of each kind
    assert snapshot["type"] == "snapshot"
    assert snapshot["data"]["resumed"] is False
    latest = snapshot["data"]["messages"]
    assert {m["type"] for m in latest} == {"order", "position"}
    last_position = next(e for e in reversed(events) if isinstance(e, PositionChanged))
    assert Decimal(next(m for m in latest if m["type"] == "position")["data"]["quantity"]) == last_position.quantity


def test_resume_beyond_the_ring_sends_a_snapshot(store: Store, bus: EventBus, events: list[Event],
                                                 read_key: str) -> None:  # fmt: skip
    hub = StreamHub(bus, heartbeat_s=30, ring=5)
    for test_client in _client(store, hub):
        _publish(test_client, bus, events)
        with test_client.websocket_connect(URL, headers={"X-API-Key": read_key}) as ws:
            ws.send_json({"action": "resume", "symbols": ["*"], "data_types": ["kline"], "seq": 1})
            snapshot = _receive(ws)
    last = next(e for e in reversed(events) if isinstance(e, CandleClosed))
    assert snapshot["type"] == "snapshot"
    assert [(m["data"]["time"], m["data"]["closed"]) for m in snapshot["data"]["messages"]] == [(last.time, True)]


async def _fan_out(events: list[Event], slow_types: list[str], max_pending: int) -> dict[str, Any]:
    """Publish the journal with a fast client and one that never takes a message (none without ``slow_types``):
    what each got, and how long publishing took. The engine yields to the loop between events, so the fast client's
    pump keeps up."""
    bus = EventBus()
    hub = StreamHub(bus, max_pending=max_pending, heartbeat_s=30)
    fast, slow = hub.connect(), hub.connect()
    fast.symbols, fast.data_types = {"*"}, set(ALL)
    slow.symbols, slow.data_types = {"*"}, set(slow_types)
    if not slow_types:
        hub.disconnect(slow)
    received: list[str] = []
    release = asyncio.Event()
    slow_got: list[str] = []

    async def fast_send(text: str) -> None:
        received.append(text)

    async def slow_send(text: str) -> None:
        await release.wait()  # a client that does not read: its send never completes
        slow_got.append(text)

    pumps = [asyncio.create_task(hub.pump(fast, fast_send)), asyncio.create_task(hub.pump(slow, slow_send))]
    publishing = 0.0
    for event in events:
        started = time.perf_counter()
        bus.publish(event)
        publishing += time.perf_counter() - started
        await asyncio.sleep(0)
    made = hub.seq

    async def drained() -> None:
        while len(received) < made:
            await asyncio.sleep(0.001)

    await asyncio.wait_for(drained(), timeout=5)
    outcome = {"made": made, "fast": received, "publishing_s": publishing, "slow": slow}
    if not slow.dropped:
        release.set()
        while slow.queue:
            await asyncio.wait_for(asyncio.sleep(0.001), timeout=1)
        await asyncio.sleep(0.01)
    outcome["slow_got"] = slow_got
    for pump in pumps:
        pump.cancel()
    return outcome


def test_a_slow_client_is_dropped_and_stalls_nobody(events: list[Event]) -> None:
    alone = asyncio.run(asyncio.wait_for(_fan_out(events, [], max_pending=50), timeout=30))
    outcome = asyncio.run(asyncio.wait_for(_fan_out(events, ALL, max_pending=50), timeout=30))
    assert outcome["slow"].dropped  # orders and signals cannot be conflated: over the bound it is dropped
    assert len(outcome["fast"]) == outcome["made"] > 1000  # the fast client got every message, within 5 s
    untimed = [{**json.loads(text), "timestamp": 0} for text in outcome["fast"]]
    assert untimed == [{**json.loads(text), "timestamp": 0} for text in alone["fast"]]  # as with no stuck client
    # A stuck client costs the publishing engine next to nothing: at most twice the time without it (noise).
    assert outcome["publishing_s"] < 2 * alone["publishing_s"] + 0.05, (outcome["publishing_s"], alone["publishing_s"])


def test_a_slow_candle_client_is_conflated_to_the_latest_candle(events: list[Event]) -> None:
    candles = [e for e in events if isinstance(e, CandleClosed)]
    outcome = asyncio.run(asyncio.wait_for(_fan_out(events, ["kline"], max_pending=20), timeout=30))
    slow = outcome["slow"]
    assert not slow.dropped
    assert slow.conflated == len(candles) - 21  # one in its send, twenty waiting, the rest replaced the last
    got = outcome["slow_got"]
    assert len(got) == 21
    assert '"closed":true' in got[-1]
    assert f'"time":{candles[-1].time},' in got[-1]
    assert f'"time":{candles[19].time},' in got[19]  # the queue kept its order; only the newest cell was replaced


def test_the_route_closes_a_dropped_client_with_the_code(store: Store, bus: EventBus, events: list[Event],
                                                         read_key: str) -> None:  # fmt: skip
    hub = StreamHub(bus, max_pending=3, heartbeat_s=30)
    for test_client in _client(store, hub):
        with test_client.websocket_connect(URL, headers={"X-API-Key": read_key}) as ws:
            ws.send_json({"action": "subscribe", "symbols": ["*"], "data_types": ["order"]})
            _until(ws, "subscribed")
            _publish(test_client, bus, events)  # one burst, the pump cannot run in between: the client is too slow
            with pytest.raises(WebSocketDisconnect) as closed:
                _until(ws, "never")
    assert (closed.value.code, closed.value.reason) == (TOO_SLOW, "too slow: more than 3 messages waiting")


def test_clients_are_counted_and_forgotten(store: Store, bus: EventBus, read_key: str) -> None:
    hub = StreamHub(bus, heartbeat_s=30)
    for test_client in _client(store, hub):
        with test_client.websocket_connect(URL, headers={"X-API-Key": read_key}) as ws:
            ws.send_json({"action": "subscribe", "symbols": ["*"], "data_types": ["risk"]})
            _until(ws, "subscribed")
            assert len(hub.clients) == 1
        deadline = time.monotonic() + 2
        while hub.clients and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not hub.clients
