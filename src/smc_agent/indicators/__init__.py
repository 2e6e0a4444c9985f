"""Causal indicators that are not SMC concepts, shared by the detectors and the venues' cost models.

They sit below :mod:`smc_agent.smc` so that a venue can size its slippage by ATR without depending on
the detector package. Each is numba-compiled with the same options and cache rules as the detectors
(:mod:`smc_agent.indicators.jit`) and has a step form that the detectors' fused loop calls per candle.
"""

from smc_agent.indicators.atr import atr, atr_step

__all__ = ["atr", "atr_step"]
