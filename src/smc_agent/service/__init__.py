"""The operations behind every transport: the CLI today, the REST API and WebSocket later.

Each function takes plain arguments, does one job end to end and returns domain objects or
JSON-ready dicts, so that every front end shows the same thing. The use cases live here, above the
packages that compute (``analysis``, ``backtest``) and never in them, so those packages stay
usable without a file system and the layers point one way. Import from this package:
:mod:`.analysis` holds the analysis and backtest requests, :mod:`.reports` the daily report,
:mod:`.research` the studies across markets.
"""

from smc_agent.service.analysis import (
    AnalysisRequest,
    analysis_json,
    analyze_candles,
    analyze_request,
    backtest_candles,
    backtest_period,
    backtest_request,
    bias_of,
    bias_request,
    default_htfs,
    entry_settings,
    htf_list,
    in_zone,
    load_timeframe,
    signals_json,
    signals_request,
)
from smc_agent.service.reports import report_request, write_reports
from smc_agent.service.research import edge_request

__all__ = [
    "AnalysisRequest",
    "analysis_json",
    "analyze_candles",
    "analyze_request",
    "backtest_candles",
    "backtest_period",
    "backtest_request",
    "bias_of",
    "bias_request",
    "default_htfs",
    "edge_request",
    "entry_settings",
    "htf_list",
    "in_zone",
    "load_timeframe",
    "report_request",
    "signals_json",
    "signals_request",
    "write_reports",
]
