"""The API served inside another asyncio program (``smc-agent run``): one process, one event loop.

:class:`ApiServer` runs uvicorn's server as a task of the caller's loop, so an async route that sends a command
to the engine runs on the loop the engine runs on; the engine stays synchronous between its awaits. uvicorn does
not install its own signal handlers here: the agent owns SIGINT and SIGTERM (a clean stop), and stops the
server after the engine has stopped. Port 0 binds a free port; :attr:`ApiServer.port` says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from fastapi import FastAPI

from smc_agent.api import keys
from smc_agent.core.errors import ConfigError
from smc_agent.core.logs import get_logger
from smc_agent.store import Store

__all__ = ["LOOPBACK", "SHARE_LOOP_EVERY", "ApiServer", "first_key", "url_of", "warn_if_public"]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
# The engine's candles in a row before it lets the served API run (Session.yield_every): every candle, so a replay
# at full speed still answers requests and streams each event within milliseconds (docs/performance.md "API").
SHARE_LOOP_EVERY = 1
_START_S = 10.0  # binding a socket takes milliseconds; longer means something is wrong
_log = get_logger("smc_agent.api")


def warn_if_public(host: str, port: int) -> None:
    """Say loudly that an address other than loopback is reachable from the network."""
    if host not in LOOPBACK:
        _log.warning("the API listens beyond this machine: anyone who reaches it can try keys; use TLS in front",
                     host=host, port=port)  # fmt: skip


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def first_key(store: Store, now_ms: int) -> str | None:
    """An admin key on the first start (the store holds no key yet), to be shown once; None when keys exist."""
    if keys.list_keys(store):
        return None
    return keys.create_key(store, "admin", now_ms)[1]


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the program that runs this server handles the signals


class ApiServer:
    """uvicorn serving ``app`` on ``host:port`` as a task of the running loop: :meth:`start`, then :meth:`stop`."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None
        self.host, self.port = host, port

    async def start(self) -> None:
        """Bind and listen; a port in use (or an address not of this machine) is a :class:`ConfigError`."""
        # The socket is bound here, not by uvicorn, whose failure to bind is a SystemExit that would end the loop.
        try:
            family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as exc:
            raise self._refused(exc) from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise self._refused(exc) from None
        self.port = int(sock.getsockname()[1])
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        await asyncio.wait_for(self._started(), timeout=_START_S)

    def _refused(self, exc: OSError) -> ConfigError:
        return ConfigError(f"the API cannot listen on {self.host}:{self.port}: {exc.strerror or exc}; choose another "
                           "--host/--port, or --no-serve", key="api.port")  # fmt: skip

    async def _started(self) -> None:
        while not self._server.started:
            if self._task is not None and self._task.done():
                self._task.result()  # what went wrong
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Close the listening socket and the open connections (a few seconds at most)."""
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
        except TimeoutError:
            self._server.force_exit = True
            await asyncio.wait_for(self._task, timeout=5)
        self._task = None
