"""Forex and metals through MetaTrader 5: the terminal's rates as our candles, its symbol specs as instruments.

The ``MetaTrader5`` package exists only for Windows and talks to a running MT5 terminal over IPC, so this
adapter is an optional extra (``pip install smc-agent[mt5]``, installed on Windows only) and the package is
imported only when the adapter is chosen. On any other platform :func:`load_mt5` raises a ConfigError that
says so, before anything is imported.

Mapping (pure functions, tested with a fake module on Linux):

* :func:`rates_to_candles`: the numpy records of ``copy_rates_from_pos`` / ``copy_rates_range``
  (:data:`RATE_DTYPE`: ``time`` in seconds, ``open high low close``, ``tick_volume``, ``spread``,
  ``real_volume``) to :class:`~smc_agent.data.candles.Candles`. MT5 stamps bars in the **broker's server
  time** written as if it were UTC; ``server_tz`` (an IANA zone, such as ``Europe/Athens`` for most brokers,
  default UTC) turns them into real UTC by the same rules as our file loader (a repeated hour is resolved
  by the order of the bars). Volume is ``tick_volume`` (forex has no real volume) unless ``volume="real"``.
* :func:`instrument_from`: ``symbol_info`` to an :class:`~smc_agent.model.instrument.Instrument`. The tick is
  ``trade_tick_size`` (``point`` when that is 0), written to ``digits`` places; quantities are in units of
  the base currency, so the lot step is ``volume_step x trade_contract_size`` (0.01 lot of EURUSD is 1000
  EUR), and :func:`min_quantity` is ``volume_min x trade_contract_size``.
* :data:`TIMEFRAMES`: our timeframes to the package's ``TIMEFRAME_*`` constants.

:class:`Mt5Feed` polls: every ``poll_s`` it asks each stream for the bars since its cursor and delivers the
closed ones. The terminal's last bar is the one forming (:meth:`Mt5Feed.forming`); it counts as closed once
a newer bar exists or its period plus ``grace_ms`` has passed on the clock. A failed call (``None`` and
``last_error()``) marks the feed DEGRADED, and ``breaker_threshold`` failures in a row DOWN
(:mod:`smc_agent.feeds.resilience`), logged once per change of state.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from smc_agent.core.clock import Clock
from smc_agent.core.errors import ConfigError
from smc_agent.core.logs import get_logger
from smc_agent.data.candles import Candles
from smc_agent.data.frames import parse_times
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.events import CandleClosed
from smc_agent.feeds import FeedHealth
from smc_agent.feeds.resilience import Breaker, HealthTracker
from smc_agent.model.instrument import Instrument

__all__ = [
    "RATE_DTYPE",
    "TIMEFRAMES",
    "Mt5Feed",
    "instrument_from",
    "load_mt5",
    "min_quantity",
    "rates_to_candles",
    "timeframe_of",
]

_log = get_logger(__name__)

INSTALL_HINT = "pip install smc-agent[mt5]"
# The record layout of copy_rates_* (MetaTrader5's own dtype).
RATE_DTYPE = np.dtype([("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
                       ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8")])  # fmt: skip
TIMEFRAMES = {
    "1m": "TIMEFRAME_M1", "2m": "TIMEFRAME_M2", "3m": "TIMEFRAME_M3", "4m": "TIMEFRAME_M4", "5m": "TIMEFRAME_M5",
    "6m": "TIMEFRAME_M6", "10m": "TIMEFRAME_M10", "12m": "TIMEFRAME_M12", "15m": "TIMEFRAME_M15",
    "20m": "TIMEFRAME_M20", "30m": "TIMEFRAME_M30", "1h": "TIMEFRAME_H1", "2h": "TIMEFRAME_H2",
    "3h": "TIMEFRAME_H3", "4h": "TIMEFRAME_H4", "6h": "TIMEFRAME_H6", "8h": "TIMEFRAME_H8",
    "12h": "TIMEFRAME_H12", "1d": "TIMEFRAME_D1", "1w": "TIMEFRAME_W1",
}  # fmt: skip


def load_mt5(platform: str | None = None) -> Any:
    """The ``MetaTrader5`` module; a ConfigError off Windows, or when the extra is not installed."""
    platform = sys.platform if platform is None else platform
    if platform != "win32":
        raise ConfigError(
            f"the MetaTrader 5 source needs Windows: the MetaTrader5 package exists only for Windows and talks "
            f"to a running MT5 terminal, so it cannot be used on {platform}; run the agent on the Windows machine "
            "that runs the terminal, or choose another source",
            key="source",
        )
    try:
        import MetaTrader5
    except ImportError as error:
        raise ConfigError(f"the MetaTrader 5 source needs the MetaTrader5 package: {INSTALL_HINT}",
                          key="source") from error  # fmt: skip
    return MetaTrader5


def timeframe_of(mt5: Any, timeframe: str) -> int:
    """The package's constant for our timeframe (``"15m"`` -> ``mt5.TIMEFRAME_M15``)."""
    name = TIMEFRAMES.get(timeframe)
    if name is None:
        raise ConfigError(f"MetaTrader 5 has no {timeframe!r} bars; use one of {', '.join(TIMEFRAMES)}", key="tf")
    return int(getattr(mt5, name))


