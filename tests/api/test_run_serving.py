"""``smc-agent run`` serves the API in its own process and loop: a real uvicorn on a free port (``--port 0``)
answers while the agent runs, the first start prints an admin key once (never in a log), a port in use is a
clear error, and ``--no-serve`` binds nothing."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import IO

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from websockets.sync.client import connect

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.api import create_app
from smc_agent.cli import app
from smc_agent.feeds import FeedHealth
from smc_agent.store import Store

DATA = "india/NIFTY-FUT_15m_2024.csv"  # 1,261 candles: a replay of a few seconds
_URL = re.compile(r"API at (http://127\.0\.0\.1:(\d+)) ")
_KEY = re.compile(r"admin API key \(shown once, keep it\): (\S+)")


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], pattern: re.Pattern[str], seen: list[str], timeout_s: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no line matching {pattern.pattern!r} within {timeout_s} s: {seen}"
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            continue
        seen.append(line)
        found = pattern.search(line)
        if found:
            return found


def _drained(lines: queue.Queue[str]) -> list[str]:
    drained = []
    while not lines.empty():
        drained.append(lines.get_nowait())
    return drained


@pytest.fixture
def data(shared_data_path: Callable[[str], Path]) -> Path:
    return shared_data_path(DATA)


@pytest.fixture
def agent_process(tmp_path: Path, data: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def start(*args: str) -> subprocess.Popen[str]:
        command = [sys.executable, "-m", "smc_agent", "run", "--data", str(data), "--db",
                   f"sqlite:///{tmp_path / 'agent.db'}", *args]  # fmt: skip
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_run_serves_the_api_while_the_agent_runs_and_prints_the_first_key_once(
    agent_process: Callable[..., subprocess.Popen[str]],
) -> None:
    process = agent_process("--port", "0", "--speed", "100000")  # paced: it runs until stopped
    assert process.stdout is not None
    assert process.stderr is not None
    lines, errors = _lines(process.stdout), _lines(process.stderr)
    seen: list[str] = []
    url, port = _wait_for(lines, _URL, seen, 60).groups()
    key = _wait_for(lines, _KEY, seen, 10).group(1)
    assert int(port) != 8000
    assert httpx.get(f"{url}/healthz", timeout=5).json() == {"status": "alive"}
    deadline = time.monotonic() + 20
    while (ready := httpx.get(f"{url}/readyz", timeout=5)).status_code != 200:
        assert time.monotonic() < deadline, ready.text
        time.sleep(0.1)
    status = httpx.get(f"{url}/api/v1/status", headers={"X-API-Key": key}, timeout=5)
    assert status.status_code == 200
    assert status.json()["session"]["stopped_ms"] is None  # the agent's session, running
    assert httpx.get(f"{url}/api/v1/auth/keys", headers={"X-API-Key": key}, timeout=5).status_code == 200  # admin
    # The WebSocket stream is served by the same uvicorn, over the running engine's events.
    with connect(f"ws://127.0.0.1:{port}/api/v1/market/stream?token={key}", open_timeout=10) as stream:
        stream.send(json.dumps({"action": "subscribe", "symbols": ["*"], "data_types": ["kline"]}))
        candles = []
        deadline = time.monotonic() + 20
        while len(candles) < 2:
            assert time.monotonic() < deadline, "no candle on the stream"
            message = json.loads(stream.recv(timeout=10))
            if message["type"] == "market_data" and message["data"].get("closed"):
                candles.append(message)
        assert all(isinstance(m["timestamp"], int) and m["symbol"] for m in candles)
        assert candles[1]["data"]["time"] > candles[0]["data"]["time"]  # the replay moves on, in order
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    time.sleep(0.2)  # the pump threads drain the pipes
    out = "".join(seen + _drained(lines))
    err = "".join(_drained(errors))
    assert out.count(key) == 1
    assert key not in err
    # A second start finds the key in the store: no new one is made or printed.
    again = agent_process("--port", "0", "--speed", "max", "--exit-when-done")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert _URL.search(out)
    assert not _KEY.search(out)


def test_a_port_in_use_is_refused_by_name_and_no_serve_binds_nothing(tmp_path: Path, data: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = ["run", "--data", str(data), "--speed", "max", "--exit-when-done", "--db",
                f"sqlite:///{tmp_path / 'agent.db'}", "--port", port]  # fmt: skip
        refused = CliRunner().invoke(app, args)
        assert refused.exit_code != 0
        assert f"the API cannot listen on 127.0.0.1:{port}" in refused.stderr
        assert "--no-serve" in refused.stderr
        ran = CliRunner().invoke(app, [*args, "--no-serve", "--new-session"])
        assert ran.exit_code == 0, ran.output
        assert "API at" not in ran.stdout


@pytest.mark.parametrize(("health", "status"), [(FeedHealth.DOWN, 503), (FeedHealth.DEGRADED, 503),
                                                (FeedHealth.CONNECTED, 200), (FeedHealth.DONE, 200)])  # fmt: skip
def test_readyz_under_an_agent_waits_for_its_feed(store: Store, health: FeedHealth, status: int) -> None:
    agent = SimpleNamespace(system=SimpleNamespace(feed=SimpleNamespace(health=health)))  # what readyz looks at
    with TestClient(create_app(store, agent=agent, analysis=AnalysisConfig())) as client:  # type: ignore[arg-type]
        ready = client.get("/readyz")
    assert ready.status_code == status
    if status == 503:
        assert ready.json() == {"detail": f"the feed is {health.value}"}
