"""The signal lifecycle, one candle at a time, from the rules in :mod:`smc_agent.analysis.signals`.

:func:`advance` is pure, so each rule is checked with a hand-made pending signal and one hand-made
candle. The long: entry 100, stop 95, TP1 110, TP2 115 (risk 5, RR 2), created at the close of candle
10. Every test runs the mirrored short too: prices reflected about 100 (entry 100, stop 105, targets
90 and 85), the candle's high and low swapped by the reflection.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from smc_agent.analysis.bias import Bias
from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.signals import Signal, SignalStatus, advance
from smc_agent.model import ConfidenceLevel, Direction, Side

MINUTE = 60_000
CREATED_INDEX = 10
CREATED_MS = 1_709_251_200_000 + (CREATED_INDEX + 1) * MINUTE  # close of 1m candle 10 from 2024-03-01 00:00
CONFIG = AnalysisConfig()  # min_rr 2, expiry_candles 24
SIDES = pytest.mark.parametrize("d", [1, -1], ids=["long", "short"])


def p(d: int, price: float) -> float:
    """A long price as it is for direction ``d`` (reflected about 100 for a short)."""
    return price if d == 1 else 200.0 - price


def pending(d: int, **changes: object) -> Signal:
    side = Side.BUY if d == 1 else Side.SELL
    direction = Direction.BULLISH if d == 1 else Direction.BEARISH
    bias = Bias(direction, 56.0, ConfidenceLevel.MEDIUM, 70.0, 14.0, ())
    signal = Signal(
        id=f"EURUSD:1m:sweep_choch_ob:{side.value}:2024-03-01T00:11:00Z",
        symbol="EURUSD",
        timeframe="1m",
        side=side,
        setup="sweep_choch_ob",
        entry=p(d, 100.0),
        stop=p(d, 95.0),
        targets=(p(d, 110.0), p(d, 115.0)),
        rr=2.0,
        quality=0.85,
        quality_breakdown={"rr": 0.5},
        bias=bias,
        evidence=({"role": "choch", "id": "breaks:1"},),
        created_ms=CREATED_MS,
        created_index=CREATED_INDEX,
        expires_ms=CREATED_MS + 24 * MINUTE,
        status_ms=CREATED_MS,
    )
    return replace(signal, **changes)


class Liquidity:
    """``targets_now``: the untaken liquidity beyond the entry, counting how often it is asked for."""

    def __init__(self, *levels: float) -> None:
        self.levels = list(levels)
        self.calls = 0

    def __call__(self) -> list[float]:
        self.calls += 1
        return list(self.levels)


def never_asked() -> list[float]:
    pytest.fail("targets_now was called although TP1 was not taken")


def step(
    signal: Signal,
    d: int,
    index: int,
    open_: float,
    high: float,
    low: float,
    targets_now: Liquidity | None = None,
    config: AnalysisConfig = CONFIG,
) -> Signal:
    """One candle given by its long prices (mirrored for a short): the high and low swap places."""
    o, h, lo = p(d, open_), p(d, high), p(d, low)
    if d == -1:
        h, lo = lo, h
    close_ms = CREATED_MS + (index - CREATED_INDEX) * MINUTE
    return advance(signal, index, close_ms, o, h, lo, config, targets_now or never_asked)


def close_of(index: int) -> int:
    return CREATED_MS + (index - CREATED_INDEX) * MINUTE


@SIDES
def test_untouched(d: int) -> None:
    """Pending stays pending (the very same object) when nothing is reached: 101 .. 109 after an open at 102."""
    signal = pending(d)
    assert step(signal, d, 11, 102.0, 109.0, 101.0) is signal
    # Just short of the entry and just short of TP1.
    assert step(signal, d, 12, 102.0, 109.99, 100.01) is signal


@SIDES
def test_triggered_when_low_reaches_entry(d: int) -> None:
    """Triggered: the candle's low reaches the entry exactly (or goes past it without opening beyond the stop)."""
    signal = pending(d)
    at_entry = step(signal, d, 11, 103.0, 104.0, 100.0)
    assert at_entry == replace(signal, status=SignalStatus.TRIGGERED, status_ms=close_of(11))
    assert at_entry.status_reason is None
    assert at_entry.version == 1
    # Opens above the stop and trades through both entry and stop: the entry came first.
    through = step(signal, d, 12, 95.5, 101.0, 94.0)
    assert (through.status, through.status_ms, through.status_reason) == (SignalStatus.TRIGGERED, close_of(12), None)


@SIDES
def test_gap_through_stop(d: int) -> None:
    """Invalidated, gap_through_stop: the candle opens at or beyond the stop, before any entry."""
    signal = pending(d)
    for open_ in (95.0, 93.0):
        ended = step(signal, d, 11, open_, 96.0, 92.0)
        assert ended == replace(
            signal, status=SignalStatus.INVALIDATED, status_ms=close_of(11), status_reason="gap_through_stop"
        )


