"""The API's response models: what each route returns, as OpenAPI shows it. Money, prices and quantities
are strings (the store's exact decimal text, never a float); times are UTC epoch milliseconds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "Candle",
    "DailyPnl",
    "Feed",
    "Health",
    "KeyInfo",
    "Login",
    "MarketStream",
    "Order",
    "OrderPage",
    "Portfolio",
    "Position",
    "RiskEvent",
    "SessionInfo",
    "SignalPage",
    "SignalSummary",
    "SignalVersion",
    "SignalVersions",
    "Status",
    "Token",
]


class Health(BaseModel):
    status: str
    revision: str | None = None


class SessionInfo(BaseModel):
    id: str
    mode: str
    started_ms: int
    stopped_ms: int | None


class Feed(BaseModel):
    feed: str
    health: str
    previous: str
    reason: str
    at_ms: int


class Engine(BaseModel):
    """The running engine (``smc-agent run``) as it stands now."""

    session: str
    mode: str = Field(description="paper or live")
    feed: str = Field(description="its feed's health now: connected, degraded, down or done (a replay at its end)")
    trading_state: str = Field(description="active, reducing or halted")
    paused: bool


class Status(BaseModel):
    version: str
    session: SessionInfo | None
    feeds: list[Feed] = Field(description="each live feed's latest change of health, as stored (none for files)")
    engine: Engine | None = Field(description="the running engine; null under serve")
    uptime_s: float


class SignalSummary(BaseModel):
    signal_id: str
    version: int
    status: str
    symbol: str
    setup: str
    side: str
    outcome_r: str | None
    event_ms: int


class SignalPage(BaseModel):
    items: list[SignalSummary]
    total: int
    limit: int
    offset: int


class SignalVersion(SignalSummary):
    evidence: list[Any]


class SignalVersions(BaseModel):
    signal_id: str
    session: str
    versions: list[SignalVersion]


class Position(BaseModel):
    symbol: str
    side: str | None = Field(description="long or short; null when flat")
    quantity: str
    average_price: str
    updated_ms: int


class Order(BaseModel):
    client_order_id: str
    venue_order_id: str | None
    symbol: str
    side: str
    type: str
    quantity: str
    price: str | None = Field(description="a limit's or a stop's price; null for a market order")
    status: str
    tag: str
    updated_ms: int
    filled_quantity: str = Field(description="the quantity filled so far")
    fill_price: str | None = Field(description="the fills' average price, every digit; null before a fill")


class OrderPage(BaseModel):
    items: list[Order]
    total: int
    limit: int
    offset: int


class DailyPnl(BaseModel):
    day: str = Field(description="the UTC date")
    start_balance: str | None
    end_balance: str
    pnl: str | None = Field(description="realised: end_balance - start_balance (null when the start is unknown)")


class RiskEvent(BaseModel):
    event_ms: int
    kind: str = Field(description="denied, halted, reducing or reset")
    symbol: str | None
    reason: str


class HeldPosition(Position):
    """An open position and its risk; the last three are known only to the running engine (null under serve)."""

    notional: str | None = Field(description="its value at the last price, in the account currency")
    stop_price: str | None = Field(description="where its stop rests now")
    risk_to_stop: str | None = Field(description="quantity x distance from the average price to the stop, in the "
                                     "quote currency, before costs: what the stop gives back")  # fmt: skip


class Drawdown(BaseModel):
    current: str = Field(description="the fall of equity from its peak, a fraction of the peak")
    peak: str = Field(description="the largest such fall of the session so far")


class LimitUsed(BaseModel):
    name: str = Field(description="the [risk] setting")
    limit: str
    used: str = Field(description="in the limit's unit: a count, a multiple of equity, or a fraction")
    symbol: str | None = Field(description="the symbol of a per-symbol limit")


class Portfolio(BaseModel):
    session: str
    balance: str | None = Field(description="the balance after the latest change (null before any)")
    equity: str | None = Field(description="the running engine's equity; under serve, the balance when flat and "
                               "null while a position is open")  # fmt: skip
    total_exposure: str | None = Field(description="open notional, account currency (running engine only)")
    open_positions: list[HeldPosition]
    daily_pnl: list[DailyPnl]
    max_drawdown: Drawdown | None = Field(description="from the balance history, and the live equity when running; "
                                          "null before any balance")  # fmt: skip
    risk_limits: list[LimitUsed] = Field(description="each limit and how much of it is used (running engine only: "
                                         "empty under serve)")  # fmt: skip
    trading_state: str = Field(description="active, halted or reducing: the latest change the risk gate made")
    risk_events: list[RiskEvent]


class MarketStream(BaseModel):
    source: str = Field(description="session: a stream the session reads; candles: candles stored for a venue")
    symbol: str
    timeframe: str
    venue: str | None = None
    close_ms: int | None = None
    candles: int | None = None
    last_open_ms: int | None = None


class Candle(BaseModel):
    venue: str
    open_ms: int
    open: str
    high: str
    low: str
    close: str
    volume: str


class Login(BaseModel):
    password: str
    scope: str = Field("read", description="read, trade or admin: what the token may do")


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_ms: int


class KeyInfo(BaseModel):
    id: int
    prefix: str
    scopes: list[str]
    created_ms: int
    revoked_ms: int | None
    last_used_ms: int | None
