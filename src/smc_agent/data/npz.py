"""Candles as an uncompressed ``.npz`` file: how one process hands candles to others.

The optimiser's workers and every benchmark's measuring process read candles that their parent
saved, instead of unpickling a copy each: loading is one read per column, and a worker that loads
the file once keeps it for all its runs. Everything :class:`Candles` holds survives the round trip.

>>> import tempfile, numpy as np
>>> c = Candles.from_arrays(np.arange(3) * 60_000, [1, 2, 3], [2, 3, 4], [0.5, 1.5, 2.5], [1.5, 2.5, 3.5],
...                         timeframe="1m", symbol="EURUSD", last_complete=False)
>>> with tempfile.TemporaryDirectory() as tmp:
...     save_candles(c, Path(tmp) / "c.npz")
...     back = load_saved(Path(tmp) / "c.npz")
>>> back.close.tolist(), back.symbol, back.timeframe, back.last_complete
([1.5, 2.5, 3.5], 'EURUSD', '1m', False)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from smc_agent.data.candles import Candles

__all__ = ["load_saved", "save_candles"]

_COLUMNS = ("time", "open", "high", "low", "close", "volume")


def save_candles(candles: Candles, path: str | Path) -> None:
    """Write ``candles`` to ``path`` (uncompressed, so loading is one read per column)."""
    np.savez(path, time=candles.time, open=candles.open, high=candles.high, low=candles.low,
             close=candles.close, volume=candles.volume, timeframe=candles.timeframe,
             symbol=candles.symbol, last_complete=candles.last_complete)  # fmt: skip


def load_saved(path: str | Path) -> Candles:
    """The candles that :func:`save_candles` wrote to ``path``."""
    with np.load(path) as data:
        return Candles.from_arrays(
            *(data[name] for name in _COLUMNS),
            timeframe=str(data["timeframe"]),
            symbol=str(data["symbol"]),
            last_complete=bool(data["last_complete"]),
        )
