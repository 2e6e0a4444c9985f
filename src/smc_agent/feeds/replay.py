"""Replay of candle files as a feed of closed candles: the backtest feed, and paper trading's on files.

Each candle is delivered at its close (``event_ms`` = open time + timeframe), which is when a live
feed would deliver it. Several streams (symbol x timeframe) are merged in close-time order with a
fixed tie-break (symbol, then timeframe length), so a run over the same files is the same whatever
order they were given in. Iterating the feed gives every candle at once (a backtest); :meth:`closed`
gives them to the asyncio session, which waits on its clock between them: pacing belongs to the
clock, so the feed never sleeps. A replay has no forming candle.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from itertools import repeat

from smc_agent.data.candles import Candles
from smc_agent.events import CandleClosed
from smc_agent.feeds import FeedHealth

__all__ = ["ReplayFeed", "stream_name"]


def stream_name(candles: Candles) -> str:
    return f"{candles.symbol}@{candles.timeframe}"


class ReplayFeed:
    def __init__(
        self,
        streams: Candles | Sequence[Candles],
        *,
        skip_until_ms: int | None = None,
        cursors: Mapping[str, int] | None = None,
    ) -> None:
        self._streams = sorted([streams] if isinstance(streams, Candles) else streams,
                               key=lambda c: (c.symbol, c.timeframe_ms))  # fmt: skip
        names = [stream_name(c) for c in self._streams]
        if len(set(names)) != len(names):
            raise ValueError(f"each stream may be replayed once, got {', '.join(names)}")
        # A resumed session: candles closed at or before the skip (every stream), or at or before their
        # stream's cursor (``SYMBOL@TF`` -> close ms), were handled. Per-stream cursors matter when a
        # session stopped between two streams' candles of the same close time.
        self._skip = skip_until_ms
        self._cursors = dict(cursors or {})
        self._health = FeedHealth.CONNECTED

    def resumed(self, cursors: Mapping[str, int]) -> ReplayFeed:
        """The same streams, each from after its cursor (``SYMBOL@TF`` -> last handled close ms)."""
        return ReplayFeed(self._streams, skip_until_ms=self._skip, cursors={**self._cursors, **cursors})

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams, in the tie-break order."""
        return tuple(stream_name(c) for c in self._streams)

    @property
    def health(self) -> FeedHealth:
        return self._health

    def __iter__(self) -> Iterator[CandleClosed]:
        iterators = [_events(c, _latest(self._skip, self._cursors.get(stream_name(c)))) for c in self._streams]
        if len(iterators) == 1:
            return iterators[0]
        # heapq.merge is stable: equal close times come in stream order, which is the tie-break.
        return heapq.merge(*iterators, key=_close_time)

    async def closed(self) -> AsyncIterator[CandleClosed]:
        for candle in self:
            yield candle
        self._health = FeedHealth.DONE

    def forming(self, symbol: str, timeframe: str) -> CandleClosed | None:
        return None


def _latest(skip: int | None, cursor: int | None) -> int | None:
    return cursor if skip is None else skip if cursor is None else max(skip, cursor)


def _close_time(candle: CandleClosed) -> int:
    return candle.event_ms


def _events(c: Candles, skip_until_ms: int | None) -> Iterator[CandleClosed]:
    if skip_until_ms is not None:
        c = c[int((c.time + c.timeframe_ms <= skip_until_ms).sum()) :]
    closes = (c.time + c.timeframe_ms).tolist()
    # map() builds the events from C, without a Python frame per candle: a replay is a million of them.
    return map(
        CandleClosed, closes, closes, repeat(c.symbol), repeat(c.timeframe), c.time.tolist(),
        *(column.tolist() for column in c.columns),
    )  # fmt: skip
