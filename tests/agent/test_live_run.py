"""``smc-agent run`` on live data: the agent against the loopback fake Binance, replaying real BTC/USDT 5m.

The fake serves its own event loop in a thread (the agent runs ``asyncio.run`` itself, as the command does).
The agent's market clock reads the fake's replay time (``AgentOptions.wall_ms``), so that hours of market
pass in seconds, and every fault the fake has is injected while the session trades. The expected candles
are the source file's, read by the loader, never the feed's or the store's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from fakes.binance import FakeBinance
from smc_agent.cli import app
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import CandleClosed, SessionStarted
from smc_agent.feeds.ccxt_feed import FeedTuning
from smc_agent.service.agent import Agent, AgentOptions
from smc_agent.store import open_store

TF = 300_000
SPEED = 20.0  # candles a wall second
START = 3_150  # the candle forming when the fake starts; 1,200 before it are the history (100 bars of 1h)
HISTORY = 1_200
TUNING = FeedTuning(grace_ms=TF // 2, stall_timeout_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.3,
                    backoff_jitter_s=0.05, breaker_threshold=4, breaker_reset_s=0.4, poll_s=0.01)  # fmt: skip


@pytest.fixture(scope="module")
def btc(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path("crypto/BTC_USDT-5m_2023.json"))


class ThreadedFake:
    """A :class:`FakeBinance` (or the given one, a spot account) on its own event loop in a thread: faults are
    called on that loop."""

    def __init__(self, candles: Candles, fake: FakeBinance | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fake = fake or FakeBinance(candles, start_index=START, speed=SPEED)
        self.call(self.fake.start)

    def call(self, function: Callable[[], Any]) -> Any:
        async def run() -> Any:
            result = function()
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def close(self) -> None:
        self.call(self.fake.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def fake(btc: Candles) -> Iterator[ThreadedFake]:
    threaded = ThreadedFake(btc)
    try:
        yield threaded
    finally:
        threaded.close()


def settings_file(tmp_path: Path, fake: FakeBinance) -> Path:
    # Zero fees: on 5m candles Binance's 10 bps would make the risk gate refuse every entry (costs_too_high),
    # and a parity proof without trades proves nothing.
    path = tmp_path / "smc.toml"
    path.write_text(f'[account]\nfees = "zero"\n\n[exchange]\nrate_limit_ms = 5\n'
                    f'urls = {{ rest = "{fake.rest_url}", ws = "{fake.ws_url}" }}\n')  # fmt: skip
    return path


def options(tmp_path: Path, fake: FakeBinance) -> AgentOptions:
    return AgentOptions(source="binance", symbols="BTC/USDT", tf="5m", htf="15m,1h",
                        config=settings_file(tmp_path, fake), db=f"sqlite:///{tmp_path / 'agent.db'}",
                        wall_ms=fake.now_ms, tuning=TUNING)  # fmt: skip


def run_until(agent: Agent, last_open: int, faults: Callable[[int], None] = lambda _: None) -> None:
    """Run the agent until it has handled the candle opened at ``last_open``; ``faults(handled)`` is called
    as candles are handled, to inject what the fake can do."""

    async def main() -> None:
        task = asyncio.create_task(agent.run(exit_when_done=False))
        deadline = time.monotonic() + 90
        while agent.last_candle_ms("BTC/USDT") < last_open + TF:
            assert not task.done(), task.exception() if task.done() else None
            assert time.monotonic() < deadline, f"timed out at {agent.last_candle_ms('BTC/USDT')}"
            faults(agent.system.session.candles)
            await asyncio.sleep(0.01)
        agent.stop()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())


def journal_candles(agent: Agent) -> tuple[list[CandleClosed], list[CandleClosed]]:
    """The session's history and its traded candles, from its journal."""
    history: list[CandleClosed] = []
    traded: list[CandleClosed] = []
    started = False
    for event in agent.journal.read():
        started = started or isinstance(event, SessionStarted)
        if isinstance(event, CandleClosed):
            (traded if started else history).append(event)
    return history, traded


def rows(candles: list[CandleClosed]) -> list[tuple[int, float, float, float, float, float]]:
    return [(c.time, c.open, c.high, c.low, c.close, c.volume) for c in candles]


def source_rows(c: Candles, start: int, stop: int) -> list[tuple[int, float, float, float, float, float]]:
    return [(int(c.time[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i]),
             float(c.volume[i])) for i in range(start, stop)]  # fmt: skip


