"""Angel One's REST side through ``smartapi-python``: TOTP login, logging in again when the session expires, and
candle history (``getCandleData``).

``smartapi-python`` is an optional extra (``pip install smc-agent[angelone]``). It is imported only when a
client is built, never with this module: at import it asks ``api.ipify.org`` for the machine's public address
(a network call, which fails quietly here and hangs nowhere only because DNS fails fast). Its calls are
blocking (``requests``); the feed runs them in a thread.

Login is ``generateSession(client_code, pin, totp)`` with the TOTP computed by ``pyotp`` from the account's
secret, so the agent needs no phone. The code depends on the real time, which is passed in (``wall``, the
composition root's wall clock), never read here: a replayed market clock would give a code from 2024. The
session's JWT expires (at midnight IST, or sooner); a call refused with an auth error (``TokenException``, or
``errorcode`` AG8001 invalid / AG8002 expired / AG8003 missing token) logs in again **once** and repeats the
call; refused again, it raises :class:`AngelOneAuthError`.

History: ``fromdate``/``todate`` are IST wall times ``"YYYY-MM-DD HH:MM"`` (both ends included), answered
with rows ``["2024-03-01T09:15:00+05:30", open, high, low, close, volume]``. Angel One caps the days one call
may span per interval (:data:`MAX_DAYS`), so a long range is paged.

The library also logs each failed request with its headers, which hold the API key, and writes
``logs/<date>/app.log`` under the working directory whenever a client is built. The client quiets the
library's logger (our own log says what failed, without secrets); the directory is the library's doing.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smc_agent.core.clock import Clock
from smc_agent.core.errors import ConfigError, SmcAgentError
from smc_agent.core.logs import get_logger
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.feeds.market_hours import NSE_HOURS, MarketHours

__all__ = [
    "INTERVALS",
    "MAX_DAYS",
    "AngelOneAuthError",
    "AngelOneClient",
    "AngelOneCredentials",
    "load_smartapi",
    "quiet_library",
]

_log = get_logger(__name__)

INSTALL_HINT = "pip install smc-agent[angelone]"
# Our timeframe -> Angel One's interval name.
INTERVALS = {"1m": "ONE_MINUTE", "3m": "THREE_MINUTE", "5m": "FIVE_MINUTE", "10m": "TEN_MINUTE",
             "15m": "FIFTEEN_MINUTE", "30m": "THIRTY_MINUTE", "1h": "ONE_HOUR", "1d": "ONE_DAY"}  # fmt: skip
# The most days one getCandleData call may span, per interval (Angel One's historical API limits).
MAX_DAYS = {"ONE_MINUTE": 30, "THREE_MINUTE": 60, "FIVE_MINUTE": 100, "TEN_MINUTE": 100, "FIFTEEN_MINUTE": 200,
            "THIRTY_MINUTE": 200, "ONE_HOUR": 400, "ONE_DAY": 2000}  # fmt: skip
_AUTH_CODES = frozenset({"AG8001", "AG8002", "AG8003"})
_DAY_MS = 86_400_000


class AngelOneAuthError(SmcAgentError):
    """Angel One refused the credentials or the session, even after logging in again."""


@dataclass(frozen=True, slots=True)
class AngelOneCredentials:
    """The account: the SmartAPI app's key, the client code, the login PIN and the TOTP secret (base32).

    Secrets never appear in a repr, a log line or an error."""

    api_key: str = field(repr=False)
    client_code: str
    pin: str = field(repr=False)
    totp_secret: str = field(repr=False)


def load_smartapi() -> Any:
    """The ``SmartApi`` package, imported now; a ConfigError naming the extra when it is missing."""
    try:
        import pyotp  # noqa: F401  (the login needs it; fail here, not at the first login)
        import SmartApi
        import SmartApi.smartWebSocketV2
    except ImportError as error:
        raise ConfigError(
            f"the Angel One feed needs smartapi-python, pyotp, logzero and websocket-client ({error}); "
            f"install them with: {INSTALL_HINT}",
            key="source",
        ) from error
    _quiet(SmartApi)
    return SmartApi


def _quiet(smartapi: Any) -> None:
    """Silence the library's logzero logger: it logs request headers, API key included (see the docstring).

    Each client and socket the library builds also points that logger at ``logs/<date>/app.log`` and drops
    the previous file's handler without closing it; the handler is closed and removed here."""
    logger = getattr(getattr(smartapi, "smartConnect", None), "logger", None)
    if isinstance(logger, logging.Logger):
        logger.setLevel(logging.CRITICAL)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
                handler.close()


def quiet_library() -> None:
    """:func:`_quiet` for the installed package (after building one of its objects)."""
    import SmartApi

    _quiet(SmartApi)


