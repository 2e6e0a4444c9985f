"""``backtest --db``: a backtest that keeps everything in the store, as a paper session does.

The run is a session of its own (mode ``backtest``, always new): its events go to the store's journal
(and its tables: orders, fills, signals, the equity curve, risk events) in batches of
:data:`~smc_agent.engine.session.REPLAY_BATCH` candles, and at the end a ``backtest_runs`` row holds
its settings, the fingerprint of its data, its metrics and the paths of what it wrote. An action in
the audit log records that it ran. A run that fails leaves its session without a stop time and no
``backtest_runs`` row, so a half run never passes for a whole one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from smc_agent.backtest.runner import BacktestResult
from smc_agent.config import AppConfig
from smc_agent.events.journal import Journal
from smc_agent.model.enums import Mode
from smc_agent.service.store import describe_file, fingerprint, open_store, plain

__all__ = ["RecordedBacktest", "recorded_backtest"]

Run = Callable[[Journal, str], BacktestResult]  # the backtest, given the journal and its session id


class RecordedBacktest:
    def __init__(self, result: BacktestResult, session_id: str, run_id: str) -> None:
        self.result, self.session_id, self.run_id = result, session_id, run_id


def recorded_backtest(
    url: str, files: Sequence[Path], strategy: str, app: AppConfig, run: Run, artefacts: dict[str, str]
) -> RecordedBacktest:
    """``run`` with the store at ``url`` for its journal; then its ``backtest_runs`` row."""
    sources = [describe_file(path) for path in files]
    settings: dict[str, Any] = {"strategy": strategy, "engine": plain(asdict(app.engine)),
                                "analysis": plain(asdict(app.analysis))}  # fmt: skip
    print_id = fingerprint(sources, settings)
    store = open_store(url)
    try:
        session = store.begin_session(fingerprint=print_id, mode=Mode.BACKTEST.value, sources=sources,
                                      settings=settings, new=True)  # fmt: skip
        result = run(store.journal(session.id), session.id)
        ends = [int(c.time[-1] + c.timeframe_ms) for c in result.streams.values()]
        store.end_session(session.id, max(ends))
        run_id = store.record_backtest(settings=settings, data_fingerprint=fingerprint(sources, {}),
                                       metrics=plain(result.metrics.to_dict()),
                                       artefacts={"session": session.id, **artefacts})  # fmt: skip
        store.audit("backtest", {"session": session.id, "run": run_id, "sources": sources})
    finally:
        store.close()
    return RecordedBacktest(result, session.id, run_id)
