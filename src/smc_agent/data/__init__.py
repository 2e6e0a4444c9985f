"""Market data in: the Candles container, loaders, validation, resampling and tick aggregation."""

from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import format_timeframe, parse_timeframe

__all__ = ["Candles", "format_timeframe", "parse_timeframe"]
