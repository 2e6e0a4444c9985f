"""Logging: stdlib ``logging`` underneath, structlog on top, one line per event on stderr.

Code logs key-value events through :func:`get_logger` (``log.info("feed reconnected", attempt=3)``),
and every record, ours or a library's (``distributed``, ``numba``), leaves through the one handler
that :func:`configure_logging` installs, in one format: a readable console line by default, or one
JSON object per line for a log collector. stdout is never touched, so ``--json`` outputs stay
parseable whatever is logged.

Why stdlib underneath: libraries log through it, and a process has one place to set levels. Why
structlog: an event with fields (``client_order_id=...``) is a record a collector can query, not a
sentence to parse. The level applies to smc-agent's own loggers (``smc_agent.*``); other libraries
show only their warnings and errors, since their debug output (numba's compiler) drowns ours,
unless they set their own level (Dask's ``distributed`` logs from info, as it always did).

Fields bound with ``structlog.contextvars.bound_contextvars`` join every line logged in that context, a
library's too: the API binds each request's ``request_id`` so.

Timestamps are the wall clock in ISO-8601 UTC, on purpose: a log line says when the process wrote
it. Market time belongs in the event's fields, and nothing ever reads a log back to decide anything.

>>> import io, json
>>> out = io.StringIO()
>>> configure_logging("info", json=True, stream=out)
>>> get_logger("smc_agent.example").info("order sent", qty=2)
>>> line = json.loads(out.getvalue()); line["event"], line["qty"], line["level"], line["logger"]
('order sent', 2, 'info', 'smc_agent.example')
>>> configure_logging("warning")  # back to the default: warnings and errors on stderr
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any, cast

import structlog

__all__ = ["LEVELS", "configure_logging", "get_logger"]

LEVELS = ("debug", "info", "warning", "error", "critical")
_OURS = "smc_agent"


def configure_logging(level: str = "info", json: bool = False, stream: IO[str] | None = None) -> None:
    """Send every log record to ``stream`` (stderr by default) as console lines, or JSON lines.

    Calling it again replaces the previous set-up (the CLI does so on every command), so handlers
    never pile up. With no ``stream`` each line goes to whatever ``sys.stderr`` is when it is written,
    so a redirected stderr (pytest's capture, Typer's test runner) receives it.
    """
    if level.lower() not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    number = logging.getLevelNamesMapping()[level.upper()]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        # Plain tracebacks: the fancy ones print every local variable, and a local may hold a secret.
        else structlog.dev.ConsoleRenderer(
            colors=(stream or sys.stderr).isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    handler = _Handler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                # What the caller bound for this task or thread (the API's request_id) joins every line.
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                *([structlog.processors.format_exc_info] if json else []),
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(number, logging.WARNING))
    logging.getLogger(_OURS).setLevel(number)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A key-value logger over the stdlib logger ``name`` (pass the module's ``__name__``).

    It filters by level before doing any work, and works whether or not :func:`configure_logging`
    has run (without it, stdlib's last-resort handler prints warnings and errors).
    """
    return cast(
        structlog.stdlib.BoundLogger,
        structlog.wrap_logger(
            logging.getLogger(name),
            processors=[
                structlog.stdlib.filter_by_level,
                structlog.stdlib.PositionalArgumentsFormatter(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            wrapper_class=structlog.stdlib.BoundLogger,
        ),
    )


class _Handler(logging.StreamHandler[IO[str]]):
    """The one handler :func:`configure_logging` owns; with no stream it writes to the current stderr."""

    def __init__(self, stream: IO[str] | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)
