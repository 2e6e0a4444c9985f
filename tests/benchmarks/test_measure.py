"""Timing and memory helpers: medians, and peak RSS measured in a fresh process per call."""

from __future__ import annotations

import operator

import pytest

from smc_agent.benchmarks.measure import measure_in_subprocess, median_seconds, peak_rss_mb

MIB = 2**20


def test_median_seconds_calls_fn_repeats_times() -> None:
    calls = []
    seconds = median_seconds(lambda: calls.append(1), repeats=5)
    assert len(calls) == 5
    assert seconds >= 0.0
    with pytest.raises(ValueError, match="repeats"):
        median_seconds(lambda: None, repeats=0)


def test_peak_rss_is_a_high_water_mark() -> None:
    first = peak_rss_mb()
    assert first > 0.0
    assert peak_rss_mb() >= first


def test_each_measurement_gets_its_own_process() -> None:
    # operator.mul(b"x", n) builds an n-byte object, touching every page.
    big = measure_in_subprocess(operator.mul, b"x", 200 * MIB)
    small = measure_in_subprocess(operator.mul, b"x", 1)
    assert big.added_rss_mb > 150
    # In one process the high-water mark would still include the 200 MiB; in a fresh one it does not.
    assert small.peak_rss_mb < big.peak_rss_mb - 150
    assert small.seconds >= 0.0
    assert big.seconds >= 0.0


def test_errors_in_the_child_are_raised_here() -> None:
    with pytest.raises(ZeroDivisionError):
        measure_in_subprocess(operator.truediv, 1, 0)
    with pytest.raises(ValueError, match="repeats"):
        measure_in_subprocess(operator.add, 1, 2, repeats=0)