@SIDES
def test_retarget_when_tp1_taken_before_entry(d: int) -> None:
    """TP1's liquidity taken before entry: version 2, same id, the next two untaken levels, RR recomputed."""
    signal = pending(d)
    liquidity = Liquidity(p(d, 115.0), p(d, 120.0), p(d, 130.0))
    new = step(signal, d, 11, 105.0, 111.0, 101.0, liquidity)
    assert liquidity.calls == 1
    assert new == replace(
        signal,
        targets=(p(d, 115.0), p(d, 120.0)),  # at most two targets are kept
        rr=3.0,  # (115 - 100) / (100 - 95)
        version=2,
        status_ms=close_of(11),
    )
    assert (new.status, new.id, new.status_reason) == (SignalStatus.PENDING, signal.id, None)


@SIDES
def test_retarget_twice(d: int) -> None:
    """A retargeted signal retargets again on its new TP1: version 3, created_index kept."""
    v2 = pending(d, targets=(p(d, 115.0), p(d, 120.0)), rr=3.0, version=2, status_ms=close_of(11))
    v3 = step(v2, d, 12, 108.0, 116.0, 104.0, Liquidity(p(d, 120.0)))
    assert (v3.version, v3.targets, v3.rr, v3.status) == (3, (p(d, 120.0),), 4.0, SignalStatus.PENDING)
    assert (v3.id, v3.created_index, v3.status_ms) == (v2.id, CREATED_INDEX, close_of(12))


@SIDES
def test_retarget_at_exactly_min_rr(d: int) -> None:
    """Retarget keeps the signal when the new RR equals min_rr ('at or above the minimum')."""
    config = AnalysisConfig(min_rr=3.0)
    new = step(pending(d), d, 11, 105.0, 111.0, 101.0, Liquidity(p(d, 115.0)), config)
    assert (new.status, new.version, new.rr) == (SignalStatus.PENDING, 2, 3.0)


@SIDES
@pytest.mark.parametrize("remaining", [(109.0,), ()], ids=["rr-1.8", "none-left"])
def test_target_taken_invalidates(d: int, remaining: tuple[float, ...]) -> None:
    """Invalidated, target_taken: after TP1 is taken the liquidity left gives RR below 2 (1.8), or none is left."""
    signal = pending(d)
    ended = step(signal, d, 11, 105.0, 110.5, 101.0, Liquidity(*(p(d, x) for x in remaining)))
    assert ended == replace(
        signal, status=SignalStatus.INVALIDATED, status_ms=close_of(11), status_reason="target_taken"
    )


@SIDES
def test_entry_wins_over_target_on_the_same_candle(d: int) -> None:
    """A candle that reaches both the entry and TP1 triggers the signal; the targets are not recomputed."""
    signal = pending(d)
    triggered = step(signal, d, 11, 104.0, 112.0, 99.0)
    assert (triggered.status, triggered.version, triggered.targets) == (
        SignalStatus.TRIGGERED,
        1,
        signal.targets,
    )


@SIDES
def test_expiry_after_exactly_expiry_candles(d: int) -> None:
    """Expired at the 24th candle after creation (index 34), untouched at the 23rd (index 33)."""
    signal = pending(d)
    assert step(signal, d, 33, 102.0, 108.0, 101.0) is signal
    expired = step(signal, d, 34, 102.0, 108.0, 101.0)
    assert expired == replace(signal, status=SignalStatus.EXPIRED, status_ms=close_of(34))
    assert expired.status_ms == signal.expires_ms
    assert expired.status_reason is None


@SIDES
def test_expiry_follows_config(d: int) -> None:
    """Expired after expiry_candles=3: untouched at index 12, expired at 13."""
    config = AnalysisConfig(expiry_candles=3)
    signal = pending(d, expires_ms=CREATED_MS + 3 * MINUTE)
    assert step(signal, d, 12, 102.0, 108.0, 101.0, config=config) is signal
    assert step(signal, d, 13, 102.0, 108.0, 101.0, config=config).status is SignalStatus.EXPIRED


@SIDES
def test_entry_on_the_expiry_candle_triggers(d: int) -> None:
    """On the expiry candle the entry is checked first: reaching it triggers rather than expires."""
    assert step(pending(d), d, 34, 102.0, 108.0, 100.0).status is SignalStatus.TRIGGERED


@SIDES
def test_expiry_counts_from_creation_not_version(d: int) -> None:
    """A retargeted version still expires 24 candles after the signal was created."""
    v2 = pending(d, targets=(p(d, 115.0),), rr=3.0, version=2, status_ms=close_of(20))
    assert step(v2, d, 34, 102.0, 108.0, 101.0).status is SignalStatus.EXPIRED


@SIDES
def test_high_exactly_at_tp1_takes_nothing(d: int) -> None:
    """A high exactly at TP1 takes no liquidity: the signal stays as it is (the pool is still untaken)."""
    signal = pending(d)
    still_there = Liquidity(p(d, 110.0), p(d, 115.0))  # what the detector reports: 110 was not taken
    assert step(signal, d, 11, 105.0, 110.0, 101.0, still_there) is signal
