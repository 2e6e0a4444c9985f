"""How a route changes the running engine: it never touches the engine's state, it sends a command to the
agent's session inbox and waits for the :class:`~smc_agent.events.CommandHandled` that came of it.

The session handles a command between two candles, on the event loop this app is served on (``smc-agent run``),
so the wait is short; after ``COMMAND_TIMEOUT_S`` the answer is 504, and the command may still be carried out
(it stays in the inbox). Without an agent (``smc-agent serve``) every command is 409. Each command is written
to the audit log with the caller's id (``key:<id>`` or ``login``, never the key) and what came of it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from fastapi import HTTPException, Request

from smc_agent.api.auth import Principal
from smc_agent.events import CommandHandled
from smc_agent.model.commands import OperatorCommand
from smc_agent.service.agent import Agent
from smc_agent.store import Store

__all__ = ["COMMAND_TIMEOUT_S", "Handled", "audit", "carry_out", "command_id", "running_agent"]

COMMAND_TIMEOUT_S = 10.0  # the session handles a command before its next candle: milliseconds, unless it is stuck
_READ_ONLY = "read-only: no engine is running (smc-agent serve); send commands to the API of smc-agent run"


def command_id() -> str:
    """A new command's id: the session handles an id once, and the order it opens is named after it."""
    return f"api-{uuid.uuid4().hex}"


def running_agent(request: Request) -> Agent:
    agent: Agent | None = request.app.state.agent
    if agent is None:
        raise HTTPException(409, _READ_ONLY)
    return agent


def audit(request: Request, principal: Principal, action: str, detail: dict[str, Any]) -> None:
    running_agent(request)
    store: Store = request.app.state.store
    store.audit(f"api {action}", detail, actor=principal.actor)


class Handled:
    """What came of a command, and how long the engine took to carry it out (wall time, ms)."""

    def __init__(self, event: CommandHandled, elapsed_ms: float) -> None:
        self.event, self.elapsed_ms = event, elapsed_ms

    @property
    def accepted(self) -> bool:
        return self.event.accepted

    @property
    def outcome(self) -> str:
        return self.event.outcome


async def carry_out(request: Request, principal: Principal, action: str, command: OperatorCommand,
                    detail: dict[str, Any]) -> Handled:  # fmt: skip
    """Send ``command`` to the engine, wait for what came of it, and audit both."""
    agent = running_agent(request)
    timeout = getattr(request.app.state, "command_timeout_s", COMMAND_TIMEOUT_S)
    started = time.perf_counter()
    entry = {**detail, "command_id": command.command_id}
    try:
        event = await asyncio.wait_for(agent.system.session.send(command), timeout=timeout)
    except TimeoutError:
        audit(request, principal, action, {**entry, "outcome": "timeout"})
        late = f"the engine did not handle command {command.command_id} within {timeout:g} s"
        raise HTTPException(504, f"{late}; it may still be carried out: check GET /api/v1/orders") from None
    except RuntimeError as exc:  # the session is not running: not started yet, or stopped
        raise HTTPException(409, f"the engine is not running: {exc}") from None
    handled = Handled(event, round((time.perf_counter() - started) * 1000, 3))
    audit(request, principal, action, {**entry, "accepted": handled.accepted, "outcome": handled.outcome})
    return handled
