"""The MetaTrader 5 adapter's mapping and polling, with a fake ``MetaTrader5`` module over the real EURUSD file."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from fakes.mt5 import SPECS, fake_mt5, to_rates
from smc_agent.core.clock import SimulatedClock
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.feeds import FeedHealth
from smc_agent.feeds.mt5 import Mt5Feed, instrument_from, load_mt5, min_quantity, rates_to_candles, timeframe_of
from smc_agent.model.instrument import Rounding

FILE = "forex/EURUSD_15m_mt5.csv"
TF = 900_000


@pytest.fixture(scope="module")
def eurusd(shared_data_path: Callable[[str], Path]) -> Candles:
    return load_candles(shared_data_path(FILE))


def _same(a: Candles, b: Candles) -> None:
    for name in ("time", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_on_linux_choosing_mt5_says_it_needs_windows() -> None:
    with pytest.raises(ConfigError, match="needs Windows") as error:
        load_mt5("linux")
    assert "MetaTrader5 package exists only for Windows" in str(error.value)
    assert "running MT5 terminal" in str(error.value)
    if sys.platform != "win32":
        with pytest.raises(ConfigError, match="cannot be used on linux"):
            Mt5Feed(["EURUSD"], clock=SimulatedClock())


def test_on_windows_a_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "MetaTrader5", None)  # import fails
    with pytest.raises(ConfigError, match=r"pip install smc-agent\[mt5\]"):
        load_mt5("win32")
    fake = fake_mt5({}, SimulatedClock())
    monkeypatch.setitem(sys.modules, "MetaTrader5", fake)
    assert load_mt5("win32") is fake


def test_rates_records_map_to_the_files_candles(eurusd: Candles) -> None:
    rates = to_rates(eurusd)
    assert rates.dtype.names == ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")
    got = rates_to_candles(rates, "EURUSD", "15m")
    _same(got, eurusd)
    assert (got.symbol, got.timeframe, len(got)) == ("EURUSD", "15m", 24_424)
    assert got.volume.sum() > 0
    assert rates_to_candles(rates, "EURUSD", "15m", volume="real").volume.sum() == 0


def test_server_time_is_converted_as_the_loader_converts_it(
    eurusd: Candles, shared_data_path: Callable[[str], Path]
) -> None:
    athens = load_candles(shared_data_path(FILE), tz="Europe/Athens")
    got = rates_to_candles(to_rates(eurusd), "EURUSD", "15m", server_tz="Europe/Athens")
    _same(got, athens)
    summer, winter = int(np.searchsorted(eurusd.time, 1_690_000_000_000)), 0  # July 2023 and October 2022
    assert eurusd.time[summer] - got.time[summer] == 3 * 3_600_000  # EEST, UTC+3
    assert eurusd.time[winter] - got.time[winter] == 3 * 3_600_000  # 10 Oct 2022 is still summer time
    assert eurusd.time[5000] - got.time[5000] == 2 * 3_600_000  # December: EET, UTC+2


def test_symbol_specs_map_to_instruments() -> None:
    eur = SPECS["EURUSD"]
    info = type("SymbolInfo", (), eur)()
    inst = instrument_from(info)
    assert (inst.symbol, inst.tick_size, inst.lot_size, inst.quote_currency) == (
        "EURUSD", Decimal("0.00001"), Decimal("1E+3"), "USD")  # fmt: skip
    assert min_quantity(info) == Decimal("1000")
    assert inst.round_price(1.0791149, Rounding.DOWN) == Decimal("1.07911")
    assert inst.round_qty(Decimal("12345.6")) == Decimal("12000")
    gold = instrument_from(type("SymbolInfo", (), SPECS["XAUUSD"])())  # trade_tick_size 0: the point
    assert (gold.tick_size, gold.lot_size) == (Decimal("0.01"), Decimal("1"))
    assert gold.round_price(1923.456, Rounding.UP) == Decimal("1923.46")


def test_timeframes_map_to_the_package_constants() -> None:
    mt5 = fake_mt5({}, SimulatedClock())
    assert timeframe_of(mt5, "1m") == mt5.TIMEFRAME_M1 == 1
    assert timeframe_of(mt5, "15m") == mt5.TIMEFRAME_M15
    assert timeframe_of(mt5, "1h") == mt5.TIMEFRAME_H1 == 16385
    assert timeframe_of(mt5, "1d") == mt5.TIMEFRAME_D1
    with pytest.raises(ConfigError, match="no '7m' bars"):
        timeframe_of(mt5, "7m")


def test_polling_delivers_closed_bars_equal_to_the_file_and_keeps_the_forming_one_apart(eurusd: Candles) -> None:
    clock = SimulatedClock(int(eurusd.time[600]) + TF // 2)  # bar 600 is forming
    mt5 = fake_mt5({"EURUSD": eurusd}, clock)
    feed = Mt5Feed(["EURUSD"], ["15m"], clock=clock, warmup=500, grace_ms=0, module=mt5)
    feed.start()
    stream = "EURUSD@15m"
    first = feed.poll(stream)
    assert [c.time for c in first] == eurusd.time[100:600].tolist()
    assert [c.close for c in first] == eurusd.close[100:600].tolist()
    forming = feed.forming("EURUSD", "15m")
    assert forming is not None
    assert forming.time == eurusd.time[600]
    assert forming.high == eurusd.open[600]
    assert feed.health == FeedHealth.CONNECTED

    clock.advance_to(int(eurusd.time[603]) + 60_000)
    mt5.state["fail"] = 2
    assert feed.poll(stream) == []
    assert feed.health == FeedHealth.DEGRADED
    assert feed.poll(stream) == []
    nxt = feed.poll(stream)
    assert feed.health == FeedHealth.CONNECTED
    got = Candles.from_arrays([c.time for c in nxt], [c.open for c in nxt], [c.high for c in nxt],
                              [c.low for c in nxt], [c.close for c in nxt], [c.volume for c in nxt])  # fmt: skip
    _same(got, eurusd[600:603])  # the bar that was forming, now with its final values
    assert feed.cursors == {"EURUSD@15m": int(eurusd.time[603])}
    assert feed.instrument("EURUSD").tick_size == Decimal("0.00001")


def test_the_feed_iterates_closed_bars_and_shuts_the_terminal(eurusd: Candles) -> None:
    clock = SimulatedClock(int(eurusd.time[50]) + 1)
    mt5 = fake_mt5({"EURUSD": eurusd}, clock)
    start = int(eurusd.time[40])
    feed = Mt5Feed(["EURUSD"], clock=clock, cursors={"EURUSD@15m": start}, poll_s=0.001, module=mt5)

    async def main() -> list[int]:
        times: list[int] = []
        async for candle in feed.closed():
            times.append(candle.time)
            if len(times) == 12:
                break
            if len(times) == 10:
                clock.advance_to(int(eurusd.time[52]) + 1)
        return times

    assert asyncio.run(main()) == eurusd.time[40:52].tolist()
    assert mt5.state["initialized"] is False
