"""One symbol on several timeframes at once: an entry timeframe plus higher ones.

Higher-timeframe candles come from aggregating the entry candles (a bar is used only once the
aggregator reports it closed) or from their own feed (:meth:`update_htf`). Either way each
timeframe has its own incremental :class:`~smc_agent.smc.detector.SmcEngine`, so everything detected
on a higher timeframe is known exactly from the close of the candle that confirmed it. A
timeframe's evidence is recomputed only when it has a new closed candle; the bias, which also reads
the previous day's levels on the entry timeframe, when it is asked for after a new entry candle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from smc_agent.analysis.aggregate import CandleAggregator
from smc_agent.analysis.bias import Bias, Evidence, combine, timeframe_evidence
from smc_agent.analysis.config import AnalysisConfig
from smc_agent.core.errors import ConfigError
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.smc.detector import SmcEngine, SmcResult

__all__ = ["MultiTimeframeEngine"]


class MultiTimeframeEngine:
    """Detector engines for an entry timeframe and its higher timeframes, kept in step."""

    def __init__(
        self,
        timeframe: str,
        htfs: Sequence[str],
        config: AnalysisConfig | None = None,
        *,
        symbol: str = "",
        tz: str | None = None,
        aggregate: bool = True,
    ) -> None:
        self.config = config or AnalysisConfig()
        self.timeframe = timeframe
        base = parse_timeframe(timeframe)
        for tf in htfs:
            if parse_timeframe(tf) <= base:
                raise ConfigError(f"higher timeframe {tf} is not above the entry timeframe {timeframe}", key="htf")
        # The entry timeframe's calendar gives the previous day's levels to the bias, so its days are
        # the days of the 1d bars (local in ``tz``).
        entry_smc = self.config.entry_smc if tz is None else replace(self.config.entry_smc, calendar_tz=tz)
        self.entry = SmcEngine(timeframe, entry_smc, symbol=symbol)
        self.htf = {tf: SmcEngine(tf, self.config.htf_smc, symbol=symbol) for tf in htfs}
        self._aggregators = {tf: CandleAggregator(timeframe, tf, tz=tz) for tf in htfs} if aggregate else {}
        # A weighted entry timeframe votes in the bias with the higher-timeframe settings, so that
        # "1h" means the same evidence whether it is the entry timeframe or a higher one.
        weighted = self.config.timeframe_weights.get(timeframe, 0.0) > 0  # named by the user, not by default
        self._entry_bias = SmcEngine(timeframe, self.config.htf_smc, symbol=symbol) if weighted else None
        self._bias: Bias | None = None
        self._evidence: dict[str, tuple[int, list[Evidence]]] = {}  # per timeframe, by candle count

    def update(self, time: int, open: float, high: float, low: float, close: float, volume: float = 0.0) -> None:
        """Process one closed entry candle, and every higher-timeframe bar it completes."""
        self.entry.update(time, open, high, low, close, volume)
        self._bias = None  # the previous day's levels are read after every entry candle
        if self._entry_bias is not None:
            self._entry_bias.update(time, open, high, low, close, volume)
        for tf, aggregator in self._aggregators.items():
            for bar in aggregator.update(time, open, high, low, close, volume):
                self.update_htf(tf, bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume)

    def update_htf(
        self, timeframe: str, time: int, open: float, high: float, low: float, close: float, volume: float = 0.0
    ) -> None:
        """Process one closed higher-timeframe candle (from aggregation or its own feed)."""
        self.htf[timeframe].update(time, open, high, low, close, volume)
        self._bias = None

    def bias(self) -> Bias:
        """The bias after the last closed candle of every weighted timeframe (cached until one closes)."""
        if self._bias is None:
            views: dict[str, SmcResult | None] = {tf: engine.result(copy=False) for tf, engine in self.htf.items()}
            if self._entry_bias is not None:
                views[self.timeframe] = self._entry_bias.result(copy=False)
            levels = self.entry.result(copy=False)
            self._bias = combine(views, self.config, self._timeframe_evidence, levels=levels)
        return self._bias

    def _timeframe_evidence(self, timeframe: str, view: SmcResult) -> list[Evidence]:
        """A timeframe's evidence changes only when it closes a candle; recompute it only then."""
        n = len(view.candles)
        cached = self._evidence.get(timeframe)
        if cached is None or cached[0] != n:
            cached = (n, timeframe_evidence(view, timeframe))
            self._evidence[timeframe] = cached
        return cached[1]
