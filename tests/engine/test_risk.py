"""The risk gate on hand-built situations: each layer provoked, with its exact reason, event and state change.

Equity 10,000 and 1% risk put 100 at risk per trade; a EURUSD buy at 1.10000 with its stop at 1.09800
risks 0.00200 a unit, so 100 / 0.00200 = 50,000 units (50 lots of 1,000), a notional of 55,000. The
default exposure cap (3× equity) would refuse that, so these tests allow 10×.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import SimulatedClock
from smc_agent.core.errors import ConfigError
from smc_agent.engine.ids import order_id
from smc_agent.engine.risk import OrderCommand, RiskConfig, RiskDecision, RiskGate, RiskLayer
from smc_agent.events import OrderCancelled, PositionChanged, RiskCheckpoint, RiskRejected, TradingStateChanged
from smc_agent.model.enums import Side, TradingState
from smc_agent.model.instrument import Instrument, Rounding
from smc_agent.model.orders import Order, OrderStatus, OrderType

D = Decimal
EURUSD = Instrument("EURUSD", D("0.00001"), D("1000"))
GBPUSD = Instrument("GBPUSD", D("0.00001"), D("1000"))
BTC = Instrument("BTCUSDT", D("0.1"), D("0.001"), min_notional=D("100"))
INSTRUMENTS = {i.symbol: i for i in (EURUSD, GBPUSD, BTC)}


def _ms(day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(2024, 3, day, hour, minute, tzinfo=UTC).timestamp() * 1000)


class FakeAccount:
    """The gate's input only: an equity and the open positions, set by each test."""

    def __init__(self, equity: str = "10000") -> None:
        self.value = D(equity)
        self.positions: dict[str, tuple[Side, Decimal, Decimal]] = {}

    def equity(self) -> Decimal:
        return self.value

    def open_positions(self) -> Mapping[str, tuple[Side, Decimal, Decimal]]:
        return self.positions

    def approx_equity(self) -> tuple[float, float]:
        return float(self.value), abs(float(self.value))


class Rig:
    """A gate on a simulated clock at 2024-03-01 10:00 UTC, recording every event it publishes."""

    def __init__(self, **overrides: Any) -> None:
        self.clock = SimulatedClock(_ms(1, 10))
        self.bus = EventBus()
        self.account = FakeAccount()
        self.events: list[object] = []
        self.bus.subscribe(self.events.append)
        config = RiskConfig(**{"max_total_exposure": D("10"), **overrides})
        instruments = {i.symbol: i for i in (EURUSD, GBPUSD, BTC)}
        self.gate = RiskGate(config, instruments, self.clock, self.bus, self.account)

    def take(self, kind: type) -> list[Any]:
        """The events of ``kind`` published since the last take (and forget them)."""
        found = [e for e in self.events if isinstance(e, kind)]
        self.events[:] = [e for e in self.events if not isinstance(e, kind)]  # the bus holds this list
        return found

    def others(self) -> list[object]:
        """What was published besides the checkpoints (which follow every change of the gate's memory)."""
        return [e for e in self.events if not isinstance(e, RiskCheckpoint)]

    def denied(self, command: OrderCommand, layer: RiskLayer, reason: str) -> None:
        """``command`` is denied by ``layer`` for ``reason``, and exactly that was published."""
        decision = self.gate.check(command)
        assert decision == RiskDecision(False, D(0), layer, reason)
        now = self.clock.now_ms()
        expected = RiskRejected(
            event_ms=now, known_ms=now, symbol=command.symbol, layer=layer.value, reason=reason, command=command
        )
        assert self.take(RiskRejected) == [expected]

    def accepted(self, command: OrderCommand, quantity: str = "50000") -> None:
        # The stop comes back as it will rest: rounded to the tick away from the entry.
        rounding = Rounding.DOWN if command.side is Side.BUY else Rounding.UP
        stop = None if command.reduce_only else INSTRUMENTS[command.symbol].round_price(command.stop, rounding)
        decision = self.gate.check(command)
        # Without cost models the gate's reward:risk is the plain one: reward over the stop distance.
        rr = None if stop is None else (command.targets[0] - command.entry) / (command.entry - stop)
        assert decision == RiskDecision(True, D(quantity), stop=stop, rr=rr)
        assert self.take(RiskRejected) == []
        if not command.reduce_only:  # the entry is withdrawn, so that it counts towards no later limit
            entry = Order(order_id(command.signal_id, "e"), command.symbol, command.side, OrderType.LIMIT, D(quantity),
                          price=command.entry, status=OrderStatus.CANCELLED)  # fmt: skip
            now = self.clock.now_ms()
            self.bus.publish(OrderCancelled(event_ms=now, known_ms=now, order=entry, reason="test"))
            self.take(OrderCancelled)

    def changed(self, old: TradingState, new: TradingState, reason: str) -> None:
        """Exactly one state change since the last look, the one given."""
        now = self.clock.now_ms()
        expected = TradingStateChanged(event_ms=now, known_ms=now, old=old.value, new=new.value, reason=reason)
        assert self.take(TradingStateChanged) == [expected]
        assert self.gate.state is new


