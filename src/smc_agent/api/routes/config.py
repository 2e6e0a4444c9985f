"""The session's settings: ``GET /config`` shows them, ``PATCH /config`` changes the risk limits of a running agent.

The engine takes most settings once, when the session is built (its fingerprint holds them, so a resumed session
must have the same). The risk gate's limits (:data:`~smc_agent.engine.risk_config.RUNTIME_RISK`) may change while
it runs: PATCH validates the change with the settings model (a bad key or value is 422 naming it), refuses it whole
with 409 when any key needs a restart (an SMC parameter, a symbol's own settings, anything outside those limits),
and otherwise sends a :class:`~smc_agent.model.commands.ChangeRisk` to the engine, which journals it (a restart
takes it again) and audits it with the caller's id.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from smc_agent.api.auth import Principal, require
from smc_agent.api.commands import carry_out, command_id, running_agent
from smc_agent.api.deps import Reader, SessionRow, StoreDep
from smc_agent.config import load_settings
from smc_agent.core.errors import ConfigError
from smc_agent.engine.risk_config import RUNTIME_RISK
from smc_agent.model.commands import ChangeRisk

router = APIRouter(prefix="/api/v1", tags=["config"])

_RESTART = "edit the config file (or the environment), then restart smc-agent run"
RUNTIME_KEYS = [f"risk.{name}" for name in RUNTIME_RISK]


class SessionConfig(BaseModel):
    session: str
    settings: dict[str, Any] = Field(description="the settings the session started with, as stored")
    runtime: list[str] = Field(description="the keys PATCH /config may change while the agent runs")
    effective: dict[str, str] | None = Field(description="the running engine's value of each runtime key (after "
                                             "any change); null when no engine runs this session")  # fmt: skip


class ConfigChanged(BaseModel):
    command_id: str
    changed: dict[str, str] = Field(description="each key changed and its new value")
    outcome: str
    execution_time_ms: float


def _effective(request: Request, session_id: str) -> dict[str, str] | None:
    agent = request.app.state.agent
    if agent is None or agent.session_id != session_id:
        return None
    risk = agent.system.risk.config
    return {f"risk.{name}": str(getattr(risk, name)) for name in RUNTIME_RISK}


@router.get("/config", response_model=SessionConfig)
async def config(request: Request, store: StoreDep, session: SessionRow, _: Reader) -> SessionConfig:
    """The settings a session runs with (default: the latest), which of them may change at runtime, and their
    values now in the running engine."""
    session_id = session["id"]
    return SessionConfig(session=session_id, settings=store.session(session_id).settings, runtime=RUNTIME_KEYS,
                         effective=_effective(request, session_id))  # fmt: skip


def _keys(table: dict[str, Any], prefix: str = "") -> list[str]:
    """Every leaf key of nested tables, dotted: {"risk": {"max_positions": 2}} -> ["risk.max_positions"]."""
    keys: list[str] = []
    for name, value in table.items():
        keys.extend(_keys(value, f"{prefix}{name}.") if isinstance(value, dict) and value else [prefix + name])
    return keys


@router.patch("/config", response_model=ConfigChanged,
              responses={409: {"description": "a key needs a restart, the engine refused it, or none runs"},
                         422: {"description": "an unknown key or a bad value"}})  # fmt: skip
async def patch_config(request: Request, principal: Annotated[Principal, Depends(require("admin"))],
                       change: Annotated[dict[str, Any], Body(description='tables as in the config file: '
                                                             '{"risk": {"max_open_positions": 2}}')],
                       ) -> ConfigChanged:  # fmt: skip
    """Change risk limits while the agent runs (validated, journaled, audited); any other key needs a restart."""
    running_agent(request)
    if not change:
        raise HTTPException(422, "body: give at least one setting to change")
    try:
        settings = load_settings(overrides=change)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    keys = _keys(change)
    restart = [key for key in keys if key not in RUNTIME_KEYS]
    if restart:
        runtime = ", ".join(RUNTIME_KEYS)
        raise HTTPException(409, f"{', '.join(restart)}: cannot change while the agent runs, it needs a restart: "
                                 f"{_RESTART}; nothing was changed (runtime keys: {runtime})")  # fmt: skip
    # The values as the settings model read them (a count a whole number, a fraction a Decimal), as text.
    changes = {key.removeprefix("risk."): str(getattr(settings.risk, key.removeprefix("risk."))) for key in keys}
    command = ChangeRisk(command_id=command_id(), reason=f"api {principal.actor}", changes=changes)
    handled = await carry_out(request, principal, "config change", command, {"changes": changes})
    if not handled.accepted:
        raise HTTPException(409, handled.outcome)
    return ConfigChanged(command_id=command.command_id, changed={f"risk.{k}": v for k, v in changes.items()},
                         outcome=handled.outcome, execution_time_ms=handled.elapsed_ms)  # fmt: skip
