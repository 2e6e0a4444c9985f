"""``python -m smc_agent``: the same command as ``smc-agent``."""

from smc_agent.cli import main

# Guarded: a process started with multiprocessing's spawn imports this module again and must not run the CLI.
if __name__ == "__main__":
    main()
