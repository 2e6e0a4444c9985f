"""Live trading in ``smc-agent run``: the gate, the exchange venue, and reconciliation at start.

A session trades live only when the live gate (:func:`~smc_agent.config.live_gate.check_live`) lets it: ``mode
= "live"`` and ``allow_live = true`` in the settings, ``--live`` on the command line and API keys (settings,
environment or secrets file). Anything less refuses to start with one error naming every missing piece;
paper stays the default and never makes a :class:`~smc_agent.venues.ccxt_venue.CcxtVenue`. Live trading
also needs an exchange as the source (replayed files are paper only).

:func:`live_keys` is the gate as the agent asks it, :func:`venue_factory` is what ``bootstrap.build`` makes
the venue with (on the system's bus and clock, reporting into the session), and :class:`LiveTrading` is the
venue's life around the session's run:

1. :meth:`LiveTrading.begin`: the venue loads the markets and balances and starts following orders; then
   :func:`~smc_agent.venues.reconcile.reconcile` compares the exchange with the journal (the orders it
   holds as working or sent, the positions the journal restored, its last fill), each missing event is
   handed to the session (:meth:`~smc_agent.engine.session.Session.report`: stepped, so journaled, before
   the first candle), and each difference is logged (by ``reconcile``) and stored in the
   ``reconciliations`` table;
2. the session runs; execution sends and cancels through the venue;
3. :meth:`LiveTrading.end`: the requests in flight are answered, then the venue closes its client.

The keys stay :class:`~pydantic.SecretStr` up to the ccxt client (:meth:`ApiKeys.credentials`); nothing here
logs, stores or prints them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from smc_agent.bootstrap import LiveVenueFactory, System
from smc_agent.config.live_gate import check_live
from smc_agent.config.settings import Settings
from smc_agent.core.bus import EventBus
from smc_agent.core.clock import Clock
from smc_agent.core.errors import ConfigError
from smc_agent.events import Event, OrderEvent, OrderFilled
from smc_agent.model.orders import NEW, Order
from smc_agent.service.exchange_source import ExchangeSource
from smc_agent.service.store import Store
from smc_agent.venues.ccxt_venue import CcxtVenue, Report, VenueTuning
from smc_agent.venues.keys import ApiKeys
from smc_agent.venues.reconcile import JournalView, Reconciliation, reconcile

__all__ = ["LiveTrading", "journal_view", "live_keys", "venue_factory"]

_START_TIMEOUT_S = 120.0  # the exchange's markets, balances and the reconciliation's queries
_SETTLE_TIMEOUT_S = 30.0  # the requests in flight at the end


def live_keys(settings: Settings, live_flag: bool) -> ApiKeys | None:
    """The keys to trade live with, or None for paper; ConfigError naming what is missing (see the module)."""
    keys = check_live(settings, live_flag)
    if keys is not None and settings.run.source == "files":
        raise ConfigError("live trading needs an exchange to trade at, not replayed files: --source binance "
                          "--symbols BTC/USDT --tf 5m (or run.source in the settings)", key="run.source")  # fmt: skip
    return keys


def venue_factory(source: ExchangeSource, keys: ApiKeys, tuning: VenueTuning | None = None) -> LiveVenueFactory:
    """The live venue of ``source``'s exchange (its URLs, sandbox and rate limit), signed with ``keys``."""

    def make(bus: EventBus, clock: Clock, report: Report) -> CcxtVenue:
        return CcxtVenue.connect(source.exchange, keys, bus, clock, report, urls=source.urls, testnet=source.testnet,
                                 rate_limit_ms=source.rate_limit_ms, tuning=tuning or VenueTuning())  # fmt: skip

    return make


def journal_view(events: Iterable[Event], positions: dict[str, Decimal]) -> JournalView:
    """What the journal says the exchange should show: each order still working or only sent (the last state
    of each client id), ``positions`` (the restored portfolio's, flat ones left out) and the last fill's time."""
    latest: dict[str, Order] = {}
    last_fill: int | None = None
    for event in events:
        if isinstance(event, OrderEvent):
            latest[event.order.client_order_id] = event.order
            if isinstance(event, OrderFilled):
                last_fill = event.event_ms if last_fill is None else max(last_fill, event.event_ms)
    working = {cid: order for cid, order in latest.items() if order.active or order.status is NEW}
    return JournalView(working, {s: q for s, q in positions.items() if q}, last_fill)


@dataclass
class LiveTrading:
    """The live venue of a session, started and reconciled before its run and closed after it."""

    system: System
    store: Store
    session_id: str
    reconciled: Reconciliation | None = None

    @property
    def venue(self) -> CcxtVenue:
        venue = self.system.venue
        assert isinstance(venue, CcxtVenue), "a live session trades at the exchange"
        return venue

    async def begin(self, events: Iterable[Event]) -> Reconciliation:
        """Start the venue and reconcile it with the journal's ``events`` (see the module docstring)."""
        system = self.system
        await asyncio.wait_for(self.venue.start(system.symbols), _START_TIMEOUT_S)
        view = journal_view(events, {s: system.portfolio.position_of(s) for s in system.symbols})
        result = await asyncio.wait_for(reconcile(self.venue, view), _START_TIMEOUT_S)
        for event in result.events:
            system.session.report(event)
        if result.differences:
            self.store.record_differences(self.session_id, system.session.clock.now_ms(), [
                {"kind": str(d.kind), "symbol": d.symbol, "client_order_id": d.client_order_id, "detail": d.detail}
                for d in result.differences])  # fmt: skip
        self.reconciled = result
        return result

    async def end(self) -> None:
        """Let the requests in flight be answered, then close the venue's client."""
        try:
            await self.venue.settle(_SETTLE_TIMEOUT_S)
        finally:
            await self.venue.close()
