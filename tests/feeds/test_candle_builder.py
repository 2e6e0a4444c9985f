"""The streaming candle builder: equal to batch on real ticks, closed by its timer in a quiet period,
each candle emitted once, late ticks dropped and counted, and never more than one timer pending."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from smc_agent.core.clock import Callback, SimulatedClock, Timer
from smc_agent.core.errors import DataError, SmcAgentError
from smc_agent.core.logs import configure_logging
from smc_agent.data.candles import Candles
from smc_agent.data.ticks import PriceSide, Quotes, Trades, load_ticks
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.events import CandleClosed
from smc_agent.feeds.candles import CandleBuilder

SharedPath = Callable[[str], Path]
Row = tuple[int, float, float, float, float, float]


class RecordingClock(SimulatedClock):
    """A simulated clock that keeps every timer it hands out, so a test can count the pending ones."""

    def __init__(self, start_ms: int = 0) -> None:
        super().__init__(start_ms)
        self.timers: list[Timer] = []

    def call_at(self, ms: int, callback: Callback) -> Timer:
        timer = super().call_at(ms, callback)
        self.timers.append(timer)
        return timer

    def pending(self) -> int:
        return sum(timer.active for timer in self.timers)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    configure_logging("warning")


def rows(candles: Candles) -> list[Row]:
    return list(zip(candles.time.tolist(), *(column.tolist() for column in candles.columns), strict=True))


def emitted_rows(out: list[CandleClosed]) -> list[Row]:
    return [(c.time, c.open, c.high, c.low, c.close, c.volume) for c in out]


def stream(
    ticks: Trades | Quotes,
    timeframe: str,
    end_ms: int,
    *,
    live_clock: bool,
    price: PriceSide = "mid",
    grace_ms: int = 0,
) -> tuple[list[CandleClosed], CandleBuilder, RecordingClock]:
    """Feed every tick through a builder. ``live_clock``: the clock is advanced to each tick's time
    before the tick is added, as a live session's would be; otherwise it stays put until ``end_ms``
    (a session clock lagging the exchange), so only later ticks close candles."""
    clock = RecordingClock(int(ticks.time[0]))
    out: list[CandleClosed] = []
    builder = CandleBuilder(
        ticks.symbol,
        timeframe,
        clock,
        out.append,
        price=None if isinstance(ticks, Trades) else price,
        grace_ms=grace_ms,
    )
    first, second = (ticks.price, ticks.quantity) if isinstance(ticks, Trades) else (ticks.bid, ticks.ask)
    add = builder.add_trade if isinstance(ticks, Trades) else builder.add_quote
    for t, a, b in zip(ticks.time.tolist(), first.tolist(), second.tolist(), strict=True):
        if live_clock:
            clock.advance_to(t)
        assert add(t, a, b)
        assert clock.pending() == 1  # the forming candle's timer, and no other
    clock.advance_to(end_ms)
    return out, builder, clock


CASES = [
    ("ticks/btcusdt-trades.parquet", "1s", None, {}),
    ("ticks/btcusdt-trades.parquet", "5s", None, {}),
    ("ticks/btcusdt-trades.parquet", "1m", None, {}),
    ("ticks/XRP_ETH-trades.feather", "1m", None, {}),
    ("ticks/XRP_ETH-trades.feather", "15m", None, {}),
    ("ticks/XRP_ETH-trades.feather", "1h", None, {}),
    ("ticks/btcusdt-quotes.parquet", "1s", "mid", {}),
    ("ticks/EURUSD_ticks_histdata_20200101.csv", "1m", "bid", {"tz": "Etc/GMT+5"}),
    ("ticks/EURUSD_ticks_histdata_20200101.csv", "5m", "mid", {"tz": "Etc/GMT+5"}),
]


@pytest.mark.parametrize("live_clock", [True, False], ids=["clock-at-each-tick", "clock-lagging"])
@pytest.mark.parametrize("known_to", ["last-tick", "last-close"])
@pytest.mark.parametrize(("name", "timeframe", "price", "load"), CASES)
def test_streaming_equals_batch_on_real_ticks(
    shared_data_path: SharedPath,
    name: str,
    timeframe: str,
    price: PriceSide | None,
    load: dict[str, str],
    known_to: str,
    live_clock: bool,
) -> None:
    ticks = load_ticks(shared_data_path(name), **load)
    assert isinstance(ticks, Quotes if price else Trades)
    tf = parse_timeframe(timeframe)
    last = int(ticks.time[-1])
    end_ms = last if known_to == "last-tick" else (last // tf + 1) * tf
    batch = (
        ticks.to_candles(timeframe, end_ms=end_ms)
        if isinstance(ticks, Trades)
        else ticks.to_candles(timeframe, price=price or "mid", end_ms=end_ms)
    )
    out, builder, clock = stream(ticks, timeframe, end_ms, live_clock=live_clock, price=price or "mid")

    expected = rows(batch)
    if not batch.last_complete:  # batch marks it incomplete; streaming still has it forming
        expected, unfinished = expected[:-1], expected[-1]
        forming = builder.forming()
        assert forming is not None
        assert emitted_rows([forming])[0] == unfinished
        assert clock.pending() == 1
    else:
        assert builder.forming() is None
        assert clock.pending() == 0
    assert known_to == "last-close" or not batch.last_complete  # the rule is exercised both ways
    assert emitted_rows(out) == expected  # candle for candle, every float to the last bit
    assert {(c.symbol, c.timeframe) for c in out} <= {(batch.symbol, batch.timeframe)}
    assert all(c.event_ms == c.time + tf for c in out)
    if live_clock:  # each closed at its period's end, by the timer, not at the next trade
        assert [c.known_ms for c in out] == [c.event_ms for c in out]
    else:  # the clock stood still: a later tick closed each, but the last, which the final advance did
        assert [c.known_ms for c in out] == [int(ticks.time[0]) if c.event_ms <= last else end_ms for c in out]
    assert builder.late_ticks == 0


def test_xrp_gaps_stay_gaps_and_a_grace_period_changes_only_known_ms(shared_data_path: SharedPath) -> None:
    ticks = load_ticks(shared_data_path("ticks/XRP_ETH-trades.feather"))
    assert isinstance(ticks, Trades)
    end_ms = int(ticks.time[-1])
    plain, _, _ = stream(ticks, "1m", end_ms, live_clock=True)
    graced, _, _ = stream(ticks, "1m", end_ms, live_clock=True, grace_ms=1_500)
    assert emitted_rows(graced) == emitted_rows(plain)
    # Closed by the timer 1.5 s after its end, or sooner by a trade of a later minute within the grace.
    later = ticks.time[np.searchsorted(ticks.time, [c.event_ms for c in graced])].tolist()
    assert [c.known_ms for c in graced] == [min(c.event_ms + 1_500, t) for c, t in zip(graced, later, strict=True)]
    assert any(c.known_ms < c.event_ms + 1_500 for c in graced)
    opens = [c.time for c in plain]
    assert any(b - a > 60_000 for a, b in itertools.pairwise(opens))  # the thin market skips minutes
    assert all(c.volume > 0 for c in plain)  # and never fills one flat


def builder_on(
    clock: SimulatedClock, timeframe: str = "1m", *, grace_ms: int = 0
) -> tuple[CandleBuilder, list[CandleClosed]]:
    out: list[CandleClosed] = []
    return CandleBuilder("TEST", timeframe, clock, out.append, grace_ms=grace_ms), out


def test_a_quiet_period_closes_by_the_timer_at_its_end() -> None:
    clock = SimulatedClock()
    seen: list[tuple[int, int]] = []
    builder = CandleBuilder("TEST", "1m", clock, lambda c: seen.append((c.time, clock.now_ms())))
    for t, p in ((1_000, 10.0), (20_000, 11.0), (59_999, 9.5)):
        clock.advance_to(t)
        builder.add_trade(t, p, 1.0)
    clock.advance_to(59_999)
    assert seen == []  # not before its end
    clock.advance_to(600_000)  # nine quiet minutes, one advance
    assert seen == [(0, 60_000)]  # emitted when the minute ended, not at 600_000; no flat candles
    assert builder.forming() is None


def test_the_emitted_candle_has_the_period_close_and_the_clock_reading() -> None:
    clock = SimulatedClock()
    builder, out = builder_on(clock)
    builder.add_trade(5_000, 10.0, 1.5)
    builder.add_trade(6_000, 12.0, 0.5)
    builder.add_trade(7_000, 8.0, 1.0)
    builder.add_trade(8_000, 11.0, 2.0)
    clock.advance_to(90_000)
    assert out == [CandleClosed(60_000, 60_000, "TEST", "1m", 0, 10.0, 12.0, 8.0, 11.0, 5.0)]


def test_grace_keeps_a_trade_that_reaches_the_session_just_after_the_minute() -> None:
    clock = SimulatedClock()
    builder, out = builder_on(clock, grace_ms=2_000)
    builder.add_trade(1_000, 10.0, 1.0)
    clock.advance_to(61_000)
    assert builder.add_trade(59_500, 12.0, 1.0)  # happened in the minute, arrived 1.5 s after it
    clock.advance_to(62_000)
    assert [(c.high, c.volume, c.event_ms, c.known_ms) for c in out] == [(12.0, 2.0, 60_000, 62_000)]


def test_forming_is_the_candle_so_far_with_its_future_close() -> None:
    clock = SimulatedClock()
    builder, out = builder_on(clock, "5m")
    assert builder.forming() is None
    builder.add_trade(10_000, 3.0, 1.0)
    clock.advance_to(70_000)
    builder.add_trade(70_000, 4.0, 2.0)
    assert builder.forming() == CandleClosed(300_000, 70_000, "TEST", "5m", 0, 3.0, 4.0, 3.0, 4.0, 3.0)
    assert out == []
    clock.advance_to(300_000)
    assert builder.forming() is None
    assert len(out) == 1


def test_each_candle_is_emitted_once_whichever_closes_it_first() -> None:
    clock = SimulatedClock()
    builder, out = builder_on(clock)
    builder.add_trade(1_000, 10.0, 1.0)
    builder.add_trade(61_000, 11.0, 1.0)  # the clock lags: the later trade closes the first minute
    assert [(c.time, c.known_ms) for c in out] == [(0, 0)]
    clock.advance_to(60_000)  # the first minute's timer was cancelled, so nothing fires again
    assert len(out) == 1
    clock.advance_to(120_000)  # the timer closes the second minute
    builder.add_trade(125_000, 12.0, 1.0)  # and a trade of the third cannot close it again
    clock.advance_to(170_000)
    assert [(c.time, c.known_ms) for c in out] == [(0, 0), (60_000, 120_000)]


def failing_first(calls: list[int]) -> Callable[[CandleClosed], None]:
    """A handler that records each candle's open time and raises on the first one."""

    def emit(candle: CandleClosed) -> None:
        calls.append(candle.time)
        if len(calls) == 1:
            raise RuntimeError("handler failed")

    return emit


