"""Rate limits per credential (a token bucket: 429 with Retry-After, on REST and the WebSocket alike) and the body
size limit (413, declared or streamed), over the real paper session's store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.test_auth_walk import PUBLIC, call, schema_operations
from smc_agent.api import create_app, keys
from smc_agent.api.limits import Rate, TokenBuckets
from smc_agent.api.stream import StreamHub
from smc_agent.config import load_settings
from smc_agent.core.bus import EventBus
from smc_agent.core.errors import ConfigError
from smc_agent.store import Store


def test_a_rate_is_parsed_or_refused_by_name() -> None:
    assert Rate.parse("120/minute") == Rate(120, 60.0)
    assert Rate.parse(" 5 / second ") == Rate(5, 1.0)
    for bad in ("120/minutes", "0/minute", "fast", "-1/day"):
        with pytest.raises(ConfigError, match=r"^api\.rate_limit: .* is not a rate; write N/second"):
            Rate.parse(bad)


def test_the_settings_refuse_a_malformed_rate(tmp_path: Path) -> None:
    config = tmp_path / "smc.toml"
    config.write_text('[api]\nrate_limit = "lots"\n')
    with pytest.raises(ConfigError, match=r"api\.rate_limit"):
        load_settings(config)
    config.write_text('[api]\nrate_limit = "10/second"\nmax_body_bytes = 2048\n')
    api = load_settings(config).api
    assert (api.rate_limit, api.max_body_bytes) == ("10/second", 2048)
    assert load_settings(None).api.rate_limit == "120/minute"


def test_a_bucket_allows_a_burst_then_the_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(Rate(3, 60.0), clock=lambda: now[0])  # one token every 20 s
    assert [buckets.take("key:1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("key:1") == pytest.approx(20.0)
    assert buckets.take("key:2") == 0.0  # another caller has its own bucket
    now[0] += 5.0
    assert buckets.take("key:1") == pytest.approx(15.0)
    now[0] += 15.0
    assert buckets.take("key:1") == 0.0
    now[0] += 3600.0  # a long pause refills to the burst, never beyond it
    assert [buckets.take("key:1") for _ in range(4)][-1] == pytest.approx(20.0)


@pytest.fixture
def limited(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store, rate_limit="3/minute", max_body_bytes=200, hub=StreamHub(EventBus()))) as c:
        yield c


def test_each_credential_gets_429_with_retry_after_past_its_rate(limited: TestClient, store: Store) -> None:
    first = {"X-API-Key": keys.create_key(store, "read", 1)[1]}
    other = {"X-API-Key": keys.create_key(store, "read", 1)[1]}
    assert [limited.get("/api/v1/status", headers=first).status_code for _ in range(3)] == [200] * 3
    refused = limited.get("/api/v1/signals", headers=first)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "20"
    assert refused.json() == {"detail": "too many requests for this credential: wait and retry"}
    assert limited.get("/api/v1/status", headers=other).status_code == 200
    # A wrong key is refused as such, never counted; the public routes are not limited.
    assert limited.get("/api/v1/status", headers={"X-API-Key": "hello"}).status_code == 401
    assert {limited.get("/healthz").status_code for _ in range(10)} == {200}


def test_the_websocket_counts_against_the_same_bucket(limited: TestClient, store: Store) -> None:
    headers = {"X-API-Key": keys.create_key(store, "read", 1)[1]}
    for _ in range(3):
        assert limited.get("/api/v1/status", headers=headers).status_code == 200
    with (
        limited.websocket_connect("/api/v1/market/stream", headers=headers) as ws,
        pytest.raises(WebSocketDisconnect) as closed,
    ):
        ws.receive_json()
    assert (closed.value.code, closed.value.reason) == (4429, "too many requests for this credential: wait and retry")


def test_a_body_over_the_limit_is_413(limited: TestClient) -> None:
    detail = {"detail": "the request body is over the limit of 200 bytes (api.max_body_bytes)"}
    declared = limited.post("/api/v1/auth/login", json={"password": "x" * 300, "scope": "read"})
    assert (declared.status_code, declared.json()) == (413, detail)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is counted as it arrives
        yield b'{"password": "'
        yield b"x" * 300
        yield b'", "scope": "read"}'

    streamed = limited.post("/api/v1/auth/login", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert (streamed.status_code, streamed.json()) == (413, detail)
    small = limited.post("/api/v1/auth/login", json={"password": "x", "scope": "read"})
    assert small.status_code == 401  # under the limit: the login answers as ever (no password is set)


def test_every_guarded_route_answers_429_past_the_rate(store: Store) -> None:
    """The walk of the OpenAPI schema (test_auth_walk), each route with a fresh admin key of a 1/minute bucket:
    the first call takes the token (whatever it answers), the second is 429 with Retry-After."""
    with TestClient(create_app(store, rate_limit="1/minute")) as client:
        guarded = [(m, p) for m, p, _ in schema_operations(client) if (m, p) not in PUBLIC]
        assert len(guarded) >= 26
        for method, path in guarded:
            headers = {"X-API-Key": keys.create_key(store, "admin", 1)[1]}
            call(client, method, path, headers)
            url = path.replace("{", "").replace("}", "")  # any value: the limit answers before the path is read
            refused = client.request(method.upper(), url, headers=headers)
            assert (refused.status_code, refused.headers.get("retry-after")) == (429, "60"), f"{method} {path}"
