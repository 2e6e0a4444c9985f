"""Logging in with the dashboard password (no credential needed, of course): the static login page and the
login itself; and the keys (admin)."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from smc_agent.api import keys
from smc_agent.api.auth import Authenticator, Principal, require
from smc_agent.api.deps import StoreDep
from smc_agent.api.models import KeyInfo, Login, Token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
page = APIRouter()

_LOGIN_PAGE = (files("smc_agent.api") / "static" / "login.html").read_text(encoding="utf-8")
# The page holds no secret; it must not be framed by another site (clickjacking a password field).
_PAGE_HEADERS = {"X-Frame-Options": "DENY", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@page.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page() -> HTMLResponse:
    """The static login page: a password form that asks POST /api/v1/auth/login for a token."""
    return HTMLResponse(_LOGIN_PAGE, headers=_PAGE_HEADERS)


@router.post("/login", response_model=Token, responses={401: {"description": "wrong password, or none set"}})
def login(body: Login, request: Request, store: StoreDep) -> Token:
    """A token for the dashboard password, valid ``api.jwt_ttl_s`` seconds, with the scope asked for."""
    if body.scope not in keys.SCOPES:
        raise HTTPException(422, f"unknown scope {body.scope!r}: choose from {', '.join(keys.SCOPES)}")
    checked = keys.check_password(store, body.password)
    if checked is None:
        raise HTTPException(401, "no password is set: run `smc-agent auth set-password` first")
    if not checked:
        raise HTTPException(401, "wrong password")
    authenticator: Authenticator = request.app.state.auth
    token, expires = authenticator.issue(body.scope)
    store.audit("api login", {"scope": body.scope}, actor="login")
    return Token(access_token=token, expires_ms=expires)


@router.get("/keys", response_model=list[KeyInfo])
async def list_keys(store: StoreDep, _: Annotated[Principal, Depends(require("admin"))]) -> list[KeyInfo]:
    """Every API key's id, prefix, scopes and dates (never a key: the store does not hold them)."""
    return [KeyInfo(id=k.id, prefix=k.prefix, scopes=list(k.scopes), created_ms=k.created_ms,
                    revoked_ms=k.revoked_ms, last_used_ms=k.last_used_ms) for k in keys.list_keys(store)]  # fmt: skip
