"""The analytics routes: a backtest job over stored or uploaded candles gives what ``backtest_request`` gives
for the same candles read from a file; the performance of the stored paper session is what its fills, orders,
signals and entries say, computed here by hand; refusals are 401, 403, 404, 422 and 429 with readable reasons."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from smc_agent.api import create_app, keys
from smc_agent.api.jobs import JobRegistry, JobsFull
from smc_agent.backtest.runner import backtest_json
from smc_agent.config.engine import EngineSettings
from smc_agent.data.candles import Candles
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.events import EntryAccepted, Event, OrderFilled, stamper
from smc_agent.events.codec import from_msgpack
from smc_agent.model.commands import OrderCommand
from smc_agent.model.enums import Side
from smc_agent.model.orders import LIMIT, STOP, Order
from smc_agent.service import AnalysisRequest, backtest_candles, backtest_request, load_timeframe
from smc_agent.store import Store

Header = Callable[[str], dict[str, str]]
BACKTEST = "/api/v1/analytics/backtest"
PERFORMANCE = "/api/v1/analytics/performance"
PERIOD = {"start_date": "2023-01-02T00:00:00Z", "end_date": "2023-05-01T00:00:00Z"}


@pytest.fixture
def stored(session_data: Path, store: Store) -> Candles:
    """The session's whole file, stored as a feed would store it (the session itself kept no candles)."""
    store.save_candles("mt5", load_timeframe(AnalysisRequest(session_data)))
    return store.load_candles("mt5", "EURUSD", "15m")


