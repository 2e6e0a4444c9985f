"""The API's credentials in the store: keys found by prefix and checked against their hash, revocation, nested
scopes, the password, and the JWT key made once."""

from __future__ import annotations

from pathlib import Path

import pytest

from smc_agent.api import keys
from smc_agent.core.errors import ConfigError
from smc_agent.store import Store, open_store


def test_a_key_is_found_by_its_text_and_refused_once_revoked(empty: Store) -> None:
    made, text = keys.create_key(empty, "trade", 5)
    assert text.startswith(f"smc_{made.prefix}_")
    assert len(text) > 40
    assert keys.find_key(empty, text) == made
    wrong_secret = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
    assert keys.find_key(empty, wrong_secret) is None
    assert keys.find_key(empty, "smc_00000000_" + text.split("_", 2)[2]) is None
    assert keys.find_key(empty, "not-a-key") is None
    keys.revoke_key(empty, made.id, 9)
    assert keys.find_key(empty, text) is None
    assert keys.list_keys(empty)[0].revoked_ms == 9
    actions = [(e["action"], e["detail"]) for e in empty.audit_entries()]
    assert actions == [("auth create-key", {"key_id": made.id, "prefix": made.prefix, "scopes": ["trade"]}),
                       ("auth revoke", {"key_id": made.id, "prefix": made.prefix})]  # fmt: skip


def test_the_verified_cache_still_sees_a_revocation(empty: Store) -> None:
    made, text = keys.create_key(empty, "read", 5)
    seen: set[str] = set()
    assert keys.find_key(empty, text, seen) == made
    assert len(seen) == 1
    keys.revoke_key(empty, made.id, 6)
    assert keys.find_key(empty, text, seen) is None


def test_scopes_nest_and_unknown_ones_are_refused(empty: Store) -> None:
    assert keys.granted(["admin"]) == {"read", "trade", "admin"}
    assert keys.granted(["read"]) == {"read"}
    assert keys.granted(["root"]) == frozenset()
    with pytest.raises(ConfigError, match="unknown scope 'root': choose from read, trade, admin"):
        keys.create_key(empty, "root", 1)
    with pytest.raises(ConfigError, match="no API key with id 42"):
        keys.revoke_key(empty, 42, 1)


def test_the_password_and_the_jwt_secret(empty: Store) -> None:
    assert keys.check_password(empty, "whatever1") is None
    with pytest.raises(ConfigError, match="at least 8 characters"):
        keys.set_password(empty, "short", 1)
    keys.set_password(empty, "correct horse", 1)
    assert keys.check_password(empty, "correct horse") is True
    assert keys.check_password(empty, "wrong horse") is False
    first = keys.jwt_secret(empty, 1)
    assert len(first) == 64
    assert keys.jwt_secret(empty, 2) == first


def test_the_file_holds_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.db"
    store = open_store(f"sqlite:///{path}")
    _, text = keys.create_key(store, "admin", 1)
    keys.set_password(store, "hunter2hunter2", 1)
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert text.encode() not in data
    assert text.split("_", 2)[2].encode() not in data
    assert b"hunter2hunter2" not in data
    assert b"$argon2id$" in data
