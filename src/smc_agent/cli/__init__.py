"""The ``smc-agent`` command: one entry point, thin commands over :mod:`smc_agent.service`."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from smc_agent.cli import auth, bench, data, db, research
from smc_agent.cli import config as config_cli
from smc_agent.cli.analyze import analyze_command
from smc_agent.cli.backtest import backtest_command
from smc_agent.cli.optimize import optimize_command
from smc_agent.cli.report import report_command
from smc_agent.cli.run import run_command
from smc_agent.cli.serve import serve_command
from smc_agent.cli.signals import bias_command, signals_command
from smc_agent.core.logs import LEVELS, configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    help="smc-agent: Smart Money Concepts analysis that never looks ahead.",
    no_args_is_help=True,
    add_completion=False,
)


def _known_level(name: str | None) -> str | None:
    if name is None:
        return None
    if name.lower() not in LEVELS:
        raise typer.BadParameter(f"unknown level {name!r}; choose from {', '.join(LEVELS)}")
    return name.lower()


def _show_version(asked: bool) -> None:
    if asked:
        try:
            number = version("smc-agent")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown (not installed)"
        typer.echo(f"smc-agent {number}")
        raise typer.Exit()


@app.callback()
def logging_options(
    ctx: typer.Context,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            callback=_known_level,
            help=f"One of {', '.join(LEVELS)}: the least severe log records shown, on stderr "
            "(smc-agent's own; other libraries' from warning). Default: info for run, warning otherwise.",
            show_default=False,
        ),
    ] = None,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object per line instead of console lines.")
    ] = False,
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    # Warnings by default keep every batch command's output as it was; the agent is a service, and its
    # log is how it shows itself without a terminal. Logs never go to stdout.
    default = "info" if ctx.invoked_subcommand in ("run", "serve") else "warning"
    configure_logging(log_level or default, json=log_json)


app.command("analyze")(analyze_command)
app.command("signals")(signals_command)
app.command("bias")(bias_command)
app.command("backtest")(backtest_command)
app.command("optimize")(optimize_command)
app.command("report")(report_command)
app.command("run")(run_command)
app.command("serve")(serve_command)
app.add_typer(data.app, name="data")
app.add_typer(db.app, name="db")
app.add_typer(auth.app, name="auth")
app.add_typer(bench.app, name="bench")
app.add_typer(research.app, name="research")
app.add_typer(config_cli.app, name="config")


def main() -> None:
    app()
