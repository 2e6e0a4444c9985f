"""One settings model for every command: defaults, then a file, then the environment, then flags.

:class:`Settings` is a pydantic-settings model. Its sections are the engine's own validated objects
(``risk`` *is* a :class:`~smc_agent.engine.risk_config.RiskConfig`), so a value is checked by the same
rules whichever way it arrives, and the engine keeps its frozen dataclasses:
:meth:`Settings.engine_settings` and :meth:`Settings.analysis_config` hand them over.

Sources, the later winning key by key (nested tables merge, they do not replace each other):

1. defaults;
2. the settings file (``--config``: TOML, or YAML for ``.yaml``/``.yml``), with the table
   ``[profiles.NAME]`` merged over it when ``--profile NAME`` or ``SMC_PROFILE=NAME`` is given;
3. the environment: ``SMC_`` then the key path joined by ``__`` (``SMC_RISK__RISK_PER_TRADE=0.005``);
4. flags: the overrides a command passes in (``{"store": {"url": ...}}``).

Per symbol, ``[symbols.EURUSD.analysis]`` overrides ``[analysis]`` and ``[symbols.EURUSD.risk]`` the
per-symbol limits of ``[risk]`` (:class:`~smc_agent.engine.risk_config.SymbolRisk`), for that symbol only.

Every refusal is a :class:`~smc_agent.core.errors.ConfigError` naming the key and where it came from
(the file, the environment variable or the command line), never a pydantic traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.config.engine import EngineSettings, InstrumentSettings
from smc_agent.core.errors import ConfigError
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.engine.execution import ExecutionConfig
from smc_agent.engine.risk_config import RiskConfig, SymbolRisk
from smc_agent.venues.cost_models import CostSettings
from smc_agent.venues.costs import FeeModel

__all__ = [
    "ENV_PREFIX",
    "ApiSettings",
    "ExchangeSettings",
    "RunSettings",
    "Settings",
    "StoreSettings",
    "SymbolSettings",
    "load_settings",
    "read_document",
]

ENV_PREFIX = "SMC_"
_NESTED = "__"
_ENGINE_OWN = ("risk", "execution", "costs", "instruments")  # EngineSettings fields with their own section
_BY_SYMBOL = ("symbols", "instruments")  # sections whose tables are keyed by symbol
_SECRET = re.compile(r"key|secret|password|token", re.IGNORECASE)
MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")


# -- sections built from the engine's objects ---------------------------------------------------------


def _check_keys(cls: type[Any], table: Mapping[str, Any], prefix: str, hidden: frozenset[str] = frozenset()) -> None:
    """Unknown keys are errors at every depth (pydantic drops them from plain dataclasses)."""
    names = {f.name for f in dataclasses.fields(cls)} - hidden
    for key in table:
        if key not in names:
            raise ConfigError(f"unknown setting; known: {', '.join(sorted(names))}", key=f"{prefix}.{key}")
    hints = get_type_hints(cls)
    for name, value in table.items():
        nested = hints.get(name)
        if isinstance(nested, type) and dataclasses.is_dataclass(nested) and isinstance(value, Mapping):
            _check_keys(nested, value, f"{prefix}.{name}")


def _section(cls: type[Any], name: str, hidden: frozenset[str] = frozenset(), *, per_symbol: bool = False) -> Any:
    """A validator for a section that is ``cls`` (or, ``per_symbol``, a table of ``cls`` by symbol): it
    refuses unknown keys, lets pydantic build the object (running the object's own rules), and puts
    the section's name in front of the key of any error the object raises."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        tables = _table(value, name) if per_symbol else {"": value}
        for symbol, table in tables.items():
            where = f"{name}.{symbol}" if per_symbol else name
            if not isinstance(table, cls):
                _check_keys(cls, _table(table, where), where, hidden)
        try:
            return handler(value)
        except ConfigError as exc:
            raise exc.under(name) from None

    return WrapValidator(check)


def _table(value: object, key: str, source: str | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError("must be a table of settings", key=key, source=source)
    return value


def _account(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """``[account]``: the EngineSettings fields that have no section of their own; ``fees`` may be a
    profile name."""
    if isinstance(value, EngineSettings):
        return value
    table = dict(_table(value, "account"))
    _check_keys(EngineSettings, table, "account", frozenset(_ENGINE_OWN))
    try:
        if isinstance(table.get("fees"), str):
            table["fees"] = FeeModel.profile(table["fees"])
        return handler(table)
    except ConfigError as exc:
        raise exc.under("account") from None


_SYMBOLS_HIDDEN = frozenset({"symbols"})  # per-symbol settings live in [symbols.SYMBOL], not in the section


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SymbolSettings(_Strict):
    """``[symbols.SYMBOL]``: ``analysis`` is any part of ``[analysis]``; ``risk`` the per-symbol limits."""

    analysis: dict[str, Any] = Field(default_factory=dict)
    risk: Annotated[SymbolRisk, _section(SymbolRisk, "risk")] = Field(default_factory=SymbolRisk)


class StoreSettings(_Strict):
    url: str | None = None  # None: the store's default (a SQLite file in the user's data directory)


class ApiSettings(_Strict):
    """``smc-agent serve``: where it listens, which browser origins may call it, how long a login lasts."""

    host: str = "127.0.0.1"  # another address is reachable from the network: serve logs a warning
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    cors_origins: tuple[str, ...] = ()  # none: no browser page of another origin may call the API
    jwt_ttl_s: Annotated[int, Field(gt=0)] = 900
    # Requests per credential (a token bucket: bursts up to the count pass), then 429 with Retry-After.
    rate_limit: Annotated[str, Field(pattern=r"^[1-9]\d*/(second|minute|hour|day)$")] = "120/minute"
    max_body_bytes: Annotated[int, Field(gt=0)] = 1_048_576  # a larger request body is refused with 413

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value


def _speed(value: object) -> float | str:
    """A multiple of real time above 0, or ``max`` (one validator, so an error names ``run.speed`` alone)."""
    if value == "max":
        return "max"
    try:
        speed = float(value) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
    except ValueError:
        speed = None
    if speed is None or not speed > 0:
        raise ValueError(f"must be > 0 (a multiple of real time) or max, got {value!r}")
    return speed


class RunSettings(_Strict):
    """What ``smc-agent run`` trades on: replayed files and how fast, or an exchange's live candles."""

    # files: the --data files (or the demo); ccxt: the exchange named in [exchange]; any other name: that
    # CCXT exchange (binance, kraken, ...).
    source: str = "files"
    symbols: tuple[str, ...] = ()  # on an exchange: the markets to trade (BTC/USDT, ...)
    # On an exchange's first start: the history to learn from, in candles of the highest timeframe.
    warmup_bars: Annotated[int, Field(gt=0)] = 100

    # × real time, or max. The default, an hour of market a second, makes the shipped hourly demo a
    # candle a second: a replay to watch; `--speed max` is for a replay to finish.
    speed: Annotated[float | Literal["max"], PlainValidator(_speed)] = 3600.0
    # Live trading needs mode = "live", allow_live = true, --live and API keys (config.live_gate.check_live).
    mode: Literal["paper", "live"] = "paper"
    allow_live: bool = False
    tf: str | None = None  # the entry timeframe (None: the data's)
    htf: tuple[str, ...] | None = None  # the higher timeframes (None: the defaults above tf)

    @field_validator("htf", "symbols", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str) else value

    @field_validator("tf", "htf")
    @classmethod
    def _timeframes(cls, value: str | tuple[str, ...] | None) -> str | tuple[str, ...] | None:
        for frame in (value,) if isinstance(value, str) else value or ():
            try:
                parse_timeframe(frame)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return value


_URL_KEYS = frozenset({"rest", "ws", "api"})


class ExchangeSettings(_Strict):
    """The exchange of a session on live data: which one, where to reach it, and the account's credentials
    (never printed)."""

    name: str | None = None
    testnet: bool = False  # the exchange's sandbox
    # Replace the exchange's base URLs (a gateway, a testnet, the tests' loopback fake): ``rest`` (public
    # REST), ``ws`` (spot WebSocket), and ``api``, merged into ccxt's own ``urls["api"]``.
    urls: dict[str, Any] = Field(default_factory=dict)
    rate_limit_ms: Annotated[int, Field(gt=0)] | None = None  # least time between REST calls (ccxt's rateLimit)
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    password: SecretStr | None = None
    secrets_file: Path | None = None  # a TOML file with api_key and api_secret, when they are not given here

    @field_validator("urls")
    @classmethod
    def _known_urls(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - _URL_KEYS)
        if unknown:
            raise ValueError(f"unknown keys {', '.join(unknown)}; use rest, ws or api")
        return value


def _symbols(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """``[symbols]``, one symbol at a time, so that an error raised by a symbol's own objects keeps the
    symbol in its key (``symbols.EURUSD.risk.min_rr``, not ``risk.min_rr``)."""
    built: dict[str, SymbolSettings] = {}
    for symbol, own in _table(value, "symbols").items():
        try:
            built.update(handler({symbol: own}))
        except ConfigError as exc:
            raise exc.under(f"symbols.{symbol}") from None
    return built


# -- the file source -----------------------------------------------------------------------------------

_FILE: ContextVar[Mapping[str, Any] | None] = ContextVar("smc_settings_file", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """The settings file's document, read (and its profile merged) by :func:`load_settings`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_FILE.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_FILE.get() or {})


class _EnvSource(EnvSettingsSource):
    """``SMC_...`` variables, nested with ``__``. The environment's names are read without case, so a
    symbol's table (``SMC_SYMBOLS__EURUSD__RISK__MIN_RR``, ``SMC_INSTRUMENTS__EURUSD__LOT_SIZE``) is
    keyed as the file spells that symbol, else in capitals, never as ``eurusd``."""

    def __init__(self, settings_cls: type[BaseSettings], file: Mapping[str, Any] | None = None) -> None:
        super().__init__(settings_cls, env_prefix=ENV_PREFIX, env_nested_delimiter=_NESTED)
        self._file = file

    def __call__(self) -> dict[str, Any]:
        values = super().__call__()
        file = _FILE.get() if self._file is None else self._file
        for section in _BY_SYMBOL:
            given = values.get(section)
            if isinstance(given, Mapping):
                spelt = {str(k).lower(): str(k) for k in _table((file or {}).get(section, {}), section)}
                values[section] = {spelt.get(str(k).lower(), str(k).upper()): v for k, v in given.items()}
        return values


def _unknown_variables() -> None:
    """An ``SMC_SECTION__KEY`` variable of a section that does not exist is a typo, never ignored
    (single names such as ``SMC_PROFILE`` and ``SMC_SHARED_DATA`` belong to other readers)."""
    for name in sorted(os.environ):
        head, nested, _ = name.upper().removeprefix(ENV_PREFIX).partition(_NESTED)
        if name.upper().startswith(ENV_PREFIX) and nested and head.lower() not in Settings.model_fields:
            known = ", ".join(Settings.model_fields)
            raise ConfigError(f"unknown section; use {known}", key=head.lower(), source=f"environment {name}")


@contextmanager
def _file_document(document: Mapping[str, Any]) -> Iterator[None]:
    token = _FILE.set(document)
    try:
        yield
    finally:
        _FILE.reset(token)


class Settings(BaseSettings):
    """Every setting of smc-agent; see the module for the sources and docs/user-guide.md for each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=_NESTED, extra="forbid", frozen=True, validate_default=False
    )

    account: Annotated[EngineSettings, WrapValidator(_account)] = Field(default_factory=EngineSettings)
    risk: Annotated[RiskConfig, _section(RiskConfig, "risk", _SYMBOLS_HIDDEN)] = Field(default_factory=RiskConfig)
    execution: Annotated[ExecutionConfig, _section(ExecutionConfig, "execution")] = Field(
        default_factory=ExecutionConfig
    )
    analysis: Annotated[AnalysisConfig, _section(AnalysisConfig, "analysis", _SYMBOLS_HIDDEN)] = Field(
        default_factory=AnalysisConfig
    )
    costs: Annotated[CostSettings, _section(CostSettings, "costs")] = Field(default_factory=CostSettings)
    instruments: Annotated[
        dict[str, InstrumentSettings], _section(InstrumentSettings, "instruments", per_symbol=True)
    ] = Field(default_factory=dict)
    symbols: Annotated[dict[str, SymbolSettings], WrapValidator(_symbols)] = Field(default_factory=dict)
    store: StoreSettings = Field(default_factory=StoreSettings)
    run: RunSettings = Field(default_factory=RunSettings)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)

    _engine: EngineSettings = PrivateAttr()
    _analysis: AnalysisConfig = PrivateAttr()
    _origins: dict[str, str] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: flags (the init arguments), the environment, the file; defaults come last.
        return init_settings, _EnvSource(settings_cls), _FileSource(settings_cls)

    @model_validator(mode="after")
    def _assemble(self) -> Settings:
        """Build the engine's objects once: the account with its sections, and the per-symbol tables."""
        analysis = {s: _symbol_analysis(self.analysis, s, own.analysis) for s, own in self.symbols.items()}
        limits = {s: own.risk for s, own in self.symbols.items() if own.risk != SymbolRisk()}
        risk = _rekeyed(lambda: replace(self.risk, symbols=limits), "symbols", ".risk")
        self._analysis = _rekeyed(lambda: replace(self.analysis, symbols=analysis), "symbols", ".analysis")
        self._engine = _rekeyed(
            lambda: replace(self.account, risk=risk, execution=self.execution, costs=self.costs,
                            instruments=self.instruments), "account", "")  # fmt: skip
        return self

    def engine_settings(self) -> EngineSettings:
        """Account, costs, risk (with each symbol's limits), execution and instruments, for the engine."""
        return self._engine

    def analysis_config(self) -> AnalysisConfig:
        """The analysis settings, carrying each symbol's own (see :meth:`AnalysisConfig.for_symbol`)."""
        return self._analysis

    def origins(self) -> dict[str, str]:
        """Where each key that is not a default came from, by its dotted path (``risk.min_rr``):
        ``command line``, ``environment SMC_...``, ``profile NAME in FILE`` or the file.

        Only :func:`load_settings` knows the sources; a model built directly has none."""
        return dict(self._origins)

    def document(self, *, masked: bool = True) -> dict[str, Any]:
        """The effective settings as a plain table (what ``config show`` prints); secrets are masked."""
        dumped = self.model_dump(mode="python", exclude={"symbols"})
        for name in _ENGINE_OWN:
            dumped["account"].pop(name)
        dumped["risk"].pop("symbols")
        dumped["analysis"].pop("symbols")
        dumped["symbols"] = {s: own.model_dump(exclude_defaults=True) for s, own in self.symbols.items()}
        url = dumped["store"].get("url")
        if masked and url:  # a database URL may carry a password
            dumped["store"]["url"] = _URL_PASSWORD.sub(rf"\1{MASK}@", url)
        plain: dict[str, Any] = _plain(dumped, masked)
        return plain


def _symbol_analysis(base: AnalysisConfig, symbol: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The symbol's ``analysis`` table as typed values: validated with the global settings under it,
    so a value is converted and checked as it would be in ``[analysis]``."""
    prefix = f"symbols.{symbol}.analysis"
    _check_keys(AnalysisConfig, given, prefix, _SYMBOLS_HIDDEN)
    values: dict[str, Any] = {f.name: getattr(base, f.name) for f in dataclasses.fields(AnalysisConfig)}
    values["symbols"] = {}
    for key, value in given.items():
        if key in ("entry_smc", "htf_smc") and isinstance(value, Mapping):
            smc = getattr(base, key)
            values[key] = {**{f.name: getattr(smc, f.name) for f in dataclasses.fields(smc)}, **value}
        else:
            values[key] = value
    try:
        merged = TypeAdapter(AnalysisConfig).validate_python(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(_message(first), key=".".join(str(p) for p in (prefix, *first["loc"]))) from None
    except ConfigError as exc:
        raise exc.under(prefix) from None
    typed: dict[str, Any] = {}
    for key, value in given.items():
        built = getattr(merged, key)
        typed[key] = {name: getattr(built, name) for name in value} if key in ("entry_smc", "htf_smc") else built
    return typed


def _message(error: Any) -> str:
    """A pydantic error in the words of a settings file (its input is never quoted: it may be a secret)."""
    if error["type"] == "missing":
        return "required: a table given here needs all of its keys"
    if error["type"] == "extra_forbidden":
        return "unknown setting"
    return str(error["msg"]).removeprefix("Value error, ")


def _rekeyed(make: Callable[[], Any], section: str, inner: str) -> Any:
    """``make()``, with a ConfigError's key put back into the file's words (``symbols.X.risk.min_rr``)."""
    try:
        return make()
    except ConfigError as exc:
        key = exc.key or ""
        if key.startswith("symbols."):
            symbol, _, rest = key.removeprefix("symbols.").partition(".")
            raise ConfigError(exc.message, key=f"symbols.{symbol}{inner}.{rest}") from None
        raise exc.under(section) from None


def _plain(value: Any, masked: bool, key: str = "") -> Any:
    """TOML's types: no None (a key left out is its default), enums and paths as text, secrets masked."""
    if isinstance(value, SecretStr):
        return MASK if masked else value.get_secret_value()
    if masked and value is not None and _SECRET.search(key):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): _plain(v, masked, str(k)) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v, masked) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, masked)
    return value


# -- loading ---------------------------------------------------------------------------------------------


def read_document(path: Path) -> dict[str, Any]:
    """The file's table: YAML for ``.yaml`` and ``.yml``, TOML otherwise."""
    source = str(path)
    yaml_file = path.suffix.lower() in (".yaml", ".yml")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("settings file not found", source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the settings file: {exc}", source=source) from None
    try:
        document = yaml.safe_load(text) if yaml_file else tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=source) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {_yaml_problem(exc)}", source=source) from None
    if document is None:  # an empty YAML file
        return {}
    if not isinstance(document, dict):
        raise ConfigError("must be a table of sections (account, risk, ...)", source=source)
    return document


def _yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong and where, without PyYAML's quote of the line (it may hold a secret)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"{error.problem} (line {mark.line + 1}, column {mark.column + 1})"
    return type(error).__name__


def load_settings(
    path: Path | None = None, *, profile: str | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """The settings from ``path`` (its ``profile`` merged over it), the environment and ``overrides``
    (the flags a command was given, as nested tables); ``profile`` None takes ``SMC_PROFILE``."""
    document = read_document(path) if path is not None else {}
    profiles = document.pop("profiles", {})
    name = profile or os.environ.get(f"{ENV_PREFIX}PROFILE") or None
    chosen: Mapping[str, Any] = {}
    if name:
        source = None if path is None else str(path)
        if path is None:
            raise ConfigError(f"profile {name!r} needs a settings file with a [profiles.{name}] table", key="profile")
        known = _table(profiles, "profiles", source)
        if name not in known:
            have = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"no [profiles.{name}] table in the file (it has: {have})", key="profile", source=source)
        chosen = _table(known[name], f"profiles.{name}", source)
    _unknown_variables()
    layers = _Layers(path, name, document, chosen, dict(overrides or {}))
    try:
        with _file_document(_merge(document, chosen)):
            settings = Settings(**layers.overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        if first["type"] == "extra_forbidden" and len(loc) == 1:
            raise layers.error(f"unknown section; use {', '.join(Settings.model_fields)}", loc) from None
        raise layers.error(_message(first), loc) from None
    except ConfigError as exc:
        raise layers.error(exc.message, (exc.key or "").split(".")) from None
    settings._origins = layers.origins()
    return settings


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        old = merged.get(key)
        merged[key] = _merge(old, value) if isinstance(old, Mapping) and isinstance(value, Mapping) else value
    return merged


@dataclasses.dataclass(frozen=True, slots=True)
class _Layers:
    """The sources of one load, to say where a refused key came from."""

    path: Path | None
    profile: str | None
    file: Mapping[str, Any]
    chosen: Mapping[str, Any]
    overrides: dict[str, Any]

    def error(self, message: str, loc: list[str]) -> ConfigError:
        """The error at key path ``loc``, from the source that gave the most of that path (the one
        that wins on a tie: flags, then the environment, then the profile, then the file)."""
        key = ".".join(part for part in loc if part) or None
        environment = _EnvSource(Settings, _merge(self.file, self.chosen))()
        file = None if self.path is None else str(self.path)
        at = _depth(environment, loc)
        candidates = [
            (_depth(self.overrides, loc), key, "command line"),
            (at, key, f"environment {_variable(loc, at)}"),
            (_depth(self.chosen, loc), f"profiles.{self.profile}.{key}", file),
            (_depth(self.file, loc), key, file),
        ]
        depth, where, source = max(candidates, key=lambda c: c[0])  # max keeps the first of equals
        return ConfigError(message, key=where if depth else key, source=source if depth else file)

    def origins(self) -> dict[str, str]:
        """Each key given by a source, with the source that won it (flags, environment, profile, file)."""
        file = "defaults" if self.path is None else str(self.path)
        environment = _EnvSource(Settings, _merge(self.file, self.chosen))()
        found: dict[str, str] = {}
        for table, source in (
            (self.file, file),
            (self.chosen, f"profile {self.profile} in {file}"),
            (environment, "environment"),
            (self.overrides, "command line"),
        ):
            for path in _leaves(table):
                found[".".join(path)] = f"environment {ENV_PREFIX}{_NESTED.join(path).upper()}" if (
                    source == "environment") else source  # fmt: skip
        return dict(sorted(found.items()))


def _leaves(table: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in table.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, path)
        else:
            yield path


def _variable(loc: list[str], depth: int) -> str:
    """The variable that set key path ``loc``; for a key it left out, the first set under the table."""
    name = ENV_PREFIX + _NESTED.join(loc).upper()
    if depth == len(loc):
        return name
    table = ENV_PREFIX + _NESTED.join(loc[:depth]).upper() + _NESTED
    return next((v for v in sorted(os.environ) if v.upper().startswith(table)), name)


def _depth(table: Mapping[str, Any], loc: list[str]) -> int:
    """How many leading parts of the key path ``loc`` ``table`` holds."""
    node: Any = table
    for depth, part in enumerate(loc):
        if not isinstance(node, Mapping) or part not in node:
            return depth
        node = node[part]
    return len(loc)
