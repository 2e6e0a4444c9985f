"""Time the ``smartmoneyconcepts`` package on our candles, as the yardstick for our detectors.

``smartmoneyconcepts`` (joshyattridge/smart-money-concepts, MIT) is the best-known Python SMC
library, and its outputs are the reference files in ``../shared/data/reference``. Timing it on the
same candles as our detectors shows what the numba kernels buy. It is a dev dependency only, so it
is imported lazily and a missing install is a clear error.

What it wants: a DataFrame with columns ``open, high, low, close, volume`` (any case; a decorator
lower-cases them and checks open/high/low/close). Every function except ``previous_high_low`` and
``sessions`` works by position (``.values``, ``[i:]`` slices) and returns a frame with a fresh
``RangeIndex``; those two need a ``DatetimeIndex`` (they resample and format clock times), so we
pass :meth:`Candles.to_pandas` with its UTC open-time index made naive (see :func:`_ohlc_frame`).

Its manners: importing it prints a "please star us" banner unless ``SMC_CREDIT=0``; the functions
themselves neither print nor fail under numpy 2.4 and pandas 3.1 (checked on 24,424 EURUSD 15m
candles with warnings as errors, where they reproduce the reference files exactly). The one
warning seen is ``previous_high_low``'s ``Pandas4Warning`` on a tz-aware index, which a naive
index avoids. The harness still swallows stdout and records, rather than raises, warnings inside
each timed call, so that a future release that starts to chatter cannot fail a pytest run that
treats warnings as errors. Exceptions are not hidden: a function that raises is reported under
:attr:`ReferenceTimings.skipped` with the exception, its time is NaN, and functions that need its
output are skipped with that reason.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import math
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from smc_agent.benchmarks.measure import median_seconds
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REFERENCE_FUNCTIONS", "ReferenceTimings", "time_reference_smc"]

#: The functions timed, in the order they run; ``swing_highs_lows`` feeds the next four.
REFERENCE_FUNCTIONS = (
    "swing_highs_lows",
    "fvg",
    "bos_choch",
    "ob",
    "liquidity",
    "retracements",
    "previous_high_low",
    "sessions",
)
_NEEDS_SWINGS = frozenset({"bos_choch", "ob", "liquidity", "retracements"})


class ReferenceTimings(dict[str, float]):
    """Median seconds per ``smartmoneyconcepts`` function, plus ``"total"``.

    A plain ``dict[str, float]`` for printing and arithmetic. A function that could not run keeps
    its key with the value NaN, and its reason is in :attr:`skipped`; ``"total"`` sums the
    functions that ran. :attr:`warnings` lists what each function warned, if anything.
    """

    def __init__(self) -> None:
        super().__init__()
        self.skipped: dict[str, str] = {}
        self.warnings: dict[str, list[str]] = {}


def _load_smc() -> Any:
    """Import ``smartmoneyconcepts.smc.smc`` without its import-time banner, or explain how to get it."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            module = importlib.import_module("smartmoneyconcepts.smc")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "smartmoneyconcepts":
            raise ConfigError(
                "timing the reference SMC library needs the 'smartmoneyconcepts' package, "
                "a development dependency; install it with: pip install 'smc-agent[dev]'"
            ) from exc
        raise
    return module.smc


@contextlib.contextmanager
def _quietly(caught: list[str]) -> Iterator[None]:
    """Discard stdout and record warnings (as ``"Category: message"``, once each) in ``caught``."""
    with warnings.catch_warnings(record=True) as records, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for record in records:
                text = f"{record.category.__name__}: {record.message}"
                if text not in caught:
                    caught.append(text)


def _ohlc_frame(candles: Candles) -> pd.DataFrame:
    """The frame the library expects: lower-case OHLCV columns on a *naive* UTC DatetimeIndex.

    Naive, because that is what the library's own tests use, ``sessions`` reads clock times as
    UTC by default, and ``previous_high_low`` calls ``DatetimeIndex.values``, which on a tz-aware
    index emits a ``Pandas4Warning`` under pandas 3.1 (the values are the same either way).
    """
    import pandas as pd

    ohlc = candles.to_pandas()
    ohlc.index = pd.DatetimeIndex(ohlc.index).tz_convert(None)
    return ohlc


def time_reference_smc(candles: Candles, *, repeats: int = 1) -> ReferenceTimings:
    """Time each ``smartmoneyconcepts`` function on ``candles``: median seconds over ``repeats``.

    Calls, with the parameters of the reference files where they overlap:
    ``swing_highs_lows(ohlc, swing_length=5)``, ``fvg(ohlc)``,
    ``bos_choch(ohlc, swings, close_break=True)``, ``ob(ohlc, swings)``, ``liquidity(ohlc, swings)``,
    ``retracements(ohlc, swings)``, ``previous_high_low(ohlc, time_frame="1D")`` and
    ``sessions(ohlc, session="London")``. Building the DataFrame is not timed, and neither is the
    one extra ``swing_highs_lows`` call whose result feeds the four functions that need swings.

    Raises :class:`ConfigError` when ``smartmoneyconcepts`` is not installed.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    smc = _load_smc()
    ohlc = _ohlc_frame(candles)
    calls: dict[str, Callable[[Any], Any]] = {
        "swing_highs_lows": lambda _: smc.swing_highs_lows(ohlc, swing_length=5),
        "fvg": lambda _: smc.fvg(ohlc),
        "bos_choch": lambda swings: smc.bos_choch(ohlc, swings, close_break=True),
        "ob": lambda swings: smc.ob(ohlc, swings),
        "liquidity": lambda swings: smc.liquidity(ohlc, swings),
        "retracements": lambda swings: smc.retracements(ohlc, swings),
        "previous_high_low": lambda _: smc.previous_high_low(ohlc, time_frame="1D"),
        # sessions() assigns to its frame's index; the decorator hands it a renamed copy, so
        # ``ohlc`` itself is not changed.
        "sessions": lambda _: smc.sessions(ohlc, session="London"),
    }
    timings = ReferenceTimings()
    swings: Any = None
    for name in REFERENCE_FUNCTIONS:
        if name in _NEEDS_SWINGS and swings is None:
            timings[name] = math.nan
            timings.skipped[name] = f"needs swing_highs_lows, which failed: {timings.skipped['swing_highs_lows']}"
            continue
        caught: list[str] = []
        call = functools.partial(calls[name], swings)
        try:
            with _quietly(caught):
                timings[name] = median_seconds(call, repeats)
                if name == "swing_highs_lows":
                    swings = call()  # the input of the next four; one extra, untimed run
        except Exception as exc:  # a break in the library is a finding to report, not a crash
            timings[name] = math.nan
            timings.skipped[name] = f"{type(exc).__name__}: {exc}"
        if caught:
            timings.warnings[name] = caught
    timings["total"] = math.fsum(v for v in timings.values() if not math.isnan(v))
    return timings
