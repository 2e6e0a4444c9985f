"""The settings file: typed, strict, and every refusal names the file and the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.config import load_config
from smc_agent.core.errors import ConfigError
from smc_agent.smc.config import SwingLength
from smc_agent.venues.costs import FeeModel

GOOD = """
[account]
initial_balance = 25000
fees = { maker_bps = 1, taker_bps = 4 }

[risk]
risk_per_trade = 0.005
correlation_groups = [["EURUSD", "GBPUSD"]]

[execution]
tp1_fraction = 0.25

[analysis]
a_plus = 0.7
timeframe_weights = { "1d" = 0.6, "4h" = 0.4 }
entry_smc = { internal = { left = 3, right = 4 } }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_section_reaches_its_settings_object(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, GOOD))
    engine, analysis = config.engine, config.analysis
    assert engine.initial_balance == Decimal(25000)
    assert engine.fees == FeeModel(Decimal(1), Decimal(4))
    assert engine.risk.risk_per_trade == Decimal("0.005")
    assert engine.risk.correlation_groups == (("EURUSD", "GBPUSD"),)
    assert engine.execution.tp1_fraction == Decimal("0.25")
    assert analysis.a_plus == 0.7
    assert analysis.timeframe_weights == {"1d": 0.6, "4h": 0.4}
    assert analysis.entry_smc.internal == SwingLength(3, 4)
    # Untouched settings keep their defaults.
    assert engine.risk.max_trades_per_day == 2
    assert analysis.min_rr == 2.0


def test_no_file_means_defaults() -> None:
    assert load_config(None).engine.risk.risk_per_trade == Decimal("0.01")


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ("[risk]\nbogus = 1\n", "risk.bogus", "unknown setting"),
        ("[analysis]\nentry_smc = { internal = { left = 3, rihgt = 3 } }\n", "analysis.entry_smc.internal.rihgt",
         "unknown setting"),
        ("[nonsense]\n", "nonsense", "unknown section"),
        ("[risk]\nmax_drawdown = \"lots\"\n", "risk.max_drawdown", "valid decimal"),
        ("[risk]\ndaily_loss_limit = 1.5\n", "risk.daily_loss_limit", "must be > 0 and < 1"),
        ("[account]\nfees = \"cheap\"\n", "account.fees", "unknown fee profile"),
        ("[account]\nleverage = 100\n", "account.leverage", "unknown setting"),
        ("risk = 3\n", "risk", "table"),
    ],
)  # fmt: skip
def test_a_bad_setting_names_the_file_and_key(tmp_path: Path, text: str, key: str, words: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert error.value.key == key
    assert error.value.source == str(path)
    assert words in str(error.value)


def test_unreadable_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "x = [\n"))


def test_the_cli_refuses_a_bad_file_with_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "[risk]\nbogus = 1\n")
    result = CliRunner().invoke(app, ["backtest", "--demo", "--config", str(path)])
    assert result.exit_code == 2
    assert "key risk.bogus" in result.stderr
    assert "Traceback" not in result.stderr


def test_slippage_models_are_chosen_in_the_account_section(tmp_path: Path, shared_data_path: Any) -> None:
    from smc_agent.data.loaders import load_candles
    from smc_agent.venues.costs import AtrSlippage, FixedBpsSlippage, SpreadSlippage

    bid = shared_data_path("forex/GBPUSD_1m_bid_2012-02.csv")
    ask = shared_data_path("forex/GBPUSD_1m_ask_2012-02.csv")
    candles = load_candles(bid)[:500]
    spread = load_config(
        _write(tmp_path, f'[account]\nslippage_model = "spread"\nbid_data = "{bid}"\nask_data = "{ask}"\n')
    )
    assert isinstance(spread.engine.slippage(candles), SpreadSlippage)
    atr = load_config(_write(tmp_path, '[account]\nslippage_model = "atr"\nslippage_atr_fraction = 0.1\n'))
    assert isinstance(atr.engine.slippage(candles), AtrSlippage)
    assert isinstance(load_config(None).engine.slippage(candles), FixedBpsSlippage)


