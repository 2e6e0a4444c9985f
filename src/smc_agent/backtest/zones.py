"""The zone behind each SMC trade, for drawing: from the signal's evidence to the entry."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from smc_agent.analysis.signals import SignalEngine, SignalStatus

__all__ = ["Zone", "zones_from_signals"]


class Zone(NamedTuple):
    """The zone behind a trade, drawn as a rectangle; a plain ``(top, bottom, start_ms, end_ms)`` works too."""

    top: float
    bottom: float
    start_ms: int
    end_ms: int


def zones_from_signals(engine: SignalEngine) -> dict[str, Zone]:
    """The zone behind each SMC signal, by signal id (which is the id of the trade it became).

    The zone is the ``zone`` link of the signal's evidence. It starts at the candle that formed it
    (the order block or fair-value-gap row's ``formed_index``; the link's confirmation time when the
    detector table has no such column) and ends when the signal was triggered (the entry, or its fill once
    the trade began), expired or invalidated; a signal still pending at the end of the data runs to its expiry.
    """
    view = engine.mtf.entry.result(copy=False)
    zones: dict[str, Zone] = {}
    for signal in engine.signals:
        link = next((link for link in signal.evidence if link.get("role") == "zone"), None)
        if link is None or "top" not in link or "bottom" not in link:
            continue
        start = round(datetime.fromisoformat(str(link["time"])).timestamp() * 1000)
        table_name, _, row = str(link.get("id", "")).partition(":")
        table = view.tables.get(table_name)
        if table is not None and "formed_index" in table.schema.ints and row.isdigit() and int(row) < len(table):
            start = int(view.candles.time[int(table.col("formed_index")[int(row)])])
        end = signal.expires_ms if signal.status is SignalStatus.PENDING else signal.fill_ms or signal.status_ms
        zones[signal.id] = Zone(float(link["top"]), float(link["bottom"]), start, max(start, end))
    return zones
