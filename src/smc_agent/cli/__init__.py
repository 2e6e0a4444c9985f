"""The ``smc-agent`` command: one entry point, thin commands over :mod:`smc_agent.service`."""

from __future__ import annotations

import typer

from smc_agent.cli import bench, data
from smc_agent.cli.analyze import analyze_command
from smc_agent.cli.backtest import backtest_command
from smc_agent.cli.optimize import optimize_command
from smc_agent.cli.report import report_command
from smc_agent.cli.signals import bias_command, signals_command

__all__ = ["app", "main"]

app = typer.Typer(
    help="smc-agent: Smart Money Concepts analysis that never looks ahead.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("analyze")(analyze_command)
app.command("signals")(signals_command)
app.command("bias")(bias_command)
app.command("backtest")(backtest_command)
app.command("optimize")(optimize_command)
app.command("report")(report_command)
app.add_typer(data.app, name="data")
app.add_typer(bench.app, name="bench")


def main() -> None:
    app()