def test_a_failing_handler_does_not_get_a_candle_emitted_twice() -> None:
    clock = SimulatedClock()
    calls: list[int] = []
    builder = CandleBuilder("TEST", "1m", clock, failing_first(calls))
    builder.add_trade(1_000, 10.0, 1.0)
    with pytest.raises(RuntimeError):
        clock.advance_to(60_000)
    clock.advance_to(70_000)
    builder.add_trade(70_000, 11.0, 1.0)
    clock.advance_to(120_000)
    assert calls == [0, 60_000]


def test_a_handler_failing_on_a_tick_close_keeps_the_tick_that_closed_it() -> None:
    clock = SimulatedClock()
    calls: list[int] = []
    builder = CandleBuilder("TEST", "1m", clock, failing_first(calls))
    builder.add_trade(1_000, 10.0, 1.0)
    with pytest.raises(RuntimeError):
        builder.add_trade(61_000, 11.0, 2.0)  # the clock lags: this trade closes the first minute
    forming = builder.forming()
    assert forming is not None
    assert (forming.time, forming.open, forming.volume) == (60_000, 11.0, 2.0)
    clock.advance_to(120_000)
    assert calls == [0, 60_000]


def log_lines(out: io.StringIO) -> list[tuple[str, str]]:
    return [(line["level"], line["event"]) for line in map(json.loads, out.getvalue().splitlines())]


