"""Download an exchange's closed candles by REST into a CSV file that the loaders read, resuming after any stop.

:func:`download` pages ccxt's ``fetch_ohlcv(symbol, tf, since=, limit=, params={"until": ...})`` from ``since``
to ``until`` (default: the last candle closed by the given clock), drops the candle still forming and any row
it already has, and appends each page to ``FILE.part``, flushed and fsynced, as whole lines: however the
process stops (Ctrl-C, ``kill -9``, a lost connection), ``FILE.part`` holds whole candles in order, bar at
most the last line of a page cut short by ``kill -9``, which a resume drops. When the range is done the file
is renamed to ``FILE``.

Resume: run the same download again. It continues from the candle after the last one in ``FILE.part``, or,
when ``FILE`` is already finished, extends it (``until`` later than its last candle) or says that there is
nothing to do. A file with candles outside the asked range is refused rather than mixed.

Failures: network errors, 429/418 (waiting at least their ``Retry-After``) and 5xx are retried with
:mod:`smc_agent.feeds.resilience`'s backoff and breaker, under ccxt's own rate limiter (``enableRateLimit``);
the log says so once per change of state. An unknown exchange, symbol or timeframe, a bad date or an
unwritable file is a :class:`~smc_agent.core.errors.ConfigError` whose key names the option
(``exchange``, ``symbol``, ``tf``, ``since``, ``until``, ``out``, ``testnet``, ``rest_url``).

The file is the loaders' ``csv`` format, ``timestamp,open,high,low,close,volume``, one row per candle opening
time (ISO-8601 UTC), prices as Python writes floats (they read back exactly):

    timestamp,open,high,low,close,volume
    2024-01-01T00:00:00Z,42283.58,42298.62,42261.02,42298.61,35.92724
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smc_agent.core.ccxt_client import apply_urls, make_client
from smc_agent.core.clock import Clock
from smc_agent.core.errors import ConfigError, DataError
from smc_agent.core.timefmt import iso_utc
from smc_agent.data.timeframes import parse_timeframe
from smc_agent.feeds.ccxt_feed import FeedTuning, retry_after
from smc_agent.feeds.resilience import Breaker, HealthTracker, backoff, retry

__all__ = ["HEADER", "DownloadResult", "Progress", "download", "open_client", "parse_utc", "part_path"]

HEADER = "timestamp,open,high,low,close,volume"
Progress = Callable[[int, int], None]  # (candles in the file, candles expected over the range)
_TUNING = FeedTuning()  # the feed's REST patience: page size, backoff, breaker


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What a download did: ``written`` candles this run, ``total`` in ``path``, from ``first_ms`` to ``last_ms``
    (opening times); ``resumed_from`` the candles already there; ``up_to_date`` when there was nothing to do."""

    path: Path
    written: int
    total: int
    first_ms: int
    last_ms: int
    resumed_from: int
    up_to_date: bool


@dataclass(frozen=True, slots=True)
class _Existing:
    """A file this module wrote: its candle count and first and last opening times."""

    rows: int
    first_ms: int | None
    last_ms: int | None


