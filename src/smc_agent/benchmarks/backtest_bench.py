"""``smc-agent bench backtest``: the full SMC strategy at scale, and the engine against backtesting.py.

Input: the real BTC-PERP 1m file mirror-tiled to N candles (default 1,000,000). Two measurements, each
in a fresh process (so memory is its own):

* ``smc_seconds``: the SMC strategy (every detector on 1m plus 1h, 4h and 1d, bias, setups, signals,
  risk gate, venue, portfolio) over all N candles, and that process's peak RSS;
* ``ratio_vs_backtesting_py``: the same SMA-cross (10/30, reverse on every cross, a stop 2% away and a
  target at 6%) run by our event-driven kernel and by backtesting.py on the same candles: our seconds /
  its seconds. Both trade every cross: ours with the trade-count, cooldown and loss limits lifted and
  0.1% risk per trade (so the account never shrinks below a lot), backtesting.py with a fixed size of
  one unit (its default, all the cash, leaves half the reversals unfilled for want of margin). The two
  trade counts are printed; they differ by the few crosses where the averages tie (backtesting.py's
  ``crossover`` needs a strict cross) or differ in the last float bit (ours are running sums).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from smc_agent.benchmarks.measure import call_in_subprocess, peak_rss_mb
from smc_agent.core.errors import DataError
from smc_agent.data.loaders import load_candles
from smc_agent.data.npz import load_saved, save_candles
from smc_agent.data.shared import shared_data_dir
from smc_agent.data.tiling import mirror_tile

__all__ = ["backtest_benchmark"]

SOURCE = "crypto/BTC-PERP_1m_2022-01.csv"


def backtest_benchmark(candles: int = 1_000_000, *, source: Path | None = None, repeats: int = 3) -> dict[str, Any]:
    """The figures; the SMA comparison runs ``repeats`` times per engine, alternating, and reports medians.

    Alternating keeps a slow spell of a shared machine from landing on one engine only.
    """
    path = source or shared_data_dir() / SOURCE
    if not path.exists():
        raise DataError("benchmark source data not found; pass --data FILE or set SMC_SHARED_DATA", path=str(path))
    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / "candles.npz"
        save_candles(mirror_tile(load_candles(path), candles), saved)
        smc = call_in_subprocess(_smc, str(saved))
        ours: list[dict[str, Any]] = []
        theirs: list[dict[str, Any]] = []
        for _ in range(repeats):
            ours.append(call_in_subprocess(_sma_ours, str(saved)))
            theirs.append(call_in_subprocess(_sma_backtesting_py, str(saved)))
    sma_seconds = [run["seconds"] for run in ours]
    reference_seconds = [run["seconds"] for run in theirs]
    return {
        "source": str(path),
        "candles": candles,
        **smc,
        "sma_seconds": statistics.median(sma_seconds),
        "sma_seconds_runs": sma_seconds,
        "sma_trades": ours[0]["trades"],
        "backtesting_py_seconds": statistics.median(reference_seconds),
        "backtesting_py_seconds_runs": reference_seconds,
        "backtesting_py_trades": theirs[0]["trades"],
        "ratio_vs_backtesting_py": statistics.median(sma_seconds) / statistics.median(reference_seconds),
    }


def _smc(path: str) -> dict[str, Any]:
    from smc_agent.backtest.runner import make_strategy, run_backtest
    from smc_agent.service import default_htfs

    candles = load_saved(path)
    run_backtest(candles[:3000], make_strategy("smc", candles[:3000], default_htfs(candles.timeframe)))  # warm-up
    started = time.perf_counter()
    result = run_backtest(candles, make_strategy("smc", candles, default_htfs(candles.timeframe)))
    return {
        "smc_seconds": time.perf_counter() - started,
        "smc_trades": len(result.trades),
        "peak_rss_mb": peak_rss_mb(),
    }


def _sma_ours(path: str) -> dict[str, Any]:
    from smc_agent.backtest.runner import run_backtest
    from smc_agent.config.engine import EngineSettings
    from smc_agent.engine.risk_config import RiskConfig
    from smc_agent.strategy.sma_cross import SmaCross

    candles = load_saved(path)
    unlimited = RiskConfig(
        risk_per_trade=Decimal("0.001"), max_trades_per_day=10**9, loss_cooldown_minutes=0,
        max_total_exposure=Decimal(10**9), max_drawdown=Decimal("0.99"), daily_loss_limit=Decimal("0.99"),
    )  # fmt: skip
    settings = EngineSettings(risk=unlimited)
    started = time.perf_counter()
    result = run_backtest(candles, SmaCross(candles.symbol), settings)
    return {"seconds": time.perf_counter() - started, "trades": len(result.trades)}


def _sma_backtesting_py(path: str) -> dict[str, Any]:
    import warnings

    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def sma(values: Any, n: int) -> Any:
        return pd.Series(values).rolling(n).mean().to_numpy()

    class SmaCross(Strategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, 10)
            self.slow = self.I(sma, self.data.Close, 30)

        def next(self) -> None:
            price = self.data.Close[-1]
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=1, sl=price * 0.98, tp=price * 1.06)
            elif crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=1, sl=price * 1.02, tp=price * 0.94)

    frame = load_saved(path).to_pandas().rename(columns=str.title)
    frame.index = pd.DatetimeIndex(frame.index).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its progress and bokeh notices are not ours to fix
        started = time.perf_counter()
        stats = Backtest(frame, SmaCross, cash=1e12, commission=0.0005, finalize_trades=True).run()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "trades": int(stats["# Trades"])}
