"""The heap a long-running process has built at its start, moved out of the cyclic garbage collector's reach.

Modules, settings, the restored session and the history it learnt from live as long as the process; left to the
collector, each full collection walks all of them (about 150 ms in ``smc-agent serve``, measured), stalling every
request and candle of that moment. Frozen (:func:`gc.freeze`), they are never scanned again, and a full collection
takes a few milliseconds: only what was made since. ``run`` and ``serve`` freeze once, when their start is done,
and so do the benchmarks that measure them (docs/performance.md "API").
"""

from __future__ import annotations

import gc

__all__ = ["freeze_start"]


def freeze_start() -> None:
    """Move everything the collector tracks now into the permanent generation (call once, when the start is done)."""
    gc.freeze()
