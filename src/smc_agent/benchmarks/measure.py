"""Timing and memory helpers shared by every benchmark.

Why a fresh process for memory: a process's peak RSS is a high-water mark that only ever grows, so
measuring 10k, then 100k, then 1M candles in one process reports the largest run for all three.
:func:`measure_in_subprocess` runs the measured call in a new interpreter (not forked, so it shares
no pages with the parent) and reports that process's own peak, plus the peak it had
already reached before the call (interpreter, imports and the unpickled inputs), so the
difference is what the call itself added. See :func:`peak_rss_mb` for why the peak is read from
``/proc`` rather than ``getrusage``.

Timing uses :func:`time.perf_counter` and the median of several runs, because this machine is
noisy and a median ignores the odd slow run that a mean would absorb.

>>> median_seconds(lambda: sum(range(1000)), repeats=3) >= 0.0
True
"""

from __future__ import annotations

import pickle
import resource
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

__all__ = ["Measurement", "call_in_subprocess", "measure_in_subprocess", "median_seconds", "peak_rss_mb"]

T = TypeVar("T")


class Measurement(NamedTuple):
    """One measured call: median wall time and the peak resident memory of its process."""

    seconds: float
    """Median wall-clock seconds per call."""
    peak_rss_mb: float
    """Peak resident set size of the measuring process after the calls, in MiB."""
    start_rss_mb: float
    """Peak resident set size just before the first call (interpreter, imports, inputs), in MiB."""

    @property
    def added_rss_mb(self) -> float:
        """How much the call raised the process's memory high-water mark, in MiB."""
        return self.peak_rss_mb - self.start_rss_mb


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Call ``fn`` ``repeats`` times and return the median wall-clock seconds of one call."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``, not ``ru_maxrss``: the kernel carries the
    *parent's* high-water mark into ``ru_maxrss`` across fork and exec (a spawned child of a 300 MiB
    parent reports 300 MiB before doing anything), whereas ``VmHWM`` belongs to this process's own
    address space. Elsewhere it falls back to ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _measure_here(fn: Callable[..., object], args: tuple[Any, ...], repeats: int) -> Measurement:
    """Child-side half of :func:`measure_in_subprocess` (module level so that it pickles by name)."""
    start = peak_rss_mb()
    seconds = median_seconds(lambda: fn(*args), repeats)
    return Measurement(seconds, peak_rss_mb(), start)


def measure_in_subprocess(fn: Callable[..., object], *args: Any, repeats: int = 1) -> Measurement:
    """Run ``fn(*args)`` ``repeats`` times in a fresh interpreter and measure it there.

    ``fn`` and ``args`` are pickled, so ``fn`` must be a module-level function and the arguments
    picklable; an exception raised by ``fn`` is raised here too, with the child's traceback as a note.

    >>> import operator
    >>> m = measure_in_subprocess(operator.mul, b"x", 64 * 2**20)  # builds a 64 MiB bytes object
    >>> m.added_rss_mb > 50
    True
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    return call_in_subprocess(_measure_here, fn, args, repeats)


def call_in_subprocess(fn: Callable[..., T], *args: Any) -> T:
    """Return ``fn(*args)`` computed in a fresh interpreter that exists for this call only.

    The child is ``python -m smc_agent.benchmarks.measure``: unlike multiprocessing's spawn, it
    does not re-import the caller's ``__main__`` (the CLI, with pandas and Rich), so its memory is
    only what ``fn`` needs. ``fn`` must be a module-level function and the arguments picklable.
    """
    done = subprocess.run(
        [sys.executable, "-m", "smc_agent.benchmarks.measure"],
        input=pickle.dumps((fn, args)),
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace")[-4000:]
        raise RuntimeError(f"measurement process died (exit {done.returncode}):\n{tail}")
    ok, value, trace = pickle.loads(done.stdout)
    if not ok:
        value.add_note(f"raised in the measurement process:\n{trace}")
        raise value
    result: T = value
    return result


def _child() -> None:
    fn, args = pickle.loads(sys.stdin.buffer.read())
    try:
        outcome = (True, fn(*args), "")
    except Exception as exc:  # handed to the parent, which re-raises it
        outcome = (False, exc, traceback.format_exc())
    sys.stdout.buffer.write(pickle.dumps(outcome))


if __name__ == "__main__":
    _child()
