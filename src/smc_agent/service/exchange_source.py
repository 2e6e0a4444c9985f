"""An exchange as the source of a session: its live candles through CCXT, as the settings describe it.

``smc-agent run --source binance --symbols BTC/USDT,ETH/USDT --tf 15m`` trades on what this gives: the
exchange's instruments (tick, lot, minimum notional, from its markets; ``[instruments.SYMBOL]`` wins), the
history a first start learns from (``run.warmup_bars`` candles of the highest timeframe, at least
:data:`MIN_HISTORY` entry candles), and the :class:`~smc_agent.feeds.ccxt_feed.CcxtFeed` that streams,
backfills gaps and recovers by itself. ``exchange.urls`` and ``exchange.rate_limit_ms`` reach the real
ccxt client, so a gateway or a test's loopback exchange stands in for the real one.

A session's sources name the venue, each symbol and the timeframe (not the URLs: where the candles come
from does not change what they are), so a restart against the same store resumes the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from smc_agent.config.engine import EngineSettings, InstrumentSettings
from smc_agent.core.clock import Clock
from smc_agent.core.errors import ConfigError
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.feeds.ccxt_feed import CcxtFeed, FeedTuning
from smc_agent.model.instrument import Instrument

__all__ = ["MIN_HISTORY", "ExchangeSource"]

MIN_HISTORY = 500  # entry candles a first start learns from, however low the highest timeframe
_OPEN_TIMEOUT_S = 120.0  # a first answer from the exchange (its markets): else the start fails, saying so


@dataclass(frozen=True)
class ExchangeSource:
    exchange: str
    symbols: tuple[str, ...]
    timeframe: str
    testnet: bool = False
    urls: Mapping[str, Any] | None = None
    rate_limit_ms: int | None = None
    tuning: FeedTuning = field(default_factory=FeedTuning)

    @classmethod
    def of(cls, exchange: str, symbols: Sequence[str], timeframe: str | None, **given: Any) -> ExchangeSource:
        if not symbols:
            raise ConfigError(f"trading on {exchange} needs the markets to trade: --symbols BTC/USDT,ETH/USDT",
                              key="run.symbols")  # fmt: skip
        if len(set(symbols)) != len(symbols):
            raise ConfigError(f"--symbols names a market twice: {', '.join(symbols)}", key="run.symbols")
        if timeframe is None:
            raise ConfigError(f"trading on {exchange} needs the entry timeframe: --tf 15m", key="run.tf")
        import ccxt.pro  # the exchanges it streams from

        if exchange not in ccxt.pro.exchanges:
            close = [name for name in ccxt.pro.exchanges if name.startswith(exchange[:3])][:5]
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"{exchange!r} is not a CCXT exchange that streams (ccxt.pro){hint}; the sources are "
                              "files or a ccxt.pro exchange", key="run.source")  # fmt: skip
        return cls(exchange, tuple(symbols), timeframe, **given)

    @property
    def venue(self) -> str:
        """What the store files the candles under: the exchange, or its sandbox."""
        return f"{self.exchange}-testnet" if self.testnet else self.exchange

    def described(self) -> list[str]:
        return [f"{self.venue} {symbol} {self.timeframe}" for symbol in self.symbols]

    def history_candles(self, frames: Sequence[str], warmup_bars: int) -> int:
        """Entry candles of history: ``warmup_bars`` of the highest timeframe, at least :data:`MIN_HISTORY`."""
        entry = parse_timeframe(self.timeframe)
        highest = max([entry, *(parse_timeframe(f) for f in frames)])
        return max(MIN_HISTORY, warmup_bars * highest // entry)

    def feed(self, clock: Clock) -> CcxtFeed:
        """The feed, on ``clock``: the wall clock (the session's market clock moves only with what it handles)."""
        return CcxtFeed(self.exchange, self.symbols, (self.timeframe,), urls=self.urls, clock=clock,
                        testnet=self.testnet, rate_limit_ms=self.rate_limit_ms, tuning=self.tuning)  # fmt: skip

    def instruments(self, clock: Clock, settings: EngineSettings) -> dict[str, Instrument]:
        """Each symbol's instrument from the exchange's markets, with what ``[instruments.SYMBOL]`` sets
        instead. It asks the exchange on a loop of its own, before the session's loop starts."""

        async def load() -> dict[str, Instrument]:
            feed = self.feed(clock)
            try:
                return await asyncio.wait_for(feed.instruments(), _OPEN_TIMEOUT_S)
            except TimeoutError:
                raise ConfigError(f"{self.exchange} did not answer within {_OPEN_TIMEOUT_S:g} s (its markets); check "
                                  "the network, exchange.urls and --testnet", key="exchange") from None  # fmt: skip
            finally:
                await feed.aclose()

        found = asyncio.run(load())
        return {symbol: _overridden(found[symbol], settings.instruments.get(symbol)) for symbol in self.symbols}


def _overridden(instrument: Instrument, given: InstrumentSettings | None) -> Instrument:
    """The exchange's instrument, with each increment that the settings set (an unset one is None, 0 or "")."""
    if given is None:
        return instrument
    return replace(instrument, tick_size=given.tick_size or instrument.tick_size,
                   lot_size=given.lot_size or instrument.lot_size,
                   min_notional=given.min_notional or instrument.min_notional,
                   quote_currency=given.quote_currency or instrument.quote_currency)  # fmt: skip
