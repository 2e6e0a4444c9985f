"""``analyze`` and ``report`` describe the same candles the same way: zones, pools and levels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from smc_agent.service import AnalysisRequest, analyze_request, report_request
from smc_agent.smc.snapshot import snapshot


@pytest.mark.parametrize(
    ("relpath", "tf", "tz"),
    [("forex/EURUSD_15m_mt5.csv", "15m", None), ("india/NIFTY-FUT_15m_2024.csv", "1h", "Asia/Kolkata")],
)
def test_active_pools_zones_and_levels_agree(
    shared_data_path: Callable[[str], Path], relpath: str, tf: str, tz: str | None
) -> None:
    request = AnalysisRequest(shared_data_path(relpath), timeframe=tf, tz=tz)
    analysed = snapshot(analyze_request(request))
    reported = report_request(request, None).market
    assert analysed.zones["liquidity"], "a file without active pools would test nothing"
    # Single swing points are pools for the signal engine; analyze used to ask for two.
    assert any(z["members"] == 1 for z in analysed.zones["liquidity"])
    assert analysed.zones == reported.zones
    assert analysed.levels == reported.levels
    assert (analysed.candles, analysed.last_time, analysed.trend) == (reported.candles, reported.last_time,
                                                                      reported.trend)  # fmt: skip
