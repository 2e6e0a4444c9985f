"""``smc-agent optimize``: a tiny grid end to end, in-process, on a process pool and on a local Dask cluster."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from optimize_support import local_cluster
from typer.testing import CliRunner

from smc_agent.cli import app

GRID = "fast=5,10;slow=20,40"


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    with local_cluster() as address:
        yield address


@pytest.fixture(scope="module")
def small_file(shared_data_path: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 3,000 BTC-PERP 1m candles as their own CSV (the name keeps the symbol)."""
    source = shared_data_path("crypto/BTC-PERP_1m_2022-01.csv")
    path = tmp_path_factory.mktemp("optimize") / source.name
    with source.open(encoding="utf-8") as handle:
        path.write_text("".join(line for _, line in zip(range(3_001), handle, strict=False)), encoding="utf-8")
    return path


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["optimize", *args])
    return result.exit_code, result.stdout, result.stderr


def _json(small_file: Path, *args: str) -> dict[str, Any]:
    code, out, err = _run("--data", str(small_file), "--strategy", "sma_cross", "--grid", GRID, "--json", *args)
    assert code == 0, err
    document: dict[str, Any] = json.loads(out)
    return document


def test_a_grid_is_ranked_in_json(small_file: Path) -> None:
    document = _json(small_file, "--workers", "1")
    assert document["strategy"] == "sma_cross"
    assert document["objective"] == "net_profit_pct"
    runs = document["runs"]
    assert sorted((run["params"]["fast"], run["params"]["slow"]) for run in runs) == [
        (5, 20),
        (5, 40),
        (10, 20),
        (10, 40),
    ]
    scores = [run["score"] for run in runs]
    assert scores == sorted(scores, reverse=True)
    assert document["best"] == runs[0]
    assert runs[0]["score"] == runs[0]["metrics"]["net_profit_pct"]
    assert document["skipped"] == []


def test_walk_forward_on_a_dask_cluster_matches_in_process(small_file: Path, dask_address: str) -> None:
    args = ("--walk-forward", "--train", "1000", "--test", "500", "--objective", "expectancy_r")
    local = _json(small_file, *args, "--workers", "1")
    on_dask = _json(small_file, *args, "--dask-scheduler", dask_address)
    assert on_dask == local
    assert len(local["windows"]) == 4
    assert local["objective"] == "expectancy_r"
    assert local["equity"][-1][0] == local["windows"][-1]["test"]["to"]
    assert [w["test"]["candles"] for w in local["windows"]] == [500] * 4


def test_the_tables_for_a_person(small_file: Path) -> None:
    code, out, err = _run("--data", str(small_file), "--strategy", "sma_cross", "--grid", "fast=5,30;slow=20,40",
                          "--workers", "2")  # fmt: skip
    assert code == 0, err
    assert "sma_cross: 3 runs by net_profit_pct" in out
    assert "1 combinations skipped" in out
    code, out, err = _run("--data", str(small_file), "--strategy", "sma_cross", "--grid", GRID, "--workers", "1",
                          "--walk-forward", "--train", "1000", "--test", "1000")  # fmt: skip
    assert code == 0, err
    assert "walk-forward by net_profit_pct" in out
    assert "Out of sample" in out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--grid", "fast"), "option --grid: 'fast' is not name=values"),
        (("--grid", "fast=5;slwo=20"), "key slwo: unknown parameter for strategy sma_cross"),
        (("--grid", "fast=a"), "key fast: 'a' is not a number"),
        (("--grid", GRID, "--objective", "cagr"), "unknown objective 'cagr'"),
        (("--grid", GRID, "--walk-forward"), "--walk-forward needs --train and --test"),
        (("--grid", GRID, "--train", "100", "--test", "50"), "only apply with --walk-forward"),
        (("--grid", GRID, "--walk-forward", "--train", "1d", "--test", "100"), "both as candle counts"),
        (("--grid", GRID, "--workers", "0"), "option --workers: must be at least 1"),
        (("--grid", GRID, "--workers", "2", "--dask-scheduler", "tcp://127.0.0.1:1"), "not both"),
        (("--grid", GRID, "--dask-scheduler", "tcp://127.0.0.1:1"), "cannot reach the Dask scheduler"),
    ],
)
def test_mistakes_exit_2_with_a_clear_message(small_file: Path, args: tuple[str, ...], words: str) -> None:
    code, out, err = _run("--data", str(small_file), "--strategy", "sma_cross", *args)
    assert code == 2
    assert words in " ".join(err.split())
    assert out == ""


@pytest.mark.parametrize("args", [["backtest"], ["optimize", "--grid", "fast=5"]], ids=["backtest", "optimize"])
def test_an_unknown_strategy_is_refused_before_any_work(args: list[str]) -> None:
    result = CliRunner().invoke(app, [*args, "--demo", "--strategy", "smcc"])
    assert result.exit_code == 2
    message = " ".join(result.stderr.replace("│", " ").split())  # unwrapped from Rich's error box
    assert "'--strategy': unknown strategy 'smcc'; choose from smc, sma_cross" in message
