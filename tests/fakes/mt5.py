"""A fake ``MetaTrader5`` module: the package's calls and constants, over real candles, for tests on Linux.

The real package needs Windows and a running terminal. This one answers the calls the MT5 feed makes
(``initialize``, ``shutdown``, ``last_error``, ``symbol_select``, ``symbol_info``, ``copy_rates_from_pos``,
``copy_rates_range``) with the package's record dtype, from candles loaded by our loader (the real
``forex/EURUSD_15m_mt5.csv`` in the tests). Time is a clock the test moves: the bars that have opened by then
are the terminal's history, and the last of them, if its period has not ended, is still forming, with only its
open price so far (open = high = low = close, one tick), as a terminal shows a bar just opened.

Symbol specs are hand-written, in the shape of ``symbol_info``'s named tuple.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Any

import numpy as np

from smc_agent.core.clock import Clock
from smc_agent.data.candles import Candles
from smc_agent.feeds.mt5 import RATE_DTYPE

__all__ = ["SPECS", "fake_mt5", "to_rates"]

_TIMEFRAMES = {
    "TIMEFRAME_M1": 1, "TIMEFRAME_M2": 2, "TIMEFRAME_M3": 3, "TIMEFRAME_M4": 4, "TIMEFRAME_M5": 5,
    "TIMEFRAME_M6": 6, "TIMEFRAME_M10": 10, "TIMEFRAME_M12": 12, "TIMEFRAME_M15": 15, "TIMEFRAME_M20": 20,
    "TIMEFRAME_M30": 30, "TIMEFRAME_H1": 16385, "TIMEFRAME_H2": 16386, "TIMEFRAME_H3": 16387,
    "TIMEFRAME_H4": 16388, "TIMEFRAME_H6": 16390, "TIMEFRAME_H8": 16392, "TIMEFRAME_H12": 16396,
    "TIMEFRAME_D1": 16408, "TIMEFRAME_W1": 32769, "TIMEFRAME_MN1": 49153,
}  # fmt: skip

SPECS = {
    "EURUSD": {"name": "EURUSD", "point": 1e-05, "digits": 5, "trade_tick_size": 1e-05, "volume_min": 0.01,
               "volume_step": 0.01, "trade_contract_size": 100000.0, "currency_profit": "USD"},
    "XAUUSD": {"name": "XAUUSD", "point": 0.01, "digits": 2, "trade_tick_size": 0.0, "volume_min": 0.01,
               "volume_step": 0.01, "trade_contract_size": 100.0, "currency_profit": "USD"},
}  # fmt: skip


def to_rates(candles: Candles) -> np.ndarray:
    """Candles (their times read as the server's wall clock) as ``copy_rates_*`` records."""
    rates = np.zeros(len(candles), dtype=RATE_DTYPE)
    rates["time"] = candles.time // 1000
    for name in ("open", "high", "low", "close"):
        rates[name] = getattr(candles, name)
    rates["tick_volume"] = candles.volume.astype(np.uint64)
    return rates


def fake_mt5(series: dict[str, Candles], clock: Clock) -> Any:
    """A module object standing in for ``MetaTrader5``; ``series`` maps symbol -> its 15m candles."""
    mod: Any = types.ModuleType("MetaTrader5")
    for name, value in _TIMEFRAMES.items():
        setattr(mod, name, value)
    state = {"initialized": False, "error": (1, "Success"), "fail": 0, "calls": 0}
    rates = {s: to_rates(c) for s, c in series.items()}
    mod.state = state

    def initialize(**kwargs: Any) -> bool:
        state["initialized"] = True
        return True

    def shutdown() -> None:
        state["initialized"] = False

    def last_error() -> tuple[int, str]:
        return state["error"]  # type: ignore[return-value]

    def symbol_select(symbol: str, enable: bool = True) -> bool:
        return symbol in SPECS

    def symbol_info(symbol: str) -> Any:
        spec = SPECS.get(symbol)
        return None if spec is None else types.SimpleNamespace(**spec)

    def _visible(symbol: str, timeframe: int) -> np.ndarray | None:
        state["calls"] += 1
        if not state["initialized"]:
            state["error"] = (-10004, "No IPC connection")
            return None
        if state["fail"]:
            state["fail"] -= 1
            state["error"] = (-10005, "IPC timeout")
            return None
        if symbol not in rates or timeframe != mod.TIMEFRAME_M15:
            state["error"] = (-2, "Invalid params")
            return None
        now_s = clock.now_ms() // 1000
        r = rates[symbol]
        n = int(np.searchsorted(r["time"], now_s, side="right"))
        out = r[:n].copy()
        if n and now_s < out["time"][-1] + 900:  # forming: only its open so far
            last = out[-1]
            last["high"] = last["low"] = last["close"] = last["open"]
            last["tick_volume"] = 1
        return out

    def copy_rates_from_pos(symbol: str, timeframe: int, start_pos: int, count: int) -> np.ndarray | None:
        out = _visible(symbol, timeframe)
        if out is None:
            return None
        end = len(out) - start_pos
        return out[max(0, end - count) : max(0, end)]

    def copy_rates_range(symbol: str, timeframe: int, date_from: datetime, date_to: datetime) -> np.ndarray | None:
        out = _visible(symbol, timeframe)
        if out is None:
            return None
        lo, hi = int(date_from.timestamp()), int(date_to.timestamp())
        return out[(out["time"] >= lo) & (out["time"] <= hi)]

    for fn in (initialize, shutdown, last_error, symbol_select, symbol_info, copy_rates_from_pos, copy_rates_range):
        setattr(mod, fn.__name__, fn)
    return mod
