"""demo_data_path: finds the EURUSD file in the installed backtesting wheel, or says how to get it."""

from __future__ import annotations

import importlib.util
from importlib.machinery import ModuleSpec
from pathlib import Path

import pandas as pd
import pytest

from smc_agent.core.errors import DataError
from smc_agent.data import demo
from smc_agent.data.demo import DEMO_SYMBOL, DEMO_TIMEFRAME, demo_data_path

needs_backtesting = pytest.mark.skipif(
    importlib.util.find_spec("backtesting") is None,
    reason="the optional 'backtesting' package (pip install 'smc-agent[demo]') is not installed",
)


@needs_backtesting
def test_path_is_inside_the_installed_package() -> None:
    path = demo_data_path()
    spec = importlib.util.find_spec("backtesting")
    assert spec is not None
    assert spec.submodule_search_locations
    assert path == Path(spec.submodule_search_locations[0]) / "test" / "EURUSD.csv"
    assert path.is_file()


@needs_backtesting
def test_file_is_what_the_docstring_says() -> None:
    path = demo_data_path()
    with path.open() as fh:
        assert fh.readline().strip() == ",Open,High,Low,Close,Volume"
    frame = pd.read_csv(path, index_col=0, parse_dates=True)
    assert len(frame) == 5000
    assert str(frame.index[0]) == "2017-04-19 09:00:00"
    assert str(frame.index[-1]) == "2018-02-07 15:00:00"
    assert frame.index.is_monotonic_increasing
    steps = frame.index.to_series().diff().value_counts()
    assert steps.index[0] == pd.Timedelta(DEMO_TIMEFRAME)
    assert not frame.isna().any().any()
    assert (frame["High"] >= frame[["Open", "Close"]].max(axis=1)).all()
    assert (frame["Low"] <= frame[["Open", "Close"]].min(axis=1)).all()
    assert DEMO_SYMBOL == "EURUSD"


def test_missing_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DataError, match=r"pip install 'smc-agent\[demo\]'"):
        demo_data_path()


def test_missing_file_names_the_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    spec = ModuleSpec("backtesting", loader=None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    monkeypatch.setattr(demo.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(DataError) as info:
        demo_data_path()
    assert info.value.path == str(tmp_path / "test" / "EURUSD.csv")
    assert "smc-agent[demo]" in str(info.value)
