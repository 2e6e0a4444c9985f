"""Errors a user can act on.

Every error raised for bad input names *where* the problem is (file, row, field or key) and
*which rule* it broke, so the CLI can print it as is instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["ConfigError", "DataError", "ReportError", "SmcAgentError", "check_each"]


class SmcAgentError(Exception):
    """Base class for errors that are shown to the user without a traceback."""


class DataError(SmcAgentError):
    """Market data that cannot be read or that breaks a validation rule.

    >>> str(DataError("high below low", path="x.csv", row=7, field="high"))
    'x.csv: row 7: field high: high below low'
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        field: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.row = row
        self.field = field
        self.rule = rule
        parts = []
        if path is not None:
            parts.append(str(path))
        if row is not None:
            parts.append(f"row {row}")
        if field is not None:
            parts.append(f"field {field}")
        parts.append(message)
        super().__init__(": ".join(parts))


class ConfigError(SmcAgentError):
    """A configuration value or option that is unknown or out of range; names the key."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        self.message = message
        self.key = key
        self.source = source
        where = ": ".join(p for p in (source, f"key {key}" if key else None) if p)
        super().__init__(f"{where}: {message}" if where else message)

    def under(self, prefix: str) -> ConfigError:
        """The same error with its key inside ``prefix``: an object's own key put in its section's words.

        >>> str(ConfigError("must be > 0", key="min_rr").under("symbols.EURUSD"))
        'key symbols.EURUSD.min_rr: must be > 0'
        """
        return ConfigError(self.message, key=f"{prefix}.{self.key}" if self.key else prefix, source=self.source)


class ReportError(SmcAgentError):
    """A report or its log that cannot be written; names the file and says what to do.

    >>> str(ReportError("not a readable Excel workbook", path="out/smc-log.xlsx"))
    'out/smc-log.xlsx: not a readable Excel workbook'
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.message = message
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


def check_each(prefix: str, names: Iterable[str], check: Callable[[str], object]) -> None:
    """``check(name)`` for each name; a ConfigError comes out with its key under ``prefix.name``.

    >>> def rule(symbol: str) -> None:
    ...     raise ConfigError("must be > 0", key="min_rr")
    >>> check_each("symbols", ["EURUSD"], rule)
    Traceback (most recent call last):
    ...
    smc_agent.core.errors.ConfigError: key symbols.EURUSD.min_rr: must be > 0
    """
    for name in names:
        try:
            check(name)
        except ConfigError as exc:
            raise exc.under(f"{prefix}.{name}") from None
