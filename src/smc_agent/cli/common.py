"""What every command shares: user errors become one red line and exit code 2, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from smc_agent.core.errors import SmcAgentError

__all__ = ["EXIT_USER_ERROR", "fail", "user_errors"]

EXIT_USER_ERROR = 2


def fail(message: str | SmcAgentError) -> NoReturn:
    """Print the error for a person and exit with code 2."""
    text = f"[bold red]error:[/] [red]{escape(str(message))}[/]"
    Console(stderr=True).print(text, soft_wrap=True, highlight=False)
    raise typer.Exit(EXIT_USER_ERROR)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn our own errors (bad data, bad config) into :func:`fail`; anything else is a bug and surfaces."""
    try:
        yield
    except SmcAgentError as exc:
        fail(exc)
