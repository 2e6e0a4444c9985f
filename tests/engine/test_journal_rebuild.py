"""The journal alone rebuilds every state of the trading core, after every candle of real multi-symbol runs.

Each run journals its events (through the serialiser, so what is read back is what a durable journal
would hold). After every candle, a :class:`~smc_agent.engine.recovery.Rebuilt` set of fresh
components folds in what the journal gained and must equal the live portfolio, execution brackets,
risk gate and signals. A journal that loses a single event must make the comparison fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from smc_agent.bootstrap import EngineSettings, Mode, System, build
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.engine.recovery import Rebuilt
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.events import (
    EntryAccepted,
    Event,
    OrderFilled,
    OrderSubmitted,
    RiskCheckpoint,
    SignalChanged,
)
from smc_agent.events.codec import from_msgpack, to_msgpack
from smc_agent.events.journal import Journal, MemoryJournal, check_batch
from smc_agent.model.orders import OrderStatus
from smc_agent.strategy.registry import StrategyOptions, signal_engine, strategy_kind

ALTS = ("ADA", "DASH", "ETC", "ETH", "LTC")
LOOSE = RiskConfig(max_trades_per_day=50, loss_cooldown_minutes=0, max_open_positions=5, max_total_exposure=Decimal(50))


def _alts(shared_data_path: Callable[[str], Path], rows: int) -> list[Candles]:
    return [load_candles(shared_data_path(f"crypto/{alt}_BTC-5m.feather"))[:rows] for alt in ALTS]


@dataclass
class Checked:
    candles: int
    events: list[Event]
    signals: int


def _run_and_check(
    streams: Sequence[Candles], strategy: str, settings: EngineSettings, journal: Journal, htfs: tuple[str, ...]
) -> Checked:
    """Run a backtest session with ``journal``; after every candle compare the live state with a rebuild."""
    kind = strategy_kind(strategy)
    system = build(Mode.BACKTEST, streams, lambda c: kind.create(c.symbol, c.timeframe, StrategyOptions(htfs)),
                   settings, journal=journal, session_id="proof")  # fmt: skip
    timeframes = {symbol: c.timeframe for symbol, c in system.entry.items()}
    rebuilt = Rebuilt(settings.initial_balance, settings.risk, settings.execution, system.instruments, timeframes)
    on_candle, writer = system.kernel.on_candle, system.session.journal
    assert writer is not None
    checked = 0

    def candle_then_compare(candle: Any) -> None:
        nonlocal checked
        on_candle(candle)
        writer.commit()
        rebuilt.apply_all(journal.read(rebuilt.last_seq))
        _assert_equal(system, rebuilt, candle.event_ms)
        checked += 1

    system.kernel.on_candle = candle_then_compare  # type: ignore[method-assign]
    system.run()
    events = list(journal.read())
    return Checked(checked, events, len(rebuilt.signals))


def _assert_equal(system: System, rebuilt: Rebuilt, now: int) -> None:
    assert rebuilt.portfolio.snapshot() == system.portfolio.snapshot(), f"portfolio differs at {now}"
    assert rebuilt.execution.snapshot() == system.execution.snapshot(), f"brackets differ at {now}"
    assert rebuilt.risk.snapshot(now) == system.risk.snapshot(now), f"risk gate differs at {now}"
    live = {}
    for symbol in system.symbols:
        strategy = system.kernel.strategy(symbol)
        if strategy_kind(strategy.kind).draws_zones:
            live.update({s.id: s for s in signal_engine(strategy).signals})
    if live:
        assert rebuilt.signals == live, f"signals differ at {now}"


@pytest.fixture(scope="module")
def sma_run(shared_data_path: Callable[[str], Path]) -> Checked:
    """Five altcoins in one account, SMA crosses with partial entry fills (a share of each candle's volume)."""
    settings = EngineSettings(
        initial_balance=Decimal("1"), risk=LOOSE, lot_size=Decimal("0.001"), volume_share=Decimal("0.05")
    )
    return _run_and_check(_alts(shared_data_path, 2_500), "sma_cross", settings, MemoryJournal(), ())


def test_every_state_is_rebuilt_after_every_candle_of_a_portfolio_run(sma_run: Checked) -> None:
    """The comparison ran after every candle, and the run really exercised what it compares."""
    assert sma_run.candles == 5 * 2_500
    kinds = {type(e) for e in sma_run.events}
    assert {EntryAccepted, OrderSubmitted, OrderFilled, RiskCheckpoint} <= kinds
    fills = [e for e in sma_run.events if isinstance(e, OrderFilled)]
    assert len({f.order.symbol for f in fills}) == len(ALTS)  # every symbol traded in the one account
    partial = [f for f in fills if f.order.status is OrderStatus.PARTIALLY_FILLED and f.order.tag == "entry"]
    assert partial, "the volume share made no partial entry fill: the partial-fill protection went untested"
    assert [e.seq for e in sma_run.events] == list(range(1, len(sma_run.events) + 1))
    assert {e.session_id for e in sma_run.events} == {"proof"}


def test_signals_are_rebuilt_from_their_events(shared_data_path: Callable[[str], Path]) -> None:
    """The SMC strategy on two real markets: every signal, in every version and status, comes back."""
    # 9,000 EURUSD candles: three signals, two of them traded (6,000 hold a single one, which expires).
    streams = [load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))[:9_000],
               load_candles(shared_data_path("india/NIFTY-FUT_15m_2024.csv"))]  # fmt: skip
    checked = _run_and_check(streams, "smc", EngineSettings(), MemoryJournal(), ("1h", "4h"))
    assert checked.signals > 0
    statuses = {e.signal.status for e in checked.events if isinstance(e, SignalChanged)}
    assert len(statuses) >= 3  # created (pending), and later states: triggered, expired, invalidated ...


