"""POST /api/v1/smc/detect and GET /api/v1/bias/{symbol} answer what ``smc-agent analyze --json`` and
``smc-agent bias --json`` print for the same real candles (EURUSD 15m, the first 2000 rows), stored or uploaded;
bad rows are a 422 naming the row, an unknown symbol a 404."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from smc_agent.api import create_app
from smc_agent.cli import app
from smc_agent.config import load_config
from smc_agent.data.candles import Candles
from smc_agent.service import AnalysisRequest, load_timeframe
from smc_agent.store import Store

Header = Callable[[str], dict[str, str]]
ROWS = 2000


@pytest.fixture
def eurusd(session_data: Path, tmp_path: Path) -> Path:
    """The first ROWS candles of the session's file, under its own name (the CLI names the symbol from it)."""
    path = tmp_path / session_data.name
    with session_data.open() as source:
        path.write_text("".join(line for _, line in zip(range(ROWS + 1), source, strict=False)))
    return path


@pytest.fixture
def stored(eurusd: Path, store: Store) -> Candles:
    candles = load_timeframe(AnalysisRequest(eurusd))
    store.save_candles("mt5", candles)
    return candles


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _rows(candles: Candles) -> list[list[float]]:
    columns = (candles.time, candles.open, candles.high, candles.low, candles.close, candles.volume)
    return [list(row) for row in zip(*(c.tolist() for c in columns), strict=True)]


def test_detect_on_stored_candles_is_what_analyze_json_prints(client: TestClient, key: Header, eurusd: Path,
                                                              stored: Candles) -> None:  # fmt: skip
    expected = _cli("analyze", "--data", str(eurusd), "--json")
    response = client.post("/api/v1/smc/detect", json={"symbol": stored.symbol, "timeframe": "15m"},
                           headers=key("read"))  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["symbol"], body["timeframe"], body["candles"]) == ("EURUSD", "15m", ROWS)
    assert expected["candles"] == ROWS
    assert body["patterns"] == expected["events"]
    confidence = {e["confidence"] for e in body["patterns"]}
    assert (min(confidence), max(confidence)) == (0, 1)  # spent ones 0, breaks of structure 1
    assert len(confidence) > 3  # and values between
    assert {e["type"] for e in body["order_blocks"]} <= {"order_block", "breaker_block"}
    assert body["order_blocks"] == [e for e in expected["events"] if e["type"] in ("order_block", "breaker_block")]
    assert body["liquidity_levels"]
    assert all(e["type"] != "fvg" for e in body["liquidity_levels"])
    assert {"bos", "swing_high"} <= {e["type"] for e in body["market_structure"]}


def test_uploaded_candles_and_pattern_types(client: TestClient, key: Header, eurusd: Path) -> None:
    candles = load_timeframe(AnalysisRequest(eurusd))
    expected = [e for e in _cli("analyze", "--data", str(eurusd), "--json")["events"] if e["type"] == "fvg"]
    response = client.post("/api/v1/smc/detect", headers=key("read"), json={
        "symbol": "EURUSD", "timeframe": "15m", "candles": _rows(candles), "pattern_types": ["fvg"]})  # fmt: skip
    assert response.status_code == 200, response.text
    body = response.json()
    assert expected
    assert body["patterns"] == expected
    assert (body["order_blocks"], body["market_structure"]) == ([], [])