def buy(symbol: str = "EURUSD", entry: str = "1.10000", stop: str = "1.09800", *targets: str) -> OrderCommand:
    return OrderCommand(symbol, Side.BUY, D(entry), D(stop), tuple(D(t) for t in targets or ("1.10400",)), "s", "t")


def sell(symbol: str = "EURUSD", entry: str = "1.10000", stop: str = "1.10200", *targets: str) -> OrderCommand:
    return OrderCommand(symbol, Side.SELL, D(entry), D(stop), tuple(D(t) for t in targets or ("1.09600",)), "s", "t")


def exit_long(symbol: str = "EURUSD") -> OrderCommand:
    return OrderCommand.exit(symbol, Side.SELL, D("1.10000"), signal_id="s")


# -- layer 1: trade ------------------------------------------------------------------------------


def test_size_is_risk_over_stop_distance_rounded_down_to_the_lot() -> None:
    rig = Rig(max_trades_per_day=3)
    rig.accepted(buy())  # 100 / 0.00200 = 50,000
    rig.accepted(sell())
    rig.accepted(buy("EURUSD", "1.10000", "1.09700", "1.10600", "1.11000"), "33000")  # 33,333.3 -> 33 lots
    assert rig.others() == []  # an acceptance publishes nothing: the venue reports the order


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (
            buy("EURUSD", "1.10000", "1.10200"),
            "stop 1.10200 is above the entry 1.10000 on EURUSD: a BUY needs its stop below it",
        ),
        (
            sell("EURUSD", "1.10000", "1.09800"),
            "stop 1.09800 is below the entry 1.10000 on EURUSD: a SELL needs its stop above it",
        ),
        (
            buy("EURUSD", "1.10000", "1.10000"),
            "stop 1.10000 equals the entry on EURUSD: the risk per unit must not be zero",
        ),
        (
            buy("EURUSD", "1.10000", "1.09800", "1.09900"),
            "TP1 1.09900 is not above the entry 1.10000 on EURUSD for a BUY",
        ),
        (
            buy("EURUSD", "1.10000", "1.09800", "1.10400", "1.10000"),
            "TP2 1.10000 is not above the entry 1.10000 on EURUSD for a BUY",
        ),
        (buy("USDJPY", "150.000", "149.000", "153.000"), "no instrument is configured for USDJPY"),
        (buy("EURUSD", "1.10000", "1.09800", "1.10380"), "reward:risk to TP1 is 1.9, below the minimum 2 on EURUSD"),
        (
            buy("EURUSD", "1.10000", "0.90000", "1.50000"),
            "size rounds to 0 on EURUSD: risking 100 over a stop distance of 0.2 buys 500 units, "
            "less than the lot size 1000",
        ),
    ],
)
def test_trade_layer_refuses_a_malformed_or_unsizable_trade(command: OrderCommand, reason: str) -> None:
    rig = Rig()
    rig.denied(command, RiskLayer.TRADE, reason)
    assert rig.others() == []  # a denial publishes its rejection and nothing else


