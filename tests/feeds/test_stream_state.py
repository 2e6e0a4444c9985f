"""The closing rules of a live stream, on hand-built updates (no network)."""

from __future__ import annotations

import pytest

from smc_agent.feeds.stream_state import Bar, StreamState

M = 60_000


def bar(minute: int, close: float, final: bool | None = None) -> Bar:
    return Bar(minute * M, 10.0, max(10.0, close), min(10.0, close), close, 1.0 + minute, final=final)


def state(flags: bool, cursor: int | None = 0) -> StreamState:
    return StreamState("BTC/USDT", "1m", cursor=cursor, grace_ms=2_000, flags=flags)


def test_a_flagless_candle_closes_when_a_newer_one_arrives_with_its_latest_values() -> None:
    s = state(flags=False)
    assert s.offer(bar(0, 11.0)) == "new"
    assert s.offer(bar(0, 12.0)) == "update"
    assert s.closable(now=30_000) == []
    s.offer(bar(1, 9.0))
    [(closed, needs_rest)] = s.closable(now=61_000)
    assert (closed.time, closed.close, needs_rest) == (0, 12.0, False)
    assert s.forming() == bar(1, 9.0)


def test_a_quiet_candle_closes_when_its_period_and_the_grace_have_passed() -> None:
    s = state(flags=False)
    s.offer(bar(0, 11.0))
    assert s.closable(now=M + 1_999) == []
    assert [b.close for b, _ in s.closable(now=M + 2_000)] == [11.0]


def test_with_flags_a_final_closes_at_once_and_a_candle_without_its_final_needs_rest() -> None:
    s = state(flags=True)
    s.offer(bar(0, 11.0, final=False))
    s.offer(bar(0, 12.0, final=True))
    assert [(b.close, rest) for b, rest in s.closable(now=M)] == [(12.0, False)]
    s.deliver(bar(0, 12.0, final=True))
    s.offer(bar(1, 13.0, final=False))
    s.offer(bar(2, 14.0, final=False))  # minute 1's final was lost
    assert [(b.time, rest) for b, rest in s.closable(now=2 * M)] == [(M, True)]


def test_delivered_candles_are_never_changed_duplicates_and_late_updates_are_counted() -> None:
    s = state(flags=True)
    s.offer(bar(0, 12.0, final=True))
    s.deliver(bar(0, 12.0, final=True))
    assert s.cursor == M
    assert s.offer(bar(0, 12.0, final=True)) == "duplicate"
    assert s.offer(bar(0, 11.0, final=False)) == "late"
    assert (s.duplicates, s.late, s.pending) == (1, 1, {})
    s.offer(bar(1, 13.0, final=True))
    assert s.offer(bar(1, 12.5, final=False)) == "stale"  # a forming update that came after the final
    assert s.pending[M].close == 13.0
    with pytest.raises(ValueError, match="before the cursor"):
        s.deliver(bar(0, 12.0))


def test_rest_candles_count_only_once_surely_closed() -> None:
    s = state(flags=True)
    assert not s.safe(0, M + 1_999)
    assert s.safe(0, M + 2_000)
