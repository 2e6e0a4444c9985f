"""The agent's Prometheus metrics, in the process's default registry (the API's ``/metrics`` serves it).

Every metric is created once, here, at import: the registry refuses a name twice, so an app built many times (the
tests build one per test) registers nothing. Counters are process-wide; a reader compares two readings.

- each feed's health (an enum per feed, so a dashboard shows which state it is in and an alert fires on ``down``)
  and its changes of state (:func:`feed_changed`);
- what the engine did, counted from its bus by :class:`BusMetrics` (the same subscription the API's stream hub
  makes): candles by stream, signals by setup and status, order events by kind and role, fills, risk denials by
  layer (the denial's kind: its reason is a sentence, which would make a series per sentence); the balance and
  the equity are read from the portfolio when scraped, so a resumed session shows them before its first fill;
- the strategy's time per entry candle (:data:`STRATEGY_SECONDS`, observed by :func:`timed`, the kernel's
  ``strategy_call`` under the agent: the core itself reads no clock);
- the API's requests (:data:`HTTP_SECONDS`, observed by :mod:`smc_agent.api.observability`) and WebSocket clients.

Every label takes a bounded set of values: configured symbols and timeframes, the setups' names, enum values.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Enum, Gauge, Histogram

from smc_agent.core.bus import EventBus
from smc_agent.engine.portfolio import Portfolio
from smc_agent.events import CandleClosed, OrderEvent, OrderFilled, RiskRejected, SignalChanged
from smc_agent.feeds import FeedHealth
from smc_agent.strategy.base import Command, Strategy

__all__ = [
    "BALANCE",
    "CANDLES",
    "EQUITY",
    "FEED_CHANGES",
    "FEED_STATE",
    "FILLS",
    "HTTP_SECONDS",
    "ORDER_EVENTS",
    "RISK_DENIALS",
    "SIGNALS",
    "STRATEGY_SECONDS",
    "WEBSOCKET_CLIENTS",
    "BusMetrics",
    "feed_changed",
    "timed",
]

FEED_STATE = Enum("smc_agent_feed_state", "Each live feed's health", ["feed"], states=[h.value for h in FeedHealth])
FEED_CHANGES = Counter("smc_agent_feed_changes", "Changes of a live feed's health", ["feed", "health"])
CANDLES = Counter("smc_agent_candles", "Closed candles the engine processed", ["symbol", "timeframe"])
SIGNALS = Counter("smc_agent_signals", "Signal changes: created (pending) and each later status", ["setup", "status"])
ORDER_EVENTS = Counter("smc_agent_order_events", "Order events by kind and the order's role", ["event", "tag"])
FILLS = Counter("smc_agent_fills", "Order fills (whole or partial)", ["symbol", "side"])
RISK_DENIALS = Counter("smc_agent_risk_denials", "Order commands the risk gate denied, by layer", ["layer"])
BALANCE = Gauge("smc_agent_balance", "The account's cash balance")
EQUITY = Gauge("smc_agent_equity", "The account's equity (balance plus open positions at their last close)")
# The SMC strategy takes tens of microseconds on most candles (76 µs on average over EURUSD 15m), a few ms on some.
_STRATEGY_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.1)
_HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
STRATEGY_SECONDS = Histogram("smc_agent_strategy_seconds", "The strategy's time (detectors, signals) per entry candle",
                             buckets=_STRATEGY_BUCKETS)  # fmt: skip
HTTP_SECONDS = Histogram("smc_agent_http_request_seconds", "API requests' time, by route template and status",
                         ["method", "route", "status"], buckets=_HTTP_BUCKETS)  # fmt: skip
WEBSOCKET_CLIENTS = Gauge("smc_agent_websocket_clients", "WebSocket stream clients connected")


def timed(strategy: Strategy, candle: CandleClosed) -> list[Command]:
    """The kernel's ``strategy_call`` under the agent: the strategy's answer, its time observed."""
    started = time.perf_counter()
    try:
        return strategy.on_candle(candle)
    finally:
        STRATEGY_SECONDS.observe(time.perf_counter() - started)


def feed_changed(feed: str, health: FeedHealth) -> None:
    FEED_STATE.labels(feed=feed).state(health.value)
    FEED_CHANGES.labels(feed=feed, health=health.value).inc()


# OrderSubmitted -> "submitted" ...: the class names are the kinds, a fixed set.
_ORDER_KIND = {kind: kind.__name__.removeprefix("Order").lower() for kind in OrderEvent.__subclasses__()}


class BusMetrics:
    """Counts the engine's events as the bus delivers them; the balance and equity gauges read ``portfolio``.

    Delivery is synchronous, so each handler is a dictionary lookup and an increment: a candle costs well under a
    microsecond (``bench run`` measures it). A labelled child is looked up once per label set and kept.
    """

    def __init__(self, bus: EventBus, portfolio: Portfolio | None = None) -> None:
        self._candles: dict[tuple[str, str], Any] = {}
        bus.subscribe(self._on_candle, CandleClosed)
        bus.subscribe(self._on_signal, SignalChanged)
        bus.subscribe(self._on_order, OrderEvent)
        bus.subscribe(self._on_denial, RiskRejected)
        if portfolio is not None:
            # Read on the scrape, which runs on the engine's event loop (the /metrics route is async), between two
            # steps. The last agent opened in the process is the one shown: a process runs one agent.
            BALANCE.set_function(lambda: float(portfolio.balance))
            EQUITY.set_function(lambda: float(portfolio.equity()))

    def _on_candle(self, candle: CandleClosed) -> None:
        key = (candle.symbol, candle.timeframe)
        child = self._candles.get(key)
        if child is None:
            child = self._candles[key] = CANDLES.labels(*key)
        child.inc()

    def _on_signal(self, event: SignalChanged) -> None:
        SIGNALS.labels(event.signal.setup, event.signal.status.value).inc()

    def _on_order(self, event: OrderEvent) -> None:
        order = event.order
        kind = _ORDER_KIND.get(type(event)) or type(event).__name__.lower()  # a bus handler must never raise
        ORDER_EVENTS.labels(kind, order.tag).inc()
        if isinstance(event, OrderFilled):
            FILLS.labels(order.symbol, order.side.value).inc()

    def _on_denial(self, event: RiskRejected) -> None:
        RISK_DENIALS.labels(event.layer.value).inc()
