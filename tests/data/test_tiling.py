"""mirror_tile: length, exact continuity at the seams, even times, and every value from the source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from smc_agent.core.errors import DataError
from smc_agent.data.candles import Candles
from smc_agent.data.loaders import load_candles
from smc_agent.data.tiling import mirror_tile


@pytest.fixture(scope="module")
def eurusd(shared_data_path: Callable[[str], Path]) -> Candles:
    """The first 2,000 real EURUSD 15m candles (MT5 export)."""
    return load_candles(shared_data_path("forex/EURUSD_15m_mt5.csv"))[:2000]


def _tiny() -> Candles:
    # Three candles with real gaps between close and next open, so seams are not trivially equal.
    return Candles.from_arrays(
        np.array([0, 60_000, 120_000]),
        open=[1.0, 2.1, 2.9],
        high=[2.2, 3.1, 3.5],
        low=[0.8, 1.9, 2.0],
        close=[2.0, 3.0, 2.2],
        volume=[10.0, 20.0, 30.0],
        symbol="T",
        timeframe="1m",
    )


def _row_set(c: Candles) -> set[tuple[float, ...]]:
    return set(zip(c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist(), c.volume.tolist(), strict=True))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 6, 7, 20])
def test_length_and_blocks_on_hand_built_candles(n: int) -> None:
    src = _tiny()
    tiled = mirror_tile(src, n)
    assert len(tiled) == n
    # The exact block pattern: forward, then reversed with open and close swapped, and so on.
    expected_index = [0, 1, 2, 2, 1, 0] * 4
    expected_rev = [False, False, False, True, True, True] * 4
    for k in range(n):
        i, rev = expected_index[k], expected_rev[k]
        assert tiled.open[k] == (src.close[i] if rev else src.open[i])
        assert tiled.close[k] == (src.open[i] if rev else src.close[i])
        assert (tiled.high[k], tiled.low[k], tiled.volume[k]) == (src.high[i], src.low[i], src.volume[i])


def test_seams_are_exactly_continuous_and_blocks_keep_source_gaps() -> None:
    # Inside a block the source's own gaps remain (2.0 -> 2.1 and 3.0 -> 2.9); at a seam the first
    # candle of the new block opens exactly where the previous one closed.
    tiled = mirror_tile(_tiny(), 9)
    seams = [3, 6]
    for s in seams:
        assert tiled.open[s] == tiled.close[s - 1]
    gaps = tiled.open[1:] - tiled.close[:-1]
    assert np.count_nonzero(gaps) == len(gaps) - len(seams)


@pytest.mark.shared_data
def test_real_candles(eurusd: Candles) -> None:
    m = len(eurusd)
    n = 5 * m + 123
    tiled = mirror_tile(eurusd, n)
    assert len(tiled) == n
    assert (tiled.symbol, tiled.timeframe, tiled.last_complete) == ("EURUSD", "15m", True)

    # Times: evenly spaced at the source step, from the first source time.
    assert tiled.time[0] == eurusd.time[0]
    assert np.all(np.diff(tiled.time) == 15 * 60_000)

    # Seams: the first candle of every block opens exactly at the previous candle's close.
    for seam in range(m, n, m):
        assert tiled.open[seam] == tiled.close[seam - 1]

    # No new jumps anywhere: every close-to-open gap is at most the largest source gap.
    source_gaps = np.abs(eurusd.open[1:] - eurusd.close[:-1])
    tiled_gaps = np.abs(tiled.open[1:] - tiled.close[:-1])
    assert tiled_gaps.max() <= source_gaps.max()

    # No drift: the price range is exactly the source's.
    assert (tiled.low.min(), tiled.high.max()) == (eurusd.low.min(), eurusd.high.max())

    # OHLC sanity.
    assert np.all(tiled.high >= np.maximum(tiled.open, tiled.close))
    assert np.all(tiled.low <= np.minimum(tiled.open, tiled.close))

    # Every row is a source row or a source row run backwards (open and close swapped).
    reversed_src = Candles(eurusd.time, eurusd.close, eurusd.high, eurusd.low, eurusd.open, eurusd.volume)
    allowed = _row_set(eurusd) | _row_set(reversed_src)
    assert _row_set(tiled) <= allowed
    # ... and the forward blocks are the source itself.
    np.testing.assert_array_equal(tiled.close[2 * m : 3 * m], eurusd.close)
    np.testing.assert_array_equal(tiled.open[m : 2 * m], eurusd.close[::-1])


@pytest.mark.shared_data
def test_a_million_candles_stay_in_range(eurusd: Candles) -> None:
    tiled = mirror_tile(eurusd, 1_000_000)
    assert len(tiled) == 1_000_000
    assert tiled.close.min() >= eurusd.low.min()
    assert tiled.close.max() <= eurusd.high.max()


def test_incomplete_last_candle_is_not_tiled() -> None:
    src = Candles(
        *(getattr(_tiny(), f) for f in ("time", "open", "high", "low", "close", "volume")),
        timeframe="1m",
        last_complete=False,
    )
    tiled = mirror_tile(src, 4)
    # Source without its forming candle is [c0, c1]; so the tile is c0, c1, r1, r0.
    assert tiled.open.tolist() == [1.0, 2.1, 3.0, 2.0]
    assert tiled.last_complete


def test_timeframe_is_inferred_when_unset() -> None:
    src = _tiny().with_meta(timeframe="")
    tiled = mirror_tile(src, 5)
    assert tiled.timeframe == "1m"
    assert tiled.time.tolist() == [0, 60_000, 120_000, 180_000, 240_000]


def test_errors() -> None:
    with pytest.raises(ValueError, match="negative"):
        mirror_tile(_tiny(), -1)
    with pytest.raises(DataError, match="empty"):
        mirror_tile(_tiny()[:0], 3)
    with pytest.raises(DataError, match="timeframe is unknown"):
        mirror_tile(_tiny()[:1].with_meta(timeframe=""), 3)
    assert len(mirror_tile(_tiny()[:0], 0)) == 0