def test_a_size_below_the_minimum_notional_is_refused() -> None:
    rig = Rig()
    rig.accepted(buy("BTCUSDT", "60000", "59300", "61400"), "0.142")  # 100 / 700 = 0.1428 -> 0.142
    rig.account.value = D("1000")  # 10 / 7000 = 0.0014 -> 0.001 BTC, a notional of 60
    reason = "notional 60 (0.001 × 60000) on BTCUSDT is below the instrument's minimum 100"
    rig.denied(buy("BTCUSDT", "60000", "53000", "74000"), RiskLayer.TRADE, reason)


def test_rr_exactly_at_the_minimum_passes_and_the_minimum_is_configurable() -> None:
    Rig().accepted(buy("EURUSD", "1.10000", "1.09800", "1.10400"))  # 2.0 against 2.0
    Rig(min_rr=D("1.5")).accepted(buy("EURUSD", "1.10000", "1.09800", "1.10380"))  # 1.9 against 1.5


# -- layer 2: symbol -----------------------------------------------------------------------------


def test_third_trade_of_the_day_is_denied_and_the_next_day_allows_again() -> None:
    rig = Rig()
    rig.accepted(buy())
    rig.denied(buy("USDJPY"), RiskLayer.TRADE, "no instrument is configured for USDJPY")
    rig.accepted(sell())  # the denials above did not count
    rig.denied(buy(), RiskLayer.SYMBOL, "2 trades already today on EURUSD (max 2)")
    rig.accepted(buy("GBPUSD"))  # the count is per symbol
    rig.clock.advance_to(_ms(1, 23, 59))
    rig.denied(buy(), RiskLayer.SYMBOL, "2 trades already today on EURUSD (max 2)")
    rig.clock.advance_to(_ms(2))
    rig.accepted(buy())
    assert rig.take(TradingStateChanged) == []


def test_the_trading_day_starts_at_midnight_in_day_tz() -> None:
    rig = Rig(max_trades_per_day=1, day_tz="Asia/Kolkata")  # UTC+05:30
    rig.clock.advance_to(_ms(1, 18, 29))  # 23:59 on 1 March in Kolkata
    rig.accepted(buy())
    rig.denied(buy(), RiskLayer.SYMBOL, "1 trade already today on EURUSD (max 1)")
    rig.clock.advance_to(_ms(1, 18, 30))  # midnight in Kolkata, still 1 March in UTC
    rig.accepted(buy())


def _position(rig: Rig, symbol: str, side: Side | None, quantity: str, realized: str, at: int) -> None:
    rig.bus.publish(
        PositionChanged(
            event_ms=at, known_ms=at, symbol=symbol, side=side, quantity=D(quantity),
            average_price=D("1.1"), realized=D(realized),
        )
    )  # fmt: skip


def test_a_losing_trade_starts_a_cooldown_on_its_symbol_only() -> None:
    rig = Rig(max_trades_per_day=5)
    _position(rig, "EURUSD", Side.BUY, "50000", "0", _ms(1, 9))
    _position(rig, "EURUSD", None, "0", "-100", _ms(1, 10))  # stopped out at 10:00
    reason = (
        "EURUSD closed at a loss at 2024-03-01 10:00:00 UTC: no new entry for 60 minutes, until 2024-03-01 11:00:00 UTC"
    )
    rig.clock.advance_to(_ms(1, 10, 59))
    rig.denied(buy(), RiskLayer.SYMBOL, reason)
    rig.accepted(buy("GBPUSD"))
    rig.clock.advance_to(_ms(1, 11))
    rig.accepted(buy())


def test_a_trade_is_judged_on_all_its_fills_not_its_last_one() -> None:
    rig = Rig()
    _position(rig, "EURUSD", Side.BUY, "50000", "0", _ms(1, 8))
    _position(rig, "EURUSD", Side.BUY, "25000", "150", _ms(1, 9))  # TP1 banked 150
    _position(rig, "EURUSD", None, "0", "-50", _ms(1, 10))  # the rest stopped below the entry: +100 net
    rig.accepted(buy())
    _position(rig, "GBPUSD", Side.BUY, "50000", "0", _ms(1, 10))
    _position(rig, "GBPUSD", Side.SELL, "50000", "-80", _ms(1, 10))  # flipped: the long lost 80
    rig.denied(
        buy("GBPUSD"),
        RiskLayer.SYMBOL,
        "GBPUSD closed at a loss at 2024-03-01 10:00:00 UTC: no new entry for 60 minutes, "
        "until 2024-03-01 11:00:00 UTC",
    )


