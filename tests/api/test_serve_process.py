"""``smc-agent serve`` as a user starts it: a real uvicorn server in its own process answers over TCP, and the
same routes over a PostgreSQL store give what they give over SQLite."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from smc_agent.api import create_app, keys
from smc_agent.store import Store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_answers_over_tcp(db_path: Path, store: Store) -> None:
    _, key = keys.create_key(store, "read", 1)
    port = _free_port()
    command = [sys.executable, "-m", "smc_agent", "serve", "--db", f"sqlite:///{db_path}", "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                alive = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else "serve exited"
                assert time.monotonic() < deadline, "serve did not answer within 20 s"
                time.sleep(0.1)
        assert alive.json() == {"status": "alive"}
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/positions", headers={"X-API-Key": key}, timeout=5)
        assert answer.status_code == 200
        assert answer.json()[0]["symbol"] == "EURUSD"
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/positions", timeout=5).status_code == 401
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    assert f"at http://127.0.0.1:{port}" in out
    assert key not in out + err


def _answers(store: Store) -> dict[str, Any]:
    _, key = keys.create_key(store, "read", 1)
    with TestClient(create_app(store), headers={"X-API-Key": key}) as client:
        portfolio = client.get("/api/v1/risk/portfolio").json()
        signals = client.get("/api/v1/signals?limit=1000").json()["items"]
        return {
            "positions": [{k: v for k, v in p.items() if k != "updated_ms"}
                          for p in client.get("/api/v1/positions").json()],
            "signals": [(s["status"], s["setup"], s["version"]) for s in signals],
            "orders": client.get("/api/v1/orders").json()["total"],
            "balance": portfolio["balance"],
            "pnl": portfolio["daily_pnl"],
            "risk": portfolio["risk_events"],
            "streams": client.get("/api/v1/market/symbols").json(),
        }  # fmt: skip


def test_postgres_answers_as_sqlite(postgres_store: Store, store: Store) -> None:
    on_postgres, on_sqlite = _answers(postgres_store), _answers(store)
    assert on_postgres == on_sqlite
    assert on_sqlite["signals"]
