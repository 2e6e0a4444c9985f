"""An exchange account's API keys, from the settings (and so the environment) or a secrets file; never shown.

Where they come from, first found wins:

1. ``exchange.api_key`` and ``exchange.api_secret`` of the settings, which the environment sets as
   ``SMC_EXCHANGE__API_KEY`` / ``SMC_EXCHANGE__API_SECRET`` (``exchange.password`` too, for exchanges that
   want a passphrase);
2. a TOML secrets file (``exchange.secrets_file``) with ``api_key``, ``api_secret`` and optionally
   ``password`` at its top level, kept out of the settings file so the settings can be shared.

The keys stay :class:`pydantic.SecretStr` until :meth:`ApiKeys.credentials` hands them to ccxt, so a repr,
a log line or an error shows ``**********``. Errors name the file and the key, never a value (a TOML error's
own text quotes no value either: it gives the line and column).

>>> keys = load_keys(SecretStr("k-123"), SecretStr("s-456"), None)
>>> keys.source, "k-123" in repr(keys), keys.credentials()["apiKey"]
('settings', False, 'k-123')
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from smc_agent.core.errors import ConfigError

__all__ = ["ApiKeys", "load_keys"]

_FILE_KEYS = {"api_key", "api_secret", "password"}


@dataclass(frozen=True, slots=True)
class ApiKeys:
    """The key and secret of one account, and where they were read (``settings`` or the file's path)."""

    api_key: SecretStr
    api_secret: SecretStr
    password: SecretStr | None = None
    source: str = "settings"

    def credentials(self) -> dict[str, str]:
        """The keys as ccxt's constructor takes them: the only place their values leave a SecretStr."""
        given = {"apiKey": self.api_key, "secret": self.api_secret, "password": self.password}
        return {name: value.get_secret_value() for name, value in given.items() if value is not None}


def load_keys(
    api_key: SecretStr | None,
    api_secret: SecretStr | None,
    secrets_file: Path | None,
    password: SecretStr | None = None,
) -> ApiKeys | None:
    """The keys from the settings' values, else from ``secrets_file``; None when neither gives any.

    Half a pair (a key without its secret) is a ConfigError naming the missing one, wherever it is.
    """
    if api_key is not None or api_secret is not None:
        return _pair(api_key, api_secret, password, "settings", "exchange.")
    if secrets_file is None:
        return None
    return _from_file(secrets_file)


def _from_file(path: Path) -> ApiKeys:
    where = f"secrets file {path}"
    try:
        document = tomllib.loads(path.expanduser().read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror}", key="exchange.secrets_file", source=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=where) from None
    unknown = sorted(set(document) - _FILE_KEYS)
    if unknown:
        raise ConfigError(f"unknown key; known: {', '.join(sorted(_FILE_KEYS))}", key=unknown[0], source=where)
    values: dict[str, SecretStr | None] = {}
    for name in sorted(_FILE_KEYS):
        value = document.get(name)
        if value is not None and not (isinstance(value, str) and value):
            raise ConfigError("must be a non-empty string", key=name, source=where)
        values[name] = None if value is None else SecretStr(value)
    return _pair(values["api_key"], values["api_secret"], values["password"], str(path), "", where)


def _pair(
    key: SecretStr | None,
    secret: SecretStr | None,
    password: SecretStr | None,
    source: str,
    prefix: str,
    where: str | None = None,
) -> ApiKeys:
    if key is None or not key.get_secret_value():
        raise ConfigError("the API key is missing (its secret is given)", key=f"{prefix}api_key", source=where)
    if secret is None or not secret.get_secret_value():
        raise ConfigError("the API secret is missing (its key is given)", key=f"{prefix}api_secret", source=where)
    return ApiKeys(key, secret, password, source)
