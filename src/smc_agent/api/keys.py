"""The API's credentials in the store: API keys with scopes, the dashboard password and the JWT signing key.

A key is ``smc_<prefix>_<secret>``: the prefix (8 hex digits) is public and finds the row, the whole key is
checked against its argon2 hash. The key itself is shown once, when it is made, and stored nowhere. Every
change is written to the audit log under the key's id, never the key. Scopes nest: ``admin`` implies
``trade``, which implies ``read``.

>>> sorted(granted(("trade",)))
['read', 'trade']
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update

from smc_agent.core.errors import ConfigError
from smc_agent.store import Store, schema

__all__ = [
    "SCOPES",
    "ApiKey",
    "check_password",
    "create_key",
    "find_key",
    "granted",
    "jwt_secret",
    "list_keys",
    "mark_used",
    "revoke_key",
    "set_password",
]

SCOPES = ("read", "trade", "admin")  # each implies the ones before it
_HASHER = PasswordHasher()
_PASSWORD, _JWT_SECRET = "password", "jwt_secret"


@dataclass(frozen=True)
class ApiKey:
    id: int
    prefix: str
    scopes: tuple[str, ...]
    created_ms: int
    revoked_ms: int | None
    last_used_ms: int | None


def granted(scopes: Iterable[str]) -> frozenset[str]:
    """Every scope that ``scopes`` allow (unknown names allow nothing)."""
    levels = [SCOPES.index(s) for s in scopes if s in SCOPES]
    return frozenset(SCOPES[: max(levels) + 1]) if levels else frozenset()


def _scope(scope: str) -> str:
    if scope not in SCOPES:
        raise ConfigError(f"unknown scope {scope!r}: choose from {', '.join(SCOPES)}", key="scope")
    return scope


def _key(row: Any) -> ApiKey:
    return ApiKey(row.id, row.prefix, tuple(row.scopes.split(",")), row.created_ms, row.revoked_ms, row.last_used_ms)


def create_key(store: Store, scope: str, now_ms: int) -> tuple[ApiKey, str]:
    """A new key with ``scope``: its row, and the key (the only time it exists outside the caller)."""
    prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    key = f"smc_{prefix}_{secret}"
    row = {"prefix": prefix, "hash": _HASHER.hash(key), "scopes": _scope(scope), "created_ms": now_ms}
    with store.writing("create an API key") as connection:
        made = connection.execute(insert(schema.api_keys).values(row).returning(schema.api_keys.c.id))
        key_id = int(made.scalar_one())
    store.audit("auth create-key", {"key_id": key_id, "prefix": prefix, "scopes": [scope]})
    return ApiKey(key_id, prefix, (scope,), now_ms, None, None), key


def list_keys(store: Store) -> list[ApiKey]:
    table = schema.api_keys
    with store.reading("list the API keys") as connection:
        return [_key(row) for row in connection.execute(select(table).order_by(table.c.id))]


def revoke_key(store: Store, key_id: int, now_ms: int) -> ApiKey:
    table = schema.api_keys
    with store.writing("revoke an API key") as connection:
        row = connection.execute(select(table).where(table.c.id == key_id)).first()
        if row is None:
            raise ConfigError(f"no API key with id {key_id} (smc-agent auth list shows them)", key="id")
        if row.revoked_ms is None:
            connection.execute(update(table).where(table.c.id == key_id).values(revoked_ms=now_ms))
    store.audit("auth revoke", {"key_id": key_id, "prefix": row.prefix})
    return _key(row)


def find_key(store: Store, key: str, verified: set[str] | None = None) -> ApiKey | None:
    """The live key that ``key`` is (None: malformed, unknown, revoked or not matching its hash).

    ``verified`` (the caller's, in memory) holds the SHA-256 of keys whose argon2 check passed, so a dashboard's
    every request does not pay for argon2 again; revocation is still read from the store each time."""
    parts = key.split("_", 2)  # the secret may hold "_" itself
    if len(parts) != 3 or parts[0] != "smc":
        return None
    table = schema.api_keys
    with store.reading("find the API key") as connection:
        row = connection.execute(select(table).where(table.c.prefix == parts[1])).first()
    if row is None or row.revoked_ms is not None:
        return None
    digest = f"{row.id}:{hashlib.sha256(key.encode()).hexdigest()}"
    if verified is None or digest not in verified:
        if not _verify(row.hash, key):
            return None
        if verified is not None:
            verified.add(digest)
    return _key(row)


def mark_used(store: Store, key_id: int, now_ms: int) -> None:
    with store.writing("note the API key's use") as connection:
        connection.execute(update(schema.api_keys).where(schema.api_keys.c.id == key_id).values(last_used_ms=now_ms))


def _verify(hashed: str, text: str) -> bool:
    try:
        return _HASHER.verify(hashed, text)
    except (VerificationError, InvalidHashError):
        return False


def _setting(store: Store, name: str) -> str | None:
    table = schema.api_settings
    with store.reading("read the API's settings") as connection:
        value = connection.execute(select(table.c.value).where(table.c.name == name)).scalar()
    return None if value is None else str(value)


def _put(store: Store, name: str, value: str, now_ms: int, *, replace: bool = True) -> str:
    """Write the setting (``replace=False``: keep one already there); returns the value stored."""
    table = schema.api_settings
    with store.writing("write the API's settings") as connection:
        stored = connection.execute(select(table.c.value).where(table.c.name == name)).scalar()
        if stored is None:
            connection.execute(insert(table).values(name=name, value=value, updated_ms=now_ms))
        elif replace:
            connection.execute(update(table).where(table.c.name == name).values(value=value, updated_ms=now_ms))
        else:
            return str(stored)
    return value


def set_password(store: Store, password: str, now_ms: int) -> None:
    if len(password) < 8:
        raise ConfigError("the password must have at least 8 characters", key="password")
    _put(store, _PASSWORD, _HASHER.hash(password), now_ms)
    store.audit("auth set-password", {})


def check_password(store: Store, password: str) -> bool | None:
    """Whether ``password`` is the dashboard's (None: no password was ever set)."""
    hashed = _setting(store, _PASSWORD)
    return None if hashed is None else _verify(hashed, password)


def jwt_secret(store: Store, now_ms: int) -> str:
    """The key that signs login tokens: random, made the first time it is needed, then always the same."""
    return _setting(store, _JWT_SECRET) or _put(store, _JWT_SECRET, secrets.token_hex(32), now_ms, replace=False)
