"""The ``smc-agent bench`` benchmarks, and the timing and memory helpers they share.

Each benchmark (``detect``, ``signals_bench``, ``backtest_bench``) builds its input, measures in fresh
processes and returns figures; the CLI prints them and ``make bench`` runs them. Benchmarks are never
run as tests (their tests check what they measure, not how fast). They drive the whole stack, so this
package sits just below the CLI and nothing else imports it.
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
