"""Who may call the API: an API key (header ``X-API-Key``) or a login token (``Authorization: Bearer``).

A token is a JWT (HS256) that ``POST /api/v1/auth/login`` issues for the dashboard password, valid
``api.jwt_ttl_s`` seconds; its key is made once and kept in the store (:func:`~smc_agent.api.keys.jwt_secret`).
A missing, malformed, unknown, revoked or expired credential is 401; a valid one without the scope is 403.
Neither a key nor a token ever appears in a log or a message.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from smc_agent.api import keys
from smc_agent.store import Store

__all__ = ["Authenticator", "Principal", "require", "wall_ms"]

_ALGORITHM = "HS256"
_USE_EVERY_MS = 60_000  # last_used_ms is written at most once a minute per key: reads stay reads
_KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (smc-agent auth create-key)")
_BEARER = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/login")


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``key:<id>`` or ``login``, and every scope they hold."""

    actor: str
    scopes: frozenset[str]


def _refused(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer, ApiKey"})


class Authenticator:
    """Checks credentials against one store; :meth:`require` is the dependency a route declares."""

    def __init__(self, store: Store, *, ttl_s: int, clock: Callable[[], int] = wall_ms) -> None:
        self._store = store
        self._ttl_ms = ttl_s * 1000
        self._clock = clock
        self._verified: set[str] = set()
        self._used: dict[int, int] = {}
        self._secret: str | None = None

    def secret(self) -> str:
        """The store's signing key, read (or made) on first use and then kept: it never changes."""
        if self._secret is None:
            self._secret = keys.jwt_secret(self._store, self._clock())
        return self._secret

    def issue(self, scope: str) -> tuple[str, int]:
        """A token with ``scope`` (and what it implies), and when it expires (epoch ms)."""
        now = self._clock()
        expires = now + self._ttl_ms
        claims = {"sub": "login", "scopes": sorted(keys.granted([scope])), "iat": now // 1000, "exp": expires // 1000}
        return jwt.encode(claims, self.secret(), algorithm=_ALGORITHM), expires

    def _from_token(self, token: str) -> Principal:
        try:
            claims: dict[str, Any] = jwt.decode(token, self.secret(), algorithms=[_ALGORITHM],
                                                options={"require": ["exp", "sub"]})  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise _refused("the token has expired: log in again (POST /api/v1/auth/login)") from None
        except jwt.InvalidTokenError:
            raise _refused("the bearer token is not valid: log in again (POST /api/v1/auth/login)") from None
        scopes = claims.get("scopes")
        return Principal("login", keys.granted(scopes if isinstance(scopes, list) else []))

    def _from_key(self, text: str) -> Principal:
        found = keys.find_key(self._store, text, self._verified)
        if found is None:
            raise _refused("the API key is not valid (unknown, malformed or revoked)")
        now = self._clock()
        if now - self._used.get(found.id, -_USE_EVERY_MS) >= _USE_EVERY_MS:
            keys.mark_used(self._store, found.id, now)
            self._used[found.id] = now
        return Principal(f"key:{found.id}", keys.granted(found.scopes))

    def principal(self, request: Request, key: str | None, bearer: HTTPAuthorizationCredentials | None) -> Principal:
        if key:
            return self._from_key(key)
        if bearer is not None:
            return self._from_token(bearer.credentials)
        if request.headers.get("authorization"):
            raise _refused("the Authorization header must be 'Bearer <token>'")
        raise _refused("authentication required: send an X-API-Key header or a bearer token")


def require(scope: str) -> Callable[..., Awaitable[Principal]]:
    """The dependency of a route that needs ``scope``: the app's :class:`Authenticator` checks the caller, on the
    event loop (a key's lookup is one indexed read; its argon2 check, once per key, is remembered)."""

    async def check(
        request: Request,
        key: Annotated[str | None, Depends(_KEY_HEADER)],
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> Principal:
        authenticator: Authenticator = request.app.state.auth
        principal = authenticator.principal(request, key, bearer)
        request.state.actor = principal.actor  # for the request's access log line (api/observability.py)
        if scope not in principal.scopes:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this needs the {scope!r} scope")
        return principal

    return check
