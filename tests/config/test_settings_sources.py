"""The one settings model: flags > environment > file (and its profile) > defaults, key by key, and every
refusal names the key and where it came from."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from settings_env import clean_environment  # noqa: F401  (autouse: no SMC_ variable of the caller leaks in)

import test_config  # tests/test_config.py: its settings documents
from smc_agent.config import load_config
from smc_agent.config.settings import load_settings
from smc_agent.core.errors import ConfigError
from smc_agent.smc.config import SwingLength

FILE = """
[risk]
risk_per_trade = 0.005
min_rr = 1.5
max_trades_per_day = 4

[analysis]
a_plus = 0.7

[profiles.dev.risk]
min_rr = 1.75

[profiles.prod.risk]
risk_per_trade = 0.0025
"""


def _write(tmp_path: Path, text: str, name: str = "settings.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_no_environment_means_the_defaults() -> None:
    risk = load_settings().risk
    assert (risk.risk_per_trade, risk.min_rr, risk.max_trades_per_day) == (Decimal("0.01"), Decimal("2.0"), 2)


def test_each_key_comes_from_the_strongest_source_giving_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, FILE)
    monkeypatch.setenv("SMC_RISK__MIN_RR", "1.25")
    monkeypatch.setenv("SMC_RISK__MAX_TRADES_PER_DAY", "5")
    settings = load_settings(path, overrides={"risk": {"max_trades_per_day": 6}})
    risk = settings.risk
    assert risk.max_trades_per_day == 6  # the flag beats the environment and the file
    assert risk.min_rr == Decimal("1.25")  # the environment beats the file
    assert risk.risk_per_trade == Decimal("0.005")  # the file beats the default
    assert risk.loss_cooldown_minutes == 60  # given nowhere: the default
    assert settings.analysis.a_plus == 0.7
    # The engine is built from the same values.
    engine = settings.engine_settings().risk
    assert (engine.max_trades_per_day, engine.min_rr, engine.risk_per_trade) == (6, Decimal("1.25"), Decimal("0.005"))
    assert settings.origins() == {
        "analysis.a_plus": str(path),
        "risk.max_trades_per_day": "command line",
        "risk.min_rr": "environment SMC_RISK__MIN_RR",
        "risk.risk_per_trade": str(path),
    }


def test_nested_environment_variables_reach_nested_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMC_RISK__RISK_PER_TRADE", "0.003")
    monkeypatch.setenv("SMC_EXECUTION__TP1_FRACTION", "0.25")
    monkeypatch.setenv("SMC_ANALYSIS__ENTRY_SMC__INTERNAL__LEFT", "3")
    monkeypatch.setenv("SMC_ANALYSIS__ENTRY_SMC__INTERNAL__RIGHT", "4")
    monkeypatch.setenv("SMC_RUN__HTF", "1h,4h")
    config = load_config(None)
    assert config.engine.risk.risk_per_trade == Decimal("0.003")
    assert config.engine.execution.tp1_fraction == Decimal("0.25")
    assert config.analysis.entry_smc.internal == SwingLength(3, 4)
    assert load_settings().run.htf == ("1h", "4h")


def test_the_environment_beats_the_profile_which_beats_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, FILE)
    dev = load_settings(path, profile="dev").risk
    assert (dev.min_rr, dev.risk_per_trade, dev.max_trades_per_day) == (Decimal("1.75"), Decimal("0.005"), 4)
    monkeypatch.setenv("SMC_RISK__MIN_RR", "1.1")
    assert load_settings(path, profile="dev").risk.min_rr == Decimal("1.1")


def test_a_profile_is_chosen_by_flag_or_by_smc_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, FILE)
    assert load_settings(path).risk.risk_per_trade == Decimal("0.005")
    monkeypatch.setenv("SMC_PROFILE", "prod")
    assert load_settings(path).risk.risk_per_trade == Decimal("0.0025")
    assert load_config(path).engine.risk.risk_per_trade == Decimal("0.0025")
    # The flag beats the variable.
    assert load_settings(path, profile="dev").risk.risk_per_trade == Decimal("0.005")
    assert load_settings(path, profile="dev").risk.min_rr == Decimal("1.75")


def test_an_unknown_profile_is_refused_with_the_ones_the_file_has(tmp_path: Path) -> None:
    path = _write(tmp_path, FILE)
    with pytest.raises(ConfigError) as error:
        load_settings(path, profile="staging")
    assert (error.value.key, error.value.source) == ("profile", str(path))
    assert "no [profiles.staging] table in the file (it has: dev, prod)" in str(error.value)
    with pytest.raises(ConfigError, match=r"profile 'prod' needs a settings file"):
        load_settings(None, profile="prod")


def test_a_bad_key_inside_a_profile_is_named_with_its_profile(tmp_path: Path) -> None:
    path = _write(tmp_path, "[profiles.prod.risk]\nbogus = 1\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path, profile="prod")
    assert (error.value.key, error.value.source) == ("profiles.prod.risk.bogus", str(path))


YAML = """
account:
  initial_balance: 25000
  fees: {maker_bps: 1, taker_bps: 4}