class _Forgetful:
    """A journal with a planted bug: it loses the first event of ``kind`` and keeps everything else."""

    def __init__(self, kind: type) -> None:
        self._kind, self._lost = kind, False
        self._records: list[bytes] = []
        self._last = 0

    def append(self, events: Sequence[Event]) -> None:
        for event in check_batch(events, self._last):
            self._last = event.seq
            if isinstance(event, self._kind) and not self._lost:
                self._lost = True
                continue
            self._records.append(to_msgpack(event))

    def read(self, after_seq: int = 0) -> Iterator[Event]:
        return (e for e in map(from_msgpack, self._records) if e.seq > after_seq)

    def last_seq(self) -> int:
        return self._last


@pytest.mark.parametrize("lost", [EntryAccepted, RiskCheckpoint, OrderFilled], ids=lambda k: k.__name__)
def test_a_journal_that_loses_one_event_fails_the_proof(shared_data_path: Callable[[str], Path], lost: type) -> None:
    settings = EngineSettings(initial_balance=Decimal("1"), risk=LOOSE, lot_size=Decimal("0.001"))
    with pytest.raises(AssertionError, match="differ"):
        _run_and_check(_alts(shared_data_path, 1_500), "sma_cross", settings, _Forgetful(lost), ())


def test_a_new_system_recovers_the_state_of_a_journaled_one(shared_data_path: Callable[[str], Path]) -> None:
    """Run half the data with a journal, then build a fresh system and recover it from that journal: its
    portfolio, brackets and risk gate equal the first system's, and its events continue the sequence."""
    settings = EngineSettings(initial_balance=Decimal("1"), risk=LOOSE, lot_size=Decimal("0.001"))
    streams = _alts(shared_data_path, 1_200)
    kind = strategy_kind("sma_cross")
    journal = MemoryJournal()
    first = build(Mode.BACKTEST, streams, lambda c: kind.create(c.symbol, c.timeframe, StrategyOptions()),
                  settings, journal=journal, session_id="s")  # fmt: skip
    first.session.start()
    first.session.replay(first.feed)
    second = build(Mode.BACKTEST, streams, lambda c: kind.create(c.symbol, c.timeframe, StrategyOptions()),
                   settings, journal=journal, session_id="s")  # fmt: skip
    assert second.recover(journal).last_seq == journal.last_seq() > 0
    now = first.session.clock.now_ms()
    assert second.portfolio.snapshot() == first.portfolio.snapshot()
    assert second.execution.snapshot() == first.execution.snapshot()
    assert second.risk.snapshot(now) == first.risk.snapshot(now)
    assert first.execution.snapshot() != {"": ((),)} or first.portfolio.open_positions()  # not an empty state
    second.session.stop("recovered")
    assert [e.seq for e in journal.read()] == list(range(1, journal.last_seq() + 1))
