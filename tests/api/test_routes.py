"""Each route's answer over a real paper session's store: its shape, the numbers equal to the store's rows,
filters and pages, 404 and 422 with a readable detail."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smc_agent.data.candles import Candles
from smc_agent.store import Store

Header = Callable[[str], dict[str, str]]


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def test_health_and_readiness_need_no_credential(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    assert client.get("/readyz").json() == {"status": "ready", "revision": "0003"}


def test_readyz_is_503_when_the_store_does_not_answer(client: TestClient, store: Store, db_path: Path) -> None:
    store.close()  # no pooled connection left open on the old file
    for path in db_path.parent.glob("store.db*"):
        path.unlink()
    db_path.mkdir()  # the file is now a directory: SQLite cannot open it
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("the store does not answer:")


def test_status_sessions_and_metrics(client: TestClient, key: Header, db_path: Path) -> None:
    read = key("read")
    (session_id, mode, started, stopped), *_ = _rows(db_path, "SELECT id, mode, started_ms, stopped_ms FROM sessions")
    status = client.get("/api/v1/status", headers=read).json()
    assert status["version"]
    assert status["session"] == {"id": session_id, "mode": "paper", "started_ms": started, "stopped_ms": stopped}
    assert mode == "paper"
    assert status["feeds"] == []  # a session on files has no live feed
    assert status["engine"] is None  # serve runs none
    assert status["uptime_s"] >= 0
    assert client.get("/api/v1/sessions", headers=read).json() == [status["session"]]
    metrics = client.get("/metrics", headers=read)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in metrics.text


def test_status_shows_each_feeds_latest_health(client: TestClient, key: Header, store: Store, db_path: Path) -> None:
    (session_id,) = _rows(db_path, "SELECT id FROM sessions")[0]
    store.record_feed_health(session_id, 10, "binance", "degraded", "connected", "slow")
    store.record_feed_health(session_id, 20, "binance", "down", "degraded", "stream lost")
    feeds = client.get("/api/v1/status", headers=key("read")).json()["feeds"]
    assert feeds == [{"feed": "binance", "health": "down", "previous": "degraded", "reason": "stream lost",
                      "at_ms": 20}]  # fmt: skip


def test_positions_are_the_stores_rows(client: TestClient, key: Header, db_path: Path) -> None:
    stored = _rows(db_path, "SELECT symbol, side, quantity, average_price, updated_ms FROM positions ORDER BY symbol")
    assert stored, "the session holds a position row, or the test compares nothing"
    answer = client.get("/api/v1/positions", headers=key("read")).json()
    assert [tuple(p.values()) for p in answer] == stored
    assert all(isinstance(p["quantity"], str) and isinstance(p["average_price"], str) for p in answer)


def test_orders_page_and_filter(client: TestClient, key: Header, db_path: Path) -> None:
    read = key("read")
    total = _rows(db_path, "SELECT count(*) FROM orders")[0][0]
    filled = _rows(db_path, "SELECT client_order_id FROM orders WHERE status = 'filled'")
    assert total > 2
    assert filled
    first = client.get("/api/v1/orders?limit=2", headers=read).json()
    second = client.get("/api/v1/orders?limit=2&offset=2", headers=read).json()
    assert (first["total"], len(first["items"]), first["limit"], first["offset"]) == (total, 2, 2, 0)
    assert {o["client_order_id"] for o in first["items"]}.isdisjoint(o["client_order_id"] for o in second["items"])
    only = client.get("/api/v1/orders?status=filled&limit=1000", headers=read).json()
    assert sorted(o["client_order_id"] for o in only["items"]) == sorted(r[0] for r in filled)
    assert only["total"] == len(filled)
    bad = client.get("/api/v1/orders?status=done", headers=read)
    assert bad.status_code == 422
    assert bad.json()["detail"].startswith("query parameter status: Input should be 'new', 'accepted'")


def test_signals_in_their_latest_version_filtered_and_paged(client: TestClient, key: Header, db_path: Path) -> None:
    read = key("read")
    latest = _rows(db_path, "SELECT signal_id, status, symbol, setup, version FROM signals s WHERE seq = "
                            "(SELECT max(seq) FROM signals t WHERE t.signal_id = s.signal_id)")  # fmt: skip
    assert len(latest) >= 3
    page = client.get("/api/v1/signals?limit=1000", headers=read).json()
    assert page["total"] == len(latest)
    assert {(s["signal_id"], s["status"], s["version"]) for s in page["items"]} == {(r[0], r[1], r[4]) for r in latest}
    status = latest[0][1]
    by_status = client.get(f"/api/v1/signals?status={status}&limit=1000", headers=read).json()
    assert by_status["total"] == sum(1 for r in latest if r[1] == status)
    setup = latest[0][3]
    assert client.get(f"/api/v1/signals?setup={setup}", headers=read).json()["total"] == sum(
        1 for r in latest if r[3] == setup)  # fmt: skip
    assert client.get("/api/v1/signals?symbol=NOPE", headers=read).json() == {"items": [], "total": 0, "limit": 100,
                                                                             "offset": 0}  # fmt: skip
    assert client.get("/api/v1/signals?since=99999999999999", headers=read).json()["total"] == 0
    two = client.get("/api/v1/signals?limit=2&offset=1", headers=read).json()
    assert [s["signal_id"] for s in two["items"]] == [s["signal_id"] for s in page["items"][1:3]]


def test_one_signal_has_every_version_with_evidence(client: TestClient, key: Header, db_path: Path) -> None:
    signal_id, count = _rows(db_path, "SELECT signal_id, count(*) FROM signals GROUP BY signal_id "
                                      "ORDER BY count(*) DESC LIMIT 1")[0]  # fmt: skip
    answer = client.get(f"/api/v1/signals/{signal_id}", headers=key("read")).json()
    assert answer["signal_id"] == signal_id
    assert [v["version"] for v in answer["versions"]] == sorted(v["version"] for v in answer["versions"])
    assert len(answer["versions"]) == count
    assert all(isinstance(v["evidence"], list) for v in answer["versions"])
    assert any(v["evidence"] for v in answer["versions"])


def test_unknown_signal_and_session_are_404_with_what_is_missing(client: TestClient, key: Header) -> None:
    read = key("read")
    missing = client.get("/api/v1/signals/sig-nope", headers=read)
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("no signal 'sig-nope' in session s-")
    other = client.get("/api/v1/positions?session=s-nope", headers=read)
    assert (other.status_code, other.json()) == (404, {"detail": "no session 's-nope' in the store"})


@pytest.mark.parametrize(
    ("query", "detail"),
    [("limit=0", "query parameter limit: Input should be greater than or equal to 1"),
     ("limit=x", "query parameter limit: Input should be a valid integer, unable to parse string as an integer"),
     ("since=-1", "query parameter since: Input should be greater than or equal to 0")],
)  # fmt: skip
def test_bad_queries_are_422_with_a_readable_detail(client: TestClient, key: Header, query: str, detail: str) -> None:
    answer = client.get(f"/api/v1/signals?{query}", headers=key("read"))
    assert (answer.status_code, answer.json()) == (422, {"detail": detail})


def test_the_portfolio_from_the_projections(client: TestClient, key: Header, db_path: Path) -> None:
    answer = client.get("/api/v1/risk/portfolio?days=366&events=1000", headers=key("read")).json()
    balances = _rows(db_path, "SELECT balance, equity FROM account_snapshots ORDER BY seq")
    open_rows = [r for r in _rows(db_path, "SELECT symbol, quantity FROM positions") if Decimal(str(r[1])) != 0]
    assert answer["balance"] == balances[-1][0]
    assert answer["equity"] == (None if open_rows else balances[-1][1])
    assert [p["symbol"] for p in answer["open_positions"]] == [r[0] for r in open_rows]
    days = answer["daily_pnl"]
    assert days[0]["start_balance"] == "10000"  # the default initial balance, from the session's settings
    assert days[-1]["end_balance"] == balances[-1][0]
    for before, after in itertools.pairwise(days):
        assert after["start_balance"] == before["end_balance"]
    risk = _rows(db_path, "SELECT kind, reason FROM risk_events ORDER BY seq DESC")
    assert [(e["kind"], e["reason"]) for e in answer["risk_events"]] == risk
    assert answer["trading_state"] == "active"
    # Under serve no engine knows the exposure, the stops or the limits' use; the drawdown is the balances'.
    assert (answer["total_exposure"], answer["risk_limits"]) == (None, [])
    curve = [Decimal(b[0]) for b in balances]
    falls = [(max(curve[: i + 1]) - value) / max(curve[: i + 1]) for i, value in enumerate(curve)]
    assert max(falls) > 0, "a session that never lost tests nothing"
    drawdown = answer["max_drawdown"]
    assert (Decimal(drawdown["current"]), Decimal(drawdown["peak"])) == (falls[-1], max(falls))
    one = client.get("/api/v1/risk/portfolio?events=1&days=1", headers=key("read")).json()
    assert len(one["risk_events"]) == 1
    assert len(one["daily_pnl"]) == 1


def test_market_symbols_and_candles(client: TestClient, key: Header, store: Store) -> None:
    import numpy as np

    read = key("read")
    streams = client.get("/api/v1/market/symbols", headers=read).json()
    assert [(s["source"], s["symbol"], s["timeframe"]) for s in streams] == [("session", "EURUSD", "15m")]
    times = np.array([0, 60_000, 120_000], dtype=np.int64)
    prices = np.array([1.5, 1.25, 1.125])
    store.save_candles("binance", Candles.from_arrays(times, prices, prices + 1, prices - 1, prices, prices * 0 + 7,
                                                      symbol="BTC/USDT", timeframe="1m"))  # fmt: skip
    candles = client.get("/api/v1/market/candles?symbol=BTC/USDT&tf=1m&limit=2", headers=read).json()
    assert candles == [
        {"venue": "binance", "open_ms": 60_000, "open": "1.25", "high": "2.25", "low": "0.25", "close": "1.25",
         "volume": "7.0"},
        {"venue": "binance", "open_ms": 120_000, "open": "1.125", "high": "2.125", "low": "0.125", "close": "1.125",
         "volume": "7.0"},
    ]  # fmt: skip
    stored = [s for s in client.get("/api/v1/market/symbols", headers=read).json() if s["source"] == "candles"]
    assert stored == [{"source": "candles", "symbol": "BTC/USDT", "timeframe": "1m", "venue": "binance",
                       "close_ms": None, "candles": 3, "last_open_ms": 120_000}]  # fmt: skip
    missing = client.get("/api/v1/market/candles?symbol=BTC/USDT", headers=read)
    assert (missing.status_code, missing.json()) == (422, {"detail": "query parameter tf: Field required"})


def test_cors_is_closed_unless_origins_are_given(store: Store) -> None:
    from smc_agent.api import create_app

    preflight = {"Origin": "https://dash.example", "Access-Control-Request-Method": "GET"}
    with TestClient(create_app(store)) as closed:
        assert "access-control-allow-origin" not in closed.options("/api/v1/status", headers=preflight).headers
    with TestClient(create_app(store, cors_origins=["https://dash.example"])) as opened:
        answer = opened.options("/api/v1/status", headers=preflight)
        assert answer.headers["access-control-allow-origin"] == "https://dash.example"
        other = opened.options("/api/v1/status", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
