"""The session's settings: ``GET /config`` shows them, ``PATCH /config`` validates a change and refuses it.

The engine takes its settings once, when the session is built (its fingerprint holds them, so a resumed session
must have the same), and has no way yet to change a risk limit or an SMC parameter while it runs. So PATCH
validates the change with the settings model (a bad key or value is 422 naming it) and then refuses every key
with 409, saying that it needs a restart; it never pretends to have applied it. ``runtime`` lists the keys that
may change at runtime: none in this version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from smc_agent.api.auth import Principal, require
from smc_agent.api.commands import running_agent
from smc_agent.api.deps import Reader, SessionRow, StoreDep
from smc_agent.config import load_settings
from smc_agent.core.errors import ConfigError

router = APIRouter(prefix="/api/v1", tags=["config"])

_RESTART = "edit the config file (or the environment), then restart smc-agent run"


class SessionConfig(BaseModel):
    session: str
    settings: dict[str, Any] = Field(description="the settings the session's results depend on, as stored")
    runtime: list[str] = Field(description="the keys PATCH /config may change while the agent runs")


@router.get("/config", response_model=SessionConfig)
def config(store: StoreDep, session: SessionRow, _: Reader) -> SessionConfig:
    """The settings a session runs with (default: the latest), and which of them may change at runtime."""
    return SessionConfig(session=session["id"], settings=store.session(session["id"]).settings, runtime=[])


def _keys(table: dict[str, Any], prefix: str = "") -> list[str]:
    """Every leaf key of nested tables, dotted: {"risk": {"max_positions": 2}} -> ["risk.max_positions"]."""
    keys: list[str] = []
    for name, value in table.items():
        keys.extend(_keys(value, f"{prefix}{name}.") if isinstance(value, dict) and value else [prefix + name])
    return keys


@router.patch("/config", status_code=200, responses={409: {"description": "the change needs a restart"}})
def patch_config(request: Request, _: Annotated[Principal, Depends(require("admin"))],
                 change: Annotated[dict[str, Any], Body(description='tables as in the config file: '
                                                       '{"risk": {"max_positions": 2}}')]) -> None:  # fmt: skip
    """Validate a change of settings; every key needs a restart in this version, so each is refused (409)."""
    running_agent(request)
    if not change:
        raise HTTPException(422, "body: give at least one setting to change")
    try:
        load_settings(overrides=change)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    keys = ", ".join(_keys(change))
    raise HTTPException(409, f"{keys}: changing settings while the agent runs is not supported yet, it needs a "
                             f"restart: {_RESTART}")  # fmt: skip
