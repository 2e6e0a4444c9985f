"""Fixtures for every test package: the real market data in ``../shared/data``, and a PostgreSQL database.

Tests that need a real file ask the ``shared_data_path`` fixture for it by its path relative to the
data directory (see :func:`smc_agent.data.shared.shared_data_dir`). When the file is missing the test
is skipped with the reason, unless ``SMC_REQUIRE_SHARED_DATA=1`` (set by CI), when it fails. Tests
that use the fixture get the ``shared_data`` marker, so ``-m "not shared_data"`` leaves them out.

    def test_rows(shared_data_path):
        path = shared_data_path("forex/EURUSD_15m_mt5.csv")

``postgres_url`` is the URL of a fresh database on the test server, dropped after the test; it skips
when no server answers, unless ``SMC_REQUIRE_POSTGRES=1`` (set by CI).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from postgres_support import postgres_database
from smc_agent.data.shared import ENV_VAR, shared_data_dir

REQUIRE_VAR = "SMC_REQUIRE_SHARED_DATA"


def _shared_data_path(relpath: str) -> Path:
    """The path of ``relpath`` under the shared data directory; skip or fail when it is missing."""
    base = shared_data_dir()
    path = base / relpath
    if not path.exists():
        reason = f"real market data {relpath!r} not found in {base} (set {ENV_VAR} to its directory)"
        if os.environ.get(REQUIRE_VAR) == "1":
            pytest.fail(f"{reason}; {REQUIRE_VAR}=1 requires it", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def shared_data_path() -> Callable[[str], Path]:
    """A function from a path relative to the shared data directory to an existing file."""
    return _shared_data_path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "shared_data_path" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database for this test (see :func:`postgres_support.postgres_database`)."""
    yield from postgres_database()
