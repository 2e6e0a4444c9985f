"""``smc-agent backtest --data A --data B``: several symbols in one account, from the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.cli import app


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["backtest", "--strategy", "sma_cross", *args])
    return result.exit_code, result.stdout, result.stderr


def test_two_files_trade_one_account_with_metrics_per_symbol(shared_data_path: Callable[[str], Path]) -> None:
    ada, dash = (str(shared_data_path(f"crypto/{a}_BTC-5m.feather")) for a in ("ADA", "DASH"))
    code, out, err = _run("--data", ada, "--data", dash, "--to", "2018-01-20", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert sorted(document["by_symbol"]) == ["ADA/BTC", "DASH/BTC"]
    assert {t["symbol"] for t in document["trades"]} == {"ADA/BTC", "DASH/BTC"}
    per = {s: m["trades"] for s, m in document["by_symbol"].items()}
    assert sum(per.values()) == document["metrics"]["trades"] == len(document["trades"])
    assert document["baseline"] is None, "random entries mirror one market at a time"
    assert document["monte_carlo"]["runs"] == 1000
    code, single, err = _run("--data", ada, "--to", "2018-01-20", "--json", "--baseline-seeds", "3")
    assert code == 0, err
    alone = json.loads(single)
    assert "by_symbol" not in alone  # one file: the documented shape
    assert set(alone) == {"metrics", "costs", "trades", "equity", "baseline", "monte_carlo"}
    assert alone["baseline"]["seeds"] == 3
    assert alone["baseline"]["strategy_trades"] == alone["metrics"]["trades"]
    # An altcoin/BTC pair is crypto spot, by its name.
    spot = "crypto_spot: maker 10 bps, taker 10 bps of the notional"
    assert alone["costs"]["ADA/BTC"] == {"type": "crypto_spot", "origin": "symbol name", "model": spot}


def test_the_same_market_twice_is_refused_naming_both_files(shared_data_path: Callable[[str], Path]) -> None:
    ada = str(shared_data_path("crypto/ADA_BTC-5m.feather"))
    code, _, err = _run("--data", ada, "--data", ada)
    assert code == 2
    assert err.count("ADA_BTC-5m.feather") == 2
    assert "are both ADA/BTC" in err
