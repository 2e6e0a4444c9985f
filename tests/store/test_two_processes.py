"""One SQLite file, two processes: a writer journals batches continuously while this process reads every
10 ms; WAL and the busy timeout mean neither ever sees "database is locked", and every read is whole."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from smc_agent.store import open_store

SRC = Path(__file__).resolve().parents[2] / "src"

_WRITER = """
import sys, time
from smc_agent.events import CandleClosed
from smc_agent.store import open_store

store = open_store(sys.argv[1])
session = store.begin_session(fingerprint="two", mode="paper", sources=[], settings={})
journal = store.journal(session.id)
print(session.id, flush=True)
seq, end = 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    batch = []
    for _ in range(20):
        seq += 1
        close = seq * 60_000
        batch.append(CandleClosed(close, close, "BTC", "1m", close - 60_000, 1.0, 2.0, 0.5, 1.5, 9.0, seq=seq))
    journal.append(batch)
store.audit("writer-done", {"events": seq})
store.close()
print(seq, flush=True)
"""


def test_a_writer_and_a_reader_in_two_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    open_store(url).close()  # migrated before either process starts
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, url, "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(SRC)})  # fmt: skip
    assert writer.stdout is not None
    session_id = writer.stdout.readline().strip()
    assert session_id.startswith("s-"), writer.stderr.read() if writer.stderr else ""
    reader = open_store(url, upgrade=False)
    reads, seen = 0, [0]
    try:
        journal = reader.journal(session_id)
        while writer.poll() is None:
            last = journal.last_seq()
            cursors = reader.cursors(session_id)
            assert last >= seen[-1]
            assert last % 20 == 0  # a batch is seen whole or not at all
            tail = [e.seq for e in journal.read(max(last - 20, 0))]
            assert tail[:20] == list(range(max(last - 19, 1), last + 1))[:20]  # in order, no gap
            assert len(tail) % 20 == 0  # batches appended meanwhile are whole too
            if cursors:
                # The cursor is committed with its batch: never behind the events read before it.
                assert cursors[("BTC", "1m")] >= last * 60_000
            seen.append(last)
            reads += 1
            time.sleep(0.01)
        out, err = writer.communicate(timeout=30)
        assert writer.returncode == 0, err
        assert "locked" not in err
        written = int(out.strip().splitlines()[-1])
        assert journal.last_seq() == written
        assert [e.seq for e in journal.read()] == list(range(1, written + 1))
        assert reader.cursors(session_id) == {("BTC", "1m"): written * 60_000}
    finally:
        reader.close()
        if writer.poll() is None:
            writer.kill()
    assert reads > 50
    assert len(set(seen)) > 10  # the reader really saw the journal grow while it was written
