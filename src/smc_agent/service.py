"""The operations behind every transport: the CLI today, the REST API and WebSocket later.

Each function takes plain arguments, does one job end to end and returns domain objects or
JSON-ready dicts, so that every front end shows the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.resample import resample
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.smc.config import SmcConfig
from smc_agent.smc.engine import SmcResult, analyze
from smc_agent.smc.events import events

__all__ = ["AnalysisRequest", "analysis_json", "analyze_request", "load_timeframe"]


@dataclass(frozen=True, slots=True)
class AnalysisRequest:
    """Where the candles come from and how to read them."""

    path: Path
    format: str | None = None
    tz: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    fix: bool = False


def load_timeframe(request: AnalysisRequest) -> Candles:
    """Load candles and bring them to the requested timeframe (resampling up, never down)."""
    candles = load_candles(request.path, format=request.format, tz=request.tz, symbol=request.symbol, fix=request.fix)
    target = request.timeframe
    if not target or not candles.timeframe or parse_timeframe(target) == candles.timeframe_ms:
        return candles
    if parse_timeframe(target) < candles.timeframe_ms:
        raise ConfigError(
            f"{request.path} holds {candles.timeframe} candles; cannot analyse them at the lower timeframe {target}",
            key="tf",
        )
    return resample(candles, target, tz=request.tz)


def analyze_request(request: AnalysisRequest, config: SmcConfig | None = None) -> SmcResult:
    """Load, resample if asked, and run every detector."""
    return analyze(load_timeframe(request), config)


def analysis_json(result: SmcResult) -> dict[str, Any]:
    """The ``smc-agent analyze --json`` document (see docs/json.md)."""
    return {
        "symbol": result.candles.symbol,
        "timeframe": result.candles.timeframe,
        "candles": len(result.candles),
        "events": events(result),
    }
