"""The settings tests own the environment: no ``SMC_`` variable of the person running them leaks in.

Each test module imports :func:`clean_environment` (a module, not a conftest.py: tests/conftest.py
holds that name).
"""

from __future__ import annotations

import os

import pytest

_OTHER_READERS = ("SMC_SHARED_DATA", "SMC_REQUIRE_SHARED_DATA")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SMC_") and name not in _OTHER_READERS:
            monkeypatch.delenv(name)
