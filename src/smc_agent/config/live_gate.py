"""The live gate: real orders only when the settings, the command line and the keys all say so.

Live trading needs all four, and anything less refuses to start with one error that names every missing one
(so a user fixes them in one go, not one per attempt):

* ``mode = "live"`` under ``[run]`` (``SMC_RUN__MODE=live``);
* ``allow_live = true`` under ``[run]``, a second switch in the settings, so a profile or an environment
  variable that changes the mode alone cannot turn live trading on;
* ``--live`` on the command line (``live_flag``): nobody trades live by running yesterday's command;
* API keys, from the settings or the environment (``SMC_EXCHANGE__API_KEY`` / ``SMC_EXCHANGE__API_SECRET``)
  or from ``exchange.secrets_file`` (see :mod:`smc_agent.venues.keys`).

Paper stays the default: with ``mode = "paper"`` and no ``--live``, :func:`check_live` answers None and
nothing else is asked for. ``--live`` with the settings in paper mode is refused too, since the user
meant something the settings do not say.

The composition root calls it first (``keys = check_live(settings, live_flag=options.live)``) and builds
the live venue only from the keys it returns: ``CcxtVenue.connect(name, keys, ...)``.

>>> check_live(Settings(), live_flag=False) is None
True
"""

from __future__ import annotations

from smc_agent.config.settings import Settings
from smc_agent.core.errors import ConfigError
from smc_agent.venues.keys import ApiKeys, load_keys

__all__ = ["check_live"]


def check_live(settings: Settings, live_flag: bool, keys: ApiKeys | None = None) -> ApiKeys | None:
    """The API keys to trade live with, or None for paper; ConfigError naming each missing requirement.

    ``keys`` are used when given (already loaded); otherwise they are read from the settings (see
    :func:`~smc_agent.venues.keys.load_keys`), whose own errors (half a pair, a bad secrets file) pass as
    they are.
    """
    run = settings.run
    if run.mode != "live" and not live_flag:
        return None
    if keys is None:
        exchange = settings.exchange
        keys = load_keys(exchange.api_key, exchange.api_secret, exchange.secrets_file, exchange.password)
    missing = []
    if run.mode != "live":
        missing.append(f'run.mode = "live" in the settings (it is "{run.mode}")')
    if not run.allow_live:
        missing.append("run.allow_live = true in the settings")
    if not live_flag:
        missing.append("--live on the command line")
    if keys is None:
        missing.append("API keys (SMC_EXCHANGE__API_KEY and SMC_EXCHANGE__API_SECRET, or exchange.secrets_file)")
    if missing:
        raise ConfigError("live trading refused; missing: " + "; ".join(missing), key="run.mode")
    return keys
