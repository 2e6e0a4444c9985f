"""Databases the store must not use: each is refused with a ConfigError (key db, the masked URL as its
source) that says what to do, and the file is left byte for byte as it was."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from smc_agent.core.errors import ConfigError
from smc_agent.store import open_store

SRC = Path(__file__).resolve().parents[2] / "src"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(path: Path, match: str) -> ConfigError:
    before = _digest(path)
    with pytest.raises(ConfigError, match=match) as caught:
        open_store(f"sqlite:///{path}")
    assert caught.value.key == "db"
    assert caught.value.source == f"sqlite:///{path}"
    assert _digest(path) == before, "the refused file was changed"
    assert not Path(f"{path}-wal").exists()
    return caught.value


def test_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(random.Random(7).randbytes(8192))
    error = _refused(path, "not a readable SQLite database")
    assert "restore a backup" in error.message


def test_a_truncated_database_of_ours(tmp_path: Path) -> None:
    path = tmp_path / "ours.db"
    open_store(f"sqlite:///{path}").close()
    data = path.read_bytes()
    path.write_bytes(data[:100] + random.Random(3).randbytes(len(data) - 100))  # header kept, pages garbage
    _refused(path, "not a readable SQLite database")


def test_a_foreign_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        connection.execute("INSERT INTO customers (name) VALUES ('Ada')")
    connection.close()
    error = _refused(path, "not smc-agent's")
    assert "customers" in error.message
    assert "give another --db" in error.message


def test_a_schema_newer_than_the_code(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    open_store(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0099'")
    connection.close()
    error = _refused(path, "revision '0099', which this smc-agent does not know")
    assert "upgrade smc-agent" in error.message


def test_a_newer_schema_on_postgres_is_left_alone(postgres_url: str) -> None:
    open_store(postgres_url).close()
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(ConfigError, match="revision '0099', which this smc-agent does not know"):
        open_store(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0099"
    engine.dispose()


def test_a_foreign_postgres_database(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE invoices (id integer primary key)"))
    with pytest.raises(ConfigError, match=r"not smc-agent's .*invoices"):
        open_store(postgres_url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None
    engine.dispose()


_OPEN = """
import sys
from smc_agent.core.errors import ConfigError
from smc_agent.store import open_store
try:
    open_store(sys.argv[1]).close()
except ConfigError as exc:
    print(exc)
else:
    print("opened")
"""


def test_a_read_only_file() -> None:
    """chmod 0444: root writes regardless, so as root the check runs as nobody (setpriv)."""
    as_nobody: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root, which can write a 0444 file, and no setpriv to run as nobody")
        as_nobody = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    directory = Path(tempfile.mkdtemp(prefix="smc-readonly-"))
    try:
        path = directory / "ro.db"
        open_store(f"sqlite:///{path}").close()
        for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        before = _digest(path)
        path.chmod(0o444)
        directory.chmod(0o755)
        command = [*as_nobody, sys.executable, "-c", _OPEN, f"sqlite:///{path}"]
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)
        assert done.returncode == 0, done.stderr
        assert "is read-only" in done.stdout, done.stdout
        assert "make it writable" in done.stdout
        assert done.stdout.startswith(f"sqlite:///{path}: key db: ")
        assert _digest(path) == before
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_an_unreachable_postgres_server_and_no_password_in_the_message() -> None:
    url = "postgresql+psycopg://trader:hunter2-secret@127.0.0.1:1/smc"
    with pytest.raises(ConfigError, match="cannot connect to PostgreSQL") as caught:
        open_store(url)
    assert caught.value.source == "postgresql+psycopg://trader:***@127.0.0.1:1/smc"
    assert "hunter2-secret" not in str(caught.value)
    assert "is the server running" in caught.value.message


def test_an_unsupported_backend() -> None:
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        open_store("mysql://root:pw@localhost/smc")
