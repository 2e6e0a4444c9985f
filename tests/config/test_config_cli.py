"""``smc-agent config show|validate|init``: the effective settings with secrets masked, a file checked
the way the commands read it, and an example that validates."""

from __future__ import annotations

import json
import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from settings_env import clean_environment  # noqa: F401  (autouse: no SMC_ variable of the caller leaks in)
from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.config.settings import load_settings

SECRET = "s3cr3t"

FILE = f"""
[risk]
risk_per_trade = 0.005

[store]
url = "postgresql+psycopg://trader:{SECRET}@db.example:5432/smc"

[exchange]
name = "binance"
api_key = "{SECRET}-key"

[profiles.prod.risk]
risk_per_trade = 0.002
"""


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(FILE, encoding="utf-8")
    return path


def test_show_prints_the_effective_settings_with_secrets_masked(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMC_EXCHANGE__API_SECRET", SECRET)
    monkeypatch.setenv("SMC_RISK__MIN_RR", "1.5")
    code, out, err = _invoke("config", "show", "--config", str(settings_file), "--profile", "prod")
    assert code == 0, err
    assert SECRET not in out + err
    shown = tomllib.loads(out)
    assert shown["exchange"] == {"name": "binance", "testnet": False, "urls": {}, "api_key": "***", "api_secret": "***"}
    assert shown["store"]["url"] == "postgresql+psycopg://trader:***@db.example:5432/smc"
    assert shown["risk"]["risk_per_trade"] == 0.002  # the profile's
    assert shown["risk"]["min_rr"] == 1.5  # the environment's
    assert shown["risk"]["max_trades_per_day"] == 2  # the default
    # Where each key that is not a default came from, as comments.
    assert "# risk.min_rr: environment SMC_RISK__MIN_RR\n" in out
    assert f"# risk.risk_per_trade: profile prod in {settings_file}\n" in out
    assert "# exchange.api_secret: environment SMC_EXCHANGE__API_SECRET\n" in out


def test_show_json_masks_too(settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMC_EXCHANGE__API_SECRET", SECRET)
    code, out, _ = _invoke("config", "show", "--config", str(settings_file), "--json")
    assert code == 0
    assert SECRET not in out
    shown = json.loads(out)
    assert shown["exchange"]["api_secret"] == shown["exchange"]["api_key"] == "***"
    assert shown["risk"]["risk_per_trade"] == 0.005
    assert shown["account"]["initial_balance"] == 10000


def test_show_without_a_file_is_the_defaults() -> None:
    code, out, _ = _invoke("config", "show")
    assert code == 0
    assert "# (all defaults)" in out
    shown = tomllib.loads(out)
    assert shown["risk"]["risk_per_trade"] == 0.01
    assert shown["analysis"]["min_rr"] == 2.0
    assert shown["run"] == {
        "source": "files",
        "symbols": [],
        "warmup_bars": 100,
        "speed": 3600.0,
        "mode": "paper",
        "allow_live": False,
    }


def test_what_show_prints_is_a_settings_file_that_validates(
    tmp_path: Path, settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = _invoke("config", "show", "--config", str(settings_file))
    assert code == 0
    shown = tmp_path / "shown.toml"
    shown.write_text(out.replace('"***"', '"x"'), encoding="utf-8")
    assert _invoke("config", "validate", str(shown))[:2] == (0, f"{shown}: valid\n")
    assert load_settings(shown).risk.risk_per_trade == Decimal("0.005")


def test_no_error_message_prints_a_secret(tmp_path: Path, settings_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMC_EXCHANGE__API_SECRET", SECRET)
    monkeypatch.setenv("SMC_RISK__NOPE", "1")
    code, out, err = _invoke("config", "show", "--config", str(settings_file))
    assert code == 2
    assert "environment SMC_RISK__NOPE: key risk.nope: unknown setting" in err
    assert SECRET not in out + err
    monkeypatch.delenv("SMC_RISK__NOPE")
    monkeypatch.delenv("SMC_EXCHANGE__API_SECRET")  # it would win over the file's
    # A secret of the wrong type, and a file that does not parse on the secret's own line.
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(f'[exchange]\napi_secret = ["{SECRET}"]\n', encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(f"exchange:\n  api_secret: {SECRET}\n  name: [binance\n", encoding="utf-8")
    for path, key in ((wrong, "key exchange.api_secret"), (broken, "not valid YAML")):
        code, out, err = _invoke("config", "validate", str(path))
        assert code == 2
        assert key in err
        assert SECRET not in out + err
    code, out, err = _invoke("backtest", "--demo", "--config", str(wrong))
    assert code == 2
    assert SECRET not in out + err


def test_validate_says_valid_or_names_the_key_and_the_file(tmp_path: Path, settings_file: Path) -> None:
    assert _invoke("config", "validate", str(settings_file))[:2] == (0, f"{settings_file}: valid (profiles: prod)\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("[risk]\nmax_drawdown = 2\n", encoding="utf-8")
    code, out, err = _invoke("config", "validate", str(bad))
    assert (code, out) == (2, "")
    assert f"{bad}: key risk.max_drawdown: must be > 0 and < 1" in err
    assert "Traceback" not in err
    missing = tmp_path / "missing.toml"
    code, _, err = _invoke("config", "validate", str(missing))
    assert code == 2
    assert f"{missing}: settings file not found" in err


def test_validate_checks_every_profile_unless_one_is_given(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("risk:\n  min_rr: 2\nprofiles:\n  dev:\n    risk: {min_rr: 1}\n  prod:\n    risk: {nope: 1}\n",
                    encoding="utf-8")  # fmt: skip
    code, _, err = _invoke("config", "validate", str(path))
    assert code == 2
    assert f"{path}: key profiles.prod.risk.nope: unknown setting" in err
    assert _invoke("config", "validate", str(path), "--profile", "dev")[:2] == (0, f"{path}: valid (profiles: dev)\n")
    code, _, err = _invoke("config", "validate", str(path), "--profile", "test")
    assert code == 2
    assert "no [profiles.test] table in the file (it has: dev, prod)" in err


def test_init_writes_a_commented_example_that_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "smc.toml"
    code, stdout, _ = _invoke("config", "init", "--out", str(out))
    assert code == 0
    assert f"wrote {out}" in stdout
    text = out.read_text(encoding="utf-8")
    assert text.count("\n#") > 20  # commented
    assert _invoke("config", "validate", str(out))[:2] == (0, f"{out}: valid (profiles: dev, prod)\n")
    assert load_settings(out).risk.risk_per_trade == Decimal("0.01")
    assert load_settings(out, profile="dev").run.speed == 600.0
    assert load_settings(out, profile="prod").risk.max_drawdown == Decimal("0.05")
    # Written into the current directory by default.
    monkeypatch.chdir(tmp_path)
    assert _invoke("config", "init")[0] == 0
    assert (tmp_path / "smc-agent.toml").read_text(encoding="utf-8") == text


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "smc.toml"
    out.write_text("# mine\n", encoding="utf-8")
    code, _, err = _invoke("config", "init", "--out", str(out))
    assert code == 2
    assert f"{out}: already exists; give --force to overwrite it" in err
    assert out.read_text(encoding="utf-8") == "# mine\n"
    assert _invoke("config", "init", "--out", str(out), "--force")[0] == 0
    assert "[profiles.prod.risk]" in out.read_text(encoding="utf-8")
