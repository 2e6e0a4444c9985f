"""Research use cases: the questions asked of several markets at once (``smc-agent research ...``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from smc_agent.backtest.edge import EdgeOptions, EdgeStudy, edge_study
from smc_agent.backtest.executors import Executor
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.service.analysis import AnalysisRequest, default_htfs, load_timeframe

__all__ = ["edge_request"]


def edge_request(
    requests: Sequence[AnalysisRequest],
    options: EdgeOptions,
    *,
    htfs: list[str] | None = None,
    executor: Executor | None = None,
) -> EdgeStudy:
    """Load each file as one market (named by its file name) and study the edge on each.

    Each market gets ``htfs``, or by default the weighted timeframes above its own entry timeframe.
    """
    if not requests:
        raise ConfigError("give at least one candle file", key="data")
    markets: list[tuple[str, Candles, list[str]]] = []
    names: set[str] = set()
    seen: set[Path] = set()
    for request in requests:
        where = request.path.resolve()
        if where in seen:
            raise ConfigError(f"{request.path} is given twice", key="data")
        seen.add(where)
        # A market is named by its file name, or by its whole path where two files share a name.
        name = request.path.name if request.path.name not in names else str(request.path)
        names.add(name)
        candles = load_timeframe(request)
        if len(candles) < 2:
            raise ConfigError(f"{request.path}: fewer than two candles", key="data")
        markets.append((name, candles, htfs if htfs is not None else default_htfs(candles.timeframe, options.analysis)))
    return edge_study(markets, options, executor)
