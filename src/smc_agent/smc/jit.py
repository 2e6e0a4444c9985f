"""The detectors' compile decorator: the options of :mod:`smc_agent.indicators.jit`, with a disk
cache keyed on the sources of ``smc/`` *and* ``indicators/``, because the fused loop compiles the
ATR step into itself (an edit to either must give fresh code)."""

from __future__ import annotations

from pathlib import Path

from smc_agent import indicators
from smc_agent.indicators.jit import compiler

__all__ = ["kernel"]

kernel = compiler(Path(__file__).parent, Path(indicators.__file__).parent)
"""Compile a detector step or loop for the fused kernel."""