def rates_to_candles(
    rates: npt.NDArray[Any],
    symbol: str,
    timeframe: str,
    *,
    server_tz: str = "UTC",
    volume: Literal["tick", "real"] = "tick",
) -> Candles:
    """``copy_rates_*`` records as candles, times converted from the broker's server time to UTC."""
    missing = {"time", "open", "high", "low", "close", "tick_volume", "real_volume"} - set(rates.dtype.names or ())
    if missing:
        raise ValueError(f"MT5 rates lack the fields {sorted(missing)}")
    seconds = np.asarray(rates["time"], dtype=np.int64)
    if server_tz == "UTC":
        times = seconds * 1000
    else:
        wall = pd.Series(pd.to_datetime(seconds, unit="s"))
        times = parse_times(wall, rows=np.arange(1, len(seconds) + 1, dtype=np.int64), field="time", tz=server_tz)
    vol = rates["tick_volume"] if volume == "tick" else rates["real_volume"]
    return Candles.from_arrays(times, rates["open"], rates["high"], rates["low"], rates["close"],
                               np.asarray(vol, dtype=np.float64), symbol=symbol, timeframe=timeframe)  # fmt: skip


def _step(value: float, digits: int) -> Decimal:
    return Decimal(f"{value:.{max(digits, 0)}f}").normalize() if digits >= 0 else Decimal(repr(value))


def instrument_from(info: Any, symbol: str | None = None) -> Instrument:
    """``symbol_info(...)`` as an Instrument: prices in ticks of ``trade_tick_size``, quantities in base units."""
    digits = int(info.digits)
    tick = float(info.trade_tick_size) or float(info.point)
    lot = Decimal(repr(float(info.volume_step))) * Decimal(repr(float(info.trade_contract_size)))
    return Instrument(symbol or str(info.name), _step(tick, digits), lot.normalize(),
                      quote_currency=str(getattr(info, "currency_profit", "") or ""))  # fmt: skip


def min_quantity(info: Any) -> Decimal:
    """The smallest order, in base units: ``volume_min`` lots of ``trade_contract_size``."""
    return (Decimal(repr(float(info.volume_min))) * Decimal(repr(float(info.trade_contract_size)))).normalize()


@dataclass
class _Stream:
    symbol: str
    timeframe: str
    code: int
    tf: int
    cursor: int | None
    last: CandleClosed | None = None  # the bar forming at the last poll