def parse_utc(text: str, key: str) -> int:
    """A date (``2024-01-01``) or date-time (``2024-01-01T12:30``, ``2024-01-01 12:30:00Z``) as epoch ms; naive
    means UTC.

    >>> parse_utc("2024-01-01", "since"), parse_utc("2024-01-01T00:01:00+00:00", "since")
    (1704067200000, 1704067260000)
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"cannot read {text!r} as a date or date-time (UTC), e.g. 2024-01-01 or 2024-01-01T12:30",
                          key=key) from None  # fmt: skip
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def part_path(out: Path) -> Path:
    """Where an unfinished download of ``out`` is kept."""
    return out.with_name(out.name + ".part")


def open_client(exchange: str, *, testnet: bool = False, urls: Mapping[str, Any] | None = None,
                rate_limit_ms: int | None = None) -> Any:  # fmt: skip
    """The ccxt client of ``exchange`` (rate limited), on its sandbox with ``testnet``, its base URLs replaced
    as ``urls`` say (``exchange.urls``: a gateway; the tests' loopback fake)."""
    import ccxt

    try:
        client = make_client(exchange, testnet, rate_limit_ms, None)
    except ValueError as error:
        raise ConfigError(str(error), key="exchange") from None
    except ccxt.NotSupported:
        raise ConfigError(f"{exchange} has no testnet (sandbox) in ccxt", key="testnet") from None
    rest_url = (urls or {}).get("rest")
    if rest_url is not None and not str(rest_url).startswith(("http://", "https://")):
        raise ConfigError(f"{rest_url!r} is not an http(s) URL", key="rest_url")
    if urls:
        apply_urls(client, urls)
    return client


async def download(
    client: Any,
    symbol: str,
    timeframe: str,
    out: Path,
    *,
    since_ms: int,
    clock: Clock,
    until_ms: int | None = None,
    tuning: FeedTuning = _TUNING,
    progress: Progress | None = None,
) -> DownloadResult:
    """Download ``symbol``'s closed ``timeframe`` candles opened in ``[since_ms, until_ms)`` into ``out``.

    ``until_ms`` defaults to the clock's now (less ``tuning.grace_ms``), which leaves out the candle still
    forming. ``progress`` is called after each page. The caller closes ``client``."""
    import ccxt

    try:
        tf = parse_timeframe(timeframe)
    except ConfigError as error:
        raise ConfigError(error.message, key="tf") from None
    now = clock.now_ms()
    if until_ms is not None and until_ms <= since_ms:
        raise ConfigError(f"{iso_utc(until_ms)} is not after --since {iso_utc(since_ms)}", key="until")
    # The last candle closed by now, with the feed's grace: a clock a little ahead of the exchange's must not
    # take the candle still forming for a closed one (REST rows carry no closed flag)...
    last_open = now - tf - tuning.grace_ms
    if until_ms is not None:
        last_open = min(last_open, until_ms - 1)  # ...that opened before the end
    if last_open < since_ms:
        raise ConfigError(f"no candle of {timeframe} opening at {iso_utc(since_ms)} or later has closed yet",
                          key="since")  # fmt: skip
    part, existing = _prepare(out, since_ms, last_open, tf)
    health = HealthTracker(f"{getattr(client, 'id', 'exchange')} download", symbol=symbol, timeframe=timeframe)
    breaker = health.watch(Breaker("rest", tuning.breaker_threshold, tuning.breaker_reset_s))
    wait = backoff(tuning.backoff_initial_s, tuning.backoff_max_s, tuning.backoff_jitter_s)
    health.ready()

    def min_wait(error: BaseException) -> float:
        return retry_after(client) if isinstance(error, ccxt.DDoSProtection) else 0.0

    async def rest(what: str, call: Callable[[], Any]) -> Any:
        try:
            return await retry(what, call, health=health, breaker=breaker, wait=wait,
                               retry_on=ccxt.OperationFailed, min_wait=min_wait)  # fmt: skip
        except ccxt.BadSymbol:
            raise ConfigError(f"{client.id} has no market {symbol!r}", key="symbol") from None
        except ccxt.ExchangeError as error:  # refused, not failed: retrying would get the same answer
            raise DataError(f"{client.id} refused {what}: {str(error)[:300]}", rule="exchange answer") from None

    if existing is not None and _complete(existing, last_open, tf):  # nothing to fetch; a .part is only renamed
        return _finished(out, part, existing, written=0, up_to_date=not part.exists())
    await rest("loading markets", client.load_markets)
    _check_market(client, symbol, timeframe)

    done = existing.rows if existing is not None else 0
    last = existing.last_ms if existing is not None else None
    first = existing.first_ms if existing is not None else None
    expected = done + _slots(last + tf if last is not None else since_ms, last_open, tf)
    written = 0
    if progress is not None:
        progress(done, expected)
    with _writer(part, existing) as handle:
        cursor = since_ms if last is None else last + 1
        while cursor <= last_open:
            at = cursor

            def page(at: int = at) -> Any:
                return client.fetch_ohlcv(symbol, timeframe, since=at, limit=tuning.page_limit,
                                          params={"until": last_open})  # fmt: skip

            rows: Sequence[Sequence[Any]] = await rest(f"candles of {symbol} {timeframe} from {iso_utc(at)}", page)
            taken = [r for r in rows if at <= int(r[0]) <= last_open and (last is None or int(r[0]) > last)]
            if not taken:
                break  # the exchange has nothing more in the range
            handle.write("".join(_line(row, symbol) for row in taken))
            handle.flush()
            os.fsync(handle.fileno())
            last = int(taken[-1][0])
            first = int(taken[0][0]) if first is None else first
            done, written = done + len(taken), written + len(taken)
            if progress is not None:
                progress(done, max(expected, done))
            cursor = last + 1
    if first is None or last is None:
        part.unlink()
        raise DataError(f"{client.id} has no {timeframe} candles of {symbol} from {iso_utc(since_ms)} to "
                        f"{iso_utc(last_open)}", rule="candles in range")  # fmt: skip
    return _finished(out, part, _Existing(done, first, last), written=written, up_to_date=False,
                     resumed_from=done - written)  # fmt: skip


# ---- the file ----------------------------------------------------------------------------------------------


def _prepare(out: Path, since_ms: int, last_open: int, tf: int) -> tuple[Path, _Existing | None]:
    """The ``.part`` path and what it (or a finished ``out``, moved back to it) already holds."""
    part = part_path(out)
    if out.is_dir():
        raise ConfigError(f"{out} is a directory; give a file name", key="out")
    if not out.parent.is_dir():
        raise ConfigError(f"the directory {out.parent} does not exist", key="out")
    if not os.access(out.parent, os.W_OK):
        raise ConfigError(f"cannot write to the directory {out.parent}", key="out")
    if out.exists() and part.exists():
        raise ConfigError(f"both {out} and {part} exist: delete the one you do not want", key="out")
    source = part if part.exists() else out if out.exists() else None
    if source is None:
        return part, None
    existing = _scan(source)
    if existing.first_ms is not None and existing.last_ms is not None:
        outside = "before --since" if existing.first_ms < since_ms else "after --until" if existing.last_ms > (
            last_open) else None  # fmt: skip
        if outside is not None:
            raise ConfigError(f"{source} holds candles from {iso_utc(existing.first_ms)} to "
                              f"{iso_utc(existing.last_ms)}, {outside}: give another --out, or delete it",
                              key="out")  # fmt: skip
    if source == out and not _complete(existing, last_open, tf):
        out.replace(part)  # extend a finished download: it is unfinished again until the new range is in
    return part, existing


def _complete(existing: _Existing, last_open: int, tf: int) -> bool:
    """Whether no candle of the range can open after the file's last one."""
    return existing.last_ms is not None and existing.last_ms + tf > last_open


def _scan(path: Path) -> _Existing:
    """Count the whole rows of a file this module wrote, and cut off a last line that ``kill -9`` left half
    written."""
    rows, first, last_line, whole = 0, None, None, 0
    with path.open("rb") as handle:
        header = handle.readline()
        if header.rstrip(b"\r\n").decode("utf-8", "replace") != HEADER:
            raise ConfigError(f"{path} is not a download of smc-agent (its first line is not {HEADER!r}): give "
                              "another --out, or delete it", key="out")  # fmt: skip
        whole = len(header)
        for line in handle:
            if not line.endswith(b"\n"):
                break
            rows += 1
            whole += len(line)
            last_line = line
            if first is None:
                first = _row_time(line, path, rows)
    if whole < path.stat().st_size:
        with path.open("r+b") as handle:
            handle.truncate(whole)
    last = _row_time(last_line, path, rows) if last_line is not None else None
    return _Existing(rows, first, last)


def _row_time(line: bytes, path: Path, row: int) -> int:
    text = line.decode("utf-8", "replace").split(",", 1)[0]
    try:
        return parse_utc(text, "out")
    except ConfigError:
        raise DataError(f"unreadable time {text!r}", path=str(path), row=row, field="timestamp") from None


class _writer:
    """``FILE.part`` opened to append whole lines (with the header when it is new)."""

    def __init__(self, part: Path, existing: _Existing | None) -> None:
        self._part, self._new = part, existing is None or not part.exists()

    def __enter__(self) -> Any:
        try:
            self._handle = self._part.open("a", encoding="utf-8", newline="\n")
        except OSError as error:
            raise ConfigError(f"cannot write {self._part}: {error.strerror}", key="out") from None
        if self._new:
            self._handle.write(HEADER + "\n")
        return self._handle

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _finished(out: Path, part: Path, existing: _Existing, *, written: int, up_to_date: bool,
              resumed_from: int | None = None) -> DownloadResult:  # fmt: skip
    if part.exists():
        os.replace(part, out)  # the rows were fsynced page by page; the rename makes the file whole at once
    assert existing.first_ms is not None
    assert existing.last_ms is not None
    return DownloadResult(out, written, existing.rows, existing.first_ms, existing.last_ms,
                          existing.rows if resumed_from is None else resumed_from, up_to_date)  # fmt: skip


def _line(row: Sequence[Any], symbol: str) -> str:
    t, *values = row[:6]
    if any(v is None for v in values[:4]):
        raise DataError(f"the exchange sent a {symbol} candle at {iso_utc(int(t))} without prices", rule="ohlc")
    volume = 0.0 if values[4] is None else float(values[4])  # some exchanges leave it out
    o, h, lo, c = (float(v) for v in values[:4])
    return f"{iso_utc(int(t))},{o!r},{h!r},{lo!r},{c!r},{volume!r}\n"


def _slots(first: int, last: int, tf: int) -> int:
    """How many candles of ``tf`` open in ``[first, last]`` if none is missing (the progress bar's total)."""
    return max(0, (last - first) // tf + 1)


def _check_market(client: Any, symbol: str, timeframe: str) -> None:
    if symbol not in (client.markets or {}):
        like = [s for s in client.symbols or [] if s.split("/")[0] == symbol.split("/")[0]][:5]
        hint = f"; did you mean {', '.join(like)}?" if like else " (symbols look like BTC/USDT)"
        raise ConfigError(f"{client.id} has no market {symbol!r}{hint}", key="symbol")
    if client.timeframes and timeframe not in client.timeframes:
        raise ConfigError(f"{client.id} has no timeframe {timeframe!r}; choose one of {', '.join(client.timeframes)}",
                          key="tf")  # fmt: skip
