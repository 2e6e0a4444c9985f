"""Fee and slippage models: exact maths on hand-built numbers, and the spread on real GBPUSD quotes."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from smc_agent.core.bus import EventBus
from smc_agent.core.clock import SimulatedClock
from smc_agent.core.errors import ConfigError, DataError, SmcAgentError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.events import CandleClosed, OrderFilled
from smc_agent.model.enums import Side
from smc_agent.model.instrument import Instrument
from smc_agent.model.orders import Order, OrderType
from smc_agent.venues import (
    FEE_PROFILES,
    AtrSeries,
    AtrSlippage,
    FeeModel,
    FixedBpsSlippage,
    SimulatedVenue,
    SlippageModel,
    SpreadSlippage,
)

M = 60_000
BUY, SELL = Side.BUY, Side.SELL


def bar(time: int, o: float, h: float, lo: float, c: float, symbol: str = "X") -> CandleClosed:
    return CandleClosed(
        event_ms=time + M, known_ms=time + M, symbol=symbol, timeframe="1m", time=time,
        open=o, high=h, low=lo, close=c, volume=0.0,
    )  # fmt: skip


CANDLE = bar(0, 100.0, 101.0, 99.0, 100.5)


@pytest.mark.parametrize(
    ("profile", "maker_fee", "taker_fee"),
    [
        ("binance_spot", D("0.3"), D("0.3")),  # 300 notional x 10 bps
        ("binance_futures", D("0.06"), D("0.15")),  # 2 and 5 bps
        ("forex_ecn", D("0"), D("0.015")),  # 0 and 0.5 bps
        ("zero", D("0"), D("0")),
    ],
)
def test_fees_are_basis_points_of_the_notional(profile: str, maker_fee: D, taker_fee: D) -> None:
    fees = FeeModel.profile(profile)
    assert fees is FEE_PROFILES[profile]
    assert fees.fee(D("100"), D("3"), maker=True) == maker_fee
    assert fees.fee(D("100"), D("3"), maker=False) == taker_fee


def test_fee_for_a_forex_lot_and_a_maker_rebate() -> None:
    assert FeeModel.profile("forex_ecn").fee(D("1.25000"), D("100000"), maker=False) == D("6.25")
    assert FeeModel(D("-1"), D("4")).fee(D("50"), D("2"), maker=True) == D("-0.01")


def test_an_unknown_fee_profile_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="binance_futures, binance_spot, forex_ecn, zero"):
        FeeModel.profile("kraken")


def test_fixed_bps_slippage_is_signed_against_the_trader() -> None:
    model = FixedBpsSlippage(D("2.5"))
    assert model.per_unit(BUY, D("1.08000"), CANDLE) == D("0.00027")
    assert model.per_unit(SELL, D("1.08000"), CANDLE) == D("-0.00027")
    assert FixedBpsSlippage(D(0)).per_unit(BUY, D("100"), CANDLE) == 0


def test_atr_series_answers_with_the_atr_known_at_the_candles_open() -> None:
    candles = Candles.from_arrays(
        np.array([0, M, 2 * M]), [10.0, 11.0, 12.0], [11.0, 13.0, 13.0], [9.0, 10.0, 11.0], [10.5, 12.0, 12.5]
    )
    series = AtrSeries.from_candles(candles, period=2)
    # true ranges 2, 3, 2 -> ATR(2): nan, 2.5, 2.25; the candle opening at 2M sees candle 1's 2.5
    assert [series.at(t) for t in (0, M, 2 * M, 3 * M)] == [None, None, 2.5, 2.25]
    model = AtrSlippage(D("0.1"), series)
    assert model.per_unit(BUY, D("12"), bar(2 * M, 12, 13, 11, 12.5)) == D("0.25")
    assert model.per_unit(SELL, D("12"), bar(3 * M, 12, 13, 11, 12.5)) == D("-0.225")
    with pytest.raises(SmcAgentError, match="no ATR for the X candle at 60000"):
        model.per_unit(BUY, D("11"), bar(M, 11, 13, 10, 12))
    fallback = AtrSlippage(D("0.1"), series, fallback=FixedBpsSlippage(D(10)))
    assert fallback.per_unit(BUY, D("11"), bar(M, 11, 13, 10, 12)) == D("0.011")


def test_atr_slippage_takes_any_callable_and_the_venue_applies_it() -> None:
    bus, clock, seen = EventBus(), SimulatedClock(), list[OrderFilled]()
    bus.subscribe(seen.append, OrderFilled)
    model = AtrSlippage(D("0.05"), lambda candle: {0: 1.0, M: 3.0}.get(candle.time))
    venue = SimulatedVenue(bus, clock, {"X": Instrument("X", D("0.01"), D("1"))}, FeeModel.profile("zero"), model)
    venue.on_candle(bar(0, 100, 101, 99, 100))
    venue.submit(Order("m", "X", BUY, OrderType.MARKET, D("1")))
    clock.advance_to(2 * M)
    venue.on_candle(bar(M, 100.0, 101, 99, 100))  # 100 + 0.05 x 3.0
    assert (seen[0].price, seen[0].slippage) == (D("100.15"), D("0.15"))


# -- the real spread: GBPUSD bid and ask minutes, February 2012 --------------------------------------

BID, ASK = "forex/GBPUSD_1m_bid_2012-02.csv", "forex/GBPUSD_1m_ask_2012-02.csv"
TICK = D("0.00001")
GBPUSD = Instrument("GBPUSD", TICK, D("1000"))
# two ordinary minutes, and one whose open quote is crossed (ask 1.57425 below bid 1.57429)
MINUTES = ["2012-02-15 13:31:00+00:00", "2012-02-27 07:01:00+00:00", "2012-02-01 08:48:00+00:00"]


def _rows(path: Path) -> dict[str, tuple[D, D, D, D]]:
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        return {r[0]: (D(r[1]), D(r[2]), D(r[3]), D(r[4])) for r in reader}


@pytest.fixture(scope="module")
def quotes(shared_data_path: Callable[[str], Path]) -> dict[str, Any]:
    bid_path, ask_path = shared_data_path(BID), shared_data_path(ASK)
    return {
        "model": SpreadSlippage(load_candles(bid_path), load_candles(ask_path)),
        "bid": _rows(bid_path),
        "ask": _rows(ask_path),
    }


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


def _next(stamp: str) -> str:
    return (datetime.fromisoformat(stamp) + timedelta(minutes=1)).isoformat(" ")


def _half(quotes: dict[str, Any], stamp: str, field: int) -> D:
    """Half the spread, from the raw text of the files; a crossed quote costs nothing."""
    spread: D = quotes["ask"][stamp][field] - quotes["bid"][stamp][field]
    return max(spread, D(0)) / 2


def _mid_candle(quotes: dict[str, Any], stamp: str) -> CandleClosed:
    bid, ask = quotes["bid"][stamp], quotes["ask"][stamp]
    o, h, lo, c = (float((b + a) / 2) for b, a in zip(bid, ask, strict=True))
    return bar(_ms(stamp), o, h, lo, c, symbol="GBPUSD")


@pytest.mark.parametrize("stamp", MINUTES)
def test_spread_slippage_charges_half_the_real_spread_at_the_open(quotes: dict[str, Any], stamp: str) -> None:
    model: SlippageModel = quotes["model"]
    candle = _mid_candle(quotes, stamp)
    at_open = D(repr(candle.open))
    assert model.per_unit(BUY, at_open, candle) == _half(quotes, stamp, 0)
    assert model.per_unit(SELL, at_open, candle) == -_half(quotes, stamp, 0)
    # a fill inside the minute is charged the wider of the spreads at its open and its close
    inside = max(_half(quotes, stamp, 0), _half(quotes, stamp, 3))
    assert model.per_unit(SELL, at_open - D("0.0002"), candle) == -inside


def test_the_real_spread_values_are_what_the_files_say(quotes: dict[str, Any]) -> None:
    assert [_half(quotes, s, 0) for s in MINUTES] == [D("0.000025"), D("0.00004"), D("0")]


@pytest.mark.parametrize("stamp", MINUTES)
def test_market_orders_on_mid_candles_fill_at_the_ask_and_the_bid(quotes: dict[str, Any], stamp: str) -> None:
    bus, clock, fills = EventBus(), SimulatedClock(), list[OrderFilled]()
    bus.subscribe(fills.append, OrderFilled)
    venue = SimulatedVenue(bus, clock, {"GBPUSD": GBPUSD}, FeeModel.profile("forex_ecn"), quotes["model"])
    venue.submit(Order("b", "GBPUSD", BUY, OrderType.MARKET, D("1000")))
    entry, exit_ = _mid_candle(quotes, stamp), _mid_candle(quotes, _next(stamp))
    clock.advance_to(entry.event_ms)
    venue.on_candle(entry)
    venue.submit(Order("s", "GBPUSD", SELL, OrderType.MARKET, D("1000")))
    clock.advance_to(exit_.event_ms)
    venue.on_candle(exit_)
    bid_open, ask_open = quotes["bid"][_next(stamp)][0], quotes["ask"][stamp][0]
    buy = ((quotes["bid"][stamp][0] + ask_open) / 2 + _half(quotes, stamp, 0)).quantize(TICK, ROUND_CEILING)
    sell = ((bid_open + quotes["ask"][_next(stamp)][0]) / 2 - _half(quotes, _next(stamp), 0)).quantize(
        TICK, ROUND_FLOOR
    )
    assert [(f.order.client_order_id, f.price, f.quantity) for f in fills] == [("b", buy, 1000), ("s", sell, 1000)]
    if ask_open >= quotes["bid"][stamp][0]:
        assert buy == ask_open  # an uncrossed quote: the buy pays exactly the ask
    assert sell == bid_open
    assert fills[0].fee == buy * 1000 * D("0.5") / 10000
    assert venue.position("GBPUSD") == 0


def test_spread_slippage_needs_aligned_quotes() -> None:
    one = Candles.from_arrays(np.array([0]), [1.0], [1.0], [1.0], [1.0])
    two = Candles.from_arrays(np.array([0, M]), [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0])
    with pytest.raises(DataError, match="same open times"):
        SpreadSlippage(one, two)
    with pytest.raises(SmcAgentError, match="no bid/ask quote at or before -60000"):
        SpreadSlippage(one, one).per_unit(BUY, D(1), bar(-M, 1, 1, 1, 1))
