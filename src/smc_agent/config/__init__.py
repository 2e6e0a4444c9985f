"""The settings file: TOML, typed, and strict about what it accepts.

Sections map onto the validated settings objects the code already uses, so a value is checked by the
same rules whichever way it arrives::

    [account]             # EngineSettings: initial_balance, fees, slippage_model, slippage_bps, tick_size, ...
    initial_balance = 25000
    instrument_type = "auto"          # or crypto_spot, crypto_perp, forex, futures, us_equity, india
    fees = "binance_futures"          # crypto maker/taker: a profile name, or { maker_bps = 2, taker_bps = 5 }

    [costs.forex]         # CostSettings: one table per kind of market (crypto_spot, ..., india)
    spread_pips = 0.5

    [risk]                # RiskConfig: risk_per_trade, min_rr, max_trades_per_day, daily_loss_limit, ...
    risk_per_trade = 0.005

    [execution]           # ExecutionConfig: tp1_fraction, breakeven_after_tp1

    [analysis]            # AnalysisConfig: timeframe_weights, min_rr, a_plus, expiry_candles, ...

    [instruments."EUR/USD"]   # InstrumentSettings of one symbol: type, tick_size, lot_size, min_notional, ...
    type = "forex"
    tick_size = 0.00001

An unknown section or key, a value of the wrong type, or one that breaks a rule is refused at startup
with an error that names the file and the key (``risk.max_drawdown``), never later.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from pydantic import TypeAdapter, ValidationError

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.config.engine import EngineSettings, InstrumentSettings
from smc_agent.core.errors import ConfigError
from smc_agent.engine.execution import ExecutionConfig
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.venues.cost_models import CostSettings
from smc_agent.venues.costs import FeeModel

__all__ = ["AppConfig", "load_config"]

_SECTIONS: dict[str, type[Any]] = {
    "risk": RiskConfig, "execution": ExecutionConfig, "costs": CostSettings, "analysis": AnalysisConfig,
}  # fmt: skip
_ACCOUNT_SKIP = {"risk", "execution", "costs", "instruments"}  # they have their own sections


@dataclass(frozen=True, slots=True)
class AppConfig:
    engine: EngineSettings = field(default_factory=EngineSettings)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)


def load_config(path: Path | None) -> AppConfig:
    """The settings in ``path`` (defaults for everything not given); no path gives the defaults."""
    if path is None:
        return AppConfig()
    source = str(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("settings file not found", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file: {exc.strerror}", source=source) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    unknown = sorted(set(document) - {"account", "instruments", *_SECTIONS})
    if unknown:
        raise ConfigError(f"unknown section; use account, instruments, {', '.join(_SECTIONS)}", key=unknown[0],
                          source=source)  # fmt: skip
    built = {name: _build(cls, document.get(name, {}), name, source) for name, cls in _SECTIONS.items()}
    account = dict(_table(document.get("account", {}), "account", source))
    if isinstance(account.get("fees"), str):
        account["fees"] = _guard(lambda: FeeModel.profile(account["fees"]), "account.fees", source)
    fields = {f.name for f in dataclasses.fields(EngineSettings)} - _ACCOUNT_SKIP
    _known(account, fields, "account", source)
    instruments = {
        str(symbol): _build(InstrumentSettings, table, f"instruments.{symbol}", source)
        for symbol, table in _table(document.get("instruments", {}), "instruments", source).items()
    }
    engine = _validate(EngineSettings, {**account, "risk": built["risk"], "execution": built["execution"],
                                        "costs": built["costs"], "instruments": instruments}, "account",
                       source)  # fmt: skip
    return AppConfig(engine, built["analysis"])


def _build(cls: type[Any], values: object, section: str, source: str) -> Any:
    table = _table(values, section, source)
    _check_keys(cls, table, section, source)
    return _validate(cls, dict(table), section, source)


def _check_keys(cls: type[Any], table: Mapping[str, Any], prefix: str, source: str) -> None:
    """Unknown keys are errors, at every depth of nested settings (pydantic would drop them)."""
    _known(table, {f.name for f in dataclasses.fields(cls)}, prefix, source)
    hints = get_type_hints(cls)
    for name, value in table.items():
        nested = hints.get(name)
        if dataclasses.is_dataclass(nested) and isinstance(value, Mapping):
            _check_keys(nested, value, f"{prefix}.{name}", source)  # type: ignore[arg-type]


def _known(table: Mapping[str, Any], names: set[str], prefix: str, source: str) -> None:
    for key in table:
        if key not in names:
            raise ConfigError(
                f"unknown setting; known: {', '.join(sorted(names))}", key=f"{prefix}.{key}", source=source
            )


def _validate(cls: type[Any], values: dict[str, Any], section: str, source: str) -> Any:
    try:
        return TypeAdapter(cls).validate_python(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (section, *first["loc"]))
        raise ConfigError(first["msg"], key=where, source=source) from None
    except ConfigError as exc:  # a rule in the settings object itself
        raise ConfigError(exc.message, key=f"{section}.{exc.key}" if exc.key else section, source=source) from None


def _guard(make: Any, key: str, source: str) -> Any:
    try:
        return make()
    except ConfigError as exc:
        raise ConfigError(exc.message, key=key, source=source) from None


def _table(values: object, section: str, source: str) -> Mapping[str, Any]:
    if not isinstance(values, Mapping):
        raise ConfigError("must be a table of settings", key=section, source=source)
    return values
