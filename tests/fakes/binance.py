"""The loopback fake Binance lives in the package (``smc-agent bench feed`` serves it too); the tests import it
from here, beside the other fakes (the spot and Angel One fakes build on its internals)."""

from smc_agent.benchmarks.loopback_binance import (
    FakeBinance,
    ReplayTime,
    _json,
    _Series,
    _ServerClock,
    binance_id,
    kline_row,
)

__all__ = ["FakeBinance", "ReplayTime", "_Series", "_ServerClock", "_json", "binance_id", "kline_row"]
