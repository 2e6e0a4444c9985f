"""Closed sets of values. Enums, not strings, so a typo is an error and not a silent new value."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BUY", "SELL", "BalanceReason", "ConfidenceLevel", "Direction", "Mode", "RiskLayer", "Side", "TradingState"]


class Direction(StrEnum):
    BULLISH = "bullish"
    BEARISH = "bearish"
    NEUTRAL = "neutral"


class ConfidenceLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class Side(StrEnum):
    """``sign`` is +1 for a buy, -1 for a sell: prices above the entry favour a buy.

    >>> Side.BUY.sign, Side.SELL.sign, Side.BUY.opposite
    (1, -1, <Side.SELL: 'sell'>)
    """

    sign: int  # a plain attribute, not a property: the trading core reads it on every fill

    BUY = "buy"
    SELL = "sell"

    def __init__(self, value: str) -> None:
        self.sign = 1 if value == "buy" else -1

    @property
    def opposite(self) -> Side:
        """The side that closes a position of this side."""
        return SELL if self is BUY else BUY


# Members as module constants, for the trading core's hot paths: on Python 3.11, ``Side.BUY`` goes
# through EnumType's __getattr__ hook and costs about 0.15 µs, a constant one dictionary lookup.
BUY, SELL = Side.BUY, Side.SELL


class TradingState(StrEnum):
    """What the risk gate lets through: everything, only exits (rest of the day), or only exits (until reset)."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class RiskLayer(StrEnum):
    """The risk gate's five layers, in the order they are checked; the value is what a denial records."""

    TRADE = "trade"
    SYMBOL = "symbol"
    PORTFOLIO = "portfolio"
    DAY = "day"
    ACCOUNT = "account"


class BalanceReason(StrEnum):
    """Why the balance moved: a fill (realised P&L less its fee), or money in or out of the account."""

    FILL = "fill"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class Mode(StrEnum):
    """How a session trades: on a replay as fast as possible, on paper (simulated fills), or live."""

    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"
