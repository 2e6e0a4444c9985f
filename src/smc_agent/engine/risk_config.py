"""Limits of the risk gate: one frozen, validated object, so a bad limit fails at startup, not mid-trade.

Every limit that can stop an order lives here and nowhere else, so a trader can read what the gate
enforces in one place. Fractions and ratios are Decimal (money is never a bare float); a float, int or
string given by a config loader is converted through its shortest repr (0.01, not 0.01000000000000000020...).
A value out of range raises :class:`~smc_agent.core.errors.ConfigError` naming the key.

>>> RiskConfig().risk_per_trade, RiskConfig(max_drawdown=0.2).max_drawdown
(Decimal('0.01'), Decimal('0.2'))
>>> RiskConfig(max_open_positions=0)
Traceback (most recent call last):
...
smc_agent.core.errors.ConfigError: key max_open_positions: must be >= 1, got 0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation

from smc_agent.core.errors import ConfigError, check_each
from smc_agent.core.timefmt import resolve_tz
from smc_agent.model.instrument import to_decimal
from smc_agent.venues.costs import InstrumentType

__all__ = ["RUNTIME_RISK", "SYMBOL_LIMITS", "RiskConfig", "SymbolRisk"]

# The limits a running session may change (ChangeRisk): each takes effect at the gate's next check. The rest (the
# trading day's zone, the correlation groups, leverage, how costs count, each symbol's own) need a restart.
RUNTIME_RISK = (
    "risk_per_trade", "min_rr", "max_trades_per_day", "loss_cooldown_minutes", "max_open_positions",
    "max_total_exposure", "max_same_direction_per_group", "daily_loss_limit", "max_drawdown",
    "max_orders_per_minute", "max_cost_share",
)  # fmt: skip

# Fractions of equity that must lie strictly between 0 and 1 (risking or losing all of it is no limit).
_FRACTIONS = {
    "daily_loss_limit": "a fraction of the day's starting equity",
    "max_drawdown": "a fraction of the peak equity",
}
# Notional over equity per kind of market: spot crypto and cash equities are unleveraged; 5x on
# perpetuals and NSE intraday, 10x on futures, 30x on major forex pairs (the EU retail limit).
DEFAULT_LEVERAGE: Mapping[str, Decimal] = {
    InstrumentType.CRYPTO_SPOT: Decimal(1), InstrumentType.CRYPTO_PERP: Decimal(5), InstrumentType.FOREX: Decimal(30),
    InstrumentType.FUTURES: Decimal(10), InstrumentType.US_EQUITY: Decimal(1), InstrumentType.INDIA: Decimal(5),
}  # fmt: skip
_COUNTS = {"max_trades_per_day": 1, "loss_cooldown_minutes": 0, "max_open_positions": 1, "max_orders_per_minute": 1}


@dataclass(frozen=True, slots=True)
class SymbolRisk:
    """One symbol's own limits, over the account's (None keeps the account's).

    Only the limits the gate applies to one symbol at a time can differ by symbol: the size of its
    entries, the reward:risk it needs, its entries a day and its cooldown after a loss. Open
    positions, exposure, correlation groups, the daily loss limit, the drawdown halt and the order
    rate guard the whole account, so one symbol cannot have its own.
    """

    risk_per_trade: Decimal | None = None
    min_rr: Decimal | None = None
    max_trades_per_day: int | None = None
    loss_cooldown_minutes: int | None = None


SYMBOL_LIMITS = tuple(f.name for f in fields(SymbolRisk))


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """The five layers' limits (see :class:`smc_agent.engine.risk.RiskGate` for how each is applied).

    * ``risk_per_trade``: the fraction of equity lost if an entry's stop is hit; sizes every entry.
    * ``min_rr``: the least reward:risk to TP1 worth taking.
    * ``max_trades_per_day``: accepted entries per symbol per trading day.
    * ``loss_cooldown_minutes``: after a losing trade on a symbol, no new entry on it for this long
      (0 turns it off); revenge trading is the failure this prevents.
    * ``max_open_positions`` and ``max_total_exposure`` (open notional over equity, this entry included).
    * ``correlation_groups`` with ``max_same_direction_per_group``: symbols that move together count as
      one bet, so at most this many open positions in one direction per group.
    * ``daily_loss_limit``: equity at or below ``(1 - limit)`` × the day's starting equity stops new
      entries for the rest of the trading day (state REDUCING).
    * ``max_drawdown``: equity at or below ``(1 - limit)`` × peak equity halts trading until a manual
      reset (state HALTED).
    * ``day_tz``: the IANA zone whose midnight starts a trading day (counts and the daily limit reset).
    * ``max_orders_per_minute``: orders of every kind sent to the venue in the last 60 s, above which
      new entries are refused (exits still pass): a runaway loop must not flood an exchange.
    * ``max_leverage``: the most notional over equity one entry may have, by kind of market
      (``crypto_spot``, ``crypto_perp``, ``forex``, ``futures``, ``us_equity``, ``india``); a larger
      size is cut down to it. Kinds not given keep :data:`DEFAULT_LEVERAGE`.
    * ``max_cost_share``: an entry whose expected round-trip costs (fees, spread and slippage to the
      stop) exceed this share of its risk is refused (``costs_too_high``).
    * ``count_costs``: size, check ``max_cost_share`` and measure reward:risk with the expected costs
      (the default). Off, sizes come from the stop distance alone, as before costs were counted, and a
      stop-out then loses more than ``risk_per_trade`` by its fees and slippage.
    * ``symbols``: a symbol's own :class:`SymbolRisk` limits, over these (see :meth:`for_symbol`).
    """

    risk_per_trade: Decimal = Decimal("0.01")
    min_rr: Decimal = Decimal("2.0")
    max_trades_per_day: int = 2
    loss_cooldown_minutes: int = 60
    max_open_positions: int = 3
    # A leverage cap. 1% risk on a 10-pip EURUSD stop is already 10x equity in notional; 30x is the
    # EU retail limit for major forex pairs. Lower it for unleveraged markets.
    max_total_exposure: Decimal = Decimal("30")
    correlation_groups: tuple[tuple[str, ...], ...] = ()
    max_same_direction_per_group: int = 1
    daily_loss_limit: Decimal = Decimal("0.03")
    max_drawdown: Decimal = Decimal("0.10")
    day_tz: str = "UTC"
    max_orders_per_minute: int = 60
    max_leverage: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_LEVERAGE))
    max_cost_share: Decimal = Decimal("0.25")
    count_costs: bool = True
    symbols: Mapping[str, SymbolRisk] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("risk_per_trade", "min_rr", "max_total_exposure", "max_cost_share", *_FRACTIONS):
            object.__setattr__(self, key, _decimal(getattr(self, key), key))
        object.__setattr__(self, "max_leverage", _leverage(self.max_leverage))
        if not 0 < self.max_cost_share <= 1:
            raise ConfigError(
                f"must be > 0 and <= 1 (costs over the risk, 0.25 is 25%), got {self.max_cost_share}",
                key="max_cost_share",
            )
        if not 0 < self.risk_per_trade <= 1:
            raise ConfigError(
                f"must be > 0 and <= 1 (a fraction of equity, 0.01 is 1%), got {self.risk_per_trade}",
                key="risk_per_trade",
            )
        if self.min_rr < 0:
            raise ConfigError(f"must be >= 0 (reward over risk to TP1), got {self.min_rr}", key="min_rr")
        if self.max_total_exposure <= 0:
            raise ConfigError(
                f"must be > 0 (open notional over equity, 3 is 3×), got {self.max_total_exposure}",
                key="max_total_exposure",
            )
        for key, meaning in _FRACTIONS.items():
            value = getattr(self, key)
            if not 0 < value < 1:
                raise ConfigError(f"must be > 0 and < 1 ({meaning}), got {value}", key=key)
        for key, least in (*_COUNTS.items(), ("max_same_direction_per_group", 1)):
            _count(getattr(self, key), key, least)
        object.__setattr__(self, "correlation_groups", _groups(self.correlation_groups))
        try:
            resolve_tz(self.day_tz)
        except ConfigError as error:
            raise ConfigError(error.message, key="day_tz") from None
        check_each("symbols", self.symbols, self.for_symbol)  # each symbol's limits obey the same rules

    def for_symbol(self, symbol: str) -> RiskConfig:
        """The limits that apply to ``symbol``: its own from ``symbols`` where given, else these.

        >>> eur = RiskConfig(symbols={"EURUSD": SymbolRisk(max_trades_per_day=5)})
        >>> eur.for_symbol("EURUSD").max_trades_per_day, eur.for_symbol("BTCUSDT").max_trades_per_day
        (5, 2)
        """
        own = self.symbols.get(symbol)
        if own is None:
            return self
        given = {name: getattr(own, name) for name in SYMBOL_LIMITS if getattr(own, name) is not None}
        return replace(self, symbols={}, **given)

    @property
    def cooldown_ms(self) -> int:
        """The loss cooldown in milliseconds, the unit of the clock."""
        return self.loss_cooldown_minutes * 60_000

    def groups_of(self, symbol: str) -> tuple[tuple[str, ...], ...]:
        """The correlation groups that contain ``symbol`` (a symbol may sit in several)."""
        return tuple(group for group in self.correlation_groups if symbol in group)


def _decimal(value: object, key: str) -> Decimal:
    """A finite Decimal from a Decimal, int, float or numeric string; anything else names the key."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ConfigError(f"must be a number, got {value!r}", key=key)
    try:
        number = to_decimal(value)
    except InvalidOperation:
        raise ConfigError(f"must be a number, got {value!r}", key=key) from None
    if not number.is_finite():
        raise ConfigError(f"must be a finite number, got {value!r}", key=key)
    return number


def _leverage(value: object) -> dict[str, Decimal]:
    """The defaults with the kinds given replaced; an unknown kind or a cap <= 0 names its key."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"must be a table of kind = cap, such as {{ forex = 30 }}, got {value!r}", key="max_leverage")
    caps = {str(k): v for k, v in DEFAULT_LEVERAGE.items()}
    for kind, cap in value.items():
        key = f"max_leverage.{kind}"
        if kind not in caps:
            raise ConfigError(f"unknown kind of market; known: {', '.join(caps)}", key=key)
        number = _decimal(cap, key)
        if number <= 0:
            raise ConfigError(f"must be > 0 (notional over equity, 5 is 5×), got {cap}", key=key)
        caps[str(kind)] = number
    return caps


def _count(value: object, key: str, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"must be a whole number, got {value!r}", key=key)
    if value < least:
        raise ConfigError(f"must be >= {least}, got {value}", key=key)


def _groups(value: object) -> tuple[tuple[str, ...], ...]:
    """Groups as tuples (a loader may give lists, or a table of named groups such as
    ``fx_usd = ["EURUSD", "GBPUSD"]``); each needs two or more distinct symbols."""
    key = "correlation_groups"
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, str) or not isinstance(value, tuple | list):
        raise ConfigError(f"must be a list of symbol lists such as [['EURUSD', 'GBPUSD']], got {value!r}", key=key)
    groups: list[tuple[str, ...]] = []
    for n, group in enumerate(value):
        where = f"{key}[{n}]"
        if isinstance(group, str) or not isinstance(group, tuple | list):
            raise ConfigError(f"must be a list of symbols, got {group!r}", key=where)
        if not all(isinstance(symbol, str) and symbol for symbol in group):
            raise ConfigError(f"every symbol must be a non-empty string, got {group!r}", key=where)
        if len(set(group)) != len(group) or len(group) < 2:
            raise ConfigError(f"needs two or more distinct symbols, got {list(group)}", key=where)
        groups.append(tuple(group))
    return tuple(groups)
