"""``smc-agent run``: the agent, paper trading replayed files or live candles with a journal, resumed after a
restart.

The command is a thin layer over :class:`~smc_agent.service.agent.Agent`: it parses the options, shows
a Rich live table on a terminal (plain log lines otherwise), and turns SIGTERM and Ctrl-C into a clean
stop: the current candle is finished and committed, the feeds close, and the exit code is 0. A second
Ctrl-C exits at once (code 130); every commit is atomic, so the store stays intact.

The REST API (:mod:`smc_agent.api`) is served in the same event loop on 127.0.0.1:8000 (``--host``, ``--port``,
``api.*`` in the settings; port 0 takes a free one; ``--no-serve`` binds nothing). It reads the agent's store,
sends commands to its session, and streams its bus's events on the WebSocket. On the first start (no API key in
the store) an admin key is made and printed once, with the URL; it is in no log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from smc_agent.api import create_app
from smc_agent.api.auth import wall_ms
from smc_agent.api.serving import SHARE_LOOP_EVERY, ApiServer, first_key, url_of, warn_if_public
from smc_agent.api.stream import StreamHub
from smc_agent.cli.common import ConfigOption, HtfOption, ProfileOption, TfOption, user_errors
from smc_agent.config import load_settings
from smc_agent.config.settings import ApiSettings
from smc_agent.core.heap import freeze_start
from smc_agent.core.logs import get_logger
from smc_agent.events import CandleClosed
from smc_agent.service.agent import Agent, AgentOptions, parse_speed
from smc_agent.store import Store

__all__ = ["run_command"]

_log = get_logger("smc_agent.run")
_REFRESH_S = 1.0  # the table and the log lines: at most once a second
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_command(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Candle file to replay, one per symbol (repeat it); none: the demo candles."),
    ] = None,
    speed: Annotated[
        str | None,
        typer.Option(
            "--speed",
            help="Replay speed: a multiple of real time (600), or max (settings: run.speed).",
            show_default=False,
        ),
    ] = None,
    tf: TfOption = None,
    htf: HtfOption = None,
    config: ConfigOption = None,
    profile: ProfileOption = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Store URL (default: a SQLite file in the user data directory).", show_default=False),
    ] = None,
    exit_when_done: Annotated[
        bool, typer.Option("--exit-when-done", help="Exit when the data is done (default: wait for Ctrl-C).")
    ] = False,
    summary_json: Annotated[
        bool, typer.Option("--summary-json", help="At exit print one JSON object (see docs/api.md).")
    ] = False,
    new_session: Annotated[
        bool, typer.Option("--new-session", help="Start a new session instead of resuming the stored one.")
    ] = False,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="files, or a CCXT exchange (binance, ...) to stream live candles from (settings: run.source).",
            show_default=False,
        ),
    ] = None,
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols",
            help="On an exchange: the markets, BTC/USDT,ETH/USDT (settings: run.symbols).",
            show_default=False,
        ),
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option(
            "--exchange", help="The CCXT exchange to stream from (settings: exchange.name).", show_default=False
        ),
    ] = None,
    testnet: Annotated[
        bool | None,
        typer.Option(
            "--testnet/--no-testnet", help="The exchange's sandbox (settings: exchange.testnet).", show_default=False
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help='Trade real orders at the exchange; also needs run.mode = "live", run.allow_live = true and API '
            "keys (see docs/user-guide.md).",
        ),
    ] = False,
    host: Annotated[
        str | None,
        typer.Option("--host", help="The API's address (default: api.host, 127.0.0.1).", show_default=False),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=0,
            max=65535,
            help="The API's port, 0 for a free one (default: api.port, 8000).",
            show_default=False,
        ),
    ] = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Run without the API (bind no port).")] = False,
) -> None:
    """Paper-trade the SMC strategy in one account, on replayed files or an exchange's live candles (with --live:
    trade at the exchange); resumes where it stopped."""
    # A signal while the agent opens (loading files, restoring a session) must stop it cleanly too.
    early: list[int] = []

    def while_opening(number: int, _frame: object) -> None:
        if early:
            os._exit(130)
        early.append(number)

    previous = {number: signal.signal(number, while_opening) for number in _STOP_SIGNALS}
    try:
        with user_errors():
            options = AgentOptions(data=tuple(data or ()), speed=None if speed is None else parse_speed(speed),
                                   tf=tf, htf=htf, config=config, profile=profile, db=db, new_session=new_session,
                                   source=source, symbols=symbols, exchange=exchange, testnet=testnet,
                                   live=live)  # fmt: skip
            api = None if no_serve else load_settings(config, profile=profile).api
            agent = Agent.open(options)
        try:
            console = Console(stderr=summary_json)
            _log.info("session", id=agent.session_id, resumed=agent.resumed, store=agent.store.masked_url(),
                      mode=agent.system.mode.value)  # fmt: skip
            serving = None if api is None else _Serving(agent, api, host, port, console)
            freeze_start()  # what the start built lives as long as the process (core/heap.py)
            asyncio.run(_run(agent, console, exit_when_done=exit_when_done, stopped=bool(early), serving=serving))
            if summary_json:
                typer.echo(json.dumps(agent.summary(), separators=(",", ":")))
        finally:
            agent.close()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _Serving:
    """The API of a running agent: where it listens, and the admin key of a first start."""

    def __init__(self, agent: Agent, api: ApiSettings, host: str | None, port: int | None, console: Console) -> None:
        self.agent, self.api, self.console = agent, api, console
        self.host = host or api.host
        self.port = api.port if port is None else port

    async def start(self) -> ApiServer:
        store = self.agent.store
        if not isinstance(store, Store):
            raise typer.BadParameter("the API needs the SQL store: run with --no-serve", param_hint="--no-serve")
        api, system = self.api, self.agent.system

        def forming() -> list[CandleClosed]:
            found = (system.feed.forming(symbol, c.timeframe) for symbol, c in system.entry.items())
            return [candle for candle in found if candle is not None]

        hub = StreamHub(system.bus, forming=forming)  # the WebSocket stream of the engine's events
        system.session.yield_every = SHARE_LOOP_EVERY  # the API shares the engine's loop
        app = create_app(store, agent=self.agent, hub=hub, cors_origins=api.cors_origins, jwt_ttl_s=api.jwt_ttl_s,
                         rate_limit=api.rate_limit, max_body_bytes=api.max_body_bytes)  # fmt: skip
        server = ApiServer(app, self.host, self.port)
        with user_errors():
            await server.start()
        warn_if_public(self.host, server.port)
        url = url_of(self.host, server.port)
        self.console.print(f"API at {url} (OpenAPI: {url}/docs)", markup=False, highlight=False, soft_wrap=True)
        key = first_key(store, wall_ms())
        if key is not None:
            # Printed once, never logged: the store keeps only its hash.
            self.console.print(f"first start: an admin API key (shown once, keep it): {key}", markup=False,
                               highlight=False, soft_wrap=True)  # fmt: skip
        return server


async def _run(agent: Agent, console: Console, *, exit_when_done: bool, stopped: bool,
               serving: _Serving | None = None) -> None:  # fmt: skip
    server = None if serving is None else await serving.start()
    try:
        await _agent(agent, console, exit_when_done=exit_when_done, stopped=stopped)
    finally:
        if server is not None:
            await server.stop()


async def _agent(agent: Agent, console: Console, *, exit_when_done: bool, stopped: bool) -> None:
    loop = asyncio.get_running_loop()
    interrupts = int(stopped)

    def interrupted() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1:
            os._exit(130)  # at once: what was committed is whole, the rest is re-processed on restart
        agent.stop()

    for number in _STOP_SIGNALS:
        loop.add_signal_handler(number, interrupted)
    if stopped:
        agent.stop()
    show = _table if console.is_terminal else None
    run = asyncio.create_task(agent.run(exit_when_done=exit_when_done))
    try:
        if show is not None:
            with Live(show(agent.status()), console=console, refresh_per_second=1, transient=False) as live:
                while not run.done():
                    await asyncio.wait({run}, timeout=_REFRESH_S)
                    live.update(show(agent.status()))
        else:
            last: dict[str, Any] | None = None
            while not run.done():
                await asyncio.wait({run}, timeout=_REFRESH_S)
                status = agent.status()
                if status != last:
                    _log_status(status)
                    last = status
        await run
    finally:
        for number in _STOP_SIGNALS:
            loop.remove_signal_handler(number)


def _log_status(status: dict[str, Any]) -> None:
    for row in status["symbols"]:
        _log.info("symbol", **row)
    _log.info("account", time=status["time"], equity=status["equity"], today_pnl=status["today_pnl"],
              trading_state=status["trading_state"], feed=status["feed"])  # fmt: skip


def _table(status: dict[str, Any]) -> Group:
    title = f"smc-agent {status['mode']} session {status['session_id']} at {status['time']}"
    symbols = Table(title=title, title_justify="left")
    for column in ("symbol", "last closed candle", "bias", "open signals", "position"):
        symbols.add_column(column, justify="right" if column == "open signals" else "left")
    for row in status["symbols"]:
        symbols.add_row(row["symbol"], row["last_candle"] or "-", row["bias"], str(row["open_signals"]),
                        row["position"])  # fmt: skip
    account = Table(show_header=False, title="account", title_justify="left")
    account.add_row("equity", status["equity"])
    account.add_row("today's P&L", status["today_pnl"])
    account.add_row("trading state", status["trading_state"])
    account.add_row("feed", status["feed"])
    hint = "Ctrl-C stops cleanly (a second Ctrl-C at once); run again to resume."
    return Group(symbols, account, hint if sys.stdout.isatty() else "")
