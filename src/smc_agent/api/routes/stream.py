"""``/api/v1/market/stream``: the WebSocket of the engine's events (:mod:`smc_agent.api.stream` is the hub).

The client authenticates with the ``X-API-Key`` header, a bearer token, ``?token=`` (a key or a login token), or
else a first message ``{"action": "auth", "token": ...}`` within :data:`AUTH_WAIT_S`; it needs the ``read`` scope.
A refused credential closes the socket with 4401 (4403 without the scope, 4429 over the rate limit) and the
reason. Then it sends
``subscribe``, ``unsubscribe`` or ``resume`` (docs/api.md); every answer and message comes from the client's one
sending task, so they arrive in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, cast

from fastapi import APIRouter, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.security import HTTPAuthorizationCredentials

from smc_agent.api.auth import Authenticator, Principal
from smc_agent.api.stream import DATA_TYPES, TOO_SLOW, Client, StreamHub

__all__ = ["AUTH_WAIT_S", "router"]

AUTH_WAIT_S = 5.0

router = APIRouter(tags=["stream"])


async def _credential(websocket: WebSocket) -> tuple[str | None, HTTPAuthorizationCredentials | None]:
    """The key or the bearer token the client sent: a header, ``?token=``, or the first message."""
    key = websocket.headers.get("x-api-key")
    header = websocket.headers.get("authorization", "")
    token = websocket.query_params.get("token")
    if not (key or header or token):
        with contextlib.suppress(TimeoutError, ValueError, KeyError):
            first = await asyncio.wait_for(websocket.receive_json(), AUTH_WAIT_S)
            token = first["token"] if isinstance(first, dict) and first.get("action") == "auth" else None
    if header.lower().startswith("bearer "):
        return None, HTTPAuthorizationCredentials(scheme="Bearer", credentials=header[7:].strip())
    if isinstance(token, str) and token.count(".") == 2:  # a JWT from the login; a key has no dots
        return None, HTTPAuthorizationCredentials(scheme="Bearer", credentials=token)
    return key or (token if isinstance(token, str) else None), None


async def _authenticate(websocket: WebSocket) -> Principal | None:
    authenticator: Authenticator = websocket.app.state.auth
    key, bearer = await _credential(websocket)
    try:
        # The authenticator reads only the headers, which a WebSocket has as a request does.
        principal = authenticator.principal(cast(Request, websocket), key, bearer)
    except HTTPException as exc:  # 4429: over the credential's rate limit (api/limits.py)
        await websocket.close(4429 if exc.status_code == 429 else 4401, str(exc.detail))
        return None
    if "read" not in principal.scopes:
        await websocket.close(4403, "this needs the 'read' scope")
        return None
    return principal


def _names(value: object, field: str, known: set[str] | None = None) -> set[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{field} must be a non-empty list of strings")
    unknown = sorted(set(value) - known) if known is not None else []
    if unknown:
        raise ValueError(f"{field}: unknown {', '.join(unknown)}; use {', '.join(sorted(known or ()))}")
    return set(value)


def _answer(hub: StreamHub, kind: str, client: Client) -> dict[str, Any]:
    return {"type": kind, "symbol": None, "seq": hub.seq, "timestamp": hub.heartbeat()["timestamp"],
            "data": {"symbols": sorted(client.symbols), "data_types": sorted(client.data_types)}}  # fmt: skip


def _handle(hub: StreamHub, client: Client, request: Any) -> dict[str, Any] | None:
    """Apply one client message; the answer to queue (None when a resume queued what was missed)."""
    action = request.get("action") if isinstance(request, dict) else None
    if action in ("subscribe", "resume"):
        symbols = _names(request.get("symbols"), "symbols")
        data_types = _names(request.get("data_types"), "data_types", set(DATA_TYPES))
        after = request.get("seq") if action == "resume" else None
        if action == "resume" and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
            raise ValueError("resume needs seq: the last seq received, a whole number >= 0")
        client.symbols, client.data_types = symbols, data_types
        if after is None:
            return _answer(hub, "subscribed", client)
        return hub.resume(client, after)
    if action == "unsubscribe":
        if "symbols" in request:
            client.symbols -= _names(request["symbols"], "symbols")
        if "data_types" in request:
            client.data_types -= _names(request["data_types"], "data_types", set(DATA_TYPES))
        return _answer(hub, "unsubscribed", client)
    raise ValueError("action must be subscribe, unsubscribe or resume")


async def _read(websocket: WebSocket, hub: StreamHub, client: Client) -> None:
    while True:
        try:
            request = await websocket.receive_json()
            answer = _handle(hub, client, request)
        except ValueError as exc:  # not JSON, or a request we cannot follow: say why and carry on
            answer = {"type": "error", "symbol": None, "seq": hub.seq, "timestamp": hub.heartbeat()["timestamp"],
                      "data": {"detail": str(exc)}}  # fmt: skip
        if answer is not None:
            client.reply(json.dumps(answer, separators=(",", ":")))


@router.websocket("/api/v1/market/stream")
async def market_stream(websocket: WebSocket) -> None:
    await websocket.accept()
    if await _authenticate(websocket) is None:
        return
    hub: StreamHub = websocket.app.state.hub
    client = hub.connect()
    tasks = [
        asyncio.create_task(hub.pump(client, websocket.send_text)),
        asyncio.create_task(_read(websocket, hub, client)),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                raise error
        if client.dropped:
            await websocket.close(TOO_SLOW, f"too slow: more than {client.max_pending} messages waiting")
    finally:  # not awaited: the server may be cancelling this handler, and a cancelled task needs nothing more
        hub.disconnect(client)
        for task in tasks:
            task.cancel()
