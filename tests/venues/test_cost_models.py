"""Cost models of each kind of market: fills and round trips worked out by hand, and how a kind is found."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from smc_agent.config import load_config
from smc_agent.config.engine import DataSource, EngineSettings, InstrumentSettings
from smc_agent.core.errors import ConfigError
from smc_agent.model.enums import Side
from smc_agent.model.instrument import Instrument
from smc_agent.venues.cost_models import INDIA_SEGMENTS, CostSettings, EquityCosts, ForexCosts, FuturesCosts
from smc_agent.venues.costs import InstrumentType

BUY, SELL = Side.BUY, Side.SELL


def test_forex_charges_half_the_spread_and_the_commission_on_each_side() -> None:
    """1 lot of EURUSD at 1.1 with a 1-pip spread: 100,000 x 0.00005 = 5 plus 3.5 commission, each side."""
    fx = ForexCosts(D("0.0001"))
    assert fx.fill_fee(BUY, D("1.1"), D("100000"), maker=True) == D("8.5")
    assert fx.fill_fee(SELL, D("1.0"), D("200000"), maker=False) == D("17")
    # Round trip, no slippage: twice 8.5.
    assert fx.round_trip(BUY, D("1.1"), D("1.098"), D("100000"), maker_entry=True) == D("17")


def test_futures_charge_per_contract_of_multiplier_units() -> None:
    """ES-like: 50 units a contract, 2.5 a contract: 150 units are 3 contracts, 7.5 a side."""
    model = FuturesCosts(D("2.5"), D("50"))
    assert model.fill_fee(BUY, D("5000"), D("150"), maker=False) == D("7.5")


def test_us_equity_commission_has_a_minimum_a_cap_and_a_fee_on_sells() -> None:
    model = EquityCosts()
    # 100 shares at 50: 0.005 x 100 = 0.5, raised to the minimum 1; a buy pays no SEC fee.
    assert model.fill_fee(BUY, D("50"), D("100"), maker=False) == D("1")
    # 1000 shares at 50 sold: 5 commission + 50,000 x 0.278 bp = 1.39.
    assert model.fill_fee(SELL, D("50"), D("1000"), maker=False) == D("6.39")
    # 1000 shares at 0.10: 5 commission capped at 1% of the 100 value = 1, plus 100 x 0.278 bp on the sell.
    assert model.fill_fee(SELL, D("0.10"), D("1000"), maker=False) == D("1.00278")


def test_india_futures_charges_follow_the_published_schedule() -> None:
    """NIFTY future, 75 units at 22,000 = 1,650,000 turnover.

    Brokerage min(20, 0.03% = 495) = 20; exchange 0.00173% = 28.545; SEBI 0.0001% = 1.65;
    GST 18% of (20 + 28.545 + 1.65) = 9.0351; a buy adds stamp 0.002% = 33, a sell STT 0.02% = 330.
    """
    model = INDIA_SEGMENTS["futures"]
    base = D("20") + D("28.545") + D("1.65") + D("9.0351")
    assert model.fill_fee(BUY, D("22000"), D("75"), maker=False) == base + D("33")
    assert model.fill_fee(SELL, D("22000"), D("75"), maker=False) == base + D("330")


def test_india_intraday_brokerage_is_the_lower_of_flat_and_percentage() -> None:
    """10 shares at 100 = 1,000: brokerage 0.03% = 0.3 (below 20); exchange 0.00297% = 0.0297; SEBI
    0.0001% = 0.001; GST 18% of 0.3307 = 0.059526; sell STT 0.025% = 0.25."""
    model = INDIA_SEGMENTS["equity_intraday"]
    assert model.fill_fee(SELL, D("100"), D("10"), maker=False) == D("0.3307") + D("0.059526") + D("0.25")


@pytest.mark.parametrize(
    ("symbol", "source", "settings", "kind", "origin"),
    [
        ("EURUSD", DataSource(), EngineSettings(), InstrumentType.FOREX, "symbol name"),
        ("XAUUSD", DataSource("mt5"), EngineSettings(), InstrumentType.FOREX, "data format"),
        ("NIFTY-FUT", DataSource("csv"), EngineSettings(), InstrumentType.INDIA, "symbol name"),
        ("BTC-PERP", DataSource(), EngineSettings(), InstrumentType.CRYPTO_PERP, "symbol name"),
        ("ETH/BTC", DataSource(), EngineSettings(), InstrumentType.CRYPTO_SPOT, "symbol name"),
        ("symbol", DataSource(), EngineSettings(), InstrumentType.CRYPTO_SPOT, "default"),
        ("EURUSD", DataSource(), EngineSettings(instrument_type="futures"), InstrumentType.FUTURES,
         "instrument_type"),
        ("EURUSD", DataSource(), EngineSettings(instrument_type="futures", instruments={
            "EURUSD": InstrumentSettings(type=InstrumentType.US_EQUITY)}), InstrumentType.US_EQUITY, "settings"),
    ],
)  # fmt: skip
def test_the_kind_comes_from_settings_then_the_source_then_a_default(
    symbol: str, source: DataSource, settings: EngineSettings, kind: InstrumentType, origin: str
) -> None:
    market = settings.market_costs(Instrument(symbol, D("0.00001"), D("1")), source)
    assert (market.kind, market.origin, market.model.kind) == (kind, origin, kind)


def test_an_mt5_spread_in_points_becomes_the_forex_spread() -> None:
    """A mean of 12 points at a 0.00001 tick is a 0.00012 spread: 0.00006 a side per unit."""
    market = EngineSettings().market_costs(Instrument("EURUSD", D("0.00001"), D("1")), DataSource("mt5", 12.0))
    assert market.model.fill_fee(BUY, D("1.1"), D("1"), maker=False) == D("0.00006") + D("0.000035")
    assert "0.00012 spread (the data's mean)" in market.model.describe()


def test_the_spread_is_not_charged_twice_when_bid_ask_files_set_the_fill_prices(tmp_path: Path) -> None:
    settings = EngineSettings(slippage_model="spread", bid_data=tmp_path / "b.csv", ask_data=tmp_path / "a.csv")
    market = settings.market_costs(Instrument("EURUSD", D("0.00001"), D("1")), DataSource("mt5", 12.0))
    assert market.model.fill_fee(BUY, D("1.1"), D("100000"), maker=False) == D("3.5")


def test_jpy_pairs_count_pips_of_one_hundredth() -> None:
    model = CostSettings().model(InstrumentType.FOREX, "USDJPY", slippage_bps=D(0))
    assert model.fill_fee(BUY, D("150"), D("100000"), maker=False) == D("100000") * (D("0.0025") + D("0.000035"))


def test_settings_file_keys_are_loaded_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[account]\ninstrument_type = "india"\n[costs.india]\nsegment = "equity_delivery"\n'
        "[risk]\nmax_cost_share = 0.4\n[risk.max_leverage]\nindia = 2\n"
        '[instruments.RELIANCE]\ntype = "india"\n'
    )
    engine = load_config(path).engine
    assert engine.risk.max_cost_share == D("0.4")
    assert engine.risk.max_leverage["india"] == D("2")
    assert engine.risk.max_leverage["forex"] == D("30")  # the kinds not given keep their defaults
    market = engine.market_costs(Instrument("RELIANCE", D("0.05"), D("1")))
    assert "india equity_delivery" in market.model.describe()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[risk.max_leverage]\nfx = 2\n", "risk.max_leverage.fx"),
        ("[risk.max_leverage]\nforex = 0\n", "risk.max_leverage.forex"),
        ("[risk]\nmax_cost_share = 0\n", "risk.max_cost_share"),
        ("[costs.forex]\nspread = 1\n", "costs.forex.spread"),
        ("[costs.futures]\ncontract_multiplier = 0\n", "costs.futures.contract_multiplier"),
        ('[costs.india]\nsegment = "options"\n', "costs.india.segment"),
        ('[account]\ninstrument_type = "stocks"\n', "account.instrument_type"),
        ('[instruments.X]\ntype = "stock"\n', "instruments.X.type"),
    ],
)
def test_a_bad_cost_setting_names_its_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.key == key
