"""The kill -9 proof: a paper replay of two real markets, SIGKILLed at 20 random moments and restarted
each time, ends exactly as one uninterrupted run: the same fills (ids, times, prices, quantities), the
same balance and equity, every candle journaled once, and the event numbers without a gap.

The process is ``python -m smc_agent run --speed max``: it commits every
:data:`~smc_agent.engine.session.REPLAY_BATCH` candles, so most kills land between commits (the
restart re-processes what was not committed) and some inside one (SQLite's and PostgreSQL's atomic
commit keeps it whole or absent). The kill points are 20 targets drawn at random over the run's
events (known from the uninterrupted run): each restarted process is killed a random few
milliseconds after it committed past its target and past the previous kill's point, so the kills
spread over the whole run and no two hit the same point. The generator is seeded; the seed and the
points are in the test's output, to replay a failure.

Both stores: SQLite (a file) and PostgreSQL (a database of its own on the local server; see the
``postgres_database`` in tests/postgres_support.py, which skips when the server is absent unless
``SMC_REQUIRE_POSTGRES=1``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from postgres_support import postgres_database
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.events import CandleClosed
from smc_agent.events.codec import from_msgpack

KILLS = 20
SEED = int(os.environ.get("SMC_KILL_SEED", "20261203"))
FILES = ("forex/EURUSD_15m_mt5.csv", "crypto/BTC_USDT-5m_2023.json")
CANDLES = 24_424 + 10_999  # the two files' rows, from the shared data's README


def _command(paths: list[Path], url: str) -> list[str]:
    data = [part for path in paths for part in ("--data", str(path))]
    return [sys.executable, "-m", "smc_agent", "run", "--no-serve", *data, "--db", url, "--speed", "max"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _finish(command: list[str]) -> dict[str, Any]:
    done = subprocess.run([*command, "--exit-when-done", "--summary-json"], env=_env(), capture_output=True,
                          timeout=240, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return summary


def _committed(engine: sa.Engine) -> int:
    """The number of the last event the store holds (0 before the schema exists)."""
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT coalesce(max(seq), 0) FROM events")).scalar_one())
    except sa.exc.DBAPIError:
        return 0


def _kill_at_random(command: list[str], engine: sa.Engine, total: int, rng: random.Random) -> list[int]:
    """SIGKILL the agent KILLS times at random points of its run (``total`` events in all), each a
    little after the restarted process committed past a target drawn at random, and past the
    previous kill; returns the last event committed at each kill."""
    targets = sorted(rng.sample(range(total // 50, total - total // 50), KILLS))
    points: list[int] = []
    for target in targets:
        floor = max(target, points[-1] + 1 if points else 0)
        process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while _committed(engine) < floor:
                assert process.poll() is None, f"the agent exited ({process.returncode}) before event {floor}"
                assert time.monotonic() < deadline, f"the restarted agent did not reach event {floor} in 120 s"
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.03))  # between commits, or inside one
            assert process.poll() is None, f"the run finished before kill {len(points) + 1}"
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        points.append(_committed(engine))
    return points


def _trade_keys(summary: dict[str, Any]) -> list[tuple[str, int, str, str]]:
    return [(t["order_id"], t["time_ms"], t["price"], t["quantity"]) for t in summary["trades"]]


def _journal(engine: sa.Engine) -> tuple[list[int], list[tuple[str, str, int]]]:
    """Every event number of the one session, and every candle it journaled, read straight from SQL."""
    with engine.connect() as connection:
        sessions = connection.execute(sa.text("SELECT id FROM sessions")).scalars().all()
        assert len(sessions) == 1, sessions
        rows = connection.execute(sa.text("SELECT seq, payload FROM events ORDER BY seq")).all()
    seqs = [int(seq) for seq, _ in rows]
    candles = []
    for _, payload in rows:
        event = from_msgpack(bytes(payload))
        if isinstance(event, CandleClosed):
            candles.append((event.symbol, event.timeframe, event.event_ms))
    return seqs, candles


@pytest.fixture(params=["sqlite", "postgres"])
def store_urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores of one backend: the uninterrupted run's and the killed run's."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'whole.db'}", f"sqlite:///{tmp_path / 'killed.db'}"
        return
    with contextmanager(postgres_database)() as whole, contextmanager(postgres_database)() as killed:
        yield whole, killed


def test_kill_9_at_random_moments_ends_as_one_uninterrupted_run(
    store_urls: tuple[str, str], shared_data_path: Callable[[str], Path]
) -> None:
    paths = [shared_data_path(name) for name in FILES]
    whole_url, killed_url = store_urls
    whole = _finish(_command(paths, whole_url))
    whole_engine = sa.create_engine(whole_url, poolclass=sa.pool.NullPool)
    assert whole["candles"] == CANDLES
    assert whole["trades"], "the data should trade, or the proof compares nothing"

    engine = sa.create_engine(killed_url, poolclass=sa.pool.NullPool)
    try:
        command = _command(paths, killed_url)
        points = _kill_at_random(command, engine, _committed(whole_engine), random.Random(SEED))
        print(f"seed {SEED}: killed after {points} committed events")
        assert len(set(points)) == KILLS  # each kill at its own point
        resumed = _finish(command)
        seqs, candles = _journal(engine)
    finally:
        engine.dispose()
        whole_engine.dispose()

    assert _trade_keys(resumed) == _trade_keys(whole)
    assert resumed == whole  # balance, equity, signals, candles and every fill's fee too
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, none twice
    assert len(candles) == len(set(candles))  # no candle handled twice
    finest: dict[str, str] = {}
    for symbol, tf, _ in candles:  # each symbol's entry stream is its finest
        if symbol not in finest or parse_timeframe(tf) < parse_timeframe(finest[symbol]):
            finest[symbol] = tf
    assert sum(1 for symbol, tf, _ in candles if finest[symbol] == tf) == CANDLES  # none missing
