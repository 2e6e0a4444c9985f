"""A ccxt client built by exchange name, pointed at the URLs the settings give: shared by the feed and the venue.

Both talk to the same exchange through the same kind of client (a ccxt.pro class, which also does REST), so
both build it here: the exchange by name, its rate limit, spot-only defaults for Binance (``load_markets``
then asks for ``/api/v3/exchangeInfo`` alone, no key-only endpoints), the sandbox on ``testnet``, and
:func:`apply_urls`, which points the REST and WebSocket bases elsewhere (a testnet, a gateway, the loopback
fake in the tests). ``credentials`` (``apiKey``, ``secret``, ``password``) are handed to ccxt as they are:
the caller unwraps them from their SecretStr at this one point and never logs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from smc_agent.core.errors import ConfigError

__all__ = ["apply_urls", "make_client", "market_steps"]


def make_client(
    exchange: str,
    testnet: bool,
    rate_limit_ms: int | None,
    options: Mapping[str, Any] | None,
    credentials: Mapping[str, str] | None = None,
) -> Any:
    import ccxt.pro

    cls = getattr(ccxt.pro, exchange, None)
    if cls is None:
        raise ValueError(f"ccxt.pro has no exchange {exchange!r}; choose one of ccxt.pro.exchanges")
    config: dict[str, Any] = {"enableRateLimit": True, **(credentials or {})}
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    defaults: dict[str, Any] = {}
    if exchange.startswith("binance"):
        # Spot only, and nothing that needs API keys: load_markets() then asks for /api/v3/exchangeInfo alone.
        defaults = {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                    "fetchMargins": False}  # fmt: skip
    config["options"] = {**defaults, **(options or {})}
    client = cls(config)
    if testnet:
        client.set_sandbox_mode(True)
    return client


def apply_urls(exchange: Any, urls: Mapping[str, Any]) -> None:
    """Point ``exchange`` at ``urls``: ``rest`` (the REST base, public and private), ``ws`` (the spot
    WebSocket base) and ``api`` (merged into ccxt's own ``urls["api"]``)."""
    api = exchange.urls.get("api")
    unknown = set(urls) - {"rest", "ws", "api"}
    if unknown:
        raise ValueError(f"unknown exchange.urls keys {sorted(unknown)}; use rest, ws or api")
    if "api" in urls:
        exchange.urls["api"] = exchange.deep_extend(api, dict(urls["api"]))
        api = exchange.urls["api"]
    if "rest" in urls:
        if isinstance(api, dict):
            for key in ("public", "private") if "public" in api else [k for k, v in api.items() if isinstance(v, str)]:
                api[key] = urls["rest"]
        else:
            exchange.urls["api"] = urls["rest"]
    if "ws" in urls:
        ws = api.get("ws") if isinstance(api, dict) else None
        if isinstance(ws, dict):
            for key in ("spot",) if "spot" in ws else [k for k, v in ws.items() if isinstance(v, str)]:
                ws[key] = urls["ws"]
        elif isinstance(api, dict):
            api["ws"] = urls["ws"]


def market_steps(exchange: Any, symbol: str) -> tuple[Decimal, Decimal]:
    """``symbol``'s price tick and quantity step from the exchange's loaded markets, read in its precision mode:
    the step itself (TICK_SIZE, ccxt's mode for every exchange today) or a number of decimals (DECIMAL_PLACES).
    The feed's instruments and the live venue's rounding both stand on it."""
    import ccxt

    precision = exchange.market(symbol).get("precision") or {}
    steps = []
    for what in ("price", "amount"):
        value = precision.get(what)
        if value is None or exchange.precisionMode not in (ccxt.TICK_SIZE, ccxt.DECIMAL_PLACES):
            raise ConfigError(f"the exchange gives no usable {what} step for {symbol}; set it in "
                              f"[instruments.{symbol}]", key=f"instruments.{symbol}")  # fmt: skip
        steps.append(Decimal(1).scaleb(-int(value)) if exchange.precisionMode == ccxt.DECIMAL_PLACES
                     else Decimal(str(value)))  # fmt: skip
    return steps[0], steps[1]
