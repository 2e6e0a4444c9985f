"""/metrics after real work: a request's latency under its route template, an agent session's counters equal to the
rows its store holds, the WebSocket client gauge; and each request's id, echoed and on every JSON log line.

Prometheus metrics are process-wide and other tests move them too, so every check is a difference: the value after
minus the value before.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api.conftest import run_session
from smc_agent.api import create_app, keys
from smc_agent.api.stream import StreamHub
from smc_agent.core.bus import EventBus
from smc_agent.core.logs import configure_logging, get_logger
from smc_agent.events import BalanceChanged
from smc_agent.events.codec import from_json, from_msgpack
from smc_agent.store import Store

Header = Callable[[str], dict[str, str]]
SIGNAL_ROUTE = "/api/v1/signals/{signal_id}"


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _total(name: str, **labels: str) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    return sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples
               if sample.name == name and labels.items() <= sample.labels.items())  # fmt: skip


@pytest.fixture
def log() -> Iterator[io.StringIO]:
    """The JSON log lines written while the test runs."""
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    yield out
    configure_logging("warning")


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_request_is_observed_under_its_route_template(client: TestClient, key: Header) -> None:
    labels = {"method": "GET", "route": SIGNAL_ROUTE, "status": "404"}
    before = _value("smc_agent_http_request_seconds_count", **labels)
    unmatched = _value("smc_agent_http_request_seconds_count", method="GET", route="unmatched", status="404")
    headers = key("read")
    assert client.get("/api/v1/signals/no-such-signal", headers=headers).status_code == 404
    assert client.get("/api/v1/signals/another-one", headers=headers).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert _value("smc_agent_http_request_seconds_count", **labels) - before == 2  # one series for both paths
    assert _value("smc_agent_http_request_seconds_count", method="GET", route="unmatched", status="404") == (
        unmatched + 1
    )
    text = client.get("/metrics", headers=headers).text
    assert 'smc_agent_http_request_seconds_bucket{le="0.001",method="GET",route="/api/v1/signals/{signal_id}",' in text
    assert "/api/v1/signals/no-such-signal" not in text


def test_many_apps_in_one_process_share_the_metrics(store: Store, key: Header) -> None:
    headers = key("read")
    labels = {"method": "GET", "route": "/metrics", "status": "200"}
    before = _value("smc_agent_http_request_seconds_count", **labels)
    for _ in range(3):  # each would fail at once if it registered a metric again
        with TestClient(create_app(store)) as test_client:
            assert test_client.get("/metrics", headers=headers).status_code == 200
    assert _value("smc_agent_http_request_seconds_count", **labels) - before == 3


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_an_agent_sessions_counters_equal_its_stores_rows(session_data: Path, tmp_path: Path) -> None:
    names = ("smc_agent_candles_total", "smc_agent_signals_total", "smc_agent_order_events_total",
             "smc_agent_fills_total", "smc_agent_risk_denials_total", "smc_agent_strategy_seconds_count")  # fmt: skip
    setups = ("bos_continuation", "sweep_choch_ob")
    statuses = ("pending", "triggered", "filled", "closed", "expired", "invalidated")
    signal_labels = [(setup, status) for setup in setups for status in statuses]
    kinds = {"OrderSubmitted": "submitted", "OrderAccepted": "accepted", "OrderFilled": "filled",
             "OrderCancelled": "cancelled", "OrderRejected": "rejected", "OrderExpired": "expired"}  # fmt: skip

    def reading() -> dict[object, float]:
        found: dict[object, float] = {name: _total(name) for name in names}
        found["15m"] = _total("smc_agent_candles_total", symbol="EURUSD", timeframe="15m")
        for setup, status in signal_labels:
            found[setup, status] = _total("smc_agent_signals_total", setup=setup, status=status)
        for event in kinds.values():
            found[event] = _total("smc_agent_order_events_total", event=event)
        return found

    before = reading()
    db = tmp_path / "run.db"
    run_session(session_data, f"sqlite:///{db}")
    after = reading()
    moved = {name: after[name] - before[name] for name in after}

    by_kind = dict(_rows(db, "SELECT kind, count(*) FROM events GROUP BY kind"))
    assert by_kind["CandleClosed"] > 20_000
    assert moved["smc_agent_candles_total"] == moved["15m"] == by_kind["CandleClosed"]
    assert moved["smc_agent_strategy_seconds_count"] == by_kind["CandleClosed"]  # one stream: each is an entry candle
    assert moved["smc_agent_fills_total"] == by_kind["OrderFilled"] > 0
    assert moved["smc_agent_risk_denials_total"] == by_kind.get("RiskRejected", 0)
    assert moved["smc_agent_order_events_total"] == sum(by_kind.get(kind, 0) for kind in kinds)
    assert {event: moved[event] for event in kinds.values()} == {event: by_kind.get(kind, 0)
                                                                 for kind, event in kinds.items()}  # fmt: skip
    signals = {(str(setup), str(status)): n for setup, status, n in
               _rows(db, "SELECT setup, status, count(*) FROM signals GROUP BY setup, status")}  # fmt: skip
    assert set(signals) <= set(signal_labels)  # else a label this test does not read
    assert moved["smc_agent_signals_total"] == by_kind["SignalChanged"] == sum(signals.values()) > 0
    assert {label: moved[label] for label in signal_labels} == {label: signals.get(label, 0) for label in signal_labels}
    # The last balance the journal holds is the agent's, as the gauge reads it (its last agent is this one).
    (payload,) = _rows(db, "SELECT payload FROM events WHERE kind = 'BalanceChanged' ORDER BY seq DESC LIMIT 1")[0]
    assert _value("smc_agent_balance") == pytest.approx(float(_balance(payload)), rel=1e-12)


def _balance(payload: object) -> str:
    data = bytes(payload)  # type: ignore[call-overload]
    event = from_json(data) if data[:1] == b"{" else from_msgpack(data)
    assert isinstance(event, BalanceChanged)
    return str(event.balance)


def test_the_websocket_gauge_counts_connected_clients() -> None:
    hub = StreamHub(EventBus())
    before = _value("smc_agent_websocket_clients")
    first, second = hub.connect(), hub.connect()
    assert _value("smc_agent_websocket_clients") - before == 2
    hub.disconnect(first)
    hub.disconnect(first)  # a client dropped twice (slow, then its socket closing) counts once
    assert _value("smc_agent_websocket_clients") - before == 1
    hub.disconnect(second)
    assert _value("smc_agent_websocket_clients") == before


def test_a_request_id_is_echoed_and_on_every_line_logged_during_it(store: Store, log: io.StringIO) -> None:
    app = create_app(store)
    inner = get_logger("smc_agent.api.test")

    @app.get("/test/sync")
    def logs_in_a_thread() -> dict[str, str]:  # FastAPI runs a plain def in its thread pool
        inner.info("inside", where="thread")
        return {}

    @app.get("/test/async")
    async def logs_on_the_loop() -> dict[str, str]:
        inner.info("inside", where="loop")
        return {}

    made, secret = keys.create_key(store, "read", 1_000)
    with TestClient(app) as test_client:
        sync = test_client.get("/test/sync")
        asynchronous = test_client.get("/test/async", headers={"X-Request-ID": "trace-42.a_b"})
        read = test_client.get("/api/v1/sessions", headers={"X-API-Key": secret})
    generated = sync.headers["X-Request-ID"]
    assert re.fullmatch("[0-9a-f]{32}", generated)  # a uuid4's hex
    assert asynchronous.headers["X-Request-ID"] == "trace-42.a_b"
    lines = _lines(log)
    inside = {line["where"]: line["request_id"] for line in lines if line["event"] == "inside"}
    assert inside == {"thread": generated, "loop": "trace-42.a_b"}
    access = [line for line in lines if line["event"] == "request"]
    assert [(line["route"], line["status"], line["request_id"]) for line in access] == [
        ("/test/sync", 200, generated),
        ("/test/async", 200, "trace-42.a_b"),
        ("/api/v1/sessions", 200, read.headers["X-Request-ID"]),
    ]
    assert all(line["level"] == "info" and line["logger"] == "smc_agent.api.access" for line in access)
    assert all(isinstance(line["ms"], float) and line["ms"] >= 0 for line in access)
    assert [line["actor"] for line in access] == [None, None, f"key:{made.id}"]
    assert secret not in log.getvalue()  # the key's id, never the key


@pytest.mark.parametrize("given", ["has spaces", "x" * 65, "semi;colon", "new\tline", "ünïcode", ""])
def test_an_insane_request_id_is_replaced(client: TestClient, given: str, log: io.StringIO) -> None:
    answer = client.get("/healthz", headers={"X-Request-ID": given.encode()})
    replaced = answer.headers["X-Request-ID"]
    assert re.fullmatch("[0-9a-f]{32}", replaced)
    (line,) = [line for line in _lines(log) if line["event"] == "request"]
    assert line["request_id"] == replaced


def test_a_sane_request_id_of_64_characters_is_kept(client: TestClient) -> None:
    given = "A-z_0.9" * 9 + "x"
    assert len(given) == 64
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
