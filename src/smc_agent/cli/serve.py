"""``smc-agent serve``: the REST API over a store (a past or running session, backtests), read-only.

The store is opened without upgrading it: a database behind this version (or with no schema) is refused with
"run smc-agent db upgrade", since serving must never migrate a database that a running agent of another version
writes. The server listens on 127.0.0.1 unless told otherwise; another address logs a warning, since the API is
then reachable from the network (put it behind TLS).
"""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from smc_agent.api import create_app
from smc_agent.api.serving import url_of, warn_if_public
from smc_agent.cli.common import ConfigOption, user_errors
from smc_agent.cli.db import DbOption, open_db
from smc_agent.config import load_settings
from smc_agent.core.heap import freeze_start

__all__ = ["serve_command"]


def serve_command(
    db: DbOption = None,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on (default: api.host, 127.0.0.1).", show_default=False),
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (default: api.port, 8000).", show_default=False)
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the store's sessions, signals, orders, positions and market data over HTTP (OpenAPI at /docs)."""
    with user_errors():
        settings = load_settings(config)
        store = open_db(db or settings.store.url, upgrade=False)
    try:
        api = settings.api
        bind, listen = host or api.host, port or api.port
        warn_if_public(bind, listen)
        app = create_app(store, cors_origins=api.cors_origins, jwt_ttl_s=api.jwt_ttl_s, rate_limit=api.rate_limit,
                         max_body_bytes=api.max_body_bytes, analysis=settings.analysis_config())  # fmt: skip
        url = url_of(bind, listen)
        typer.echo(f"serving {store.masked_url()} at {url} (OpenAPI: {url}/docs)")
        freeze_start()  # what the start built lives as long as the process (core/heap.py)
        uvicorn.run(app, host=bind, port=listen, log_level="warning")
    finally:
        store.close()