risk:
  risk_per_trade: 0.005
  correlation_groups: [[EURUSD, GBPUSD]]
execution:
  tp1_fraction: 0.25
analysis:
  a_plus: 0.7
  timeframe_weights: {"1d": 0.6, "4h": 0.4}
  entry_smc: {internal: {left: 3, right: 4}}
symbols:
  EURUSD:
    analysis: {min_rr: 1.5}
    risk: {max_trades_per_day: 5}
run:
  speed: 600
profiles:
  prod:
    risk: {risk_per_trade: 0.002}
"""

# tests/test_config.py's document, with a symbol's tables, a run table and a profile.
TOML = (
    test_config.GOOD
    + """
[symbols.EURUSD.analysis]
min_rr = 1.5

[symbols.EURUSD.risk]
max_trades_per_day = 5

[run]
speed = 600

[profiles.prod.risk]
risk_per_trade = 0.002
"""
)


@pytest.mark.parametrize("suffix", [".yaml", ".yml"])
def test_a_yaml_file_is_the_same_settings_as_its_toml(tmp_path: Path, suffix: str) -> None:
    yaml_path, toml_path = _write(tmp_path, YAML, f"s{suffix}"), _write(tmp_path, TOML)
    for profile in (None, "prod"):
        from_yaml, from_toml = load_settings(yaml_path, profile=profile), load_settings(toml_path, profile=profile)
        assert from_yaml.document(masked=False) == from_toml.document(masked=False)
        assert from_yaml.engine_settings() == from_toml.engine_settings()
        assert from_yaml.analysis_config() == from_toml.analysis_config()
    settings = load_settings(yaml_path)
    assert settings.account.initial_balance == Decimal(25000)
    assert settings.risk.correlation_groups == (("EURUSD", "GBPUSD"),)
    assert settings.run.speed == 600.0
    assert settings.analysis_config().for_symbol("EURUSD").min_rr == 1.5
    assert load_settings(yaml_path, profile="prod").risk.risk_per_trade == Decimal("0.002")


@pytest.mark.parametrize(
    ("name", "text", "key", "words"),
    [
        ("s.toml", "[risk]\nbogus = 1\n", "risk.bogus", "unknown setting"),
        ("s.yaml", "risk:\n  bogus: 1\n", "risk.bogus", "unknown setting"),
        ("s.toml", "[riskk]\nmin_rr = 1\n", "riskk", "unknown section"),
        ("s.yaml", "store:\n  uri: x\n", "store.uri", "unknown setting"),
        ("s.toml", "[run]\nspeeed = 1\n", "run.speeed", "unknown setting"),
        ("s.toml", "[symbols.EURUSD]\nriks = {}\n", "symbols.EURUSD.riks", "unknown setting"),
        ("s.toml", "[symbols.EURUSD.risk]\nmax_drawdown = 0.1\n", "symbols.EURUSD.risk.max_drawdown",
         "known: loss_cooldown_minutes, max_trades_per_day, min_rr, risk_per_trade"),
        ("s.toml", "[symbols.EURUSD.analysis]\nbogus = 1\n", "symbols.EURUSD.analysis.bogus", "unknown setting"),
        ("s.toml", "[risk]\nmax_trades_per_day = \"many\"\n", "risk.max_trades_per_day", "valid integer"),
        ("s.yaml", "risk:\n  min_rr: lots\n", "risk.min_rr", "valid decimal"),
        ("s.toml", "[run]\nspeed = -1\n", "run.speed", "must be > 0"),
        ("s.toml", "[run]\ntf = \"7q\"\n", "run.tf", ""),
        ("s.toml", "[store]\nurl = 5\n", "store.url", "valid string"),
        ("s.toml", "[symbols.EURUSD.risk]\nmin_rr = -1\n", "symbols.EURUSD.risk.min_rr", "must be >= 0"),
        ("s.toml", "[symbols.EURUSD.analysis]\nmin_rr = \"x\"\n", "symbols.EURUSD.analysis.min_rr", "valid number"),
        ("s.toml", "[analysis]\nentry_smc = { internal = { left = 3 } }\n", "analysis.entry_smc.internal.right",
         "required"),
    ],
)  # fmt: skip
def test_a_bad_key_in_the_file_names_the_key_and_the_file(
    tmp_path: Path, name: str, text: str, key: str, words: str
) -> None:
    path = _write(tmp_path, text, name)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    assert (error.value.key, error.value.source) == (key, str(path))
    assert str(error.value).startswith(f"{path}: key {key}: ")
    assert words in error.value.message


@pytest.mark.parametrize(
    ("variable", "value", "key", "words"),
    [
        ("SMC_RISK__NOPE", "1", "risk.nope", "unknown setting"),
        ("SMC_RISKK__MIN_RR", "1", "riskk", "unknown section"),
        ("SMC_RISK__MIN_RR", "abc", "risk.min_rr", "valid decimal"),
        ("SMC_RISK__MAX_TRADES_PER_DAY", "1.5", "risk.max_trades_per_day", "valid integer"),
        ("SMC_RUN__SPEED", "fast", "run.speed", ""),
        ("SMC_SYMBOLS__EURUSD__RISK__NOPE", "1", "symbols.EURUSD.risk.nope", "unknown setting"),
        ("SMC_SYMBOLS__EURUSD__RISK__MIN_RR", "-1", "symbols.EURUSD.risk.min_rr", "must be >= 0"),
    ],
)
def test_a_bad_variable_names_the_key_and_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, key: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    for path in (None, _write(tmp_path, FILE)):
        with pytest.raises(ConfigError) as error:
            load_settings(path)
        assert (error.value.key, error.value.source) == (key, f"environment {variable}")
        assert words in error.value.message


def test_other_smc_variables_without_a_section_are_left_to_their_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMC_SOMETHING_ELSE", "1")
    assert load_settings().risk.min_rr == Decimal("2.0")


def test_a_bad_flag_names_the_key_and_the_command_line() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(overrides={"risk": {"min_rr": "abc"}})
    assert (error.value.key, error.value.source) == ("risk.min_rr", "command line")
    with pytest.raises(ConfigError) as error:
        load_settings(overrides={"nope": {}})
    assert (error.value.key, error.value.source) == ("nope", "command line")


def test_a_symbol_named_in_the_environment_keeps_its_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, "[symbols.EURUSD.risk]\nmax_trades_per_day = 5\n")
    monkeypatch.setenv("SMC_SYMBOLS__EURUSD__RISK__MIN_RR", "1.5")
    monkeypatch.setenv("SMC_SYMBOLS__GBPUSD__ANALYSIS__MIN_RR", "1.25")
    monkeypatch.setenv("SMC_INSTRUMENTS__EURUSD__LOT_SIZE", "1000")
    settings = load_settings(path)
    assert sorted(settings.symbols) == ["EURUSD", "GBPUSD"]
    risk = settings.engine_settings().risk
    assert risk.for_symbol("EURUSD").min_rr == Decimal("1.5")
    assert risk.for_symbol("EURUSD").max_trades_per_day == 5  # the file's, merged with the variable's
    assert settings.analysis_config().for_symbol("GBPUSD").min_rr == 1.25
    assert settings.engine_settings().instruments["EURUSD"].lot_size == Decimal(1000)


# The documents tests/test_config.py reads with `--config`, as it has since before the settings model.
TODAYS_FILES = {"good": test_config.GOOD, "instruments": test_config.INSTRUMENTS,
                "slippage": '[account]\nslippage_model = "atr"\nslippage_atr_fraction = 0.1\n'}  # fmt: skip


def test_todays_config_files_still_load(tmp_path: Path) -> None:
    good = load_settings(_write(tmp_path, TODAYS_FILES["good"]))
    assert good.engine_settings().initial_balance == Decimal(25000)
    assert good.engine_settings().execution.tp1_fraction == Decimal("0.25")
    assert good.analysis_config().timeframe_weights == {"1d": 0.6, "4h": 0.4}
    instruments = load_settings(_write(tmp_path, TODAYS_FILES["instruments"])).engine_settings()
    assert instruments.lot_size == Decimal("0.01")
    assert instruments.instruments["ADA/BTC"].quote_currency == "BTC"
    assert instruments.instruments["EURUSD"].lot_size == Decimal(1000)
    slippage = load_settings(_write(tmp_path, TODAYS_FILES["slippage"])).engine_settings()
    assert (slippage.slippage_model, slippage.slippage_atr_fraction) == ("atr", Decimal("0.1"))
