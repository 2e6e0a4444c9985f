"""The strategies by name: how to build each, which parameters it takes, and what else it can do.

One table serves the CLI (``--strategy``), the backtest runner, the optimiser's grids and the session:
nothing else decides by a strategy's name or class. A strategy's capabilities are declared here
(the SMC strategy draws the zone behind each trade and names trading sessions by its own settings)
instead of being found out with ``isinstance``.

``random_entry`` (:class:`~smc_agent.strategy.random_entry.RandomEntry`) is known here so that the
runner can look it up like any other, but it is not in :data:`STRATEGIES`, the table users choose
from: it mirrors another strategy's trades, and only the backtest baseline can build it.

>>> sorted(STRATEGIES), strategy_kind("sma_cross").params["fast"]
(['sma_cross', 'smc'], 'int')
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.analysis.signals import SignalEngine
from smc_agent.core.errors import ConfigError
from smc_agent.smc.config import DEFAULT_KILLZONES, DEFAULT_SESSIONS, SessionWindow
from smc_agent.strategy.base import Strategy
from smc_agent.strategy.random_entry import RandomEntry
from smc_agent.strategy.sma_cross import SmaCross
from smc_agent.strategy.smc import SmcStrategy

__all__ = ["STRATEGIES", "ParamValue", "StrategyKind", "StrategyOptions", "signal_engine", "strategy_kind"]

ParamValue = int | float


@dataclass(frozen=True, slots=True)
class StrategyOptions:
    """What a strategy is built with besides its symbol and timeframe; small and picklable for workers.

    ``params`` are the strategy's own parameters (see :attr:`StrategyKind.params`); ``analysis`` is the
    SMC configuration that they override (the defaults when None).
    """

    htfs: tuple[str, ...] = ()
    tz: str | None = None
    analysis: AnalysisConfig | None = None
    params: Mapping[str, ParamValue] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StrategyKind:
    name: str
    description: str
    params: Mapping[str, str]  # parameter name -> "int" or "float"
    create: Callable[[str, str, StrategyOptions], Strategy]
    draws_zones: bool = False  # its trades have an SMC zone to draw (see signal_engine)
    sessions: Callable[[Strategy], tuple[SessionWindow, ...]] = lambda strategy: (
        *DEFAULT_KILLZONES, *DEFAULT_SESSIONS)  # fmt: skip
    """The sessions and killzones that a trade's entry time is named by."""
    implied_risk: Callable[[StrategyOptions, str], dict[str, Any]] = lambda options, symbol: {}
    """Risk settings that follow from the strategy's own settings for a symbol unless a grid gives them (see
    the SMC entry)."""


def _smc_config(options: StrategyOptions, symbol: str = "") -> AnalysisConfig:
    """The symbol's settings (its own ``[symbols.SYMBOL.analysis]`` over the global), then the params."""
    base = (options.analysis or AnalysisConfig()).for_symbol(symbol)
    if not options.params:
        return base
    try:
        overrides: dict[str, Any] = dict(options.params)
        return replace(base, **overrides)
    except ConfigError as error:
        raise ConfigError(error.message, key=error.key) from None


def _smc(symbol: str, timeframe: str, options: StrategyOptions) -> Strategy:
    return SmcStrategy(symbol, timeframe, options.htfs, _smc_config(options, symbol), tz=options.tz)


def _smc_sessions(strategy: Strategy) -> tuple[SessionWindow, ...]:
    smc = signal_engine(strategy).config.entry_smc
    return (*smc.killzones, *smc.sessions)


_SMA_PARAMS = {"fast": "int", "slow": "int", "stop_fraction": "float"}
# SmaCross's own defaults, so that a grid over ``fast`` alone keeps its ``slow`` and ``stop_fraction``.
_SMA_DEFAULTS: dict[str, Any] = {
    name: p.default for name, p in inspect.signature(SmaCross).parameters.items() if name in _SMA_PARAMS
}


def _sma(symbol: str, timeframe: str, options: StrategyOptions) -> Strategy:
    given = {**_SMA_DEFAULTS, **options.params}
    fast, slow, stop = int(given["fast"]), int(given["slow"]), float(given["stop_fraction"])
    if not 0 < fast < slow:
        raise ConfigError(f"need 0 < fast < slow, got fast={fast} and slow={slow}", key="fast")
    if not 0 < stop < 1:
        raise ConfigError(f"must be > 0 and < 1 (a fraction of the entry price), got {stop}", key="stop_fraction")
    return SmaCross(symbol, fast, slow, stop)


STRATEGIES: dict[str, StrategyKind] = {
    "smc": StrategyKind(
        "smc",
        "A+ Smart Money Concepts setups with a higher-timeframe bias",
        {f.name: str(f.type) for f in fields(AnalysisConfig) if f.type in ("int", "float")},
        _smc,
        draws_zones=True,
        sessions=_smc_sessions,
        # The gate would otherwise refuse the very setups that a lower min_rr admits.
        # A symbol's own [symbols.SYMBOL.analysis] min_rr is the one its setups are made with.
        implied_risk=lambda options, symbol: {"min_rr": _smc_config(options, symbol).min_rr},
    ),
    "sma_cross": StrategyKind("sma_cross", "a moving-average cross, the yardstick for the engine", _SMA_PARAMS, _sma),
}


def _built_by_the_baseline(symbol: str, timeframe: str, options: StrategyOptions) -> Strategy:
    raise ConfigError(
        f"{RandomEntry.kind} mirrors another strategy's trades and is built by the backtest baseline; "
        f"choose from {', '.join(STRATEGIES)}",
        key="strategy",
    )


# Kinds the runner must know but users cannot choose.
_INTERNAL: dict[str, StrategyKind] = {
    RandomEntry.kind: StrategyKind(
        RandomEntry.kind, "random entries with another strategy's trade plans (the baseline)", {},
        _built_by_the_baseline,
    ),
}  # fmt: skip


def strategy_kind(name: str) -> StrategyKind:
    kind = STRATEGIES.get(name) or _INTERNAL.get(name)
    if kind is None:
        raise ConfigError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}", key="strategy")
    return kind


def signal_engine(strategy: Strategy) -> SignalEngine:
    """The signal engine of a strategy whose kind draws zones (the SMC strategy)."""
    engine = getattr(strategy, "signals", None)
    if not isinstance(engine, SignalEngine):
        raise TypeError(f"{type(strategy).__name__} has no signal engine")
    return engine
