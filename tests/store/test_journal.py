"""The SQL journal against the in-memory one on a real run, its batch rules, its atomicity, and the
projections it writes in the same transaction (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select

from smc_agent.core.errors import SmcAgentError
from smc_agent.events import (
    BalanceChanged,
    CandleClosed,
    Event,
    OrderFilled,
    PositionChanged,
    RiskRejected,
    SignalChanged,
    TradingStateChanged,
)
from smc_agent.events.journal import MemoryJournal
from smc_agent.model.enums import BalanceReason, TradingState
from smc_agent.store import Store, projections, schema

BATCH = 100


def _batches(events: Sequence[Event], size: int = BATCH) -> list[Sequence[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def _session(store: Store) -> str:
    return store.begin_session(fingerprint="f", mode="backtest", sources=["a.csv"], settings={}).id


def _candle(seq: int, close_ms: int, symbol: str = "EURUSD", timeframe: str = "15m") -> CandleClosed:
    return CandleClosed(close_ms, close_ms, symbol, timeframe, close_ms - 900_000, 1.1, 1.2, 1.0, 1.15, 3.0, seq=seq)


def _rows(store: Store, table: schema.Table) -> list[dict[str, object]]:
    engine = create_engine(store.url)
    try:
        with engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(table))]
    finally:
        engine.dispose()


def test_a_real_run_reads_back_as_the_memory_journal_gives_it(store: Store, real_events: list[Event]) -> None:
    memory = MemoryJournal()
    journal = store.journal(_session(store))
    for batch in _batches(real_events):
        memory.append(batch)
        journal.append(batch)
    assert journal.last_seq() == memory.last_seq() == len(real_events) == 9_178
    assert list(journal.read()) == list(memory.read())
    assert list(journal.read(9_000)) == list(memory.read(9_000))  # a read from the middle, across chunks
    assert [e.seq for e in journal.read(9_170)] == list(range(9_171, 9_179))


def test_a_stored_batch_appended_again_is_a_no_op_and_a_gap_is_refused(store: Store) -> None:
    journal = store.journal(_session(store))
    first = [_candle(1, 900_000), _candle(2, 1_800_000)]
    journal.append(first)
    journal.append(first)  # a retried commit
    journal.append([*first, _candle(3, 2_700_000)])  # partly stored: only seq 3 is new
    assert [e.seq for e in journal.read()] == [1, 2, 3]
    with pytest.raises(SmcAgentError, match="has seq 5, expected 4"):
        journal.append([_candle(5, 4_500_000)])
    assert journal.last_seq() == 3
    assert store.cursors(journal.session_id) == {("EURUSD", "15m"): 2_700_000}


def test_cursors_hold_each_streams_last_close(store: Store) -> None:
    journal = store.journal(_session(store))
    journal.append([_candle(1, 900_000), _candle(2, 900_000, "BTC", "5m"), _candle(3, 1_800_000)])
    journal.append([_candle(4, 1_200_000, "BTC", "5m")])
    assert store.cursors(journal.session_id) == {("EURUSD", "15m"): 1_800_000, ("BTC", "5m"): 1_200_000}


def test_a_failing_projection_stores_neither_events_nor_cursors(
    store: Store, real_events: list[Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = store.journal(_session(store))
    journal.append([_candle(1, 900_000)])
    fill = next(e for e in real_events if isinstance(e, OrderFilled))

    def broken(event: Event, rows: projections.Rows) -> None:
        raise RuntimeError("projection failed")

    monkeypatch.setitem(projections.PROJECTIONS, OrderFilled, broken)
    batch = [_candle(2, 1_800_000), _candle(3, 2_700_000), type(fill)(**{**_fields(fill), "seq": 4})]
    with pytest.raises(RuntimeError, match="projection failed"):
        journal.append(batch)
    assert journal.last_seq() == 1
    assert store.cursors(journal.session_id) == {("EURUSD", "15m"): 900_000}
    assert store.row_counts()["fills"] == 0
    monkeypatch.undo()
    journal.append(batch)  # the retry stores it whole
    assert journal.last_seq() == 4
    assert store.cursors(journal.session_id) == {("EURUSD", "15m"): 2_700_000}
    assert store.row_counts()["fills"] == 1


def _fields(event: Event) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__struct_fields__}


def test_projections_of_a_real_run(store: Store, real_events: list[Event]) -> None:
    session_id = _session(store)
    journal = store.journal(session_id)
    for batch in _batches(real_events):
        journal.append(batch)
    counts = store.row_counts()
    # The run's events (see real_events): 4 orders, 2 fills, 16 signal versions, 2 balance changes, 3 denials.
    assert counts["events"] == 9_178
    assert counts["orders"] == 4
    assert counts["fills"] == 2
    assert counts["signals"] == 16
    assert counts["account_snapshots"] == 2
    assert counts["risk_events"] == 3
    assert counts["positions"] == 1  # one symbol: its latest position
    fills = [e for e in real_events if isinstance(e, OrderFilled)]
    stored_fills = sorted(_rows(store, schema.fills), key=lambda r: int(str(r["seq"])))
    assert [(r["client_order_id"], Decimal(str(r["price"])), Decimal(str(r["quantity"])), Decimal(str(r["fee"])))
            for r in stored_fills] == [(f.order.client_order_id, f.price, f.quantity, f.fee)
                                       for f in fills]  # fmt: skip
    assert all(isinstance(r["price"], str) for r in stored_fills)  # exact text, never a float
    changes = [e for e in real_events if isinstance(e, SignalChanged)]
    versions = sorted(
        (str(r["signal_id"]), int(str(r["version"])), str(r["status"])) for r in _rows(store, schema.signals)
    )
    assert versions == sorted((e.signal.id, e.signal.version, e.signal.status.value) for e in changes)
    assert len({v[0] for v in versions}) < len(versions)  # signals with several versions, each kept
    denials = [e for e in real_events if isinstance(e, RiskRejected)]
    risk = sorted(_rows(store, schema.risk_events), key=lambda r: int(str(r["seq"])))
    assert [(r["kind"], r["symbol"], r["reason"]) for r in risk] == [
        ("denied", e.symbol, f"{e.layer.value}: {e.reason}") for e in denials
    ]
    balances = [e for e in real_events if isinstance(e, BalanceChanged)]
    snapshots = sorted(_rows(store, schema.account_snapshots), key=lambda r: int(str(r["seq"])))
    assert [Decimal(str(r["balance"])) for r in snapshots] == [e.balance for e in balances]
    last_position = [e for e in real_events if isinstance(e, PositionChanged)][-1]
    (position,) = _rows(store, schema.positions)
    assert Decimal(str(position["quantity"])) == last_position.quantity == 0
    assert position["side"] is None
    # The last fill closed the trade: flat, so the equity of its snapshot is its balance.
    assert snapshots[-1]["equity"] == snapshots[-1]["balance"]
    assert snapshots[0]["equity"] is None  # the entry's fill left a position open
    orders = {r["client_order_id"]: r for r in _rows(store, schema.orders)}
    assert {str(r["status"]) for r in orders.values()} == {"filled", "cancelled"}


def test_trading_state_changes_are_risk_events(store: Store) -> None:
    journal = store.journal(_session(store))
    halted = TradingStateChanged(event_ms=5, known_ms=5, old=TradingState.ACTIVE, new=TradingState.HALTED,
                                 reason="drawdown 12% over 10%", seq=1)  # fmt: skip
    reset = TradingStateChanged(event_ms=9, known_ms=9, old=TradingState.HALTED, new=TradingState.ACTIVE,
                                reason="operator reset", seq=2)  # fmt: skip
    deposit = BalanceChanged(event_ms=9, known_ms=9, balance=Decimal("1000.10"), change=Decimal("0.10"),
                             reason=BalanceReason.DEPOSIT, seq=3)  # fmt: skip
    journal.append([halted, reset, deposit])
    risk = sorted(_rows(store, schema.risk_events), key=lambda r: int(str(r["seq"])))
    assert [(r["kind"], r["reason"]) for r in risk] == [
        ("halted", "active -> halted: drawdown 12% over 10%"), ("reset", "halted -> active: operator reset")
    ]  # fmt: skip
    (snapshot,) = _rows(store, schema.account_snapshots)
    assert (snapshot["balance"], snapshot["equity"]) == ("1000.10", "1000.10")
