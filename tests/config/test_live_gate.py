"""The live gate: every combination of mode, allow_live, --live and keys; only all four trade live."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pydantic import SecretStr

from smc_agent.config.live_gate import check_live
from smc_agent.config.settings import ExchangeSettings, RunSettings, Settings
from smc_agent.core.errors import ConfigError
from smc_agent.venues.keys import load_keys

KEY, SECRET = "gk-5Rt7Yu9Io1Pa", "gs-2Sd4Fg6Hj8Kl0Zx"
MISSING = {
    "mode": 'run.mode = "live"',
    "allow": "run.allow_live = true",
    "flag": "--live on the command line",
    "keys": "API keys",
}


def settings(mode: str, allow: bool, keys: bool) -> Settings:
    exchange = ExchangeSettings(api_key=SecretStr(KEY), api_secret=SecretStr(SECRET)) if keys else ExchangeSettings()
    return Settings(run=RunSettings(mode=mode, allow_live=allow), exchange=exchange)  # type: ignore[arg-type]


@pytest.mark.parametrize(("live_mode", "allow", "flag", "keys"), list(itertools.product([False, True], repeat=4)))
def test_each_combination_is_refused_naming_what_is_missing_unless_all_are_there(
    live_mode: bool, allow: bool, flag: bool, keys: bool
) -> None:
    given = settings("live" if live_mode else "paper", allow, keys)
    if not live_mode and not flag:
        assert check_live(given, live_flag=flag) is None  # paper: nothing else is asked for
        return
    if live_mode and allow and flag and keys:
        got = check_live(given, live_flag=flag)
        assert got is not None
        assert (got.api_key.get_secret_value(), got.api_secret.get_secret_value()) == (KEY, SECRET)
        return
    with pytest.raises(ConfigError) as refused:
        check_live(given, live_flag=flag)
    text = str(refused.value)
    wanted = {"mode": live_mode, "allow": allow, "flag": flag, "keys": keys}
    for name, present in wanted.items():
        assert (MISSING[name] in text) is not present, (name, text)
    assert KEY not in text
    assert SECRET not in text


def test_keys_from_a_secrets_file_open_the_gate_and_a_half_pair_is_named(tmp_path: Path) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(f'api_key = "{KEY}"\napi_secret = "{SECRET}"\n')
    given = Settings(run=RunSettings(mode="live", allow_live=True), exchange=ExchangeSettings(secrets_file=path))
    keys = check_live(given, live_flag=True)
    assert keys is not None
    assert (keys.api_key.get_secret_value(), keys.source) == (KEY, str(path))
    assert KEY not in repr(keys)
    assert SECRET not in repr(keys)
    path.write_text(f'api_key = "{KEY}"\n')
    with pytest.raises(ConfigError, match="api_secret") as half:
        check_live(given, live_flag=True)
    assert str(path) in str(half.value)
    assert KEY not in str(half.value)


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        (f'api_key = "{KEY}"\napi_secret = "{SECRET}"\napi_sekret = "x"\n', "key api_sekret: unknown key"),
        (f'api_key = "{KEY}"\napi_secret = 5\n', "key api_secret: must be a non-empty string"),
        (f'api_key = "{KEY}\napi_secret = "{SECRET}"\n', "not valid TOML"),
    ],
)
def test_a_bad_secrets_file_is_named_without_quoting_a_secret(tmp_path: Path, text: str, wanted: str) -> None:
    path = tmp_path / "secrets.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as bad:
        load_keys(None, None, path)
    message = str(bad.value)
    assert wanted in message
    assert str(path) in message
    assert KEY not in message
    assert SECRET not in message


def test_keys_from_the_environment_come_through_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMC_EXCHANGE__API_KEY", KEY)
    monkeypatch.setenv("SMC_EXCHANGE__API_SECRET", SECRET)
    monkeypatch.setenv("SMC_RUN__MODE", "live")
    monkeypatch.setenv("SMC_RUN__ALLOW_LIVE", "true")
    keys = check_live(Settings(), live_flag=True)
    assert keys is not None
    assert keys.credentials() == {"apiKey": KEY, "secret": SECRET}


def test_a_missing_secrets_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"secrets file .*nowhere.toml: key exchange.secrets_file: cannot read it"):
        load_keys(None, None, tmp_path / "nowhere.toml")