class AngelOneClient:
    """One logged-in SmartAPI session (blocking calls: run them in a thread).

    ``root_url`` replaces Angel One's REST base (``SmartConnect.root``): a gateway, or the loopback fake in the
    tests. ``wall`` is the real clock the one-time code is computed at (``pyotp.TOTP(secret).at(seconds)``).
    """

    def __init__(
        self,
        credentials: AngelOneCredentials,
        *,
        wall: Clock,
        root_url: str | None = None,
        timeout_s: float = 7.0,
        hours: MarketHours = NSE_HOURS,
    ) -> None:
        smartapi = load_smartapi()
        self._credentials, self._hours = credentials, hours
        self._wall = wall
        with warnings.catch_warnings():  # it sets ssl.OP_NO_TLSv1 (deprecated) on a context it never uses
            warnings.filterwarnings("ignore", "ssl.OP_NO_SSL", DeprecationWarning)
            self._api = smartapi.SmartConnect(api_key=credentials.api_key, root=root_url, timeout=timeout_s)
        _quiet(smartapi)
        self._exceptions = smartapi.smartConnect.ex
        self.logins = 0

    @property
    def jwt(self) -> str | None:
        return self._api.access_token  # type: ignore[no-any-return]

    @property
    def feed_token(self) -> str | None:
        return self._api.feed_token  # type: ignore[no-any-return]

    @property
    def credentials(self) -> AngelOneCredentials:
        return self._credentials

    def login(self) -> None:
        """Log in with a fresh TOTP; AngelOneAuthError if refused."""
        c = self._credentials
        try:
            answer = self._api.generateSession(c.client_code, c.pin, _totp_at(c.totp_secret, self._wall.now_ms()))
        except self._exceptions.SmartAPIException as error:
            raise AngelOneAuthError(f"Angel One login of {c.client_code} refused: {error}") from error
        if not isinstance(answer, dict) or not answer.get("status"):
            message = answer.get("message") if isinstance(answer, dict) else answer
            raise AngelOneAuthError(f"Angel One login of {c.client_code} refused: {message}")
        self.logins += 1
        _log.info("logged in to Angel One", client=c.client_code, logins=self.logins)

    def candles(self, exchange: str, token: str, timeframe: str, from_ms: int, to_ms: int) -> list[list[Any]]:
        """Angel One's candle rows opened in ``[from_ms, to_ms]``, oldest first, paged by :data:`MAX_DAYS`."""
        interval = interval_of(timeframe)
        tf = parse_timeframe(timeframe)
        span = MAX_DAYS[interval] * _DAY_MS
        rows: list[list[Any]] = []
        start = from_ms
        while start <= to_ms:
            end = min(to_ms, start + span - tf)
            params = {"exchange": exchange, "symboltoken": token, "interval": interval,
                      "fromdate": self._hours.format_local(start), "todate": self._hours.format_local(end)}  # fmt: skip

            def fetch(p: dict[str, str] = params) -> Any:
                return self._api.getCandleData(dict(p))

            answer = self.call(fetch, what=f"candles of {token}")
            for row in answer.get("data") or []:
                t = self._hours.to_utc_ms(str(row[0]))
                if start <= t <= end and (not rows or t > self._hours.to_utc_ms(str(rows[-1][0]))):
                    rows.append(row)
            start = end + tf
        return rows

    def call(self, fn: Callable[[], Any], *, what: str) -> dict[str, Any]:
        """``fn()`` (a SmartConnect call), logging in first if needed and again once on an auth error."""
        if self.jwt is None:
            self.login()
        for attempt in (1, 2):
            try:
                answer = fn()
            except self._exceptions.TokenException as error:
                answer = {"status": False, "errorcode": "AG8001", "message": str(error)}
            if not isinstance(answer, dict):
                raise SmcAgentError(f"Angel One {what}: unexpected answer {str(answer)[:200]}")
            if answer.get("status"):
                return answer
            if answer.get("errorcode") not in _AUTH_CODES:
                raise SmcAgentError(f"Angel One {what} failed: {answer.get('errorcode')} {answer.get('message')}")
            if attempt == 2:
                break
            _log.info("Angel One session expired; logging in again", what=what, reason=answer.get("message"))
            self.login()
        raise AngelOneAuthError(f"Angel One {what}: the session was refused again after a fresh login")


def interval_of(timeframe: str) -> str:
    """Angel One's interval name for our timeframe; a ConfigError for one it does not have."""
    interval = INTERVALS.get(timeframe)
    if interval is None:
        raise ConfigError(f"Angel One has no {timeframe!r} candles; use one of {', '.join(INTERVALS)}", key="tf")
    return interval


def _totp_at(secret: str, ms: int) -> str:
    import pyotp

    return str(pyotp.TOTP(secret).at(ms // 1000))
