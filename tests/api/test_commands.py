"""The command routes against an in-process agent paper-trading real EURUSD 15m candles (a paced replay, so it
runs while the requests come), through httpx's ASGI transport on the agent's own event loop: a manual order
reaches the store and GET /positions with the fill's exact numbers; a risk denial is 422 with its reason; kill
halts and reset lifts it; cancel, close, pause, start and stop; config refuses runtime changes; 504 and 409."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient
from sqlalchemy import text as sql_text

from smc_agent.api import create_app, keys
from smc_agent.api.serving import ApiServer
from smc_agent.api.stream import StreamHub
from smc_agent.events import CandleClosed, OrderFilled
from smc_agent.service.agent import Agent, AgentOptions
from smc_agent.store import Store

SPEED = 30_000.0  # a 15m candle every 30 ms of wall time: thousands of candles left when a test ends
PIP = Decimal("0.0001")

Scenario = Callable[[httpx.AsyncClient, Agent, dict[str, Decimal]], Awaitable[None]]


def _headers(store: object, scope: str) -> dict[str, str]:
    assert isinstance(store, Store)  # the agent's store is the SQL one here
    return {"X-API-Key": keys.create_key(store, scope, 1_000)[1]}


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 10) -> None:
    async def poll() -> None:
        while not await check():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), timeout_s)
    except TimeoutError:
        pytest.fail(f"{what} within {timeout_s} s")


def _drive(tmp_path: Path, data: Path, scenario: Scenario, *, serve: bool = False, **state: Any) -> Agent:
    """Run ``scenario`` against a running agent; return the agent (closed) for checks of its store. ``serve``: over
    a real server on a free loopback port, with the WebSocket stream (the client's base URL says where)."""
    agent = Agent.open(AgentOptions(data=[data], speed=SPEED, db=f"sqlite:///{tmp_path / 'agent.db'}"))
    last: dict[str, Decimal] = {}
    agent.system.bus.subscribe(lambda c: last.__setitem__(c.symbol, Decimal(str(c.close))), CandleClosed)
    assert isinstance(agent.store, Store)
    app = create_app(agent.store, agent=agent, hub=StreamHub(agent.system.bus) if serve else None)
    for name, value in state.items():
        setattr(app.state, name, value)

    async def main() -> None:
        run = asyncio.create_task(agent.run(exit_when_done=False))
        server = ApiServer(app, "127.0.0.1", 0) if serve else None
        try:
            await asyncio.wait_for(_first(last), 30)
            if server is None:
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://agent", timeout=10) as client:
                    await scenario(client, agent, last)
            else:
                await server.start()
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
                    await scenario(client, agent, last)
        finally:
            agent.stop()
            await asyncio.wait_for(run, 30)
            if server is not None:
                await server.stop()

    try:
        asyncio.run(main())
    except BaseException:
        agent.close()
        raise
    return agent


async def _first(last: dict[str, Decimal]) -> None:
    while not last:
        await asyncio.sleep(0.01)


def _fills(agent: Agent, order_id: str) -> list[OrderFilled]:
    return [e for e in agent.journal.read() if isinstance(e, OrderFilled) and e.order.client_order_id == order_id]


def test_a_manual_order_reaches_the_store_and_the_positions_with_the_fills_numbers(
    tmp_path: Path, session_data: Path
) -> None:
    seen: dict[str, Any] = {}

    async def scenario(client: httpx.AsyncClient, agent: Agent, last: dict[str, Decimal]) -> None:
        trader = _headers(agent.store, "trade")
        price = last["EURUSD"]
        body = {"symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "1000",
                "stop_loss": str(price - 300 * PIP), "take_profit": str(price + 1000 * PIP)}  # fmt: skip
        assert (await client.post("/api/v1/orders/create", json=body)).status_code == 401
        created = await client.post("/api/v1/orders/create", json=body, headers=trader)
        assert created.status_code == 200, created.text
        answer = created.json()
        assert re.fullmatch(r"[0-9a-f]{16}e", answer["order_id"])
        # A market order fills at the next open: the replay may have reached it before the answer was read.
        assert (answer["status"] == "filled") is (answer["fill_price"] is not None)
        seen["answer"] = answer
        assert 0 <= answer["execution_time_ms"] < 10_000
        order_id = answer["order_id"]

        async def filled() -> bool:
            page = (await client.get("/api/v1/orders", params={"status": "filled"}, headers=trader)).json()
            return any(o["client_order_id"] == order_id for o in page["items"])

        await _until(filled, "the manual order did not fill")
        seen["order_id"] = order_id
        seen["positions"] = (await client.get("/api/v1/positions", headers=trader)).json()
        seen["orders"] = (await client.get("/api/v1/orders", params={"symbol": "EURUSD"}, headers=trader)).json()
        # The position's stop protects it: cancelling it alone is refused.
        stops = [o for o in seen["orders"]["items"] if o["tag"] == "stop" and o["status"] in {"new", "accepted"}]
        assert stops, seen["orders"]["items"]
        stop = stops[0]
        kept = await client.delete(f"/api/v1/orders/{stop['client_order_id']}", headers=trader)
        assert kept.status_code == 409
        assert "protects the EURUSD position: close the position instead" in kept.json()["detail"]

    agent = _drive(tmp_path, session_data, scenario)
    try:
        fills = _fills(agent, seen["order_id"])
        assert len(fills) == 1
        fill = fills[0]
        assert fill.quantity == Decimal("1000")
        others = [e for e in agent.journal.read() if isinstance(e, OrderFilled) and e.order.symbol == "EURUSD"
                  and e.order.client_order_id != seen["order_id"] and e.event_ms <= fill.event_ms]  # fmt: skip
        assert not others, "the strategy traded EURUSD too: the position is not the manual order's alone"
        eurusd = next(p for p in seen["positions"] if p["symbol"] == "EURUSD")
        assert (eurusd["side"], Decimal(eurusd["quantity"])) == ("buy", Decimal("1000"))
        assert Decimal(eurusd["average_price"]) == fill.price  # the fill's price, every digit
        assert seen["answer"]["fill_price"] in (None, str(fill.price))
        listed = next(o for o in seen["orders"]["items"] if o["client_order_id"] == seen["order_id"])
        assert (listed["side"], listed["type"], Decimal(listed["quantity"])) == ("buy", "market", Decimal("1000"))
        audit = [e for e in agent.store.audit_entries() if e["action"] == "api order create"]
        assert len(audit) == 1
        assert audit[0]["actor"].startswith("key:")
        assert audit[0]["detail"]["accepted"] is True
    finally:
        agent.close()


def _cents(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_a_manual_order_has_the_same_numbers_in_the_store_the_positions_and_the_websocket(
    tmp_path: Path, session_data: Path
) -> None:
    """A real server and a real WebSocket client: the order's fill and the position it opens, as the stream sent
    them, as GET /positions and GET /orders answer, and as the store's tables hold them (read with plain SQL)."""
    seen: dict[str, Any] = {}

    async def scenario(client: httpx.AsyncClient, agent: Agent, last: dict[str, Decimal]) -> None:
        trader = _headers(agent.store, "trade")
        ws_url = str(client.base_url).replace("http://", "ws://") + "/api/v1/market/stream"
        async with websockets.connect(ws_url, additional_headers=trader) as socket:
            await socket.send(json.dumps({"action": "subscribe", "symbols": ["EURUSD"],
                                          "data_types": ["order", "position"]}))  # fmt: skip
            assert json.loads(await socket.recv())["type"] == "subscribed"
            price = last["EURUSD"]
            body = {"symbol": "EURUSD", "side": "buy", "type": "market", "quantity": "1000",
                    "stop_loss": str(price - 300 * PIP), "take_profit": str(price + 1000 * PIP)}  # fmt: skip
            created = await client.post("/api/v1/orders/create", json=body, headers=trader)
            assert created.status_code == 200, created.text
            order_id = seen["order_id"] = created.json()["order_id"]
            messages: list[dict[str, Any]] = []

            async def until_position() -> None:
                while not any(m["type"] == "position" for m in messages):
                    messages.append(json.loads(await socket.recv()))

            await asyncio.wait_for(until_position(), 10)
        seen["ws_fill"] = next(m["data"] for m in messages if m["type"] == "order" and m["data"]["order"][
            "client_order_id"] == order_id and "price" in m["data"])  # fmt: skip
        seen["ws_position"] = next(m["data"] for m in messages if m["type"] == "position")
        seen["positions"] = (await client.get("/api/v1/positions", headers=trader)).json()
        seen["portfolio"] = (await client.get("/api/v1/risk/portfolio", headers=trader)).json()
        seen["stop_loss"] = Decimal(body["stop_loss"])
        page = (await client.get("/api/v1/orders", params={"symbol": "EURUSD"}, headers=trader)).json()
        seen["order"] = next(o for o in page["items"] if o["client_order_id"] == order_id)

    agent = _drive(tmp_path, session_data, scenario, serve=True)
    try:
        assert isinstance(agent.store, Store)
        with agent.store.reading("the test's check") as connection:
            fill = connection.execute(sql_text("SELECT price, quantity, fee FROM fills WHERE client_order_id = "
                                               ":id"), {"id": seen["order_id"]}).one()  # fmt: skip
            stored = connection.execute(sql_text("SELECT side, quantity, average_price FROM positions WHERE "
                                                 "symbol = 'EURUSD'")).one()  # fmt: skip
        ws_fill, ws_position = seen["ws_fill"], seen["ws_position"]
        api_position = next(p for p in seen["positions"] if p["symbol"] == "EURUSD")
        assert Decimal(fill.quantity) == Decimal("1000")
        prices = {"store fill": fill.price, "websocket fill": ws_fill["price"],
                  "GET /orders fill_price": seen["order"]["fill_price"], "store position": stored.average_price,
                  "websocket position": ws_position["average_price"],
                  "GET /positions": api_position["average_price"]}  # fmt: skip
        assert len({Decimal(str(p)) for p in prices.values()}) == 1, prices  # every digit, so to the cent too
        assert len({_cents(p) for p in prices.values()}) == 1, prices
        quantities = [fill.quantity, ws_fill["quantity"], stored.quantity, ws_position["quantity"],
                      api_position["quantity"]]  # fmt: skip
        assert {Decimal(str(q)) for q in quantities} == {Decimal("1000")}, quantities
        assert _cents(ws_fill["fee"]) == _cents(fill.fee)
        assert stored.side == ws_position["side"] == api_position["side"] == "buy"
        # The running engine's portfolio: the position's stop and what it gives back, the exposure, the limits.
        portfolio = seen["portfolio"]
        (held,) = portfolio["open_positions"]
        assert Decimal(held["stop_price"]) == seen["stop_loss"]
        assert Decimal(held["risk_to_stop"]) == Decimal(1000) * (Decimal(fill.price) - seen["stop_loss"])
        assert Decimal(portfolio["total_exposure"]) == Decimal(held["notional"])
        assert abs(Decimal(held["notional"]) / (1000 * Decimal(fill.price)) - 1) < Decimal("0.01")  # at a later close
        used = {(u["name"], u["symbol"]): (Decimal(u["used"]), Decimal(u["limit"])) for u in portfolio["risk_limits"]}
        assert used[("open_positions", None)] == (1, 3)
        assert used[("max_trades_per_day", "EURUSD")] == (1, 2)
        assert used[("max_orders_per_minute", None)][1] == 60  # its minute is the market's: long past in the replay
        assert 0 < used[("total_exposure", None)][0] < 1
    finally:
        agent.close()


def test_kill_halts_so_an_order_is_denied_with_the_reason_and_reset_lifts_it(
    tmp_path: Path, session_data: Path
) -> None:
    async def scenario(client: httpx.AsyncClient, agent: Agent, last: dict[str, Decimal]) -> None:
        trader, admin = _headers(agent.store, "trade"), _headers(agent.store, "admin")
        killed = await client.post("/api/v1/risk/kill", json={"reason": "test"}, headers=trader)
        assert killed.status_code == 200, killed.text
        assert (killed.json()["accepted"], killed.json()["trading_state"]) == (True, "halted")
        assert "halted" in killed.json()["outcome"]
        engine = (await client.get("/api/v1/status", headers=trader)).json()["engine"]
        assert engine == {"session": agent.session_id, "mode": "paper", "feed": "connected", "trading_state": "halted",
                          "paused": False}  # fmt: skip

        def sell() -> dict[str, Any]:  # priced at the last close: the replay moves on between two requests
            price = last["EURUSD"]
            return {"symbol": "EURUSD", "side": "sell", "quantity": "1000", "stop_loss": str(price + 300 * PIP),
                    "take_profit": [str(price - 1000 * PIP)]}  # fmt: skip

        denied = await client.post("/api/v1/orders/create", json=sell(), headers=trader)
        assert denied.status_code == 422
        assert denied.json()["detail"].startswith("denied by the ")
        assert "halt" in denied.json()["detail"]
        assert (await client.post("/api/v1/risk/reset", headers=trader)).status_code == 403  # admin only
        reset = await client.post("/api/v1/risk/reset", headers=admin)
        assert (reset.status_code, reset.json()["trading_state"]) == (200, "active")
        again = await client.post("/api/v1/orders/create", json=sell(), headers=trader)
        assert again.status_code == 200, again.text
        unknown = await client.post("/api/v1/orders/create", json={**sell(), "symbol": "XAUUSD"}, headers=trader)
        assert (unknown.status_code, unknown.json()["detail"]) == (422, "unknown symbol 'XAUUSD'; trading EURUSD")
        invalid = await client.post("/api/v1/orders/create", json={**sell(), "stop_loss": "-1"}, headers=trader)
        assert invalid.status_code == 422
        assert invalid.json()["detail"].startswith("body field stop_loss:")

    agent = _drive(tmp_path, session_data, scenario)
    try:
        actions = [(e["action"], e["actor"]) for e in agent.store.audit_entries() if e["action"].startswith("api ")]
        assert [a for a, _ in actions] == ["api risk kill", "api order create", "api risk reset", "api order create",
                                           "api order create"]  # fmt: skip
        assert all(actor.startswith("key:") for _, actor in actions)
        assert "smc_" not in str(agent.store.audit_entries())  # never a key's text
    finally:
        agent.close()


def test_cancel_close_pause_start_and_stop(tmp_path: Path, session_data: Path) -> None:
    async def scenario(client: httpx.AsyncClient, agent: Agent, last: dict[str, Decimal]) -> None:
        trader, admin = _headers(agent.store, "trade"), _headers(agent.store, "admin")
        price = last["EURUSD"] - 500 * PIP  # a limit far below: it rests
        body = {"symbol": "EURUSD", "side": "buy", "type": "limit", "price": str(price), "quantity": "1000",
                "stop_loss": str(price - 300 * PIP), "take_profit": str(price + 1000 * PIP)}  # fmt: skip
        resting = (await client.post("/api/v1/orders/create", json=body, headers=trader)).json()
        assert resting["fill_price"] is None
        cancelled = await client.delete(f"/api/v1/orders/{resting['order_id']}", headers=trader)
        assert (cancelled.status_code, cancelled.json()["accepted"]) == (200, True), cancelled.text
        state = (await client.get("/api/v1/orders", params={"status": "cancelled"}, headers=trader)).json()
        assert resting["order_id"] in [o["client_order_id"] for o in state["items"]]
        twice = await client.delete(f"/api/v1/orders/{resting['order_id']}", headers=trader)
        assert twice.status_code == 409
        assert "no working order" in twice.json()["detail"]
        assert (await client.delete("/api/v1/orders/nope", headers=trader)).status_code == 404
        closed = await client.post("/api/v1/positions/EURUSD/close", headers=trader)
        assert (closed.status_code, closed.json()["accepted"]) == (200, True)
        assert (await client.post("/api/v1/positions/GBPUSD/close", headers=trader)).status_code == 404
        paused = await client.post("/api/v1/control/pause", headers=trader)
        assert (paused.status_code, paused.json()["outcome"]) == (200, "paused")
        assert (await client.post("/api/v1/control/start", headers=trader)).status_code == 403
        started = await client.post("/api/v1/control/start", headers=admin)
        assert (started.status_code, started.json()["outcome"]) == (200, "resumed")
        stopped = await client.post("/api/v1/control/stop", headers=admin)
        assert stopped.status_code == 202

        async def ended() -> bool:
            return agent.store.session(agent.session_id).stopped_ms is not None

        await _until(ended, "the agent did not stop")
        late = await client.post("/api/v1/control/pause", headers=trader)
        assert late.status_code == 409
        assert late.json()["detail"].startswith("the engine is not running")

    _drive(tmp_path, session_data, scenario).close()
    # The journal holds the commands (CancelOrder among them): a restart restores from it.
    resumed = Agent.open(AgentOptions(data=[session_data], speed=SPEED, db=f"sqlite:///{tmp_path / 'agent.db'}"))
    try:
        assert resumed.recovered is not None
        assert resumed.system.risk.state.value == "active"
    finally:
        resumed.close()


def test_a_pair_with_a_slash_is_closed_by_its_name(tmp_path: Path, shared_data_path: Callable[[str], Path]) -> None:
    """POST /positions/BTC/USDT/close: the pair's name, slash and all, is the position's id."""
    closed: dict[str, Any] = {}

    async def scenario(client: httpx.AsyncClient, agent: Agent, last: dict[str, Decimal]) -> None:
        trader = _headers(agent.store, "trade")
        price = last["BTC/USDT"]
        body = {"symbol": "BTC/USDT", "side": "buy", "quantity": "0.01", "stop_loss": str(price * Decimal("0.9")),
                "take_profit": str(price * Decimal("1.3"))}  # fmt: skip
        created = await client.post("/api/v1/orders/create", json=body, headers=trader)
        assert created.status_code == 200, created.text

        async def holding() -> bool:
            positions = (await client.get("/api/v1/positions", headers=trader)).json()
            return any(p["symbol"] == "BTC/USDT" and p["side"] == "buy" for p in positions)

        await _until(holding, "the BTC/USDT order did not fill")
        answer = await client.post("/api/v1/positions/BTC/USDT/close", headers=trader)
        assert (answer.status_code, answer.json()["accepted"]) == (200, True), answer.text

        async def flat() -> bool:
            positions = (await client.get("/api/v1/positions", headers=trader)).json()
            return any(p["symbol"] == "BTC/USDT" and Decimal(p["quantity"]) == 0 for p in positions)

        await _until(flat, "the BTC/USDT position was not closed")
        closed["audit"] = [e for e in agent.store.audit_entries() if e["action"] == "api position close"]

    _drive(tmp_path, shared_data_path("crypto/BTC_USDT-5m_2023.json"), scenario).close()
    assert [e["detail"]["symbol"] for e in closed["audit"]] == ["BTC/USDT"]


def test_config_changes_risk_limits_at_runtime_and_refuses_what_needs_a_restart(tmp_path: Path,
                                                                              session_data: Path) -> None:  # fmt: skip
    """A raised min_rr makes the gate deny a manual order it took before; a key that needs a restart is refused
    whole; every change is audited, and a restart of the session takes the last change again from its journal."""

    async def scenario(client: httpx.AsyncClient, agent: Agent, last: dict[str, Decimal]) -> None:
        reader, admin = _headers(agent.store, "read"), _headers(agent.store, "admin")
        shown = (await client.get("/api/v1/config", headers=reader)).json()
        assert shown["session"] == agent.session_id
        assert shown["settings"] == agent.store.session(agent.session_id).settings
        assert {"risk.min_rr", "risk.max_open_positions", "risk.daily_loss_limit"} <= set(shown["runtime"])
        assert shown["effective"]["risk.min_rr"] == "2.0"
        strict = {"risk": {"min_rr": 5}}
        assert (await client.patch("/api/v1/config", json=strict, headers=reader)).status_code == 403
        changed = await client.patch("/api/v1/config", json=strict, headers=admin)
        assert changed.status_code == 200, changed.text
        assert changed.json()["changed"] == {"risk.min_rr": "5"}
        assert (await client.get("/api/v1/config", headers=reader)).json()["effective"]["risk.min_rr"] == "5"
        price = last["EURUSD"]  # reward 1000 pips over a 300 pip stop: 3.3, below 5 now
        body = {"symbol": "EURUSD", "side": "buy", "quantity": "1000", "stop_loss": str(price - 300 * PIP),
                "take_profit": str(price + 1000 * PIP)}  # fmt: skip
        denied = await client.post("/api/v1/orders/create", json=body, headers=admin)
        assert denied.status_code == 422
        assert "reward" in denied.json()["detail"]
        restart = await client.patch("/api/v1/config", json={"risk": {"min_rr": 2, "day_tz": "Asia/Kolkata"},
                                                               "analysis": {"min_rr": 3}}, headers=admin)  # fmt: skip
        assert restart.status_code == 409
        assert restart.json()["detail"].startswith("risk.day_tz, analysis.min_rr: cannot change while the agent runs")
        assert "nothing was changed" in restart.json()["detail"]
        assert (await client.get("/api/v1/config", headers=reader)).json()["effective"]["risk.min_rr"] == "5"
        for bad, says in (
            ({"risk": {"nonsense": 1}}, "nonsense"),
            ({"risk": {"max_open_positions": 0}}, "max_open_positions"),
            ({}, "at least one"),
        ):
            answer = await client.patch("/api/v1/config", json=bad, headers=admin)
            assert answer.status_code == 422
            assert says in answer.json()["detail"]
        assert (
            await client.patch("/api/v1/config", json={"risk": {"min_rr": "3.5"}}, headers=admin)
        ).status_code == 200

    _drive(tmp_path, session_data, scenario).close()
    resumed = Agent.open(AgentOptions(data=[session_data], speed=SPEED, db=f"sqlite:///{tmp_path / 'agent.db'}"))
    try:
        assert resumed.recovered is not None
        assert resumed.system.risk.config.min_rr == Decimal("3.5")
        audit = [e["detail"] for e in resumed.store.audit_entries() if e["action"] == "api config change"]
        assert [(d["changes"], d["accepted"]) for d in audit] == [({"min_rr": "5"}, True), ({"min_rr": "3.5"}, True)]
    finally:
        resumed.close()


def test_a_command_the_engine_does_not_answer_in_time_is_504(tmp_path: Path, session_data: Path) -> None:
    async def scenario(client: httpx.AsyncClient, agent: Agent, last: dict[str, Decimal]) -> None:
        late = await client.post("/api/v1/control/pause", headers=_headers(agent.store, "trade"))
        assert late.status_code == 504
        assert "did not handle command api-" in late.json()["detail"]

    _drive(tmp_path, session_data, scenario, command_timeout_s=0.0).close()


def test_without_an_engine_every_command_is_409_read_only(client: TestClient, store: Store) -> None:
    admin = _headers(store, "admin")
    body = {"symbol": "EURUSD", "side": "buy", "quantity": "1000", "stop_loss": "1.0"}
    calls = [("post", "/api/v1/orders/create", body), ("delete", "/api/v1/orders/x", None),
             ("post", "/api/v1/positions/EURUSD/close", None), ("post", "/api/v1/risk/kill", None),
             ("post", "/api/v1/risk/reset", None), ("post", "/api/v1/control/start", None),
             ("post", "/api/v1/control/stop", None), ("post", "/api/v1/control/pause", None),
             ("patch", "/api/v1/config", {"risk": {"max_open_positions": 2}})]  # fmt: skip
    for method, path, body in calls:
        answer = client.request(method.upper(), path, json=body, headers=admin)
        assert (answer.status_code, answer.json()["detail"].split(":")[0]) == (409, "read-only"), path
    assert client.get("/api/v1/config", headers=admin).status_code == 200  # reads still answer
