"""``python -m smc_agent``: the same command as ``smc-agent``."""

from smc_agent.cli import main

main()