# -- layer 3: portfolio --------------------------------------------------------------------------


def test_max_open_positions_counts_new_positions_only() -> None:
    rig = Rig()
    for symbol in ("XAUUSD", "USDJPY", "GBPUSD"):
        rig.account.positions[symbol] = (Side.BUY, D("1"), D("100"))
    rig.denied(buy(), RiskLayer.PORTFOLIO, "3 positions already open (GBPUSD, USDJPY, XAUUSD; max 3)")
    rig.accepted(sell("GBPUSD"))  # adds to (or reduces) an open position: no new one


def test_total_exposure_includes_this_entry() -> None:
    rig = Rig()
    rig.account.positions["XAUUSD"] = (Side.SELL, D("20"), D("50000"))
    reason = "exposure would be 10.5× equity: open notional 50000 + this 55000 = 105000 over equity 10000 (max 10×)"
    rig.denied(buy(), RiskLayer.PORTFOLIO, reason)
    rig.account.positions["XAUUSD"] = (Side.SELL, D("20"), D("45000"))
    rig.accepted(buy())  # exactly 10×


def test_correlated_symbols_allow_one_position_per_direction() -> None:
    rig = Rig(correlation_groups=(("EURUSD", "GBPUSD"),))
    rig.account.positions["GBPUSD"] = (Side.BUY, D("10000"), D("12600"))
    reason = "1 BUY position already open in the correlated group EURUSD/GBPUSD (GBPUSD; max 1 in one direction)"
    rig.denied(buy(), RiskLayer.PORTFOLIO, reason)
    rig.accepted(sell())  # the opposite direction hedges rather than doubles


# -- layer 4: day --------------------------------------------------------------------------------


def test_daily_loss_limit_reduces_for_the_rest_of_the_day() -> None:
    rig = Rig()
    assert rig.gate.on_equity(rig.clock.now_ms()) is TradingState.ACTIVE  # the day starts at 10,000
    rig.account.value = D("9701")
    rig.gate.on_equity(rig.clock.now_ms())
    assert rig.take(TradingStateChanged) == []
    rig.clock.advance_to(_ms(1, 12))
    rig.account.value = D("9700")
    assert rig.gate.on_equity(rig.clock.now_ms()) is TradingState.REDUCING
    breach = "equity 9700 is at or below 97% of the day's starting equity 10000 (daily loss limit 3%)"
    rig.changed(TradingState.ACTIVE, TradingState.REDUCING, f"daily loss limit: {breach}")
    rig.account.value = D("9900")  # a recovery does not lift it today
    rig.gate.on_equity(rig.clock.now_ms())
    assert rig.take(TradingStateChanged) == []
    rig.denied(
        buy(), RiskLayer.DAY, f"daily loss limit reached on 2024-03-01: {breach}; only exits until the next trading day"
    )
    rig.account.positions["EURUSD"] = (Side.BUY, D("50000"), D("55000"))
    rig.accepted(exit_long(), "50000")  # exits pass, for the whole position
    del rig.account.positions["EURUSD"]  # the exit filled
    rig.clock.advance_to(_ms(2, 0, 5))  # the clock's timer started the new day at midnight, before any look
    reason = "new trading day 2024-03-02 (UTC): entries allowed"
    midnight = _ms(2, 0)
    assert rig.take(TradingStateChanged) == [
        TradingStateChanged(event_ms=midnight, known_ms=midnight, old=TradingState.REDUCING, new=TradingState.ACTIVE,
                            reason=reason)
    ]  # fmt: skip
    rig.accepted(buy(), "49000")  # 99 / 0.002 = 49,500 -> 49 lots
    assert rig.gate.day_start_equity == D("9900")  # the equity at midnight


# -- layer 5: account ----------------------------------------------------------------------------


