"""Walk-forward: windows, the choice on each train window, and the stitched out-of-sample account."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from optimize_support import btc_head

from smc_agent.backtest.executors import ProcessExecutor
from smc_agent.backtest.grid import StrategySpec, parse_grid
from smc_agent.backtest.metrics import Metrics, compute_metrics
from smc_agent.backtest.optimize import RunOutcome, objective_score
from smc_agent.backtest.runner import run_backtest
from smc_agent.backtest.trades import EquityPoint, Trade
from smc_agent.backtest.walkforward import (
    WalkForwardResult,
    make_windows,
    stitch,
    walk_forward,
    walk_forward_json,
    windows_by_count,
    windows_by_time,
)
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.model.enums import Side

GRID = "fast=5,10;slow=20,40"
HOUR = 3_600_000


@pytest.fixture(scope="module")
def btc_candles(shared_data_path: Callable[[str], Path]) -> Candles:
    return btc_head(shared_data_path)


@pytest.fixture(scope="module")
def process_executor() -> Iterator[ProcessExecutor]:
    with ProcessExecutor(2) as executor:
        yield executor


def test_windows_by_count_roll_by_the_test_length() -> None:
    windows = windows_by_count(5_000, 1_500, 1_000)
    assert [(w.train_start, w.train_stop, w.test_start, w.test_stop) for w in windows] == [
        (0, 1500, 1500, 2500), (1000, 2500, 2500, 3500), (2000, 3500, 3500, 4500),
    ]  # fmt: skip
    assert [w.index for w in windows] == [0, 1, 2]
    assert windows_by_count(2_400, 1_500, 1_000) == []  # the tail shorter than a test window is left out
    with pytest.raises(ConfigError, match="at least two candles"):
        windows_by_count(100, 1, 10)


def test_windows_by_time_follow_the_clock_and_skip_empty_parts() -> None:
    # hourly candles with a gap: hours 0-9, then 20-39
    times = np.array([h * HOUR for h in [*range(10), *range(20, 40)]], dtype=np.int64)
    windows = windows_by_time(times, HOUR, 8 * HOUR, 4 * HOUR)
    spans = [(int(times[w.train_start]) // HOUR, int(times[w.test_start]) // HOUR, w.test_stop - w.test_start)
             for w in windows]  # fmt: skip
    # windows start at hours 0, 4, 8, ...; those with < 2 candles in train or test are skipped, and after
    # the gap testing resumes only once a whole train window of candles has passed again
    assert spans == [(0, 8, 2), (20, 24, 4), (20, 28, 4), (24, 32, 4), (28, 36, 4)]
    assert [w.index for w in windows] == list(range(len(windows)))
    assert windows[1].test_start > windows[0].test_stop  # hours 20-23 are only ever trained on
    for before, after in itertools.pairwise(windows[1:]):
        assert after.test_start == before.test_stop  # no candle is tested twice or skipped between tests


def test_make_windows_reads_counts_and_durations(btc_candles: Candles) -> None:
    by_count = make_windows(btc_candles, "1500", 1000)
    assert len(by_count) == 3
    by_time = make_windows(btc_candles, "1d", "12h")
    assert all(w.test_stop - w.test_start == 720 for w in by_time)  # 12 hours of 1m candles, no gaps here
    assert by_time[0].train_stop - by_time[0].train_start == 1_440
    for bad, key, words in [
        (("1d", "100"), "test", "both as candle counts or both as durations"),
        (("a week", "1d"), "train", "neither a candle count nor a duration"),
        (("4000", "2000"), "train", "hold no window"),
    ]:
        with pytest.raises(ConfigError, match=words) as caught:
            make_windows(btc_candles, *bad)
        assert caught.value.key == key


def test_stitching_chains_the_windows_exactly() -> None:
    def outcome(k: int, end: str, pnl: str) -> RunOutcome:
        # each window's curve opens at the balance at the instant the previous window closed
        points = (EquityPoint(10 * k, Decimal(100)), EquityPoint(10 * k + 10, Decimal(end), Decimal(end) * 2))
        trade = Trade("t1", "X", Side.BUY, "s", "none", 0, 1, Decimal(100), Decimal(101), Decimal(2),
                      risk=Decimal(4), pnl=Decimal(pnl), fees=Decimal("0.5"), r_multiple=Decimal(pnl) / 4)  # fmt: skip
        return RunOutcome({}, 0, 0, _metrics(), points, (trade,))

    equity, trades, scales = stitch(
        [outcome(0, "110", "10"), outcome(1, "90", "-10"), outcome(2, "120", "20")], Decimal(100)
    )
    assert [(p.time_ms, p.equity) for p in equity] == [(0, 100), (10, 110), (20, 99), (30, Decimal("118.8"))]
    assert [p.exposure for p in equity] == [0, 220, 198, Decimal("237.6")]
    assert scales == [1, Decimal("1.1"), Decimal("0.99")]
    assert [t.id for t in trades] == ["w0:t1", "w1:t1", "w2:t1"]
    assert [t.pnl for t in trades] == [10, -11, Decimal("19.8")]
    assert [t.fees for t in trades] == [Decimal("0.5"), Decimal("0.55"), Decimal("0.495")]
    assert [t.quantity for t in trades] == [2, Decimal("2.2"), Decimal("1.98")]
    assert [t.r_multiple for t in trades] == [Decimal("2.5"), Decimal("-2.5"), Decimal(5)]  # R does not scale


@pytest.fixture(scope="module")
def sma_walk(btc_candles: Candles) -> WalkForwardResult:
    spec = StrategySpec("sma_cross", btc_candles.symbol, btc_candles.timeframe)
    return walk_forward(btc_candles, spec, parse_grid(GRID), train=1_500, test=1_000)


def test_test_windows_are_contiguous_and_follow_their_train_windows(sma_walk: WalkForwardResult) -> None:
    windows = [r.window for r in sma_walk.windows]
    assert len(windows) == 3
    for w in windows:
        assert w.train_stop == w.test_start
    for before, after in itertools.pairwise(windows):
        assert after.test_start == before.test_stop
    assert sma_walk.runs == 3 * (4 + 1)


@pytest.mark.parametrize("objective", ["net_profit_pct", "expectancy_r", "sharpe", "profit_factor"])
def test_each_window_tests_the_best_of_its_train_window(btc_candles: Candles, objective: str) -> None:
    """Each window's choice is the best of the combinations backtested on its train window, each warmed up
    on every candle before that window (a plain run_backtest with trade_from, outside the walk-forward)."""
    spec = StrategySpec("sma_cross", btc_candles.symbol, btc_candles.timeframe)
    result = walk_forward(btc_candles, spec, parse_grid(GRID), train=1_500, test=1_000, objective=objective)
    combinations = [dict(zip(("fast", "slow"), values, strict=True)) for values in itertools.product((5, 10), (20, 40))]
    for chosen in result.windows:
        w = chosen.window
        runs = []
        for params in combinations:
            strategy, settings = spec.build(params)
            trade_from = int(btc_candles.time[w.train_start])
            metrics = run_backtest(btc_candles[: w.train_stop], strategy, settings, trade_from=trade_from).metrics
            runs.append((objective_score(metrics, objective), params, metrics))
        best = max(score for score, _, _ in runs)
        assert chosen.train_score == best
        first_best = next((params, metrics) for score, params, metrics in runs if score == best)  # ties: grid order
        assert (chosen.params, chosen.train_metrics) == first_best
        assert chosen.train_score == objective_score(chosen.train_metrics, objective)
    assert result.windows[0].window.train_start == 0  # ... and the later windows did warm up (train_start > 0)
    assert result.windows[-1].window.train_start > 0


def test_stitched_equity_is_continuous_and_compounds(sma_walk: WalkForwardResult, btc_candles: Candles) -> None:
    balance = Decimal(10_000)
    times = np.array([p.time_ms for p in sma_walk.equity])
    assert np.all(np.diff(times) > 0)  # one curve, each instant once
    first, last = sma_walk.windows[0].window, sma_walk.windows[-1].window
    assert times[0] <= btc_candles.time[first.test_start] + 60_000  # from the first test candle ...
    assert times[-1] == btc_candles.time[last.test_stop - 1] + 60_000  # ... to the close of the last one
    level = product = balance
    for result in sma_walk.windows:
        w = result.window
        opened, closed = int(btc_candles.time[w.test_start]), int(btc_candles.time[w.test_stop - 1]) + 60_000
        inside = (times > opened) & (times <= closed)
        segment = [p for p, keep in zip(sma_walk.equity, inside, strict=True) if keep]
        assert len(segment) == w.test_stop - w.test_start  # a point at every test candle's close
        assert segment[0].equity == level  # each window starts where the previous one ended
        assert result.scale == level / balance
        window_end = balance + result.test_metrics.net_profit  # the window's own account at its end
        assert segment[-1].equity == window_end * result.scale
        level = segment[-1].equity
        product *= window_end / balance
    final = sma_walk.equity[-1].equity
    assert final == pytest.approx(product, rel=Decimal("1e-20"))
    assert sma_walk.metrics.net_profit == final - balance
    assert sma_walk.metrics.trades == sum(r.test_metrics.trades for r in sma_walk.windows) > 0
    per_window = [sum(t.id.startswith(f"w{k}:") for t in sma_walk.trades) for k in range(len(sma_walk.windows))]
    assert per_window == [r.test_metrics.trades for r in sma_walk.windows]
    expected = compute_metrics(sma_walk.trades, sma_walk.equity, initial_balance=balance,
                               prices_first=Decimal(str(btc_candles.open[1500])),
                               prices_last=Decimal(str(btc_candles.close[4499])))  # fmt: skip
    assert sma_walk.metrics == expected


def test_a_process_pool_walks_forward_like_serial(
    sma_walk: WalkForwardResult, btc_candles: Candles, process_executor: ProcessExecutor
) -> None:
    spec = StrategySpec("sma_cross", btc_candles.symbol, btc_candles.timeframe)
    seen: list[tuple[int, int]] = []
    pooled = walk_forward(
        btc_candles, spec, parse_grid(GRID), train=1_500, test=1_000, executor=process_executor,
        progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert pooled == sma_walk
    assert seen == [(n, 15) for n in range(16)]  # the size first, then 12 train runs and 3 test runs


def test_walk_forward_json_is_plain_json(sma_walk: WalkForwardResult, btc_candles: Candles) -> None:
    document = json.loads(json.dumps(walk_forward_json(sma_walk, btc_candles)))
    assert set(document) == {"strategy", "objective", "windows", "metrics", "trades", "equity", "skipped"}
    first = document["windows"][0]
    assert first["train"] == {"from": "2021-12-31T23:01:00Z", "to": "2022-01-02T00:01:00Z", "candles": 1500}
    assert first["test"]["from"] == first["train"]["to"]
    assert first["params"] == sma_walk.windows[0].params
    assert first["scale"] == "1"
    assert len(document["equity"]) == len(sma_walk.equity)
    assert document["equity"][-1] == ["2022-01-04T02:01:00Z", str(sma_walk.equity[-1].equity)]
    assert document["metrics"]["trades"] == len(document["trades"])


def test_smc_walks_forward_on_its_own_parameters(btc_candles: Candles) -> None:
    spec = StrategySpec("smc", btc_candles.symbol, btc_candles.timeframe, ("15m", "1h"))
    result = walk_forward(btc_candles[:3_000], spec, parse_grid("min_rr=1.5,2"), train=1_500, test=1_000)
    assert len(result.windows) == 1
    assert result.windows[0].params in ({"min_rr": 1.5}, {"min_rr": 2})
    assert result.equity[0].equity == Decimal(10_000)


def _metrics() -> Metrics:
    return compute_metrics([], [], initial_balance=Decimal(1), prices_first=1, prices_last=1)
