"""The settings: one typed model (:mod:`smc_agent.config.settings`) read from defaults, a TOML or YAML
file, the environment and flags, handed to the engine as its own validated objects.

Sections map onto those objects, so a value is checked by the same rules whichever way it arrives::

    [account]             # EngineSettings: initial_balance, fees, slippage_model, slippage_bps, tick_size, ...
    [costs.forex]         # CostSettings: one table per kind of market (crypto_spot, ..., india)
    [risk]                # RiskConfig: risk_per_trade, min_rr, max_trades_per_day, daily_loss_limit, ...
    [execution]           # ExecutionConfig: tp1_fraction, breakeven_after_tp1
    [analysis]            # AnalysisConfig: timeframe_weights, min_rr, a_plus, expiry_candles, ...
    [instruments."EUR/USD"]   # InstrumentSettings of one symbol: type, tick_size, lot_size, min_notional, ...
    [symbols.EURUSD.analysis] # that symbol's own analysis settings, over [analysis]
    [symbols.EURUSD.risk]     # its own risk_per_trade, min_rr, max_trades_per_day, loss_cooldown_minutes
    [store] [run] [exchange]  # the database URL; what `smc-agent run` replays; exchange credentials
    [api]                     # smc-agent serve: host, port, cors_origins, jwt_ttl_s, rate_limit, max_body_bytes
    [profiles.prod]           # any of the above, merged over them with --profile prod

An unknown section or key, a value of the wrong type, or one that breaks a rule is refused at startup
with an error that names the key and where it came from (``risk.max_drawdown`` in the file), never later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from smc_agent.analysis.config import AnalysisConfig
from smc_agent.config.engine import EngineSettings
from smc_agent.config.settings import Settings, load_settings

__all__ = ["AppConfig", "Settings", "load_config", "load_settings"]


@dataclass(frozen=True, slots=True)
class AppConfig:
    engine: EngineSettings = field(default_factory=EngineSettings)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)


def load_config(path: Path | None, profile: str | None = None) -> AppConfig:
    """The engine's and the analysis's objects from :func:`load_settings` (file, environment, defaults)."""
    settings = load_settings(path, profile=profile)
    return AppConfig(settings.engine_settings(), settings.analysis_config())