def _finished(client: TestClient, headers: dict[str, str], job_id: str, wait_s: float = 120) -> dict[str, Any]:
    """The job once it is done or failed (polled; the test fails if it is neither within ``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"{BACKTEST}/{job_id}", headers=headers).json()
        assert 0.0 <= body["progress"] <= 1.0
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {body['status']} after {wait_s} s")


def _as_csv(candles: Candles, path: Path) -> Path:
    """The candles as a plain CSV file (ISO times, the floats' own text): another way to the same candles."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "open", "high", "low", "close", "volume"])
        for t, *values in zip(candles.time.tolist(), *(c.tolist() for c in candles.columns), strict=True):
            writer.writerow([datetime.fromtimestamp(t / 1000, UTC).isoformat(), *map(repr, values)])
    return path


def test_a_job_on_stored_candles_gives_what_backtest_request_gives_on_the_same_file(
    client: TestClient, key: Header, store: Store, stored: Candles, tmp_path: Path
) -> None:
    body = {"symbol": "EURUSD", "timeframe": "15m", **PERIOD, "initial_capital": "5000",
            "strategy_config": {"name": "smc", "risk": {"risk_per_trade": 0.005}}}  # fmt: skip
    started = client.post(BACKTEST, json=body, headers=key("trade"))
    assert started.status_code == 202, started.text
    assert started.json()["status"] in ("queued", "running")
    reader = key("read")
    job = _finished(client, reader, started.json()["id"])
    assert job["status"] == "done", job["error"]
    assert job["progress"] == 1.0
    assert job["error"] is None
    assert job["started_ms"] <= job["finished_ms"]

    settings = replace(EngineSettings(), initial_balance=Decimal(5000),
                       risk=replace(RiskConfig(), risk_per_trade=Decimal("0.005")))  # fmt: skip
    direct = backtest_request(AnalysisRequest(_as_csv(stored, tmp_path / "eurusd.csv"), symbol="EURUSD"),
                              start="2023-01-02", end="2023-05-01", settings=settings)  # fmt: skip
    expected = backtest_json(direct)
    metrics = dict(job["performance_metrics"])
    assert metrics.pop("costs") == expected["costs"]
    assert metrics == expected["metrics"]
    assert job["trade_log"] == expected["trades"]
    assert job["equity_curve"] == expected["equity"]
    assert job["equity_curve"][0][1] == "5000"  # the initial capital, at the first traded candle's open
    assert "2023-01-02" <= job["equity_curve"][0][0] < job["equity_curve"][-1][0] < "2023-05-01"
    risk = job["risk_metrics"]
    assert risk["risk_rejections"] == len(direct.rejections)
    assert risk["max_drawdown_pct"] == expected["metrics"]["max_drawdown_pct"]
    # What these candles gave, as it is (the SMC strategy may well take no trade in four months).
    assert metrics["trades"] == len(job["trade_log"]) == len(direct.trades)
    audited = [e for e in store.audit_entries() if e["action"] == "api backtest"]
    assert len(audited) == 1
    assert audited[0]["actor"].startswith("key:")
    assert audited[0]["detail"]["job"] == started.json()["id"]
    assert audited[0]["detail"]["rows"] == len(stored)


def test_a_job_on_uploaded_candles_and_the_sma_strategy(client: TestClient, key: Header, stored: Candles) -> None:
    window = stored[:3000]
    rows = [list(r) for r in zip(window.time.tolist(), *(c.tolist() for c in window.columns), strict=True)]
    body = {"symbol": "EURUSD", "timeframe": "15m", "candles": rows, "strategy_config": {"name": "sma_cross"}}
    started = client.post(BACKTEST, json=body, headers=key("admin"))
    assert started.status_code == 202, started.text
    job = _finished(client, key("read"), started.json()["id"])
    assert job["status"] == "done", job["error"]
    expected = backtest_json(backtest_candles(window, strategy="sma_cross"))
    assert job["trade_log"] == expected["trades"]
    assert job["trade_log"], "a moving-average cross trades on three thousand 15m candles"
    assert {k: v for k, v in job["performance_metrics"].items() if k != "costs"} == expected["metrics"]


def test_refusals(client: TestClient, key: Header, stored: Candles) -> None:
    series = {"symbol": "EURUSD", "timeframe": "15m"}
    assert client.post(BACKTEST, json=series).status_code == 401
    assert client.get(f"{BACKTEST}/job-x").status_code == 401
    assert client.get(PERFORMANCE).status_code == 401
    forbidden = client.post(BACKTEST, json=series, headers=key("read"))
    assert (forbidden.status_code, forbidden.json()) == (403, {"detail": "this needs the 'trade' scope"})
    unknown = client.get(f"{BACKTEST}/job-nope", headers=key("read"))
    assert unknown.status_code == 404
    assert "job-nope" in unknown.json()["detail"]
    trade = key("trade")
    missing = client.post(BACKTEST, json={"symbol": "GBPUSD", "timeframe": "15m"}, headers=trade)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no candles of GBPUSD are stored"})
    cases = {
        "body field strategy_config.name: unknown strategy 'turtle'; choose from smc, sma_cross":
            {"strategy_config": {"name": "turtle"}},
        "body field strategy_config.risk.risk_per_turn: unknown setting":
            {"strategy_config": {"risk": {"risk_per_turn": 0.01}}},
        "body field strategy_config.risk.risk_per_trade:": {"strategy_config": {"risk": {"risk_per_trade": 2}}},
        "body field strategy_config.htfs:": {"strategy_config": {"htfs": ["4x"]}},
        "body field strategy_config.nme: Extra inputs are not permitted": {"strategy_config": {"nme": "smc"}},
        "body field initial_capital: Input should be greater than 0": {"initial_capital": "-5"},
        "body field start_date: Input should be a valid datetime": {"start_date": "the second of January"},
        "body field end_date: must be after start_date": {"start_date": "2023-02-01", "end_date": "2023-01-01"},
        "body field start_date: fewer than two candles in the chosen period": {"start_date": "2030-01-01"},
        "body field timeframe: uploaded candles need their timeframe":
            {"timeframe": None, "candles": [[0, 1, 1, 1, 1, 0]]},
    }  # fmt: skip
    for detail, change in cases.items():
        answer = client.post(BACKTEST, json={**series, **change}, headers=trade)
        assert answer.status_code == 422, (change, answer.text)
        assert answer.json()["detail"].startswith(detail), (change, answer.json())
    assert client.app.state.jobs.get("job-x") is None


def test_a_full_queue_is_429(client: TestClient, key: Header, stored: Candles) -> None:
    client.app.state.jobs = JobRegistry(max_pending=0)
    full = client.post(BACKTEST, json={"symbol": "EURUSD", "timeframe": "15m"}, headers=key("trade"))
    assert (full.status_code, full.json()) == (429, {"detail": "0 jobs are already waiting: retry once one has "
                                                               "finished"})  # fmt: skip


def test_the_registry_runs_one_job_at_a_time_and_keeps_the_last_finished() -> None:
    registry = JobRegistry(max_pending=1, keep=2)
    release = threading.Event()
    halfway = threading.Event()

    def slow(progress: Callable[[float], None]) -> dict[str, Any]:
        progress(0.5)
        halfway.set()
        release.wait(10)
        return {"answer": 42}

    def broken(progress: Callable[[float], None]) -> dict[str, Any]:
        raise KeyError("/secret/path")

    first = registry.submit("backtest", slow)
    assert halfway.wait(10)
    assert (first.status, first.progress) == ("running", 0.5)
    second = registry.submit("backtest", broken)
    assert second.status == "queued"
    with pytest.raises(JobsFull):
        registry.submit("backtest", slow)
    release.set()
    deadline = time.monotonic() + 10
    while second.finished_ms is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (first.status, first.progress, first.result) == ("done", 1.0, {"answer": 42})
    assert second.status == "failed"
    assert second.error == "the backtest failed on an internal error (KeyError); see the server log"
    third = registry.submit("backtest", lambda progress: {})
    while third.finished_ms is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert registry.get(first.id) is None  # the oldest finished is forgotten beyond keep=2
    assert registry.get(second.id) is second
    assert registry.get(third.id) is third
    registry.close()


def _session_of(entry_ms: int) -> str:
    """Asia, London or New York (local 09-18 Tokyo, 08-17 London, 08-17 New York), the first that holds it."""
    at = datetime.fromtimestamp(entry_ms / 1000, UTC)
    for name, zone, opens, closes in (("asia", "Asia/Tokyo", 9, 18), ("london", "Europe/London", 8, 17),
                                      ("new_york", "America/New_York", 8, 17)):  # fmt: skip
        if opens <= at.astimezone(ZoneInfo(zone)).hour < closes:
            return name
    return "none"


def _hand_trades(store: Store, session_id: str) -> list[dict[str, Any]]:
    """Round trips from the fills (with their orders' side) in order: a trade opens when a symbol's position
    leaves flat and closes when it is back; its setup is the signal filled at its entry, its stop the entry's."""
    with store.reading("test") as connection:
        fills = connection.execute(text(
            "SELECT f.price, f.quantity, f.fee, f.event_ms, o.side, o.symbol FROM fills f JOIN orders o ON "
            "o.session_id = f.session_id AND o.client_order_id = f.client_order_id WHERE f.session_id = :s "
            "ORDER BY f.seq"), {"s": session_id}).all()  # fmt: skip
        filled = {(r.symbol, r.event_ms): (r.signal_id, r.setup, r.side) for r in connection.execute(text(
            "SELECT signal_id, symbol, event_ms, setup, side FROM signals WHERE session_id = :s AND "
            "status = 'filled'"), {"s": session_id})}  # fmt: skip
        entries = [from_msgpack(p) for (p,) in connection.execute(text(
            "SELECT payload FROM events WHERE session_id = :s AND kind = 'EntryAccepted' ORDER BY seq"),
            {"s": session_id})]  # fmt: skip
    stops = {e.command.signal_id: e.command.stop for e in entries}
    trades, open_ = [], {}
    for f in fills:
        price, quantity, fee = Decimal(f.price), Decimal(f.quantity), Decimal(f.fee)
        trade = open_.get(f.symbol)
        if trade is None:
            signal_id, setup, side = filled[(f.symbol, f.event_ms)]
            assert side == f.side
            trade = open_[f.symbol] = {
                "signal": signal_id,
                "side": side,
                "setup": setup,
                "entry_ms": f.event_ms,
                "qty": Decimal(0),
                "cost": Decimal(0),
                "out": Decimal(0),
                "proceeds": Decimal(0),
                "fees": Decimal(0),
            }
        if f.side == trade["side"]:
            trade["qty"] += quantity
            trade["cost"] += price * quantity
        else:
            trade["out"] += quantity
            trade["proceeds"] += price * quantity
        trade["fees"] += fee
        if trade["out"] and trade["out"] >= trade["qty"]:
            del open_[f.symbol]
            entry = trade["cost"] / trade["qty"]
            sign = 1 if trade["side"] == "buy" else -1
            pnl = sign * (trade["proceeds"] - entry * trade["out"]) - trade["fees"]
            risk = abs(entry - stops[trade["signal"]]) * trade["qty"]
            trades.append({**trade, "pnl": pnl, "r": float(pnl / risk), "session": _session_of(trade["entry_ms"])})
    return trades


def _by_hand(trades: list[dict[str, Any]]) -> dict[str, Any]:
    wins = [t for t in trades if t["pnl"] > 0]
    lost = -sum((t["pnl"] for t in trades if t["pnl"] < 0), Decimal(0))
    net = sum((t["pnl"] for t in trades), Decimal(0))
    return {"trades": len(trades), "wins": len(wins), "win_rate": len(wins) / len(trades),
            "expectancy": net / len(trades), "net_pnl": net,
            "profit_factor": None if not lost else float(sum(t["pnl"] for t in wins) / lost),
            "expectancy_r": sum(t["r"] for t in trades) / len(trades)}  # fmt: skip


def _same(answer: dict[str, Any], hand: dict[str, Any]) -> None:
    assert (answer["trades"], answer["wins"]) == (hand["trades"], hand["wins"])
    assert answer["win_rate"] == pytest.approx(hand["win_rate"])
    assert Decimal(answer["expectancy"]) == hand["expectancy"]
    assert Decimal(answer["net_pnl"]) == hand["net_pnl"]
    assert answer["profit_factor"] == (None if hand["profit_factor"] is None else pytest.approx(hand["profit_factor"]))
    assert answer["expectancy_r"] == pytest.approx(hand["expectancy_r"], rel=1e-9)


def test_performance_of_the_paper_session_is_its_fills_computed_by_hand(client: TestClient, key: Header,
                                                                        store: Store) -> None:  # fmt: skip
    with store.reading("test") as connection:
        (session_id,) = connection.execute(text("SELECT id FROM sessions WHERE mode = 'paper'")).one()
    trades = _hand_trades(store, session_id)
    assert len(trades) >= 2
    assert any(t["pnl"] > 0 for t in trades)
    assert any(t["pnl"] < 0 for t in trades)
    answer = client.get(PERFORMANCE, headers=key("read"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sessions"] == [session_id]
    _same(body["overall"], _by_hand(trades))
    for group, field in (("by_setup", "setup"), ("by_side", "side"), ("by_session", "session")):
        names = sorted({t[field] for t in trades})
        assert list(body[group]) == names, group
        for name in names:
            _same(body[group][name], _by_hand([t for t in trades if t[field] == name]))
    named = client.get(PERFORMANCE, params={"session": session_id}, headers=key("read")).json()
    assert named == body
    live = client.get(PERFORMANCE, params={"mode": "live"}, headers=key("read")).json()
    assert (live["sessions"], live["overall"]["trades"], live["by_setup"]) == ([], 0, {})
    assert live["overall"]["win_rate"] is None
    assert live["overall"]["profit_factor"] is None
    unknown = client.get(PERFORMANCE, params={"session": "s-nope"}, headers=key("read"))
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "no session 's-nope' in the store"})
    bad_mode = client.get(PERFORMANCE, params={"mode": "dream"}, headers=key("read"))
    assert bad_mode.status_code == 422
    assert bad_mode.json()["detail"].startswith("query parameter mode:")


HOUR = 3_600_000
JAN2 = 1_704_153_600_000  # 2024-01-02 00:00 UTC: London on GMT, New York on EST, Tokyo on JST (+9)


def _round_trip(name: str, symbol: str, side: Side, setup: str, entry: tuple[int, str, str], exit_: tuple[int, str],
                stop: str, fee: str) -> list[Event]:  # fmt: skip
    """An entry of ``quantity`` at ``price`` (hour, price, quantity), and its stop leg filled at ``exit_``."""
    at, price, quantity = entry[0] * HOUR + JAN2, Decimal(entry[1]), Decimal(entry[2])
    command = OrderCommand(symbol, side, price, Decimal(stop), (), name, setup)
    opened = Order(f"{name}e", symbol, side, LIMIT, quantity, price=price)
    leg = Order(
        f"{name}s1",
        symbol,
        side.opposite,
        STOP,
        quantity,
        trigger=Decimal(stop),
        tag="stop",
        parent=opened.client_order_id,
    )
    fill = {"quantity": quantity, "fee": Decimal(fee), "slippage": Decimal(0), "maker": False}
    events: list[Event] = [EntryAccepted(event_ms=at, known_ms=at, entry_id=opened.client_order_id, command=command,
                                         quantity=quantity, market=False, tp1_fraction=Decimal("0.5"),
                                         breakeven_after_tp1=False),
                           OrderFilled(event_ms=at, known_ms=at, order=opened, price=price, **fill)]  # fmt: skip
    if exit_[0]:
        out = exit_[0] * HOUR + JAN2
        events.append(OrderFilled(event_ms=out, known_ms=out, order=leg, price=Decimal(exit_[1]), **fill))
    return events


def _session(store: Store, mode: str, events: list[Event]) -> str:
    session_id = store.begin_session(fingerprint=mode, mode=mode, sources=[], settings={}, new=True).id
    stamp = stamper(session_id)
    store.journal(session_id).append([stamp(event, seq) for seq, event in enumerate(events, 1)])
    return session_id


def test_performance_of_hand_built_trades(empty: Store) -> None:
    """A short won at 14:30 UTC (London, before New York), a long lost at 19:00 (New York only), a trade
    still open, and a live session's trade: each number is worked out here from the prices."""
    paper = _session(empty, "paper", [
        *_round_trip("A", "BTCUSDT", Side.SELL, "sweep_choch_ob", (14, "100", "2"), (16, "90"), "105", "0.1"),
        *_round_trip("B", "ETHUSDT", Side.BUY, "bos_continuation", (19, "50", "1"), (20, "45"), "45", "0"),
        *_round_trip("C", "BTCUSDT", Side.BUY, "sweep_choch_ob", (22, "95", "1"), (0, ""), "90", "0"),
    ])  # fmt: skip
    live = _session(empty, "live", _round_trip("D", "BTCUSDT", Side.BUY, "x", (3, "10", "1"), (4, "11"), "9", "0"))
    header = {"X-API-Key": keys.create_key(empty, "read", 1)[1]}
    with TestClient(create_app(empty)) as client:
        body = client.get(PERFORMANCE, headers=header).json()
        live_body = client.get(PERFORMANCE, params={"mode": "live"}, headers=header).json()
        named = client.get(PERFORMANCE, params={"session": live}, headers=header).json()
    # A: short 2 at 100, out at 90, fees 0.1 each side: (100 - 90) * 2 - 0.2 = 19.8; risk (105 - 100) * 2 = 10.
    # B: long 1 at 50, out at 45: -5; risk 5, so -1 R. C is still open.
    assert body["sessions"] == [paper]
    assert body["overall"] == {"trades": 2, "wins": 1, "win_rate": 0.5, "expectancy_r": pytest.approx(0.49),
                               "expectancy": "7.4", "profit_factor": pytest.approx(3.96),
                               "net_pnl": "14.8"}  # fmt: skip
    assert body["by_side"]["sell"] == {"trades": 1, "wins": 1, "win_rate": 1.0, "expectancy_r": pytest.approx(1.98),
                                       "expectancy": "19.8", "profit_factor": None, "net_pnl": "19.8"}  # fmt: skip
    assert body["by_side"]["buy"]["profit_factor"] == 0.0
    assert body["by_side"]["buy"]["expectancy_r"] == pytest.approx(-1.0)
    assert list(body["by_setup"]) == ["bos_continuation", "sweep_choch_ob"]
    assert {name: g["net_pnl"] for name, g in body["by_session"].items()} == {"london": "19.8", "new_york": "-5"}
    assert (live_body["sessions"], live_body["overall"]["net_pnl"]) == ([live], "1")
    assert named["sessions"] == [live]
