"""The account changes only through fills: realised P&L, fees, netted positions, and their events."""

from __future__ import annotations

from decimal import Decimal as D

from smc_agent.core.bus import EventBus
from smc_agent.engine.portfolio import Portfolio
from smc_agent.events import BalanceChanged, OrderFilled, PositionChanged
from smc_agent.model.enums import Side
from smc_agent.model.orders import Order, OrderStatus, OrderType


def _fill(bus: EventBus, side: Side, qty: str, price: str, fee: str, n: int) -> None:
    order = Order(f"o{n}", "EURUSD", side, OrderType.MARKET, D(qty), status=OrderStatus.FILLED, filled=D(qty))
    bus.publish(OrderFilled(event_ms=n, known_ms=n, order=order, price=D(price), quantity=D(qty), fee=D(fee),
                            slippage=D(0), maker=False))  # fmt: skip


def test_open_mark_partial_close_and_flip() -> None:
    """Long 1000 at 1.10, marked, half closed at 1.12, then flipped short by selling 1000 at 1.13."""
    bus = EventBus()
    seen: list[object] = []
    bus.subscribe(seen.append)
    account = Portfolio(bus, D("10000"))

    _fill(bus, Side.BUY, "1000", "1.10", "1", 1)
    assert account.balance == D("9999")  # opening moves no cash; only the fee
    account.mark("EURUSD", D("1.12"))
    assert account.equity() == D("9999") + D("20.00")  # (1.12 - 1.10) x 1000 unrealised

    _fill(bus, Side.SELL, "500", "1.12", "0.5", 2)
    assert account.balance == D("9999") + D("10.00") - D("0.5")
    assert account.positions["EURUSD"].quantity == D("500")
    assert account.positions["EURUSD"].average_price == D("1.10")

    _fill(bus, Side.SELL, "1000", "1.13", "1", 3)
    # 500 closed at +0.03, the other 500 open a short at 1.13.
    assert account.balance == D("10008.5") + D("15.00") - D("1")
    assert account.positions["EURUSD"].quantity == D("-500")
    assert account.positions["EURUSD"].average_price == D("1.13")
    assert account.open_positions() == {"EURUSD": (Side.SELL, D("500"), D("565.00"))}
    assert account.fees_paid == D("2.5")

    changes = [e for e in seen if isinstance(e, PositionChanged)]
    assert [(c.side, c.quantity, c.realized) for c in changes] == [
        (Side.BUY, D("1000"), D("0")),
        (Side.BUY, D("500"), D("10.00")),
        (Side.SELL, D("500"), D("15.00")),
    ]
    balances = [e.balance for e in seen if isinstance(e, BalanceChanged)]
    assert balances == [D("9999"), D("10008.5"), D("10022.5")]


def test_adding_to_a_position_averages_the_price_and_flat_clears_it() -> None:
    bus = EventBus()
    account = Portfolio(bus, D("1000"))
    _fill(bus, Side.SELL, "2", "100", "0", 1)
    _fill(bus, Side.SELL, "2", "110", "0", 2)
    assert account.positions["EURUSD"].average_price == D("105")
    _fill(bus, Side.BUY, "4", "100", "0", 3)
    assert account.positions["EURUSD"].quantity == 0
    assert account.balance == D("1020")  # (105 - 100) x 4 on a short
    assert account.open_positions() == {}
    assert account.equity() == D("1020")
