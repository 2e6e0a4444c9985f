"""``smc-agent db``: upgrade, info (password masked), backup (same rows) and prune, each audited."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.data.candles import Candles
from smc_agent.events import CandleClosed
from smc_agent.store import open_store

DAY = 86_400_000


def _db(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["db", *args])
    return result.exit_code, result.output


def test_upgrade_then_info(store_url: str) -> None:
    code, output = _db("upgrade", "--db", store_url)
    assert code == 0, output
    assert "schema at revision 0003 (head)" in output
    store = open_store(store_url, upgrade=False)
    session = store.begin_session(fingerprint="f", mode="paper", sources=[], settings={})
    store.journal(session.id).append([CandleClosed(60_000, 60_000, "X", "1m", 0, 1.0, 1.0, 1.0, 1.0, 0.0, seq=1)])
    store.close()
    code, output = _db("info", "--db", store_url)
    assert code == 0, output
    assert "revision: 0003" in output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in output.splitlines() if "│" in line}
    assert rows["events"] == "1"
    assert rows["sessions"] == "1"
    assert rows["cursors"] == "1"
    assert rows["audit_log"] == "1"  # the upgrade's entry (info's own is written after it counts)
    store = open_store(store_url, upgrade=False)
    assert [e["action"] for e in store.audit_entries()] == ["db upgrade", "db info"]
    store.close()


def test_info_masks_the_password(postgres_url: str) -> None:
    url = make_url(postgres_url).set(password="very-secret-pw").render_as_string(hide_password=False)
    open_store(postgres_url).close()  # trust authentication: the password is not checked, only shown
    code, output = _db("info", "--db", url)
    assert code == 0, output
    assert "very-secret-pw" not in output
    assert f"database: {make_url(url).render_as_string(hide_password=True)}" in output
    assert ":***@" in output


def test_info_on_an_unmigrated_database_says_to_upgrade(tmp_path: Path) -> None:
    code, output = _db("info", "--db", f"sqlite:///{tmp_path / 'new.db'}")
    assert code == 2
    assert "run `smc-agent db upgrade` first" in output
    assert not (tmp_path / "new.db").exists()


def test_backup_has_the_same_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'live.db'}"
    store = open_store(url)
    session = store.begin_session(fingerprint="f", mode="paper", sources=["a"], settings={})
    store.journal(session.id).append(
        [CandleClosed(m * 60_000, m * 60_000, "X", "1m", 0, 1.0, 1.0, 1.0, 1.0, 0.0, seq=m) for m in range(1, 31)]
    )
    before = store.row_counts()
    store.close()
    out = tmp_path / "backup.db"
    code, output = _db("backup", str(out), "--db", url)
    assert code == 0, output
    copy = open_store(f"sqlite:///{out}", upgrade=False)
    try:
        assert copy.row_counts() == before
        assert before["events"] == 30
        assert [e.seq for e in copy.journal(session.id).read()] == list(range(1, 31))
    finally:
        copy.close()
    code, output = _db("backup", str(out), "--db", url)  # never over an existing file
    assert code == 2
    assert "exists" in output


def test_backup_of_an_unreachable_postgres_is_refused_without_the_password() -> None:
    code, output = _db("backup", "out.dump", "--db", "postgresql+psycopg://postgres:pw-123@127.0.0.1:1/smc")
    assert code == 2  # unreachable: refused before printing anything
    assert "pw-123" not in output


def test_backup_of_postgres_prints_pg_dump_with_the_password_masked(postgres_url: str) -> None:
    open_store(postgres_url).close()
    url = make_url(postgres_url).set(password="pw-123").render_as_string(hide_password=False)
    code, output = _db("backup", "out.dump", "--db", url)
    assert code == 0, output
    assert "pw-123" not in output
    database = make_url(postgres_url).database
    line = f"PGPASSWORD=*** pg_dump --format=custom --file=out.dump postgresql://postgres@127.0.0.1:5432/{database}"
    assert line in output


def test_prune_deletes_old_candles_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'candles.db'}"
    store = open_store(url)
    now = time.time_ns() // 1_000_000
    times = np.array([now - 200 * DAY, now - 100 * DAY, now - 10 * DAY, now - DAY])
    store.save_candles("binance", Candles.from_arrays(times, *[np.ones(4)] * 5, symbol="BTC", timeframe="1m"))
    store.close()
    code, output = _db("prune", "--candles-older-than", "90d", "--db", url)
    assert code == 0, output
    assert "deleted 2 candles" in output
    store = open_store(url, upgrade=False)
    try:
        assert store.load_candles("binance", "BTC", "1m").time.tolist() == times[2:].tolist()
        (entry,) = store.audit_entries()
        assert entry["action"] == "db prune"
        assert entry["detail"]["deleted"] == 2
    finally:
        store.close()
    code, output = _db("prune", "--candles-older-than", "soon", "--db", url)
    assert code == 2
    assert "takes a duration" in output
