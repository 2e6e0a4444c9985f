"""The engine's contract: rejected candles leave it unchanged, errors name the rule, key or row,
snapshots are stable, and streaming ends where the batch run ends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from scenario import OHLC, candles, prefixes_agree, stream

from smc_agent.core.errors import ConfigError, DataError
from smc_agent.data.candles import Candles
from smc_agent.smc.config import SessionWindow, SmcConfig, SwingLength
from smc_agent.smc.detector import SmcEngine, SmcResult, analyze

HOUR = 3_600_000
START = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)

# A bullish gap 10 .. 12 formed at 1 (confirmed at 2), touched at 3, half-filled at 5, filled at 7.
TWO_STEP_FILL: list[OHLC] = [
    (9.0, 10.0, 8.0, 9.5),
    (10.5, 14.0, 10.0, 13.5),
    (13.5, 15.0, 12.0, 14.0),
    (14.0, 14.5, 11.5, 12.5),
    (12.5, 13.0, 12.0, 13.0),
    (13.0, 13.5, 11.0, 11.5),
    (11.0, 12.0, 10.5, 11.0),
    (11.0, 11.0, 9.5, 10.0),
    (10.0, 10.5, 9.0, 9.5),
]
SMALL = SmcConfig(atr_period=3, internal=SwingLength(1, 1), swing=SwingLength(2, 2), range_scope="internal")


def _mixed(n: int) -> list[OHLC]:
    """A deterministic zigzag with gaps, equal lows and trend changes: work for every detector."""
    rng = np.random.default_rng(7)
    rows: list[OHLC] = []
    price = 100.0
    for k in range(n):
        step = float(rng.normal(0, 1.0)) + (0.6 if (k // 15) % 2 == 0 else -0.6)
        close = round(price + step, 2)
        high = round(max(price, close) + float(rng.uniform(0, 0.8)), 2)
        low = round(min(price, close) - float(rng.uniform(0, 0.8)), 2)
        rows.append((price, high, low, close))
        price = close if k % 7 else round(close + float(rng.choice([-2.0, 2.0])), 2)  # occasional gaps
    return rows


MIXED = candles(_mixed(120), "1h", START)


def _feed(engine: SmcEngine, c: Candles) -> None:
    for k in range(len(c)):
        engine.update(int(c.time[k]), c.open[k], c.high[k], c.low[k], c.close[k], c.volume[k])


def _bad_candles() -> list[tuple[str, tuple[Any, ...], str]]:
    """(case, update arguments replacing candle 4, text the error must contain)."""
    t = START + 4 * HOUR
    return [
        ("same-time", (START + 3 * HOUR, 12.5, 13.0, 12.0, 13.0), "not after"),
        ("earlier-time", (START, 12.5, 13.0, 12.0, 13.0), "not after"),
        ("nan-open", (t, float("nan"), 13.0, 12.0, 13.0), r"rule: finite values"),
        ("inf-close", (t, 12.5, 13.0, 12.0, float("inf")), r"rule: finite values"),
        ("nan-volume", (t, 12.5, 13.0, 12.0, 13.0, float("nan")), r"rule: finite values"),
        ("high-below-body", (t, 12.5, 12.8, 12.0, 13.0), r"field high: .*rule: high >= max\(open, close\)"),
        ("low-above-body", (t, 12.5, 13.0, 12.7, 13.0), r"field low: .*rule: low <= min\(open, close\)"),
        ("negative-volume", (t, 12.5, 13.0, 12.0, 13.0, -1.0), r"field volume: .*rule: volume >= 0"),
    ]


@pytest.mark.parametrize(("case", "args", "text"), _bad_candles(), ids=[case for case, _, _ in _bad_candles()])
def test_update_rejects_a_bad_candle_and_stays_unchanged(case: str, args: tuple[Any, ...], text: str) -> None:
    """A rejected candle raises DataError and the next valid candles give the batch result."""
    c = candles(TWO_STEP_FILL, "1h", START)
    engine = SmcEngine("1h", SMALL)
    _feed(engine, c[:4])
    before = engine.result()
    with pytest.raises(DataError, match=text) as error:
        engine.update(*args)
    assert error.value.rule
    assert len(engine) == 4
    assert engine.result().differences(before) == []
    _feed(engine, c[4:])
    assert engine.result().differences(analyze(c, SMALL)) == []


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ((12.5, 12.8, 12.0, 13.0), "high >= max(open, close)"),
        ((12.5, 13.0, 12.7, 13.0), "low <= min(open, close)"),
    ],
    ids=["high-below-body", "low-above-body"],
)
def test_update_message_states_the_broken_rule(args: tuple[float, ...], rule: str) -> None:
    """The message names the one rule broken, as check() does for a file ("(rule: ...)")."""
    engine = SmcEngine("1h", SMALL)
    with pytest.raises(DataError) as error:
        engine.update(START, *args)
    assert rule in str(error.value)


def test_extend_rejects_a_block_and_stays_unchanged() -> None:
    """A block that starts too early, or holds a bad row, is refused whole; the engine is unchanged."""
    c = candles(TWO_STEP_FILL, "1h", START)
    engine = SmcEngine("1h", SMALL)
    engine.extend(c[:4])
    with pytest.raises(DataError, match="not after"):
        engine.extend(c[3:])
    broken = Candles.from_arrays(
        c.time[4:], c.open[4:], np.r_[c.high[4:6], 1.0, c.high[7:]], c.low[4:], c.close[4:], timeframe="1h"
    )
    with pytest.raises(DataError, match="row 3") as error:
        engine.extend(broken)
    assert error.value.field == "high"
    assert len(engine) == 4
    engine.extend(c[4:])
    assert engine.result().differences(analyze(c, SMALL)) == []


def test_analyze_names_the_row_with_nan() -> None:
    """A NaN close in the third candle: DataError for row 3, field close."""
    c = candles(TWO_STEP_FILL, "1h", START)
    close = c.close.copy()
    close[2] = np.nan
    with pytest.raises(DataError, match="row 3") as error:
        analyze(Candles.from_arrays(c.time, c.open, c.high, c.low, close, timeframe="1h"))
    assert (error.value.row, error.value.field) == (3, "close")


@pytest.mark.parametrize(("swap", "row"), [(3, 4), (6, 7)])
def test_analyze_names_the_row_out_of_time_order(swap: int, row: int) -> None:
    """Two candles swapped in time: the first one out of order is named, with the time rule."""
    c = candles(TWO_STEP_FILL, "1h", START)
    time = c.time.copy()
    time[swap - 1], time[swap] = time[swap], time[swap - 1]
    with pytest.raises(DataError, match=f"row {row}") as error:
        analyze(Candles.from_arrays(time, c.open, c.high, c.low, c.close, timeframe="1h"))
    assert (error.value.field, error.value.rule) == ("time", "times strictly increasing")


def test_unknown_detector_is_a_config_error() -> None:
    """A misspelt detector name names the key and the choices."""
    c = candles(TWO_STEP_FILL)
    with pytest.raises(ConfigError, match="fvgs") as error:
        analyze(c, detectors=["fvgs"])
    assert error.value.key == "detectors"
    assert "liquidity" in str(error.value)
    with pytest.raises(ConfigError):
        SmcEngine("1m", detectors=["swings", "sessions"])


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"liquidity_tolerance_atr": -0.1}, "liquidity_tolerance_atr"),
        ({"liquidity_tolerance_atr": float("nan")}, "liquidity_tolerance_atr"),
        ({"fvg_min_atr": -1.0}, "fvg_min_atr"),
        ({"atr_period": 0}, "atr_period"),
        ({"liquidity_min_members": 0}, "liquidity_min_members"),
        ({"fvg_min_size": "big"}, "fvg_min_size"),
        ({"ob_mitigation": "wick"}, "ob_mitigation"),
        ({"range_scope": "macro"}, "range_scope"),
        ({"liquidity_scope": "macro"}, "liquidity_scope"),
        ({"structure_break": "body"}, "structure_break"),
        ({"sessions": (SessionWindow("ny", "UTC", "9h30", "16:00"),)}, "sessions.ny.start"),
        ({"sessions": (SessionWindow("ny", "UTC", "25:00", "16:00"),)}, "sessions.ny.start"),
        ({"sessions": (SessionWindow("ny", "UTC", "09:30", "16:60"),)}, "sessions.ny.end"),
        ({"sessions": (SessionWindow("ny", "UTC", "09:30", "24:01"),)}, "sessions.ny.end"),
        ({"killzones": (SessionWindow("kz", "UTC", "07:00:00", "10:00"),)}, "killzones.kz.start"),
        ({"sessions": tuple(SessionWindow(f"s{k}", "UTC", "00:00", "01:00") for k in range(9))}, "sessions"),
    ],
)
def test_config_rejects_bad_values_naming_the_key(overrides: dict[str, Any], key: str) -> None:
    """Each bad value raises ConfigError whose key (and message) names the setting."""
    with pytest.raises(ConfigError) as error:
        SmcConfig(**overrides)
    assert error.value.key == key
    assert key in str(error.value)


def test_config_accepts_edge_values() -> None:
    """24:00 is a valid window end, tolerance 0 and one-member pools are allowed."""
    SmcConfig(
        sessions=(SessionWindow("day", "Asia/Kolkata", "00:00", "24:00"),),
        liquidity_tolerance_atr=0.0,
        liquidity_min_members=1,
    )


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"calendar_tz": "Mars/Olympus"}, "calendar_tz"),
        ({"sessions": (SessionWindow("ny", "Mars/Olympus", "09:30", "16:00"),)}, "sessions.ny.tz"),
        ({"killzones": (SessionWindow("kz", "Mars/Olympus", "07:00", "10:00"),)}, "killzones.kz.tz"),
    ],
)
def test_config_rejects_unknown_time_zone(overrides: dict[str, Any], key: str) -> None:
    """An unknown zone is refused with a ConfigError that names the key and quotes the zone."""
    with pytest.raises(ConfigError, match="Mars/Olympus") as error:
        SmcConfig(**overrides)
    assert error.value.key == key
    assert key in str(error.value)


def test_swing_length_must_be_positive() -> None:
    """SwingLength(0, 1) is refused at construction."""
    with pytest.raises(ConfigError, match=">= 1"):
        SwingLength(0, 1)


def _snapshot_arrays(result: SmcResult) -> list[np.ndarray]:
    arrays = [result.atr, result.trend, result.pd_top, result.pd_bottom, result.session_mask, result.candles.time]
    for table in result.tables.values():
        arrays += [table.ints, table.floats]
    return [array.copy() for array in arrays]


def test_result_snapshot_does_not_change_when_the_engine_continues() -> None:
    """A snapshot after 4 candles keeps the gap only touched, and its arrays stay as they were."""
    c = candles(TWO_STEP_FILL)
    engine = SmcEngine("1m", SMALL, detectors=["fvg"], capacity=16)
    _feed(engine, c[:4])
    snapshot = engine.result()
    frozen = _snapshot_arrays(snapshot)
    _feed(engine, c[4:])
    # Enough further gaps to make the engine grow its tables and buffers.
    stairs = [(10.0 * k + 1, 10.0 * k + 5, 10.0 * k, 10.0 * k + 4) for k in range(200)]
    _feed(engine, candles(stairs, "1m", int(c.time[-1]) + 60_000))
    after = _snapshot_arrays(snapshot)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(frozen, after, strict=True))
    assert len(snapshot.candles) == 4
    assert [(g["touched_index"], g["half_index"], g["filled_index"]) for g in snapshot.fvgs.rows()] == [(3, -1, -1)]
    assert next(engine.result().fvgs.rows())["filled_index"] == 7


def test_streaming_equals_batch_with_every_detector() -> None:
    """All detectors on a mixed hourly series: streaming and every prefix equal the batch run."""
    assert prefixes_agree(MIXED, SMALL) == []


def test_blocks_and_single_candles_mix() -> None:
    """extend() a block, update() a few, extend() the rest: the same result as one batch."""
    engine = SmcEngine("1h", SMALL, capacity=16)
    engine.extend(MIXED[:50])
    _feed(engine, MIXED[50:53])
    engine.extend(MIXED[53:])
    assert engine.result().differences(analyze(MIXED, SMALL)) == []
    assert stream(MIXED, SMALL).differences(analyze(MIXED, SMALL)) == []


def test_caller_candles_are_not_modified() -> None:
    """The engine may read a block in place but never writes the caller's arrays."""
    c = candles(_mixed(40), "1h", START)
    original = [column.copy() for column in (c.time, *c.columns)]
    engine = SmcEngine("1h", SMALL, capacity=16)
    engine.extend(c)
    _feed(engine, MIXED[60:70])
    assert all(np.array_equal(a, b) for a, b in zip(original, (c.time, *c.columns), strict=True))


def test_incomplete_last_candle_is_left_out() -> None:
    """analyze() ignores a final candle that has not closed (last_complete=False)."""
    c = candles(TWO_STEP_FILL)
    partial = Candles.from_arrays(c.time, c.open, c.high, c.low, c.close, timeframe="1m", last_complete=False)
    result = analyze(partial, SMALL, detectors=["fvg"])
    assert len(result.candles) == len(c) - 1
    assert result.differences(analyze(c[:-1], SMALL, detectors=["fvg"])) == []


def test_one_candle_without_timeframe_is_a_config_error() -> None:
    """A single candle with no timeframe label cannot be analysed: the key is timeframe."""
    c = candles(TWO_STEP_FILL[:1])
    with pytest.raises(ConfigError) as error:
        analyze(Candles.from_arrays(c.time, c.open, c.high, c.low, c.close))
    assert error.value.key == "timeframe"
