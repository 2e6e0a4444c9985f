"""How many events a second the SQL journal stores, sustained, in realistic batches.

Each batch is what one step of a four-symbol paper session commits: four closed candles, and in every
other batch an order's life (submitted, accepted, filled), the position and the balance it moved, so
the projections (orders, fills, positions, equity curve) and the cursors are written as in a real run.
Every round journals ``events`` events into a new session; the figure is the median over rounds of
events divided by the seconds the appends took. It runs on a temporary SQLite file and, when one
answers, on PostgreSQL (``--db`` picks one database instead).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from smc_agent.core.errors import ConfigError
from smc_agent.events import (
    BalanceChanged,
    CandleClosed,
    Event,
    OrderAccepted,
    OrderFilled,
    OrderSubmitted,
    PositionChanged,
)
from smc_agent.model.enums import BalanceReason, Side
from smc_agent.model.orders import Order, OrderStatus, OrderType
from smc_agent.store import open_store

__all__ = ["DEFAULT_POSTGRES", "batches", "store_benchmark"]

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "EURUSD", "NIFTY")
MINUTE = 60_000


def batches(count: int) -> list[list[Event]]:
    """At least ``count`` events in per-step batches, numbered from 1 (see the module docstring)."""
    out: list[list[Event]] = []
    seq, step, balance = 0, 0, Decimal("10000")

    def number(event: Event) -> Event:
        nonlocal seq
        seq += 1
        return msgspec.structs.replace(event, seq=seq)

    while seq < count:
        step += 1
        close = step * MINUTE
        price = 100.0 + (step % 50) * 0.25
        batch = [number(CandleClosed(close, close, symbol, "1m", close - MINUTE, price, price + 1, price - 1,
                                     price + 0.5, 12.5)) for symbol in SYMBOLS]  # fmt: skip
        if step % 2 == 0:
            symbol = SYMBOLS[step % len(SYMBOLS)]
            order = Order(f"o-{step}", symbol, Side.BUY, OrderType.MARKET, Decimal("0.010"))
            accepted = order.to(OrderStatus.ACCEPTED)
            filled = accepted.to(OrderStatus.FILLED, filled=Decimal("0.010"))
            fill_price, fee = Decimal(str(price)), Decimal("0.0125")
            balance -= fee
            batch += [
                number(OrderSubmitted(event_ms=close, known_ms=close, order=order)),
                number(OrderAccepted(event_ms=close, known_ms=close, order=accepted)),
                number(OrderFilled(event_ms=close, known_ms=close, order=filled, price=fill_price,
                                   quantity=Decimal("0.010"), fee=fee, slippage=Decimal(0), maker=False)),
                number(PositionChanged(event_ms=close, known_ms=close, symbol=symbol, side=Side.BUY,
                                       quantity=Decimal("0.010"), average_price=fill_price, realized=Decimal(0))),
                number(BalanceChanged(event_ms=close, known_ms=close, balance=balance, change=-fee,
                                      reason=BalanceReason.FILL)),
            ]  # fmt: skip
        out.append(batch)
    return out


def _rounds(url: str, steps: list[list[Event]], rounds: int) -> dict[str, Any]:
    store = open_store(url)
    try:
        rates: list[float] = []
        events = sum(len(b) for b in steps)
        for index in range(rounds):
            session = store.begin_session(fingerprint=f"bench-{time.time_ns()}-{index}", mode="paper", sources=[],
                                          settings={"bench": "store"}, new=True)  # fmt: skip
            journal = store.journal(session.id)
            start = time.perf_counter()
            for batch in steps:
                journal.append(batch)
            rates.append(events / (time.perf_counter() - start))
            assert journal.last_seq() == events
        return {"db": store.masked_url(), "events": events, "batches": len(steps), "rounds": rounds,
                "events_per_second": statistics.median(rates), "runs": rates}  # fmt: skip
    finally:
        store.close()


def store_benchmark(events: int = 20_000, *, db: str | None = None, rounds: int = 5) -> dict[str, Any]:
    """The sustained journal rate on each database (see the module docstring)."""
    steps = batches(events)
    results: list[dict[str, Any]] = []
    skipped: list[str] = []
    if db is not None:
        results.append(_rounds(db, steps, rounds))
    else:
        with tempfile.TemporaryDirectory(prefix="smc-bench-store-") as directory:
            results.append(_rounds(f"sqlite:///{Path(directory) / 'bench.db'}", steps, rounds))
        postgres = os.environ.get("SMC_TEST_POSTGRES_URL", DEFAULT_POSTGRES)
        try:
            results.append(_rounds(postgres, steps, rounds))
        except ConfigError as exc:
            skipped.append(f"PostgreSQL: {exc}")
    return {"results": results, "skipped": skipped}
