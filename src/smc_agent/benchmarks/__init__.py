"""Benchmark helpers: timing and memory measurement, and the reference SMC library's speed.

The benchmark *scripts* live in ``bench/`` and are never run as tests; this package holds the
reusable, tested parts they share.
"""

from smc_agent.benchmarks.measure import Measurement, measure_in_subprocess, median_seconds, peak_rss_mb
from smc_agent.benchmarks.reference_smc import REFERENCE_FUNCTIONS, ReferenceTimings, time_reference_smc

__all__ = [
    "REFERENCE_FUNCTIONS",
    "Measurement",
    "ReferenceTimings",
    "measure_in_subprocess",
    "median_seconds",
    "peak_rss_mb",
    "time_reference_smc",
]