class Mt5Feed:
    """Closed bars from a running MetaTrader 5 terminal, by polling (see the module docstring).

    ``terminal`` is passed to ``mt5.initialize`` (``path``, ``login``, ``password``, ``server``, ``timeout``);
    ``module`` replaces the imported package (the tests' fake)."""

    def __init__(
        self,
        symbols: Sequence[str],
        timeframes: Sequence[str] = ("15m",),
        *,
        clock: Clock,
        cursors: Mapping[str, int] | None = None,
        server_tz: str = "UTC",
        warmup: int = 500,
        poll_s: float = 1.0,
        grace_ms: int = 2_000,
        breaker_threshold: int = 5,
        terminal: Mapping[str, Any] | None = None,
        module: Any | None = None,
    ) -> None:
        if not symbols or not timeframes:
            raise ValueError("an MT5 feed needs at least one symbol and one timeframe")
        self._mt5 = module if module is not None else load_mt5()
        self._clock, self._server_tz, self._warmup, self._poll_s = clock, server_tz, warmup, poll_s
        self._grace, self._terminal = grace_ms, dict(terminal or {})
        cursors = dict(cursors or {})
        self._streams = {f"{s}@{tf}": _Stream(s, tf, timeframe_of(self._mt5, tf), parse_timeframe(tf),
                                              cursors.get(f"{s}@{tf}"))
                         for s in symbols for tf in timeframes}  # fmt: skip
        self._health = HealthTracker("mt5")
        self._breaker = self._health.watch(Breaker("terminal", breaker_threshold, poll_s))
        self._started = False

    @property
    def health(self) -> FeedHealth:
        return self._health.health

    @property
    def cursors(self) -> dict[str, int]:
        return {n: s.cursor for n, s in self._streams.items() if s.cursor is not None}

    def instrument(self, symbol: str) -> Instrument:
        info = self._mt5.symbol_info(symbol)
        if info is None:
            raise ConfigError(f"MetaTrader 5 knows no symbol {symbol!r}: {self._mt5.last_error()}", key="symbols")
        return instrument_from(info, symbol)

    def forming(self, symbol: str, timeframe: str) -> CandleClosed | None:
        stream = self._streams.get(f"{symbol}@{timeframe}")
        return stream.last if stream is not None else None

    def start(self) -> None:
        """Connect to the terminal and select the symbols (``closed()`` calls it)."""
        if self._started:
            return
        if not self._mt5.initialize(**self._terminal):
            raise ConfigError(f"cannot connect to the MetaTrader 5 terminal: {self._mt5.last_error()}", key="source")
        for stream in self._streams.values():
            if not self._mt5.symbol_select(stream.symbol, True):
                raise ConfigError(f"MetaTrader 5 cannot select {stream.symbol!r}: {self._mt5.last_error()}",
                                  key="symbols")  # fmt: skip
        self._started = True

    def close(self) -> None:
        if self._started:
            self._mt5.shutdown()
            self._started = False

    async def closed(self) -> AsyncIterator[CandleClosed]:
        self.start()
        try:
            while True:
                for name in self._streams:
                    for candle in self.poll(name):
                        yield candle
                await asyncio.sleep(self._poll_s)
        finally:
            self.close()

    def poll(self, name: str) -> list[CandleClosed]:
        """Stream ``name``'s (``SYMBOL@TF``) bars closed since its cursor, now; the bar forming is kept aside."""
        stream = self._streams[name]
        now = self._clock.now_ms()
        count = self._warmup + 1 if stream.cursor is None else max(2, (now - stream.cursor) // stream.tf + 2)
        rates = self._mt5.copy_rates_from_pos(stream.symbol, stream.code, 0, int(count))
        if rates is None:
            self._breaker.failure()
            self._health.open("terminal", f"copy_rates_from_pos {stream.symbol}: {self._mt5.last_error()}")
            return []
        if self._breaker.failures:
            self._breaker.success()
        self._health.close("terminal")
        self._health.ready()
        if len(rates) == 0:
            return []
        c = rates_to_candles(rates, stream.symbol, stream.timeframe, server_tz=self._server_tz)
        out: list[CandleClosed] = []
        stream.last = None
        for i in range(len(c)):
            t = int(c.time[i])
            bar = CandleClosed(t + stream.tf, now, stream.symbol, stream.timeframe, t, float(c.open[i]),
                               float(c.high[i]), float(c.low[i]), float(c.close[i]), float(c.volume[i]))  # fmt: skip
            if i == len(c) - 1 and now < t + stream.tf + self._grace:
                stream.last = bar  # the terminal's last bar: still forming
                break
            if stream.cursor is None or t >= stream.cursor:
                out.append(bar)
                stream.cursor = t + stream.tf
        return out