@pytest.mark.parametrize(
    ("rows", "timeframe", "says"),
    [
        ([[0, 1, 2, 0.5, 1, 1], [900_000, 1, 0.5, 0.9, 1, 1]], "15m", "candles: row 1: field high"),  # high < low
        ([[0, 1, 2, 0.5, 1, 1], [900_000, 1, 2, 0.5, 1]], "15m", "body field candles.1"),  # five values
        ([[0, 1, 2, 0.5, 1, 1], [900_000, "x", 2, 0.5, 1, 1]], "15m", "body field candles.1.1"),
        ([[0, 1, 2, 0.5, 1, 1]], "fortnight", "timeframe"),
        ([[0, 1, 2, 0.5, 1, 1]], None, "uploaded candles need their timeframe"),
    ],
)
def test_bad_uploads_are_422_naming_the_row(client: TestClient, key: Header, rows: list[list[Any]],
                                            timeframe: str | None, says: str) -> None:  # fmt: skip
    response = client.post("/api/v1/smc/detect", json={"timeframe": timeframe, "candles": rows}, headers=key("read"))
    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_bias_is_what_bias_json_prints(client: TestClient, key: Header, eurusd: Path, stored: Candles) -> None:
    expected = _cli("bias", "--data", str(eurusd), "--json")
    response = client.get("/api/v1/bias/EURUSD", headers=key("read"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["venue"], body["timeframe"], body["htfs"]) == ("mt5", "15m", ["1h", "4h", "1d"])
    assert body["bias"] == expected
    assert {"direction", "confidence"} <= set(expected)


def test_a_symbol_with_a_slash_is_one_path_parameter(client: TestClient, key: Header, eurusd: Path,
                                                     store: Store) -> None:  # fmt: skip
    """A crypto pair's name (BTC/USDT, as ccxt spells it) reaches the route whole, sent plain or escaped."""
    store.save_candles("mt5", load_timeframe(AnalysisRequest(eurusd)).with_meta(symbol="EUR/USD"))
    expected = _cli("bias", "--data", str(eurusd), "--json")
    for path in ("/api/v1/bias/EUR/USD", "/api/v1/bias/EUR%2FUSD"):
        response = client.get(path, headers=key("read"))
        assert response.status_code == 200, (path, response.text)
        assert (response.json()["symbol"], response.json()["bias"]) == ("EUR/USD", expected)


def test_detect_and_bias_use_the_settings_and_a_symbols_own(store: Store, key: Header, eurusd: Path,
                                                             stored: Candles, tmp_path: Path) -> None:  # fmt: skip
    """The symbol's own entry settings (shorter internal swings) change what is found, as ``analyze --config``."""
    settings = tmp_path / "settings.toml"
    settings.write_text("[symbols.EURUSD.analysis]\nentry_smc = { internal = { left = 3, right = 3 } }\n"
                        "timeframe_weights = { 1h = 1, 4h = 1 }\n")  # fmt: skip
    configured = _cli("analyze", "--data", str(eurusd), "--config", str(settings), "--json")["events"]
    assert configured != _cli("analyze", "--data", str(eurusd), "--json")["events"]
    biased = _cli("bias", "--data", str(eurusd), "--config", str(settings), "--json")
    assert biased != _cli("bias", "--data", str(eurusd), "--json")  # 1d weighs nothing for EURUSD now
    with TestClient(create_app(store, analysis=load_config(settings).analysis)) as client:
        read = key("read")
        detected = client.post("/api/v1/smc/detect", json={"symbol": "EURUSD", "timeframe": "15m"}, headers=read)
        bias = client.get("/api/v1/bias/EURUSD", headers=read).json()
    assert detected.json()["patterns"] == configured
    assert (bias["htfs"], bias["bias"]) == (["1h", "4h", "1d"], biased)  # computed, as the agent does; 1d unweighed


def test_unknown_symbols_and_timeframes_are_404(client: TestClient, key: Header, stored: Candles) -> None:
    read = key("read")
    missing = client.get("/api/v1/bias/NOPE", headers=read)
    assert (missing.status_code, missing.json()) == (404, {"detail": "no candles of NOPE are stored"})
    wrong_tf = client.post("/api/v1/smc/detect", json={"symbol": "EURUSD", "timeframe": "1h"}, headers=read)
    assert wrong_tf.status_code == 404
    assert wrong_tf.json()["detail"] == "no 1h candles of EURUSD are stored (stored: 15m)"
    nothing = client.post("/api/v1/smc/detect", json={}, headers=read)
    assert nothing.status_code == 422
    assert "give a stored symbol and timeframe, or upload candles" in nothing.json()["detail"]
