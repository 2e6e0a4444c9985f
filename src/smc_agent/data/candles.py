"""Columnar OHLCV candles: the one market-data type that every layer passes around.

Times are candle *open* times in epoch milliseconds (UTC, int64). Prices and volume are float64
arrays, which is what the detectors want. Slicing returns views, so ``candles[:k]`` costs nothing;
that is what the look-ahead tests rely on.

>>> import numpy as np
>>> c = Candles.from_arrays(np.array([0, 60_000]), [1.0, 2.0], [2.0, 3.0], [0.5, 1.5], [1.5, 2.5],
...                         [10.0, 20.0], symbol="X", timeframe="1m")
>>> len(c), c[1:].close.tolist()
(2, [2.5])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from smc_agent.data.timeframes import format_timeframe, parse_timeframe

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Candles", "FloatArray", "IntArray"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_PRICE_FIELDS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True, eq=False)
class Candles:
    """OHLCV candles of one symbol and timeframe.

    ``last_complete`` is False when the final candle's period has not ended yet (a resampled
    bucket that is still filling); detectors must treat such a candle as not closed.
    """

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    symbol: str = ""
    timeframe: str = ""
    last_complete: bool = True

    @classmethod
    def from_arrays(
        cls,
        time: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike | None = None,
        *,
        symbol: str = "",
        timeframe: str = "",
        last_complete: bool = True,
    ) -> Candles:
        """Build candles from array-likes, copying into contiguous int64/float64 arrays."""
        t = np.ascontiguousarray(time, dtype=np.int64)
        cols = [np.ascontiguousarray(a, dtype=np.float64) for a in (open, high, low, close)]
        vol = np.zeros(len(t)) if volume is None else np.ascontiguousarray(volume, dtype=np.float64)
        for name, col in zip(_PRICE_FIELDS, [*cols, vol], strict=True):
            if col.shape != t.shape:
                raise ValueError(f"column {name} has {col.shape[0]} values but time has {t.shape[0]}")
        o, h, lo, c = cols
        return cls(t, o, h, lo, c, vol, symbol=symbol, timeframe=timeframe, last_complete=last_complete)

    @classmethod
    def empty(cls, symbol: str, timeframe: str) -> Candles:
        """No candles yet, of a known market and timeframe (a session on live data before its history)."""
        return cls.from_arrays([], [], [], [], [], [], symbol=symbol, timeframe=timeframe)

    @property
    def timeframe_ms(self) -> int:
        """Length of one candle in milliseconds (the timeframe must be set)."""
        return parse_timeframe(self.timeframe)

    def __len__(self) -> int:
        return int(self.time.shape[0])

    def __getitem__(self, item: slice) -> Candles:
        if not isinstance(item, slice):
            raise TypeError("Candles supports slicing only; index the arrays for single values")
        stop = item.indices(len(self))[1]
        # A slice that drops the last candle ends on candles that had closed.
        complete = self.last_complete or stop < len(self)
        return Candles(
            self.time[item],
            self.open[item],
            self.high[item],
            self.low[item],
            self.close[item],
            self.volume[item],
            symbol=self.symbol,
            timeframe=self.timeframe,
            last_complete=complete,
        )

    def with_meta(self, *, symbol: str | None = None, timeframe: str | None = None) -> Candles:
        """Return the same arrays with a different symbol or timeframe label."""
        return replace(
            self,
            symbol=self.symbol if symbol is None else symbol,
            timeframe=self.timeframe if timeframe is None else timeframe,
        )

    @property
    def columns(self) -> Sequence[FloatArray]:
        """The five float columns in OHLCV order."""
        return (self.open, self.high, self.low, self.close, self.volume)

    def infer_timeframe(self) -> str:
        """The most common spacing between candles as a timeframe string ('' if fewer than two)."""
        if len(self) < 2:
            return ""
        steps = np.diff(self.time)
        steps = steps[steps > 0]
        if steps.size == 0:
            return ""
        values, counts = np.unique(steps, return_counts=True)
        return format_timeframe(int(values[np.argmax(counts)]))

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame indexed by UTC open time with open, high, low, close and volume columns."""
        import pandas as pd

        index = pd.DatetimeIndex(pd.to_datetime(self.time, unit="ms", utc=True), name="time")
        return pd.DataFrame(dict(zip(_PRICE_FIELDS, self.columns, strict=True)), index=index)

    @classmethod
    def from_pandas(cls, frame: pd.DataFrame, *, symbol: str = "", timeframe: str = "") -> Candles:
        """Build candles from a DataFrame with a DatetimeIndex (naive means UTC) and OHLC(V) columns."""
        import pandas as pd

        index = frame.index
        if not isinstance(index, pd.DatetimeIndex):
            raise TypeError("from_pandas needs a DatetimeIndex of candle open times")
        if index.tz is None:
            index = index.tz_localize("UTC")
        ms = index.tz_convert("UTC").as_unit("ms").asi8
        lower = {str(c).lower(): c for c in frame.columns}
        volume = frame[lower["volume"]].to_numpy() if "volume" in lower else None
        o, h, lo, c = (frame[lower[name]].to_numpy() for name in ("open", "high", "low", "close"))
        return cls.from_arrays(ms, o, h, lo, c, volume, symbol=symbol, timeframe=timeframe)
