"""Where the demo candles live: the EUR/USD hourly file that ships inside the ``backtesting`` wheel.

``make run`` and the quick-start need real candles on a fresh install, and ``../shared/data`` is not
part of an install. The ``backtesting`` package (backtesting.py by kernc,
https://github.com/kernc/backtesting.py) includes a small real data set in its wheel, so the
``demo`` extra (``pip install 'smc-agent[demo]'``) is all a user needs. We only *read* the file
from the user's own installation; we do not copy or redistribute it.

The file, ``backtesting/test/EURUSD.csv`` (checked against backtesting 0.6.6):

* instrument: EUR/USD spot forex; timeframe: 1 hour (``backtesting.test`` documents it as
  "hourly EUR/USD forex data from April 2017 to February 2018").
* period: 2017-04-19 09:00 to 2018-02-07 15:00, 5,000 candles, no missing values, no OHLC
  violations.
* columns: a header ``,Open,High,Low,Close,Volume``. The first column has no name and holds the
  candle open time as naive ``YYYY-MM-DD HH:MM:SS``; prices are floats with 5 decimals and
  ``Volume`` is an integer from 1 to 32,318 (the package does not say what it counts; for spot
  forex it can only be a tick or broker volume).
* time zone: not documented. The times are consistent with UTC: each trading week opens on Sunday
  at 21:00 in US summer time and at 22:00 in US winter time (17:00 New York), and weekends and the
  Christmas and New Year holidays are the only gaps (42 in all).
* licence: the backtesting package is licensed AGPL-3.0 (wheel metadata ``License: AGPL-3.0``,
  classifier "GNU Affero General Public License v3 or later (AGPLv3+)", ``LICENSE.md`` in its
  ``.dist-info/licenses``). The data file carries no separate licence, so treat it as covered by
  the package's. That is why it is an optional extra and is never vendored into this project.

>>> demo_data_path().name  # doctest: +SKIP
'EURUSD.csv'
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from smc_agent.core.errors import DataError

__all__ = ["DEMO_SYMBOL", "DEMO_TIMEFRAME", "demo_data_path"]

#: Symbol and timeframe of the demo file, which the file itself does not state.
DEMO_SYMBOL = "EURUSD"
DEMO_TIMEFRAME = "1h"

_PACKAGE = "backtesting"
_RELATIVE_PATH = ("test", "EURUSD.csv")
_INSTALL_HINT = "install the demo extra: pip install 'smc-agent[demo]'"


def demo_data_path() -> Path:
    """Return the path of the demo EUR/USD hourly CSV inside the installed ``backtesting`` package.

    The package is located with :func:`importlib.util.find_spec`, which does not import it:
    importing ``backtesting`` pulls in bokeh and takes most of a second, and importing
    ``backtesting.test`` would parse three CSV files. Raises :class:`DataError` with an install
    hint when the package or the file is missing.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"the demo candles ship with the optional '{_PACKAGE}' package; {_INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*_RELATIVE_PATH)
        if path.is_file():
            return path
    expected = Path(next(iter(spec.submodule_search_locations))).joinpath(*_RELATIVE_PATH)
    raise DataError(
        f"the '{_PACKAGE}' package is installed but its demo file is missing; reinstall it: "
        "pip install --force-reinstall 'smc-agent[demo]'",
        path=str(expected),
    )
