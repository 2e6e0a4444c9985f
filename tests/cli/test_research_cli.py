"""``smc-agent research edge`` on real files: the table, the Markdown and JSON reports, and its errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from smc_agent.cli import app

EURUSD = "forex/EURUSD_15m_mt5.csv"
ETH = "crypto/ETH_BTC-5m.feather"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["research", "edge", *args])
    return result.exit_code, result.stdout, result.stderr


def test_two_markets_give_a_row_each_and_corrected_p_values(
    shared_data_path: Callable[[str], Path], tmp_path: Path
) -> None:
    eurusd, eth = str(shared_data_path(EURUSD)), str(shared_data_path(ETH))
    md, js = tmp_path / "edge.md", tmp_path / "edge.json"
    code, out, err = _run("--data", eurusd, "--data", eth, "--baseline-seeds", "4", "--markdown", str(md),
                          "--json", str(js))  # fmt: skip
    assert code == 0, err
    assert "EURUSD_15m_mt5.csv" in out
    assert "ETH_BTC-5m.feather" in out
    assert "Is the edge real?" in out
    document = json.loads(js.read_text(encoding="utf-8"))
    assert (document["horizon"], document["bias_every"], document["baseline_seeds"]) == (16, 16, 4)
    assert document["correction"] == "holm"
    assert document["walk_forward"] is None
    markets = {m["name"]: m for m in document["markets"]}
    assert list(markets) == ["EURUSD_15m_mt5.csv", "ETH_BTC-5m.feather"]
    eu = markets["EURUSD_15m_mt5.csv"]
    assert (eu["symbol"], eu["timeframe"], eu["candles"]) == ("EURUSD", "15m", 24_424)
    assert eu["trades_per_month"] == eu["trades"] / eu["months"]
    bias = eu["bias"]
    assert bias["bullish"] + bias["bearish"] > 100, "a year of 15m candles read every 16"
    assert 0 <= bias["hits"] <= bias["bullish"] + bias["bearish"]
    p_values = [m["bias"]["p_value"] for m in markets.values() if m["bias"]["p_value"] is not None]
    for market in markets.values():
        if market["bias"]["p_value"] is not None:
            # Holm with this many tests: at least the raw value, at most the raw value times their count.
            assert market["bias"]["p_value"] <= market["bias"]["p_holm"] <= min(1.0, market["bias"]["p_value"] *
                                                                                  len(p_values))  # fmt: skip
        if market["trades"] == 0:
            assert market["baseline"] is None
            assert market["baseline_skipped"] == "no closed trades to mirror"
        else:
            assert market["baseline"]["seeds"] == 4
    page = md.read_text(encoding="utf-8")
    assert page.startswith("# Is the edge real? (smc)")
    assert "| market | trades | /month |" in page
    assert page.count("\n| ") == 3, "the header and one row per market"


def test_walk_forward_reports_the_out_of_sample_span(shared_data_path: Callable[[str], Path], tmp_path: Path) -> None:
    js = tmp_path / "wf.json"
    args = ["--data", str(shared_data_path(EURUSD)), "--walk-forward", "--train", "60d", "--test", "30d"]
    code, out, err = _run(*args, "--baseline-seeds", "2", "--json", str(js))
    assert code == 0, err
    assert "out of sample (train 60d, test 30d)" in out
    (market,) = json.loads(js.read_text(encoding="utf-8"))["markets"]
    assert market["from"] == "2022-12-09T00:00:00Z", "the first test window starts after 60 days of training"
    assert market["candles"] < 24_424


def test_bad_options_are_one_line_errors(shared_data_path: Callable[[str], Path], tmp_path: Path) -> None:
    eurusd = str(shared_data_path(EURUSD))
    code, _, err = _run("--data", eurusd, "--train", "60d")
    assert code == 2
    assert "only apply with --walk-forward" in err
    code, _, err = _run("--data", eurusd, "--grid", "min_rr=2,3")
    assert code == 2
    assert "--grid only applies with --walk-forward" in err
    code, _, err = _run("--data", eurusd, "--walk-forward", "--train", "60d")
    assert code == 2
    assert "needs --train and --test" in err
    code, _, err = _run("--data", eurusd, "--data", eurusd)
    assert code == 2
    assert "given twice" in err
    code, _, err = _run("--data", eurusd, "--baseline-seeds", "0", "--markdown", str(tmp_path / "no" / "x.md"))
    assert code == 2
    assert "cannot write the Markdown report" in err
    assert "Traceback" not in err