def test_late_ticks_are_dropped_counted_and_logged_once_per_state_change() -> None:
    logs = io.StringIO()
    configure_logging("info", json=True, stream=logs)
    clock = SimulatedClock()
    builder, out = builder_on(clock)
    builder.add_trade(1_000, 10.0, 1.0)
    clock.advance_to(60_000)
    (closed,) = out
    assert not builder.add_trade(59_000, 99.0, 5.0)  # its minute was handed out
    assert "already emitted" in str(builder.late_reason)
    assert not builder.add_trade(59_500, 1.0, 5.0)
    assert builder.late_ticks == 2
    assert out == [closed]
    assert builder.forming() is None
    assert log_lines(logs) == [("warning", "late tick dropped")]  # one line for the run, not two
    clock.advance_to(61_000)
    assert builder.add_trade(61_000, 11.0, 1.0)
    assert log_lines(logs)[1:] == [("info", "ticks on time again")]
    assert not builder.add_trade(60_500, 11.0, 1.0)  # older than the last tick taken
    assert "go back" in str(builder.late_reason)
    assert log_lines(logs)[2:] == [("warning", "late tick dropped")]
    forming = builder.forming()
    assert forming is not None
    assert forming.volume == 1.0


def test_a_tick_whose_period_the_clock_has_passed_is_late_even_if_none_came_before() -> None:
    clock = SimulatedClock(125_000)
    builder, out = builder_on(clock)
    assert not builder.add_trade(119_000, 10.0, 1.0)  # its minute ended at 120_000 by the session clock
    assert "ended by the session clock" in str(builder.late_reason)
    assert builder.forming() is None
    assert builder.add_trade(121_000, 10.0, 1.0)  # the minute still running is fine
    assert builder.late_ticks == 1
    assert out == []