def test_drawdown_halts_across_days_until_a_manual_reset() -> None:
    rig = Rig()
    rig.gate.on_equity(rig.clock.now_ms())
    rig.account.value = D("11000")
    rig.gate.on_equity(rig.clock.now_ms())
    rig.account.value = D("9900")  # exactly 90% of the peak; the day's start (10,000) is only 1% away
    rig.gate.on_equity(rig.clock.now_ms())
    halt = "max drawdown: equity 9900 is at or below 90% of the peak 11000 (max drawdown 10%)"
    rig.changed(TradingState.ACTIVE, TradingState.HALTED, halt)
    rig.gate.on_equity(rig.clock.now_ms())
    assert rig.take(TradingStateChanged) == []
    denial = f"trading is halted until a manual reset: {halt}; only exits pass"
    rig.denied(buy(), RiskLayer.ACCOUNT, denial)
    rig.account.positions["GBPUSD"] = (Side.BUY, D("1000"), D("1300"))
    rig.accepted(exit_long("GBPUSD"), "1000")
    rig.denied(exit_long(), RiskLayer.TRADE, "reduce-only SELL on EURUSD has no BUY position to reduce")
    rig.clock.advance_to(_ms(2, 10))
    rig.denied(buy(), RiskLayer.ACCOUNT, denial)
    assert rig.take(TradingStateChanged) == []
    assert rig.gate.reset() is TradingState.ACTIVE
    rig.changed(TradingState.HALTED, TradingState.ACTIVE, "manual reset: peak equity restarts at 9900")
    assert rig.gate.peak_equity == D("9900")
    rig.accepted(buy("EURUSD", "1.10000", "1.09800"), "49000")  # 99 / 0.002 = 49,500 -> 49 lots


def test_manual_kill_halts_once() -> None:
    rig = Rig()
    rig.gate.kill()
    rig.changed(TradingState.ACTIVE, TradingState.HALTED, "manual kill switch")
    rig.gate.kill()
    assert rig.take(TradingStateChanged) == []
    halted = "trading is halted until a manual reset: manual kill switch; only exits pass"
    rig.denied(buy(), RiskLayer.ACCOUNT, halted)
    zero = "stop 1.1 equals the entry on EURUSD: the risk per unit must not be zero"
    rig.denied(buy("EURUSD", "1.1", "1.1"), RiskLayer.TRADE, zero)  # the first failing layer wins
    rig.gate.reset()
    rig.changed(TradingState.HALTED, TradingState.ACTIVE, "manual reset: peak equity restarts at 10000")
    assert rig.gate.reset() is TradingState.ACTIVE  # nothing to lift
    assert rig.take(TradingStateChanged) == []


def test_a_reset_keeps_todays_loss_limit() -> None:
    rig = Rig()
    rig.gate.on_equity(rig.clock.now_ms())
    rig.account.value = D("9000")  # both limits at once: one change, to the stronger state
    rig.gate.on_equity(rig.clock.now_ms())
    assert [e.new for e in rig.take(TradingStateChanged)] == ["halted"]
    assert rig.gate.reset() is TradingState.REDUCING
    assert [e.new for e in rig.take(TradingStateChanged)] == ["reducing"]
    rig.clock.advance_to(_ms(2))
    rig.gate.on_equity()
    rig.changed(TradingState.REDUCING, TradingState.ACTIVE, "new trading day 2024-03-02 (UTC): entries allowed")


