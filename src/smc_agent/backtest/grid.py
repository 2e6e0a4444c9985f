"""Parameter grids: from ``"fast=5,10;slow=20,30"`` to validated (strategy, settings) pairs.

An optimisation is many backtests that differ only in a few numbers. This module owns those numbers:
it parses a grid, expands it into one dict per combination (in a fixed order, so results are
reproducible and ties are broken the same way every time), and turns one dict into the strategy and
engine settings of one run. Unknown names fail before any run starts, naming the key, because a
typo would otherwise optimise nothing for an hour.

Names per strategy (see :func:`param_names`):

* ``sma_cross``: ``fast``, ``slow`` (whole numbers), ``stop_fraction``.
* ``smc``: the scalar fields of :class:`~smc_agent.analysis.config.AnalysisConfig`, such as
  ``min_rr``, ``a_plus``, ``stop_buffer_atr`` and ``expiry_candles``. ``min_rr`` also sets the risk
  gate's ``min_rr`` (the gate would otherwise refuse the very setups a lower value admits) unless
  ``risk.min_rr`` is given too.
* both: ``risk.<field>`` for the numeric fields of :class:`~smc_agent.engine.risk_config.RiskConfig`,
  e.g. ``risk.risk_per_trade``.

A value is a number or an inclusive range ``start:stop:step``.

>>> expand_grid(parse_grid("fast=5,10; slow=20:30:10"))
[{'fast': 5, 'slow': 20}, {'fast': 5, 'slow': 30}, {'fast': 10, 'slow': 20}, {'fast': 10, 'slow': 30}]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.config.engine import EngineSettings
from smc_agent.core.errors import ConfigError
from smc_agent.engine.risk_config import RiskConfig
from smc_agent.strategy.base import Strategy
from smc_agent.strategy.registry import ParamValue, StrategyOptions, strategy_kind

__all__ = [
    "GridPlan",
    "ParamSpace",
    "ParamValue",
    "Params",
    "StrategySpec",
    "expand_grid",
    "param_names",
    "parse_grid",
    "plan_grid",
]

Params = dict[str, ParamValue]
ParamSpace = Mapping[str, Sequence[ParamValue]]

_Config = TypeVar("_Config", AnalysisConfig, RiskConfig)

RISK_PREFIX = "risk."
_MAX_RANGE = 10_000  # values one range may expand to; more is a typo, not a grid

# name -> "int" or "float"; the annotations are strings under ``from __future__ import annotations``.
_RISK_PARAMS = {
    RISK_PREFIX + f.name: "int" if f.type == "int" else "float"
    for f in fields(RiskConfig)
    if f.type in ("int", "Decimal")
}


def param_names(strategy: str) -> dict[str, str]:
    """The parameters ``strategy`` accepts, each with its kind (``"int"`` or ``"float"``)."""
    return {**strategy_kind(strategy).params, **_RISK_PARAMS}


def parse_grid(text: str) -> dict[str, list[ParamValue]]:
    """``"a=1,2;b=0.5:1.5:0.5"`` as ``{"a": [1, 2], "b": [0.5, 1.0, 1.5]}``, keeping the given order.

    Syntax errors raise :class:`ConfigError` with key ``grid``; names are checked later, against a
    strategy, by :func:`plan_grid`.
    """
    space: dict[str, list[ParamValue]] = {}
    parts = [part.strip() for part in text.split(";") if part.strip()]
    if not parts:
        raise ConfigError("the grid is empty; write it as name=v1,v2;name2=v3 (e.g. fast=5,10;slow=20,30)", key="grid")
    for part in parts:
        name, sep, values = (piece.strip() for piece in part.partition("="))
        if not sep or not name:
            raise ConfigError(f"{part!r} is not name=values (e.g. fast=5,10 or slow=20:60:10)", key="grid")
        if name in space:
            raise ConfigError(f"{name!r} is given twice", key="grid")
        expanded: list[ParamValue] = []
        for item in (piece.strip() for piece in values.split(",")):
            expanded.extend(_values(name, item))
        if len(set(expanded)) != len(expanded):
            raise ConfigError(f"{name!r} repeats a value: {values}", key="grid")
        space[name] = expanded
    return space


def expand_grid(space: ParamSpace) -> list[Params]:
    """Every combination, the last name varying fastest; an empty space is one run with the defaults."""
    for name, values in space.items():
        if not values:
            raise ConfigError("has no values", key=name)
    names = list(space)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(space[n] for n in names))]


@dataclass(frozen=True, slots=True)
class StrategySpec:
    """Everything a run needs besides its candles and parameters; small and picklable for workers.

    ``symbol`` and ``timeframe`` are those of the candles; ``analysis`` is the SMC configuration the
    grid's values override (the defaults when None).
    """

    name: str
    symbol: str
    timeframe: str
    htfs: tuple[str, ...] = ()
    tz: str | None = None
    settings: EngineSettings = field(default_factory=EngineSettings)
    analysis: AnalysisConfig | None = None

    def build(self, params: Mapping[str, ParamValue]) -> tuple[Strategy, EngineSettings]:
        """A fresh strategy and the settings for one run; a bad name or value raises ConfigError naming it."""
        known = param_names(self.name)
        for key, value in params.items():
            if key not in known:
                raise ConfigError(
                    f"unknown parameter for strategy {self.name}; choose from {', '.join(sorted(known))}", key=key
                )
            _check_kind(key, value, known[key])
        own = {k: v for k, v in params.items() if not k.startswith(RISK_PREFIX)}
        risk: dict[str, Any] = {k.removeprefix(RISK_PREFIX): v for k, v in params.items() if k.startswith(RISK_PREFIX)}
        kind = strategy_kind(self.name)
        options = StrategyOptions(self.htfs, self.tz, self.analysis, own)
        strategy = kind.create(self.symbol, self.timeframe, options)
        implied = kind.implied_risk(options, self.symbol)
        settings = replace(self.settings, risk=_replace(self.settings.risk, {**implied, **risk}, RISK_PREFIX))
        return strategy, settings


@dataclass(frozen=True, slots=True)
class GridPlan:
    """The combinations to run, and those left out because their values do not fit together."""

    runs: list[Params]
    skipped: list[tuple[Params, str]]


def plan_grid(spec: StrategySpec, space: ParamSpace) -> GridPlan:
    """Expand and validate a grid for ``spec``'s strategy before any backtest runs.

    A combination whose values conflict (``fast=30`` with ``slow=20``) is skipped and reported, so
    one grid can span both; a value that fits in *no* combination is a mistake and raises
    :class:`ConfigError` naming its key, as does an unknown name.
    """
    known = param_names(spec.name)
    for key in space:
        if key not in known:
            raise ConfigError(
                f"unknown parameter for strategy {spec.name}; choose from {', '.join(sorted(known))}", key=key
            )
    runs: list[Params] = []
    skipped: list[tuple[Params, str]] = []
    first_error: dict[tuple[str, ParamValue], ConfigError] = {}
    for params in expand_grid(space):
        try:
            spec.build(params)
        except ConfigError as error:
            skipped.append((params, str(error)))
            for item in params.items():
                first_error.setdefault(item, error)
        else:
            runs.append(params)
    fitting = {item for params in runs for item in params.items()}
    for (key, value), reason in first_error.items():
        if (key, value) in fitting:
            continue
        if reason.key == key:
            raise ConfigError(reason.message, key=key)
        raise ConfigError(f"{value!r} fits in no combination of the grid ({reason})", key=key)
    return GridPlan(runs, skipped)


def _values(name: str, item: str) -> list[ParamValue]:
    """One comma-separated item: a number, or an inclusive range ``start:stop:step``."""
    pieces = item.split(":")
    if len(pieces) not in (1, 3):
        raise ConfigError(f"{item!r} is neither a number nor a range start:stop:step", key=name)
    numbers = [_number(name, piece.strip()) for piece in pieces]
    if len(numbers) == 1:
        return numbers
    start, stop, step = numbers
    if step <= 0 or stop < start:
        raise ConfigError(f"range {item!r} needs start <= stop and step > 0", key=name)
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > _MAX_RANGE:
        raise ConfigError(f"range {item!r} has {count} values; at most {_MAX_RANGE}", key=name)
    if all(isinstance(n, int) for n in numbers):
        return list(range(int(start), int(stop) + 1, int(step)))
    return [round(start + i * step, 10) for i in range(count)]


def _number(name: str, text: str) -> ParamValue:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{text!r} is not a number", key=name) from None
    if not math.isfinite(value):
        raise ConfigError(f"{text!r} is not a finite number", key=name)
    return value


def _check_kind(key: str, value: object, kind: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"must be a number, got {value!r}", key=key)
    if kind == "int" and not isinstance(value, int):
        raise ConfigError(f"must be a whole number, got {value!r}", key=key)


def _replace(base: _Config, values: Mapping[str, ParamValue], prefix: str) -> _Config:
    """``dataclasses.replace`` that re-validates and names the grid's key (``risk.min_rr``) on failure."""
    if not values:
        return base
    try:
        overrides: dict[str, Any] = dict(values)  # each value's kind was checked against the field
        return replace(base, **overrides)
    except ConfigError as error:
        key = f"{prefix}{error.key}" if error.key else None
        raise ConfigError(error.message, key=key) from None
