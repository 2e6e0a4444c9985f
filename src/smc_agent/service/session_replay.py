"""``backtest --session ID``: a stored session on live data, replayed through a backtest, to prove what it did.

A session on live data journals every candle it received: first the history it learnt from, then
:class:`~smc_agent.events.SessionStarted`, then every candle it traded on (and each operator command, in
its place), across its restarts. :func:`replay_session` feeds exactly those, in the journal's order, to
a backtest system with the session's instruments and settings, on a simulated clock that starts where
the session started: the history through
:meth:`~smc_agent.engine.session.Session.history`, the rest one step each. Since the live session ran on
the market clock, the backtest's fills are the session's, to the id, millisecond, price and quantity;
:class:`SessionReplay` says whether they are and, if not, where they first differ.

The settings must be the session's: the command reads them as every command does (flags, environment,
file) and refuses, naming the keys, when they differ from what the session stored. A session that
replayed files has no instruments of its own in the store: backtest its files instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from smc_agent.bootstrap import build
from smc_agent.config import AppConfig
from smc_agent.core.clock import SimulatedClock
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.engine.session import REPLAY_BATCH, Message
from smc_agent.events import CandleClosed, CommandHandled, Event, OrderFilled, SessionStarted
from smc_agent.model.enums import Mode
from smc_agent.model.instrument import Instrument
from smc_agent.service.agent import fill_record
from smc_agent.service.agent_plan import settings_document
from smc_agent.service.store import Store
from smc_agent.store.sessions import changes
from smc_agent.strategy.registry import StrategyOptions, strategy_kind

__all__ = ["SessionReplay", "replay_session"]


@dataclass(frozen=True)
class SessionReplay:
    session_id: str
    history: int  # candles the session learnt from before it started
    candles: int  # candles it traded on
    fills: list[dict[str, Any]]  # the backtest's
    recorded: list[dict[str, Any]]  # the session's own, from its journal

    @property
    def reproduced(self) -> bool:
        return self.fills == self.recorded

    def first_difference(self) -> str | None:
        for i, (mine, theirs) in enumerate(zip(self.fills, self.recorded, strict=False)):
            if mine != theirs:
                keys = [k for k in theirs if mine.get(k) != theirs.get(k)]
                detail = ", ".join(f"{k}: session {theirs.get(k)!r}, backtest {mine.get(k)!r}" for k in keys)
                return f"fill {i + 1} ({theirs['order_id']}) differs: {detail}"
        if len(self.fills) != len(self.recorded):
            return f"the session has {len(self.recorded)} fills, the backtest {len(self.fills)}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"session": self.session_id, "history": self.history, "candles": self.candles,
                "reproduced": self.reproduced, "first_difference": self.first_difference(), "fills": self.fills,
                "session_fills": self.recorded}  # fmt: skip


def replay_session(store: Store, session_id: str, app: AppConfig) -> SessionReplay:
    """Replay the stored session ``session_id`` through a backtest with the settings ``app``."""
    stored = store.session(session_id)
    document = stored.settings
    given = document.get("instruments")
    if not given:
        raise ConfigError(f"session {session_id} replayed files ({', '.join(stored.sources)}); backtest those files "
                          "with --data instead", key="session")  # fmt: skip
    now = json.loads(json.dumps(settings_document(document["tf"], document["htf"], app)))  # as stored: JSON
    differs = [c for key in ("strategy", "engine", "analysis") if document[key] != now[key]
               for c in changes(key, document[key], now[key])]  # fmt: skip
    if differs:
        raise ConfigError(f"the settings differ from session {session_id}'s ({'; '.join(differs[:5])}): give the "
                          "same --config and environment the session ran with", key="session")  # fmt: skip
    instruments = {symbol: Instrument(symbol, Decimal(i["tick_size"]), Decimal(i["lot_size"]),
                                      Decimal(i["min_notional"]), i["quote_currency"])
                   for symbol, i in given.items()}  # fmt: skip
    tf = document["tf"]
    history, started_ms, messages = _split(store.journal(session_id).read(), tf)
    kind = strategy_kind(document["strategy"])
    options = StrategyOptions(tuple(document["htf"]), analysis=app.analysis)
    system = build(Mode.BACKTEST, [Candles.empty(symbol, tf) for symbol in instruments],
                   lambda c: kind.create(c.symbol, c.timeframe, options), app.engine,
                   clock=SimulatedClock(started_ms), instruments=instruments)  # fmt: skip
    fills: list[dict[str, Any]] = []
    system.bus.subscribe(lambda event: fills.append(fill_record(event)), OrderFilled)
    session = system.session
    session.commit_every = REPLAY_BATCH
    session.history(history)
    session.start()
    candles = 0
    for message in messages:
        session.step(message)
        candles += isinstance(message, CandleClosed)
    session.stop()
    recorded = [fill_record(e) for e in store.journal(session_id).read() if isinstance(e, OrderFilled)]
    return SessionReplay(session_id, len(history), candles, fills, recorded)


def _split(events: Iterator[Event], tf: str) -> tuple[list[CandleClosed], int, list[Message]]:
    """The session's history, the moment it first started, and what it handled after: its entry candles and
    operator commands, in order (the rest of the journal is what they caused)."""
    history: list[CandleClosed] = []
    messages: list[Message] = []
    started_ms: int | None = None
    for event in events:
        if isinstance(event, SessionStarted):
            started_ms = event.event_ms if started_ms is None else started_ms
        elif isinstance(event, CandleClosed) and event.timeframe == tf:
            (history if started_ms is None else messages).append(event)
        elif isinstance(event, CommandHandled) and started_ms is not None:
            messages.append(event.command)
    if started_ms is None:
        raise ConfigError("the session never started: it has nothing to replay", key="session")
    return history, started_ms, messages