def test_bad_ticks_raise_like_batch_and_leave_the_builder_unchanged() -> None:
    clock = SimulatedClock()
    builder, _ = builder_on(clock)
    builder.add_trade(1_000, 10.0, 1.0)
    before = builder.forming()
    for price, quantity, rule in (
        (float("nan"), 1.0, "price finite and > 0"),
        (0.0, 1.0, "price finite and > 0"),
        (10.0, -1.0, "quantity finite and >= 0"),
    ):
        with pytest.raises(DataError) as caught:
            builder.add_trade(2_000, price, quantity)
        assert caught.value.rule == rule
    assert builder.forming() == before
    with pytest.raises(SmcAgentError, match="add_trade"):
        builder.add_quote(2_000, 1.0, 1.1)
    with pytest.raises(ValueError, match="price"):
        CandleBuilder("TEST", "1m", clock, lambda c: None, price="last")  # type: ignore[arg-type]
    with pytest.raises(SmcAgentError, match="add_quote"):
        CandleBuilder("TEST", "1m", clock, lambda c: None, price="bid").add_trade(1_000, 1.0, 1.0)


def test_quotes_follow_the_chosen_price_and_count_as_volume() -> None:
    clock = SimulatedClock()
    out: list[CandleClosed] = []
    builder = CandleBuilder("EURUSD", "1m", clock, out.append, price="ask")
    builder.add_quote(1_000, 1.1000, 1.1002)
    builder.add_quote(2_000, 1.1001, 1.1005)
    clock.advance_to(60_000)
    assert [(c.open, c.high, c.close, c.volume) for c in out] == [(1.1002, 1.1005, 1.1005, 2.0)]


def test_at_most_one_close_timer_is_pending_and_stop_cancels_it() -> None:
    clock = RecordingClock()
    builder, out = builder_on(clock)
    assert clock.pending() == 0  # no candle, no timer
    builder.add_trade(1_000, 10.0, 1.0)
    builder.add_trade(2_000, 10.0, 1.0)  # the same minute re-arms nothing
    assert (len(clock.timers), clock.pending()) == (1, 1)
    builder.add_trade(61_000, 10.0, 1.0)  # a later minute: the old timer cancelled, one new one
    assert (len(clock.timers), clock.pending()) == (2, 1)
    assert not clock.timers[0].active
    clock.advance_to(120_000)  # fired, and nothing re-armed until a tick comes
    assert (len(clock.timers), clock.pending(), len(out)) == (2, 0, 2)
    builder.add_trade(130_000, 10.0, 1.0)
    builder.stop()
    assert clock.pending() == 0
    clock.advance_to(600_000)
    assert len(out) == 2  # the stopped builder's minute had not ended, and is not emitted
    with pytest.raises(SmcAgentError, match="stopped"):
        builder.add_trade(600_000, 10.0, 1.0)
