"""Candles stored exactly and loaded back by range, pruning, the audit log, backtest runs, masked URLs."""

from __future__ import annotations

import numpy as np
import pytest

from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.store import Store, masked

MINUTE = 60_000


def _candles(start: int, count: int) -> Candles:
    times = np.arange(start, start + count) * MINUTE
    close = 30_000.0 + np.arange(count) * 0.1 + 1 / 3  # floats with many digits
    return Candles.from_arrays(times, close - 1, close + 2, close - 3, close, np.full(count, 0.125),
                               symbol="BTC/USDT", timeframe="1m")  # fmt: skip


def test_candles_round_trip_exactly_and_load_by_range(store: Store) -> None:
    candles = _candles(0, 50)
    assert store.save_candles("binance", candles) == 50
    loaded = store.load_candles("binance", "BTC/USDT", "1m")
    assert (loaded.symbol, loaded.timeframe, len(loaded)) == ("BTC/USDT", "1m", 50)
    assert loaded.time.tolist() == candles.time.tolist()
    for ours, theirs in zip(loaded.columns, candles.columns, strict=True):
        assert ours.tolist() == theirs.tolist()  # exact: the text reads back as the same float
    window = store.load_candles("binance", "BTC/USDT", "1m", start_ms=10 * MINUTE, end_ms=19 * MINUTE)
    assert window.time.tolist() == [m * MINUTE for m in range(10, 20)]
    assert len(store.load_candles("kraken", "BTC/USDT", "1m")) == 0


def test_saving_again_replaces_by_key(store: Store) -> None:
    store.save_candles("binance", _candles(0, 10))
    changed = _candles(5, 10)  # overlaps 5..9, adds 10..14
    store.save_candles("binance", changed)
    loaded = store.load_candles("binance", "BTC/USDT", "1m")
    assert len(loaded) == 15
    assert loaded.close[5] == changed.close[0]
    assert store.row_counts()["candles"] == 15


def test_prune_deletes_only_older_candles(store: Store) -> None:
    store.save_candles("binance", _candles(0, 30))
    assert store.prune_candles(20 * MINUTE) == 20
    assert store.load_candles("binance", "BTC/USDT", "1m").time.tolist() == [m * MINUTE for m in range(20, 30)]


def test_candles_need_their_symbol_and_timeframe(store: Store) -> None:
    with pytest.raises(ConfigError, match="need their symbol and timeframe"):
        store.save_candles("binance", _candles(0, 3).with_meta(symbol=""))


def test_audit_and_backtest_runs(store: Store) -> None:
    store.audit("run", {"session": "s-1", "resumed": False})
    store.audit("db prune", {"older_than": "90d"}, actor="operator")
    entries = store.audit_entries()
    assert [(e["action"], e["actor"], e["detail"]) for e in entries] == [
        ("run", "cli", {"session": "s-1", "resumed": False}),
        ("db prune", "operator", {"older_than": "90d"}),
    ]
    run = store.record_backtest({"strategy": "smc"}, "sha256:ab", {"trades": 3, "net": "12.5"}, {"html": "r.html"})
    assert run.startswith("bt-")
    assert store.row_counts()["backtest_runs"] == 1


def test_masked_urls_hide_the_password() -> None:
    assert masked("postgresql+psycopg://u:p%40ss@h:5432/d") == "postgresql+psycopg://u:***@h:5432/d"
    assert masked("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