# -- configuration -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"risk_per_trade": 0}, "risk_per_trade"),
        ({"risk_per_trade": "1.5"}, "risk_per_trade"),
        ({"risk_per_trade": "lots"}, "risk_per_trade"),
        ({"min_rr": -1}, "min_rr"),
        ({"max_trades_per_day": 0}, "max_trades_per_day"),
        ({"max_trades_per_day": True}, "max_trades_per_day"),
        ({"loss_cooldown_minutes": -5}, "loss_cooldown_minutes"),
        ({"max_open_positions": 2.5}, "max_open_positions"),
        ({"max_total_exposure": 0}, "max_total_exposure"),
        ({"correlation_groups": "EURUSD"}, "correlation_groups"),
        ({"correlation_groups": (("EURUSD", "GBPUSD"), ("EURUSD",))}, "correlation_groups[1]"),
        ({"max_same_direction_per_group": 0}, "max_same_direction_per_group"),
        ({"daily_loss_limit": 1}, "daily_loss_limit"),
        ({"max_drawdown": float("nan")}, "max_drawdown"),
        ({"day_tz": "Mars/Olympus"}, "day_tz"),
    ],
)
def test_config_errors_name_the_key(overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RiskConfig(**overrides)
    assert caught.value.key == key
    assert f"key {key}:" in str(caught.value)


def test_config_takes_plain_numbers_and_lists() -> None:
    config = RiskConfig(risk_per_trade=0.02, max_total_exposure=5, correlation_groups=[["EURUSD", "GBPUSD"]])
    assert (config.risk_per_trade, config.max_total_exposure) == (D("0.02"), D("5"))
    assert config.correlation_groups == (("EURUSD", "GBPUSD"),)


def test_instruments_must_be_keyed_by_their_symbol() -> None:
    with pytest.raises(ConfigError, match="key instruments"):
        RiskGate(RiskConfig(), {"EURUSD": GBPUSD}, SimulatedClock(), EventBus(), FakeAccount())


def test_usage_shows_each_limit_and_how_much_of_it_is_used() -> None:
    rig = Rig()
    rig.gate.on_equity(rig.clock.now_ms())  # the peak and the day's start: 10,000
    rig.accepted(buy())  # one entry today on EURUSD (withdrawn again by the rig)
    rig.account.positions["GBPUSD"] = (Side.SELL, D("20000"), D("25000"))
    rig.account.value = D("9800")
    rig.gate.on_equity(rig.clock.now_ms())

    def used() -> dict[tuple[str, str | None], tuple[Decimal, Decimal]]:
        return {(u.name, u.symbol): (u.used, u.limit) for u in rig.gate.usage()}

    now = used()
    assert now[("open_positions", None)] == (1, 3)
    assert now[("total_exposure", None)] == (D("25000") / D("9800"), D("10"))
    assert now[("max_drawdown", None)] == (D("0.02"), D("0.10"))  # 200 below the peak of 10,000
    assert now[("daily_loss_limit", None)] == (D("0.02"), D("0.03"))
    assert now[("max_orders_per_minute", None)] == (0, 60)  # the gate counts what the venue was sent: nothing yet
    assert now[("max_trades_per_day", "EURUSD")] == (1, 2)
    assert now[("max_trades_per_day", "GBPUSD")] == (0, 2)
    rig.account.value = D("10100")  # above the peak: nothing used; the gate raises its peak on its next look
    assert used()[("max_drawdown", None)] == (0, D("0.10"))


def test_reconfigure_changes_the_runtime_limits_and_refuses_the_rest_whole() -> None:
    rig = Rig()
    rig.gate.on_equity(rig.clock.now_ms())  # the day starts at 10,000
    assert rig.gate.reconfigure({"max_open_positions": "1", "min_rr": "2.5"}) == (
        True, "risk limits now max_open_positions 1, min_rr 2.5")  # fmt: skip
    assert (rig.gate.config.max_open_positions, rig.gate.config.min_rr) == (1, D("2.5"))
    changes = ({"max_open_positions": "x"}, {"max_open_positions": "0"}, {"day_tz": "Asia/Kolkata", "min_rr": "3"})
    refused = [rig.gate.reconfigure(change) for change in changes]
    assert [ok for ok, _ in refused] == [False, False, False]
    assert "must be a whole number, got 'x'" in refused[0][1]
    assert "max_open_positions" in refused[1][1]
    assert refused[2][1] == "day_tz: cannot change while running (restart with the new settings)"
    assert rig.gate.config.min_rr == D("2.5")  # nothing of a refused change was applied
    rig.account.value = D("9850")  # 1.5% down today: inside the 3% limit
    rig.gate.on_equity(rig.clock.now_ms())
    assert rig.gate.state is TradingState.ACTIVE
    assert rig.gate.reconfigure({"daily_loss_limit": "0.01"})[0]
    rig.gate.on_equity(rig.clock.now_ms())  # what the kernel does after a change: a lowered limit trips at once
    assert rig.gate.state is TradingState.REDUCING
