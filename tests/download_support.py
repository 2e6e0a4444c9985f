"""What the download tests share: the source file's rows read with :mod:`json` alone (never by the code under
test), and a downloaded file's rows read by our loader."""

from __future__ import annotations

import json
from pathlib import Path

from smc_agent.data.loaders import load_candles

__all__ = ["SOURCE", "Row", "file_rows", "source_rows"]

SOURCE = "crypto/BTC_USDT-5m_2023.json"  # freqtrade's pandas to_json dict of columns, real BTC/USDT 5m
Row = tuple[int, float, float, float, float, float]


def source_rows(path: Path) -> list[Row]:
    """Every row of the :data:`SOURCE` file, in time order."""
    doc = json.loads(path.read_text())
    columns = [doc[c] for c in ("open", "high", "low", "close", "volume")]
    keys = sorted(doc["date"], key=int)
    return [(int(doc["date"][k]), *(float(c[k]) for c in columns)) for k in keys]  # type: ignore[misc]


def file_rows(path: Path) -> list[Row]:
    """A candle file's rows, as our loader reads them."""
    c = load_candles(path)
    return list(zip(c.time.tolist(), c.open.tolist(), c.high.tolist(), c.low.tolist(), c.close.tolist(),
                    c.volume.tolist(), strict=True))  # fmt: skip
