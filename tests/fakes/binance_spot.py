"""The loopback fake Binance with a spot account: the signed order and account endpoints, Binance-style.

:class:`FakeBinanceSpot` is :class:`~fakes.binance.FakeBinance` (public REST, the kline stream, the replay
clock and its faults) plus what the live venue signs:

* ``POST /api/v3/order``, ``DELETE /api/v3/order``, ``GET /api/v3/order`` (by ``orderId`` or
  ``origClientOrderId``), ``GET /api/v3/openOrders``, ``GET /api/v3/myTrades``, ``GET /api/v3/account``;
* each checks the ``X-MBX-APIKEY`` header (-2015 otherwise) and the HMAC-SHA256 ``signature`` of the query
  string (GET, DELETE) or the form body (POST), computed over everything before ``&signature=`` (-1022);
* rejections with Binance's codes and messages: -1111 precision over the asset's 8 decimals, -1013
  ``Filter failure: LOT_SIZE`` / ``PRICE_FILTER`` / ``NOTIONAL``, -2010 insufficient balance, a duplicate
  client order id, or a stop that would trigger immediately; -2011 cancelling an unknown order, -2013
  querying one.

**Matching.** The last price is the close of the latest candle that has closed by the replay clock (of the
first stream of the symbol). A market order, and a limit order that is marketable, fills at once at that
price (taker). A resting limit fills at its price (or at the open, if a candle opens through it; maker) and
a ``STOP_LOSS`` triggers and fills at its stop (or at the open through it; taker) when a candle that closed
after the order was placed crosses it. Matching runs before every signed request, so a client sees what the
clock has reached. The fee (``fee_rate``) is taken in what was received: a buy pays it in the base asset,
a sell in the quote asset, as Binance does without BNB.

Faults for the venue's tests: :meth:`FakeBinanceSpot.cancel_outside` (an operator cancels at the exchange),
:meth:`FakeBinanceSpot.place_outside` (an order the agent never placed), and
:meth:`FakeBinanceSpot.delay_next_order` (the next order is placed but its answer is late: a client timeout).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from fakes.binance import FakeBinance, _json, _Series
from smc_agent.data.candles import Candles

__all__ = ["FakeBinanceSpot", "FakeOrder"]

_ZERO = Decimal(0)
_INSUFFICIENT = "Account has insufficient balance for requested action."


def _text(value: Decimal) -> str:
    return f"{value:.8f}"


@dataclass
class FakeOrder:
    """An order at the fake exchange."""

    order_id: int
    client_id: str
    symbol: str
    side: str  # BUY | SELL
    type: str  # MARKET | LIMIT | STOP_LOSS
    quantity: Decimal
    price: Decimal
    stop: Decimal
    placed_ms: int
    placed_index: int  # the candle forming when it was placed: it is matched from that candle's close on
    status: str = "NEW"
    executed: Decimal = _ZERO
    quote: Decimal = _ZERO
    updated_ms: int = 0
    fills: list[dict[str, Any]] = field(default_factory=list)

    def wire(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "orderId": self.order_id, "orderListId": -1, "clientOrderId": self.client_id,
            "price": _text(self.price), "origQty": _text(self.quantity), "executedQty": _text(self.executed),
            "cummulativeQuoteQty": _text(self.quote), "status": self.status,
            "timeInForce": "GTC", "type": self.type, "side": self.side,
            "stopPrice": _text(self.stop), "icebergQty": "0.00000000", "time": self.placed_ms,
            "updateTime": self.updated_ms or self.placed_ms, "isWorking": self.type != "STOP_LOSS" or self.executed > 0,
            "workingTime": self.placed_ms, "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE",
        }  # fmt: skip


class _Reject(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


class FakeBinanceSpot(FakeBinance):
    """``FakeBinanceSpot(candles, start_index=..., speed=..., api_key=K, api_secret=S, balances={"USDT": "1000"})``."""

    def __init__(
        self,
        candles: Candles | Sequence[Candles],
        *,
        start_index: int,
        speed: float,
        api_key: str,
        api_secret: str,
        balances: Mapping[str, str],
        fee_rate: str = "0.001",
        **kwargs: Any,
    ) -> None:
        super().__init__(candles, start_index=start_index, speed=speed, **kwargs)
        self.api_key, self._secret = api_key, api_secret.encode()
        self.free = {asset: Decimal(v) for asset, v in balances.items()}
        self.locked: dict[str, Decimal] = {}
        self.fee_rate = Decimal(fee_rate)
        self.orders: dict[int, FakeOrder] = {}
        self._ids = itertools.count(1001)
        self._trade_ids = itertools.count(5001)
        self._delay_next = 0.0
        self.placed = 0  # orders created (a retried submission must not add one)

    # ---- faults ------------------------------------------------------------------------------------

    def cancel_outside(self, client_id: str) -> None:
        """Cancel an open order as someone at the exchange's website would."""
        order = self._by_client(client_id)
        assert order is not None, client_id
        assert order.status in ("NEW", "PARTIALLY_FILLED"), client_id
        self._cancel(order)

    def place_outside(self, symbol: str, side: str, quantity: str, price: str, client_id: str) -> None:
        """Place a resting limit order the agent knows nothing of."""
        self._place({"symbol": symbol, "side": side, "type": "LIMIT", "quantity": quantity, "price": price,
                     "newClientOrderId": client_id, "timeInForce": "GTC"})  # fmt: skip

    def delay_next_order(self, seconds: float) -> None:
        """Place the next order, then answer only after ``seconds`` (longer than the client waits)."""
        self._delay_next = seconds

    def last_price(self, symbol_id: str) -> Decimal:
        series = self._series_of(symbol_id)
        return Decimal(repr(series.rows[self._last_closed(series)][3]))

    # ---- routes ------------------------------------------------------------------------------------

    def _routes(self) -> list[web.AbstractRouteDef]:
        return [
            *super()._routes(),
            web.post("/api/v3/order", self._signed(self._new_order)),
            web.delete("/api/v3/order", self._signed(self._cancel_order)),
            web.get("/api/v3/order", self._signed(self._query_order)),
            web.get("/api/v3/openOrders", self._signed(self._open_orders)),
            web.get("/api/v3/myTrades", self._signed(self._my_trades)),
            web.get("/api/v3/account", self._signed(self._account)),
        ]

    def _signed(self, handler: Any) -> Any:
        async def route(request: web.Request) -> web.Response:
            if request.headers.get("X-MBX-APIKEY") != self.api_key:
                return _json({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, status=401)
            payload = (await request.text()) if request.method == "POST" else request.query_string
            signed, _, signature = payload.rpartition("&signature=")
            expected = hmac.new(self._secret, signed.encode(), hashlib.sha256).hexdigest()
            if not signed or not hmac.compare_digest(signature, expected):
                return _json({"code": -1022, "msg": "Signature for this request is not valid."}, status=400)
            params = dict(parse_qsl(signed, keep_blank_values=True))
            if "timestamp" not in params:
                return _json({"code": -1102, "msg": "Mandatory parameter 'timestamp' was not sent, was empty/null, "
                              "or malformed."}, status=400)  # fmt: skip
            self._match()
            try:
                return await handler(params)  # type: ignore[no-any-return]
            except _Reject as reject:
                return _json({"code": reject.code, "msg": reject.msg}, status=reject.status)

        return route

    async def _new_order(self, params: dict[str, str]) -> web.Response:
        delay, self._delay_next = self._delay_next, 0.0
        order = self._place(params)
        if delay:
            await asyncio.sleep(delay)
        answer = order.wire() | {"transactTime": order.placed_ms, "fills": order.fills}
        return _json(answer)

    async def _cancel_order(self, params: dict[str, str]) -> web.Response:
        order = self._find(params)
        if order is None or order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise _Reject(-2011, "Unknown order sent.")
        self._cancel(order)
        return _json(order.wire())

    async def _query_order(self, params: dict[str, str]) -> web.Response:
        order = self._find(params)
        if order is None:
            raise _Reject(-2013, "Order does not exist.")
        return _json(order.wire())

    async def _open_orders(self, params: dict[str, str]) -> web.Response:
        symbol = params.get("symbol")
        return _json([o.wire() for o in self.orders.values()
                      if o.status in ("NEW", "PARTIALLY_FILLED") and symbol in (None, o.symbol)])  # fmt: skip

    async def _my_trades(self, params: dict[str, str]) -> web.Response:
        symbol = params.get("symbol")
        if not symbol:
            raise _Reject(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        start = int(params.get("startTime", 0))
        order_id = int(params["orderId"]) if "orderId" in params else None
        trades = [t for o in self.orders.values() if o.symbol == symbol and order_id in (None, o.order_id)
                  for t in o.fills if t["time"] >= start]  # fmt: skip
        trades.sort(key=lambda t: t["id"])
        return _json(trades[: int(params.get("limit", 500))])

    async def _account(self, params: dict[str, str]) -> web.Response:
        assets = sorted(set(self.free) | set(self.locked))
        return _json({
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000",
                                "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": self.now_ms(),
            "accountType": "SPOT", "uid": 354937868, "permissions": ["SPOT"],
            "balances": [{"asset": a, "free": _text(self.free.get(a, _ZERO)),
                          "locked": _text(self.locked.get(a, _ZERO))} for a in assets],
        })  # fmt: skip

    # ---- the book ----------------------------------------------------------------------------------

    def _place(self, params: dict[str, str]) -> FakeOrder:
        symbol, side, kind = params.get("symbol", ""), params.get("side", ""), params.get("type", "")
        if symbol not in self._symbols:
            raise _Reject(-1121, "Invalid symbol.")
        client_id = params.get("newClientOrderId") or f"fake{next(self._ids)}"
        existing = self._by_client(client_id)
        if existing is not None and existing.status in ("NEW", "PARTIALLY_FILLED"):
            raise _Reject(-2010, "Duplicate order sent.")
        quantity = self._decimal(params, "quantity")
        price = self._decimal(params, "price") if kind == "LIMIT" else _ZERO
        stop = self._decimal(params, "stopPrice") if kind == "STOP_LOSS" else _ZERO
        tick, step, notional = (Decimal(f) for f in self._filters)
        if quantity < step or quantity % step:
            raise _Reject(-1013, "Filter failure: LOT_SIZE")
        for level in (price, stop):
            if level and level % tick:
                raise _Reject(-1013, "Filter failure: PRICE_FILTER")
        base, quote = self._symbols[symbol].split("/")
        last = self.last_price(symbol)
        reference = price or stop or last
        if quantity * reference < notional:
            raise _Reject(-1013, "Filter failure: NOTIONAL")
        if kind == "STOP_LOSS" and (stop >= last if side == "SELL" else stop <= last):
            raise _Reject(-2010, "Stop price would trigger immediately.")
        need_asset, need = (quote, quantity * reference) if side == "BUY" else (base, quantity)
        if self.free.get(need_asset, _ZERO) < need:
            raise _Reject(-2010, _INSUFFICIENT)
        series = self._series_of(symbol)
        now = self.now_ms()
        order = FakeOrder(next(self._ids), client_id, symbol, side, kind, quantity, price, stop, now,
                          self._last_closed(series) + 1)  # fmt: skip
        self.orders[order.order_id] = order
        self.placed += 1
        marketable = kind == "MARKET" or (kind == "LIMIT" and (price >= last if side == "BUY" else price <= last))
        if marketable:
            self._fill(order, last, maker=False)
        else:
            self._lock(order, need_asset, need)
        return order

    def _decimal(self, params: dict[str, str], name: str) -> Decimal:
        text = params.get(name)
        if not text:
            raise _Reject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
        value = Decimal(text)
        if value.normalize().as_tuple().exponent < -8:  # type: ignore[operator]
            raise _Reject(-1111, f"Parameter '{name}' has too much precision.")
        return value

    def _lock(self, order: FakeOrder, asset: str, amount: Decimal) -> None:
        self.free[asset] -= amount
        self.locked[asset] = self.locked.get(asset, _ZERO) + amount

    def _unlock(self, order: FakeOrder) -> None:
        base, quote = self._symbols[order.symbol].split("/")
        left = order.quantity - order.executed
        asset, amount = (quote, left * (order.price or order.stop)) if order.side == "BUY" else (base, left)
        self.locked[asset] -= amount
        self.free[asset] = self.free.get(asset, _ZERO) + amount

    def _cancel(self, order: FakeOrder) -> None:
        self._unlock(order)
        order.status, order.updated_ms = "CANCELED", self.now_ms()

    def _fill(self, order: FakeOrder, price: Decimal, *, maker: bool) -> None:
        base, quote = self._symbols[order.symbol].split("/")
        qty = order.quantity - order.executed
        cost = qty * price
        if order.side == "BUY":
            commission, asset = (qty * self.fee_rate).quantize(Decimal("1e-8"), ROUND_FLOOR), base
            self.free[quote] = self.free.get(quote, _ZERO) - cost
            self.free[base] = self.free.get(base, _ZERO) + qty - commission
        else:
            commission, asset = (cost * self.fee_rate).quantize(Decimal("1e-8"), ROUND_FLOOR), quote
            self.free[base] = self.free.get(base, _ZERO) - qty
            self.free[quote] = self.free.get(quote, _ZERO) + cost - commission
        order.executed += qty
        order.quote += cost
        order.status, order.updated_ms = "FILLED", self.now_ms()
        order.fills.append({
            "symbol": order.symbol, "id": next(self._trade_ids), "orderId": order.order_id, "orderListId": -1,
            "price": _text(price), "qty": _text(qty), "quoteQty": _text(cost), "commission": _text(commission),
            "commissionAsset": asset, "time": order.updated_ms, "isBuyer": order.side == "BUY", "isMaker": maker,
            "isBestMatch": True, "tradeId": 0,
        })  # fmt: skip

    def _match(self) -> None:
        """Fill the resting orders that the candles closed since their placement crossed, in time order."""
        for order in sorted(self.orders.values(), key=lambda o: o.order_id):
            if order.status != "NEW" or order.type == "MARKET":
                continue
            series = self._series_of(order.symbol)
            for i in range(order.placed_index, self._last_closed(series) + 1):
                o, h, lo = (Decimal(repr(v)) for v in series.rows[i][:3])
                level = order.price or order.stop
                falls_to = (order.side == "SELL") == (order.type == "STOP_LOSS")  # sell stop, buy limit
                if (falls_to and lo <= level) or (not falls_to and h >= level):
                    through = o <= level if falls_to else o >= level
                    self._unlock(order)
                    self._fill(order, o if through else level, maker=order.type == "LIMIT")
                    break

    # ---- lookups -----------------------------------------------------------------------------------

    def _series_of(self, symbol_id: str) -> _Series:
        return next(s for s in self._series.values() if s.symbol_id == symbol_id)

    def _last_closed(self, series: _Series) -> int:
        """The index of the latest candle that has closed by now."""
        now = self.now_ms()
        i = series.index_at(now)
        assert i is not None, "the replay clock is outside the data"
        assert i > 0, "the replay clock is at the data's first candle: nothing has closed"
        return i - 1

    def _by_client(self, client_id: str) -> FakeOrder | None:
        return next((o for o in reversed(self.orders.values()) if o.client_id == client_id), None)

    def _find(self, params: dict[str, str]) -> FakeOrder | None:
        if "orderId" in params:
            order = self.orders.get(int(params["orderId"]))
        else:
            order = self._by_client(params.get("origClientOrderId", ""))
        return order if order is not None and order.symbol == params.get("symbol") else None