def test_a_live_paper_session_with_every_fault_is_the_source_and_a_backtest_of_it_reproduces_its_fills(
    tmp_path: Path, fake: ThreadedFake, btc: Candles
) -> None:
    fired: set[str] = set()

    def faults(handled: int) -> None:
        plan: list[tuple[int, str, Callable[[], Any]]] = [
            (20, "drop", fake.fake.drop_connections),
            (40, "duplicate", lambda: fake.fake.duplicate(6)),
            (60, "reorder", lambda: fake.fake.reorder(4)),
            (80, "stall", lambda: fake.fake.stall(1.0)),
            (110, "malformed", lambda: fake.fake.malformed(1)),
            (140, "429", lambda: (fake.fake.fail_rest(429, 2, retry_after=0.1), fake.fake.drop_connections())),
            (170, "500", lambda: (fake.fake.fail_rest(500, 2), fake.fake.drop_connections())),
            (200, "jump", lambda: fake.fake.jump(5)),
        ]
        for at, name, inject in plan:
            if handled >= at and name not in fired:
                fired.add(name)
                fake.call(inject)

    agent = Agent.open(options(tmp_path, fake.fake))
    try:
        assert not agent.resumed
        run_until(agent, int(btc.time[START + 260]), faults)
        summary = agent.summary()
        session_id = agent.session_id
        history, traded = journal_candles(agent)
    finally:
        agent.close()
    assert len(fired) == 8
    # The history: the 1,200 candles closed before the session started (by REST); then every candle once,
    # in order, exactly the source's: nothing lost, repeated or changed.
    first = int(np.searchsorted(btc.time, history[0].time))
    assert len(history) == HISTORY
    assert rows(history + traded) == source_rows(btc, first, first + HISTORY + len(traded))
    assert first + HISTORY >= START  # the history ends where the fake's stream was when the session began
    assert len(traded) >= 200
    # The store keeps them under the venue, as the engine received them.
    store = open_store(f"sqlite:///{tmp_path / 'agent.db'}")
    try:
        stored = store.load_candles("binance", "BTC/USDT", "5m")
        health = store.feed_health(session_id)
    finally:
        store.close()
    # The feed's health went to the store once per change, each row following the one before.
    assert [h["health"] for h in health][:2] == ["connected", "degraded"]
    assert all(b["previous"] == a["health"] != b["health"] for a, b in itertools.pairwise(health))
    assert {"stream lost", "no message for", "gap BTC/USDT@5m"} <= {
        key for h in health for key in ("stream lost", "no message for", "gap BTC/USDT@5m") if key in h["reason"]
    }
    assert REGISTRY.get_sample_value("smc_agent_feed_state", {"feed": "binance", "smc_agent_feed_state":
                                                               health[-1]["health"]}) == 1  # fmt: skip
    assert source_rows(stored, 0, len(stored)) == source_rows(btc, first, first + HISTORY + len(traded))
    assert summary["candles"] == len(traded)
    assert summary["trades"], "the window must trade, or the parity below proves nothing"

    # A restart resumes: it backfills only the gap since the cursor, then streams on.
    cursor = traded[-1].event_ms
    before = len(fake.fake.requests)
    agent = Agent.open(options(tmp_path, fake.fake))
    try:
        assert agent.resumed
        run_until(agent, traded[-1].time + 40 * TF)
        summary = agent.summary()
        _, traded = journal_candles(agent)
    finally:
        agent.close()
    klines = [q for _, path, q, status in fake.fake.requests[before:] if path == "/api/v3/klines" and status == 200]
    assert int(klines[0]["startTime"]) == cursor  # no history again: from the cursor on
    assert rows(traded) == source_rows(btc, first + HISTORY, first + HISTORY + len(traded))

    # The stored candles, replayed through a backtest, give the session's fills exactly.
    result = CliRunner().invoke(app, ["backtest", "--session", session_id, "--db", f"sqlite:///{tmp_path / 'agent.db'}",
                                      "--config", str(settings_file(tmp_path, fake.fake)), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    replay = json.loads(result.stdout)
    assert replay["reproduced"] is True, replay["first_difference"]
    assert replay["fills"] == summary["trades"]
    assert (replay["history"], replay["candles"]) == (HISTORY, len(traded))

    # Other settings than the session's are refused, naming what differs; so is a session that is not there.
    other = CliRunner().invoke(app, ["backtest", "--session", session_id, "--db", f"sqlite:///{tmp_path / 'agent.db'}"])
    assert other.exit_code == 2
    assert f"the settings differ from session {session_id}'s (engine.fees: stored" in other.output
    missing = CliRunner().invoke(app, ["backtest", "--session", "s-nope", "--db", f"sqlite:///{tmp_path / 'agent.db'}"])
    assert missing.exit_code == 2
    assert "no stored session s-nope" in missing.output
