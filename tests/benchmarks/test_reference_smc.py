"""The reference-library timing harness: every function is timed or skipped with a reason, quietly."""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from smc_agent.benchmarks.reference_smc import REFERENCE_FUNCTIONS, ReferenceTimings, time_reference_smc
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles

# A dev dependency: `make test` installs it, so its absence is an error here, not a skip.
with contextlib.redirect_stdout(io.StringIO()):  # its import prints a banner
    smc_module = importlib.import_module("smartmoneyconcepts.smc")  # the module: the package's `smc` is a class


@pytest.fixture(scope="module")
def eurusd(shared_data_path: Callable[[str], Path]) -> Candles:
    """The first 2,000 real EURUSD 15m candles (MT5 export)."""
    return load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))[:2000]


def _wave(n: int = 300) -> Candles:
    """A hand-built zig-zag series, enough for the harness mechanics (not for detector results)."""
    mid = 1.1 + 0.01 * np.sin(np.arange(n) / 7.0)
    open_ = np.roll(mid, 1)
    open_[0] = mid[0]
    return Candles.from_arrays(
        np.arange(n, dtype=np.int64) * 900_000,
        open_,
        np.maximum(open_, mid) + 0.0005,
        np.minimum(open_, mid) - 0.0005,
        mid,
        np.full(n, 100.0),
        timeframe="15m",
    )


def _assert_complete(timings: ReferenceTimings) -> None:
    assert list(timings) == [*REFERENCE_FUNCTIONS, "total"]
    for name in REFERENCE_FUNCTIONS:
        seconds = timings[name]
        if name in timings.skipped:
            assert math.isnan(seconds)
            assert timings.skipped[name]
        else:
            assert seconds > 0.0
    ran = [timings[n] for n in REFERENCE_FUNCTIONS if n not in timings.skipped]
    assert timings["total"] == pytest.approx(math.fsum(ran))


@pytest.mark.shared_data
def test_times_every_function_on_real_candles(
    eurusd: Candles, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Force a fresh import so that the package's import-time banner would be printed if not caught.
    for name in ("smartmoneyconcepts", "smartmoneyconcepts.smc"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    timings = time_reference_smc(eurusd, repeats=2)
    _assert_complete(timings)
    # On numpy 2 / pandas 3 every function runs; report rather than hide it if that changes.
    assert timings.skipped == {}, timings.skipped
    assert capsys.readouterr().out == ""
    print({name: round(seconds, 4) for name, seconds in timings.items()})


def test_a_breaking_function_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("gone in pandas 9")

    monkeypatch.setattr(smc_module.smc, "fvg", broken)
    timings = time_reference_smc(_wave())
    _assert_complete(timings)
    assert timings.skipped == {"fvg": "KeyError: 'gone in pandas 9'"}


def test_dependants_are_skipped_when_swings_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("no swings")

    monkeypatch.setattr(smc_module.smc, "swing_highs_lows", broken)
    timings = time_reference_smc(_wave())
    _assert_complete(timings)
    assert set(timings.skipped) == {"swing_highs_lows", "bos_choch", "ob", "liquidity", "retracements"}
    assert "ValueError: no swings" in timings.skipped["ob"]
    assert timings["fvg"] > 0.0


def test_prints_and_warnings_are_contained(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    original = smc_module.smc.fvg

    def chatty(ohlc: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        print("hello from fvg")
        warnings.warn("fvg will change", FutureWarning, stacklevel=2)
        return original(ohlc, *args, **kwargs)

    monkeypatch.setattr(smc_module.smc, "fvg", chatty)
    # pytest turns warnings into errors; the harness must record this one, not raise it.
    timings = time_reference_smc(_wave(), repeats=3)
    _assert_complete(timings)
    assert timings.skipped == {}
    assert timings.warnings == {"fvg": ["FutureWarning: fvg will change"]}
    assert capsys.readouterr().out == ""


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "smartmoneyconcepts", None)
    monkeypatch.setitem(sys.modules, "smartmoneyconcepts.smc", None)
    with pytest.raises(ConfigError, match=r"pip install 'smc-agent\[dev\]'"):
        time_reference_smc(_wave())


def test_repeats_must_be_positive() -> None:
    with pytest.raises(ValueError, match="repeats"):
        time_reference_smc(_wave(), repeats=0)
