"""begin_session: the latest session resumes when its fingerprint is this run's; another fingerprint is
refused with what differs; ``new=True`` starts afresh (the semantics of tests/agent/memory_store.py)."""

from __future__ import annotations

import pytest

from smc_agent.core.errors import ConfigError
from smc_agent.store import SessionMismatch, Store, open_store

SOURCES = ["/data/EURUSD_15m.csv (100 bytes, sha256 ab)"]
SETTINGS = {"strategy": "smc", "tf": None, "htf": ["1h", "4h"], "config": None}


def test_the_same_fingerprint_resumes_the_session(store: Store) -> None:
    first = store.begin_session(fingerprint="f1", mode="paper", sources=SOURCES, settings=SETTINGS)
    assert not first.resumed
    store.end_session(first.id, 123)
    again = store.begin_session(fingerprint="f1", mode="paper", sources=SOURCES, settings=SETTINGS)
    assert (again.id, again.resumed, again.started_ms) == (first.id, True, first.started_ms)


def test_a_resumed_session_survives_reopening_the_store(store_url: str) -> None:
    first = open_store(store_url)
    started = first.begin_session(fingerprint="f1", mode="paper", sources=SOURCES, settings=SETTINGS)
    first.close()
    second = open_store(store_url)
    try:
        again = second.begin_session(fingerprint="f1", mode="paper", sources=SOURCES, settings=SETTINGS)
    finally:
        second.close()
    assert (again.id, again.resumed) == (started.id, True)


def test_a_mismatch_names_what_differs_and_how_to_start_afresh(store: Store) -> None:
    stored = store.begin_session(fingerprint="f1", mode="paper", sources=SOURCES, settings=SETTINGS)
    other = {**SETTINGS, "htf": ["4h"]}
    with pytest.raises(SessionMismatch) as caught:
        store.begin_session(fingerprint="f2", mode="paper", sources=SOURCES, settings=other)
    error = caught.value
    assert isinstance(error, ConfigError)
    assert error.key == "db"
    assert f"the stored session {stored.id} has other settings" in error.message
    assert "(settings.htf: stored ['1h', '4h'], now ['4h'])" in error.message  # the key that differs, alone
    named = error.message.split("(")[0]
    assert "sources" not in named
    assert "mode" not in named
    assert "--new-session" in error.message
    with pytest.raises(SessionMismatch, match=r"has other sources, mode \(sources: stored"):
        store.begin_session(fingerprint="f3", mode="live", sources=["other.csv"], settings=SETTINGS)


def test_new_starts_another_session_which_is_then_the_latest(store: Store) -> None:
    first = store.begin_session(fingerprint="f1", mode="paper", sources=SOURCES, settings=SETTINGS)
    second = store.begin_session(fingerprint="f1", mode="paper", sources=SOURCES, settings=SETTINGS, new=True)
    assert second.id != first.id
    assert not second.resumed
    assert second.started_ms > first.started_ms
    third = store.begin_session(fingerprint="f2", mode="paper", sources=["b.csv"], settings={}, new=True)
    resumed = store.begin_session(fingerprint="f2", mode="paper", sources=["b.csv"], settings={})
    assert (resumed.id, resumed.resumed) == (third.id, True)
    assert store.row_counts()["sessions"] == 3


def test_ending_an_unknown_session_is_an_error(store: Store) -> None:
    with pytest.raises(ConfigError, match="no stored session nope"):
        store.end_session("nope", 1)
    with pytest.raises(ConfigError, match="no stored session nope"):
        store.journal("nope")