@pytest.mark.parametrize("text", ['[account]\nslippage_model = "spread"\n', '[account]\nslippage_model = "random"\n'])
def test_a_slippage_model_without_what_it_needs_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path, text))
    assert error.value.key == "account.slippage_model"


def test_instruments_come_from_their_own_tables(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[instruments."ADA/BTC"]\ntick_size = 0.00000001\nlot_size = 1\nmin_notional = 0.0001\n'
                    'quote_currency = "BTC"\n', encoding="utf-8")  # fmt: skip
    ((symbol, given),) = load_config(path).engine.instruments.items()
    assert symbol == "ADA/BTC"
    assert (given.tick_size, given.lot_size, given.min_notional, given.quote_currency) == (
        Decimal("1E-8"),
        Decimal("1"),
        Decimal("0.0001"),
        "BTC",
    )
    path.write_text("[instruments.EURUSD]\ntick = 0.00001\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.key == "instruments.EURUSD.tick"
    assert refused.value.source == str(path)


INSTRUMENTS = """
[account]
lot_size = 0.01

[instruments."ADA/BTC"]
tick_size = 0.00000001
lot_size = 0.001
min_notional = 0.0001
quote_currency = "BTC"

[instruments.EURUSD]
lot_size = 1000
"""


def test_instruments_tables_reach_the_engine_settings_and_the_instruments(tmp_path: Path) -> None:
    from smc_agent.config.engine import InstrumentSettings
    from smc_agent.data.candles import Candles

    engine = load_config(_write(tmp_path, INSTRUMENTS)).engine
    assert engine.instruments == {
        "ADA/BTC": InstrumentSettings(Decimal("0.00000001"), Decimal("0.001"), Decimal("0.0001"), "BTC"),
        "EURUSD": InstrumentSettings(lot_size=Decimal(1000)),
    }

    def candles(symbol: str) -> Candles:
        prices = [1.23456, 1.23457]
        return Candles.from_arrays([0, 60_000], prices, prices, prices, prices, [1.0, 1.0], symbol=symbol)

    ada = engine.instrument(candles("ADA/BTC"))
    assert (ada.tick_size, ada.lot_size, ada.min_notional, ada.quote_currency) == (
        Decimal("0.00000001"), Decimal("0.001"), Decimal("0.0001"), "BTC")  # fmt: skip
    # Given only a lot size, EURUSD takes its tick from its prices; a symbol without a table takes the
    # account's lot size and the data's tick.
    eurusd, other = engine.instrument(candles("EURUSD")), engine.instrument(candles("GBPUSD"))
    assert (eurusd.tick_size, eurusd.lot_size, eurusd.min_notional) == (Decimal("0.00001"), Decimal(1000), 0)
    assert (other.tick_size, other.lot_size, other.quote_currency) == (Decimal("0.00001"), Decimal("0.01"), "")
    assert load_config(None).engine.instruments == {}


@pytest.mark.parametrize(
    ("prices", "tick"),
    [
        ([1.07911, 1.08], "0.00001"),
        ([30000.0, 30001.0], "1"),
        ([0.0000533, 0.00005329], "0.00000001"),  # ADA/BTC in 2018
        ([0.00000012, 0.00000013], "0.00000001"),  # below 1e-6: once read as whole units (tick 1)
    ],
)
def test_the_tick_of_a_file_without_settings_is_the_finest_step_its_prices_use(prices: list[float], tick: str) -> None:
    from smc_agent.config.engine import EngineSettings
    from smc_agent.data.candles import Candles

    candles = Candles.from_arrays([0, 60_000], prices, prices, prices, prices, [1.0, 1.0], symbol="X")
    assert EngineSettings().instrument(candles).tick_size == Decimal(tick)
