"""``smc-agent auth`` and ``smc-agent serve``: a key printed once and never again, revocation, the password from
stdin, only hashes in the database file, and serve's address, URL and warning."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.store import open_store


def _invoke(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=stdin)


def _file_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in directory.iterdir() if p.is_file())


def test_a_key_is_printed_once_listed_never_and_revoked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    made = _invoke("auth", "create-key", "--scope", "trade", "--db", url)
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    assert re.fullmatch(r"smc_[0-9a-f]{8}_\S{40,}", key)
    prefix = key.split("_")[1]
    assert f"key 1 (prefix {prefix}, scope trade): shown this once" in made.stderr
    listed = _invoke("auth", "list", "--db", url)
    assert listed.exit_code == 0, listed.output
    assert prefix in listed.stdout
    assert "trade" in listed.stdout
    assert key not in listed.output
    assert key.split("_", 2)[2] not in listed.output
    revoked = _invoke("auth", "revoke", "1", "--db", url)
    assert (revoked.exit_code, revoked.stdout.strip()) == (0, f"revoked key 1 (prefix {prefix})")
    unknown = _invoke("auth", "revoke", "7", "--db", url)
    assert unknown.exit_code == 2
    assert "no API key with id 7" in unknown.stderr
    bad = _invoke("auth", "create-key", "--scope", "root", "--db", url)
    assert bad.exit_code == 2
    assert "unknown scope 'root'" in bad.stderr
    store = open_store(url)
    try:
        entries = store.audit_entries()
        assert [e["action"] for e in entries] == ["auth create-key", "auth revoke"]
        assert key not in str(entries)
        with TestClient(_app(store)) as client:
            assert client.get("/api/v1/status", headers={"X-API-Key": key}).status_code == 401
    finally:
        store.close()
    assert key.encode() not in _file_bytes(tmp_path)
    assert key.split("_", 2)[2].encode() not in _file_bytes(tmp_path)


def test_set_password_from_stdin_stores_its_hash_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    done = _invoke("auth", "set-password", "--password-stdin", "--db", url, stdin="a long passphrase\n")
    assert (done.exit_code, done.stdout.strip()) == (0, "password set")
    assert b"a long passphrase" not in _file_bytes(tmp_path)
    short = _invoke("auth", "set-password", "--password-stdin", "--db", url, stdin="short\n")
    assert short.exit_code == 2
    assert "at least 8 characters" in short.stderr
    store = open_store(url)
    try:
        with TestClient(_app(store)) as client:
            login = client.post("/api/v1/auth/login", json={"password": "a long passphrase"})
        assert login.status_code == 200
    finally:
        store.close()


def _app(store: Any) -> Any:
    from smc_agent.api import create_app

    return create_app(store)


def test_serve_binds_loopback_prints_the_url_and_warns_beyond_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    open_store(url).close()
    served: list[dict[str, Any]] = []
    monkeypatch.setattr("smc_agent.cli.serve.uvicorn.run", lambda a, **kw: served.append({"app": a, **kw}))
    local = _invoke("serve", "--db", url)
    assert local.exit_code == 0, local.output
    assert local.stdout.strip() == f"serving {url} at http://127.0.0.1:8000 (OpenAPI: http://127.0.0.1:8000/docs)"
    assert "listens beyond this machine" not in local.stderr
    wide = _invoke("serve", "--db", url, "--host", "0.0.0.0", "--port", "9001")
    assert wide.exit_code == 0, wide.output
    assert "at http://0.0.0.0:9001" in wide.stdout
    assert "the API listens beyond this machine" in wide.stderr
    assert [(s["host"], s["port"]) for s in served] == [("127.0.0.1", 8000), ("0.0.0.0", 9001)]
    with TestClient(served[0]["app"]) as client:
        assert client.get("/healthz").status_code == 200


def test_serve_refuses_a_store_behind_this_version(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    refused = _invoke("serve", "--db", f"sqlite:///{path}")
    assert refused.exit_code == 2
    assert "run `smc-agent db upgrade` first" in refused.stderr
    assert not path.exists()
