"""Every route in the app's OpenAPI schema refuses a missing, a bad, an expired and a wrong-scope credential,
except the three public ones; logging in issues a token that works until it expires; a revoked key is refused."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from smc_agent.api import keys
from smc_agent.store import Store

PUBLIC = {("get", "/healthz"), ("get", "/readyz"), ("post", "/api/v1/auth/login")}
# The routes that command the engine, and the analysis and analytics routes: they must be in the walk too.
COMMANDS = {("post", "/api/v1/orders/create"), ("delete", "/api/v1/orders/{order_id}"),
            ("post", "/api/v1/positions/{symbol}/close"), ("post", "/api/v1/risk/kill"), ("post", "/api/v1/risk/reset"),
            ("post", "/api/v1/control/start"), ("post", "/api/v1/control/stop"), ("post", "/api/v1/control/pause"),
            ("get", "/api/v1/config"), ("patch", "/api/v1/config"), ("post", "/api/v1/smc/detect"),
            ("get", "/api/v1/bias/{symbol}"), ("post", "/api/v1/analytics/backtest"),
            ("get", "/api/v1/analytics/backtest/{job_id}"), ("get", "/api/v1/analytics/performance")}  # fmt: skip
# A value for each path parameter, so the request reaches the route's credential check.
PATH_VALUES = {"signal_id": "sig-x", "order_id": "ord-x", "symbol": "EURUSD", "job_id": "job-x"}


def schema_operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    schema = client.get("/openapi.json").json()
    return [(method, path, operation) for path, item in schema["paths"].items() for method, operation in item.items()]


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
    return client.request(method.upper(), url, headers=headers).status_code


def _token(store: Store, scopes: list[str], exp: int) -> dict[str, str]:
    claims = {"sub": "login", "scopes": scopes, "exp": exp}
    return {"Authorization": f"Bearer {jwt.encode(claims, keys.jwt_secret(store, 1), algorithm='HS256')}"}


def test_every_route_but_the_public_ones_refuses_every_wrong_credential(client: TestClient, store: Store) -> None:
    operations = schema_operations(client)
    public = {(m, p) for m, p, op in operations if not op.get("security")}
    assert public == PUBLIC, "a route without a credential check, or a public one lost"
    guarded = [(m, p) for m, p, _ in operations if (m, p) not in PUBLIC]
    assert len(guarded) >= 11
    assert set(guarded) >= COMMANDS
    _, read_key = keys.create_key(store, "read", 1)
    _, revoked = keys.create_key(store, "admin", 1)
    keys.revoke_key(store, keys.list_keys(store)[-1].id, 2)
    future = int(time.time()) + 600
    forged = jwt.encode({"sub": "login", "scopes": ["admin"], "exp": future}, "x" * 32)  # not the store's key
    wrong: dict[str, tuple[dict[str, str], int]] = {
        "missing": ({}, 401),
        "bad key": ({"X-API-Key": read_key[:-3] + "xyz"}, 401),
        "malformed key": ({"X-API-Key": "hello"}, 401),
        "revoked key": ({"X-API-Key": revoked}, 401),
        "bad token": ({"Authorization": "Bearer not.a.token"}, 401),
        "forged token": ({"Authorization": f"Bearer {forged}"}, 401),
        "not bearer": ({"Authorization": "Basic dXNlcjpwdw=="}, 401),
        "expired token": (_token(store, ["admin"], int(time.time()) - 5), 401),
        "no scope": (_token(store, [], future), 403),
    }
    for method, path in guarded:
        for name, (headers, expected) in wrong.items():
            status = call(client, method, path, headers)
            assert status == expected, f"{method.upper()} {path} with a {name} credential: {status}"
    # The one route above read refuses a read key.
    assert call(client, "get", "/api/v1/auth/keys", {"X-API-Key": read_key}) == 403


def test_refusals_say_what_to_do(client: TestClient, store: Store) -> None:
    missing = client.get("/api/v1/status")
    assert (missing.status_code, missing.json()) == (
        401, {"detail": "authentication required: send an X-API-Key header or a bearer token"})  # fmt: skip
    assert missing.headers["www-authenticate"]
    expired = client.get("/api/v1/status", headers=_token(store, ["read"], int(time.time()) - 5))
    assert expired.json() == {"detail": "the token has expired: log in again (POST /api/v1/auth/login)"}
    _, read_key = keys.create_key(store, "read", 1)
    scope = client.get("/api/v1/auth/keys", headers={"X-API-Key": read_key})
    assert (scope.status_code, scope.json()) == (403, {"detail": "this needs the 'admin' scope"})


def test_login_issues_a_token_of_the_asked_scope(client: TestClient, store: Store) -> None:
    none_set = client.post("/api/v1/auth/login", json={"password": "whatever1"})
    assert (none_set.status_code, none_set.json()) == (
        401, {"detail": "no password is set: run `smc-agent auth set-password` first"})  # fmt: skip
    keys.set_password(store, "correct horse", 1)
    wrong = client.post("/api/v1/auth/login", json={"password": "wrong horse"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "wrong password"})
    assert client.post("/api/v1/auth/login", json={}).json() == {"detail": "body field password: Field required"}
    bad_scope = client.post("/api/v1/auth/login", json={"password": "correct horse", "scope": "root"})
    assert bad_scope.status_code == 422
    answer = client.post("/api/v1/auth/login", json={"password": "correct horse"}).json()
    assert answer["token_type"] == "bearer"
    assert 0 < answer["expires_ms"] - time.time() * 1000 <= 60_000  # jwt_ttl_s=60 in the fixture
    bearer = {"Authorization": f"Bearer {answer['access_token']}"}
    assert client.get("/api/v1/status", headers=bearer).status_code == 200
    assert client.get("/api/v1/auth/keys", headers=bearer).status_code == 403  # read by default
    admin = client.post("/api/v1/auth/login", json={"password": "correct horse", "scope": "admin"}).json()
    listed = client.get("/api/v1/auth/keys", headers={"Authorization": f"Bearer {admin['access_token']}"})
    assert listed.status_code == 200
    assert "correct horse" not in str(store.audit_entries())
    assert [e["action"] for e in store.audit_entries()][-2:] == ["api login", "api login"]


def test_a_tokens_lifetime_is_the_ttl(store: Store) -> None:
    from smc_agent.api import create_app

    now = [1_000_000]
    clock: Callable[[], int] = lambda: now[0]  # noqa: E731
    keys.set_password(store, "correct horse", 1)
    with TestClient(create_app(store, jwt_ttl_s=60, clock=clock)) as client:
        token = client.post("/api/v1/auth/login", json={"password": "correct horse"}).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 60
    assert claims["scopes"] == ["read"]


@pytest.mark.parametrize("scope", ["read", "trade", "admin"])
def test_a_key_of_each_scope_reads(client: TestClient, store: Store, scope: str) -> None:
    made, text = keys.create_key(store, scope, 1)
    assert client.get("/api/v1/positions", headers={"X-API-Key": text}).status_code == 200
    assert keys.list_keys(store)[-1].last_used_ms is not None
    keys.revoke_key(store, made.id, 2)
    assert client.get("/api/v1/positions", headers={"X-API-Key": text}).status_code == 401


def test_the_static_login_page_needs_no_credential_and_asks_the_login_route(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert (page.headers["x-frame-options"], page.headers["cache-control"]) == ("DENY", "no-store")
    assert '<input id="password" name="password" type="password"' in page.text
    assert 'fetch("/api/v1/auth/login"' in page.text
    assert all(path != "/login" for path in client.get("/openapi.json").json()["paths"])  # a page, not an API route
