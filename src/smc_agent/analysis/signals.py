"""Signals: a setup turned into a trade idea with a lifecycle, replayed candle by candle.

A signal is created at the close of the candle that completed its setup, as ``pending``. On each
later entry candle, for a long (shorts mirror):

* the candle opens at or below the stop: ``invalidated`` (price went through the stop before entry);
* else its low reaches the entry: ``triggered``, unless a strategy trades the signal
  (:meth:`SignalEngine.follow`): then the venue decides, and the strategy records ``triggered`` (with the
  fill price) at the entry's first fill, ``filled`` once the whole entry has filled and ``closed`` (with
  the R achieved) when the trade is flat again, through :meth:`SignalEngine.settle`; a traded signal may
  also end there as ``invalidated`` with the strategy's reason (the risk gate refused it, say);
* else its high takes TP1's liquidity before entry: the targets are recomputed from the liquidity
  still untaken; if reward-to-risk stays at or above the minimum the signal gets a new *version*
  (same id), otherwise it is ``invalidated``;
* else after ``expiry_candles`` candles it is ``expired``.

:class:`SignalEngine` is the only way signals are made: a batch replay feeds it every candle, a live
feed feeds it one at a time, so both produce the same signals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.mtf import MultiTimeframeEngine
from smc_agent.analysis.setups import Candidate, Rejection, evaluate, targets_beyond
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.candles import Candles
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.model.signal import Bias, Signal, SignalStatus

__all__ = ["Signal", "SignalEngine", "SignalStatus", "advance", "replay"]


class SignalEngine:
    """Multi-timeframe detectors plus the setup rules and the lifecycle of every signal."""

    def __init__(
        self,
        timeframe: str,
        htfs: Sequence[str],
        config: AnalysisConfig | None = None,
        *,
        symbol: str = "",
        tz: str | None = None,
    ) -> None:
        self.config = config or AnalysisConfig()
        self.mtf = MultiTimeframeEngine(timeframe, htfs, self.config, symbol=symbol, tz=tz)
        self.symbol = symbol
        self.timeframe = timeframe
        self._tf_ms = parse_timeframe(timeframe)
        self._signals: dict[str, Signal] = {}
        self._pending: list[str] = []
        self._followed: set[str] = set()  # traded signals: the venue's fills, not a touch, trigger them
        self._breaks_seen = 0
        self.rejections: Counter[tuple[str, str]] = Counter()
        # Every creation and change with the index of the candle at whose close it happened: the
        # record that the look-ahead tests compare, and what a journal would store.
        self.history: list[tuple[int, Signal]] = []

    @property
    def signals(self) -> list[Signal]:
        """Every signal, latest version, in order of creation."""
        return list(self._signals.values())

    def follow(self, signal_id: str) -> None:
        """Leave triggering ``signal_id`` to its trade: a touch of the entry is not a fill (the venue may
        round the limit, fill part of it, or the gate may refuse it), so the strategy settles it."""
        self._followed.add(signal_id)

    def knows(self, signal_id: str) -> bool:
        return signal_id in self._signals

    def restore(self, signal: Signal) -> None:
        """Take a journaled state of a signal (a restart): what the candles or its trade made of it."""
        self._signals[signal.id] = signal

    def settle(
        self,
        signal_id: str,
        status: SignalStatus,
        at_ms: int,
        *,
        fill_price: float | None = None,
        r_multiple: float | None = None,
        reason: str | None = None,
    ) -> Signal:
        """Record what trading made of a signal (triggered, filled, closed, or why it ended); returns its new
        state. A pending signal settled here leaves the lifecycle's candle rules.

        Only the trading engine knows this, so it is not part of :attr:`history`, which holds what the
        analysis alone decides (and what the look-ahead proofs compare).
        """
        signal = self._signals[signal_id]
        new = replace(
            signal, status=status, status_ms=at_ms, status_reason=reason,
            fill_price=signal.fill_price if fill_price is None else fill_price,
            fill_ms=signal.fill_ms if fill_price is None else at_ms,
            r_multiple=signal.r_multiple if r_multiple is None else r_multiple,
        )  # fmt: skip
        self._signals[signal_id] = new
        return new

    def update(
        self, time: int, open: float, high: float, low: float, close: float, volume: float = 0.0
    ) -> list[Signal]:
        """Process one closed entry candle; return the signals created or changed at its close."""
        self.mtf.update(time, open, high, low, close, volume)
        close_ms = time + self._tf_ms
        index = len(self.mtf.entry) - 1
        changed = self._advance(index, close_ms, open, high, low)
        count = self.mtf.entry.row_count("breaks")
        if count > self._breaks_seen:
            view = self.mtf.entry.result(copy=False)
            for row in range(self._breaks_seen, count):
                for outcome in evaluate(view, row, self.mtf.bias, self.config):
                    if isinstance(outcome, Rejection):
                        self.rejections[(outcome.setup, outcome.reason)] += 1
                    else:
                        changed.append(self._create(outcome, self.mtf.bias(), index, close_ms))
            self._breaks_seen = count
        self.history.extend((index, signal) for signal in changed)
        return changed

    def _create(self, candidate: Candidate, bias: Bias, index: int, close_ms: int) -> Signal:
        created = iso_utc(close_ms)
        signal_id = f"{self.symbol or 'symbol'}:{self.timeframe}:{candidate.setup}:{candidate.side.value}:{created}"
        signal = Signal(
            signal_id, self.symbol, self.timeframe, candidate.side, candidate.setup, candidate.entry,
            candidate.stop, candidate.targets, candidate.rr, candidate.quality, candidate.breakdown, bias,
            candidate.evidence, close_ms, index, close_ms + self.config.expiry_candles * self._tf_ms,
            status_ms=close_ms,
        )  # fmt: skip
        self._signals[signal_id] = signal
        self._pending.append(signal_id)
        return signal

    def _advance(self, index: int, close_ms: int, open_: float, high: float, low: float) -> list[Signal]:
        changed: list[Signal] = []
        still: list[str] = []
        for signal_id in self._pending:
            signal = self._signals[signal_id]
            if signal.status is not SignalStatus.PENDING:
                continue  # settled by its trade
            new = self._step(signal, index, close_ms, open_, high, low)
            if new is not signal:
                self._signals[signal_id] = new
                changed.append(new)
            if new.status is SignalStatus.PENDING:
                still.append(signal_id)
        self._pending = still
        return changed

    def _step(self, signal: Signal, index: int, close_ms: int, open_: float, high: float, low: float) -> Signal:
        def targets_now() -> list[float]:
            return targets_beyond(self.mtf.entry.result(copy=False), signal.side.sign, signal.entry)

        touch = signal.id not in self._followed
        return advance(signal, index, close_ms, open_, high, low, self.config, targets_now, touch_triggers=touch)


def advance(
    signal: Signal,
    index: int,
    close_ms: int,
    open_: float,
    high: float,
    low: float,
    config: AnalysisConfig,
    targets_now: Callable[[], list[float]],
    *,
    touch_triggers: bool = True,
) -> Signal:
    """A pending signal after one more closed candle (see the module docstring for the rules).

    ``targets_now`` gives the untaken opposing liquidity beyond the entry, nearest first; it is
    called only when TP1's liquidity was taken before entry. Without ``touch_triggers`` (a traded
    signal) a candle reaching the entry changes nothing: the fill, if any, triggers it.
    """
    d = signal.side.sign
    reached = d * ((low if d == 1 else high) - signal.entry) <= 0
    if reached and not touch_triggers:
        return signal  # the venue's fill decides, and the entry order is still working
    if d * (open_ - signal.stop) <= 0:
        return _ended(signal, SignalStatus.INVALIDATED, close_ms, "gap_through_stop")
    if reached:
        return _ended(signal, SignalStatus.TRIGGERED, close_ms)
    # Liquidity is taken by trading beyond the pool, not by touching it (as the detectors define a sweep).
    if d * ((high if d == 1 else low) - signal.targets[0]) > 0:
        targets = targets_now()
        rr = d * (targets[0] - signal.entry) / (d * (signal.entry - signal.stop)) if targets else 0.0
        if rr < config.min_rr:
            return _ended(signal, SignalStatus.INVALIDATED, close_ms, "target_taken")
        return replace(signal, targets=tuple(targets[:2]), rr=rr, version=signal.version + 1, status_ms=close_ms)
    if index - signal.created_index >= config.expiry_candles:
        return _ended(signal, SignalStatus.EXPIRED, close_ms)
    return signal


def _ended(signal: Signal, status: SignalStatus, at_ms: int, reason: str | None = None) -> Signal:
    return replace(signal, status=status, status_ms=at_ms, status_reason=reason)


def replay(
    candles: Candles,
    htfs: Sequence[str],
    config: AnalysisConfig | None = None,
    *,
    tz: str | None = None,
) -> SignalEngine:
    """Feed every candle through a fresh :class:`SignalEngine` (the batch form of signals)."""
    engine = SignalEngine(candles.timeframe, htfs, config, symbol=candles.symbol, tz=tz)
    for row in zip(*(column.tolist() for column in (candles.time, *candles.columns)), strict=True):
        engine.update(*row)
    return engine
