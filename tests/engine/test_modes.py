"""Modes: only the composition root knows them, live needs the exchange venue, and the core never reads the clock.

DESIGN.md, "One core, three modes": ``bootstrap`` picks the clock, feed, venue and store for a mode
and nothing below it checks the mode; habit 1: the core reads the clock it is given, never
``datetime.now()`` or ``time.time()``. These tests read the source with :mod:`ast`, so a comment or
a docstring that mentions a name does not count, and an aliased import does not hide a call.

Who may name ``Mode``: ``bootstrap.py`` defines it and wires the parts for each mode; above it sit
only the layers that *choose* a mode for the user and hand it straight to ``build``:
``backtest/runner.py`` (``run_backtest(mode=...)``: a backtest, or paper trading on a file),
``service.py`` (the operations every transport shares) and the ``cli`` package (the transports).
Everything else is the core and never sees it. The wall-clock scan covers what runs inside a session
(engine, venues, strategy, analysis, smc, feeds, core, model); ``core/clock.py`` (WallClock, handed to
paper and live sessions by bootstrap) is the one place that reads the system clock, and
``benchmarks/`` times code outside any session.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from scenario import candles

import smc_agent
from smc_agent.bootstrap import EngineSettings, Mode, System, build
from smc_agent.core.clock import ReplayClock, SimulatedClock
from smc_agent.core.errors import ConfigError
from smc_agent.data.candles import Candles
from smc_agent.events import CandleClosed, Event
from smc_agent.strategy.base import Command

PACKAGE = Path(smc_agent.__file__).resolve().parent


class Idle:
    """A strategy-port double that never trades and records whether it was started."""

    kind = "sma_cross"
    symbol = "TEST"

    def __init__(self) -> None:
        self.started = False

    def __call__(self, candles: Candles) -> Idle:
        return self  # its own factory: the one symbol's strategy

    def on_start(self, publish: object) -> None:
        self.started = True

    def warm_up(self, candle: CandleClosed) -> None:
        """Nothing to learn."""

    def on_candle(self, candle: CandleClosed) -> list[Command]:
        return []

    def on_event(self, event: Event) -> None:
        """Nothing to react to."""

    def restore(self, event: Event) -> None:
        """Nothing to rebuild."""


def _data() -> Candles:
    return candles([(100.0, 101.0, 99.0, 100.5), (100.5, 101.5, 100.0, 101.0)]).with_meta(symbol="TEST")


# -- live trading needs the exchange venue --------------------------------------------------------


def test_live_without_the_exchange_venue_is_refused_before_anything_is_wired() -> None:
    """LIVE is only built around the exchange venue the caller passes once the live gate let it through."""
    strategy = Idle()
    with pytest.raises(ConfigError, match="exchange venue") as refused:
        build(Mode.LIVE, _data(), strategy, EngineSettings())
    assert refused.value.key == "mode"
    assert not strategy.started  # refused before anything was wired


@pytest.mark.parametrize("mode", [Mode.BACKTEST, Mode.PAPER])
def test_an_exchange_venue_outside_live_mode_is_refused(mode: Mode) -> None:
    """Paper and backtests never trade at an exchange, whatever the caller passes."""

    def venue(*_: object) -> None:
        raise AssertionError("the exchange venue was made outside live mode")

    with pytest.raises(ConfigError, match="exchange venue") as refused:
        build(mode, _data(), Idle(), EngineSettings(), venue=venue)  # type: ignore[arg-type]
    assert refused.value.key == "mode"


@pytest.mark.parametrize(("mode", "clock"), [(Mode.BACKTEST, SimulatedClock), (Mode.PAPER, ReplayClock)])
def test_backtest_and_paper_build_on_their_own_clocks(mode: Mode, clock: type) -> None:
    """BACKTEST runs synchronously on a simulated clock, PAPER on a file as an asyncio session on the
    replay clock; both build without the live flags and reach each close."""
    strategy = Idle()
    system = build(mode, _data(), strategy)
    assert isinstance(system, System)
    assert system.mode is mode
    assert type(system.session.clock) is clock
    closes: list[int] = []
    system.bus.subscribe(lambda candle: closes.append(candle.event_ms), CandleClosed)
    assert not strategy.started  # the session starts it
    system.run()
    assert strategy.started
    assert closes == [60_000, 120_000]
    assert system.session.clock.now_ms() == 120_000
    assert system.portfolio.balance == Decimal("10000")


# -- nothing below the composition root knows the mode -----------------------------------------------

# Who may name ``Mode``: bootstrap.py defines it and picks the parts for each mode. Above it sit only
# the layers that *choose* a mode for a user: backtest/runner.py (``run_backtest(mode=...)`` runs the
# backtest or paper trading on a file and passes the choice straight to ``build``), service.py (the
# operations every transport shares) and the cli package (the transports). Everything else is the core
# and must not see it: engine, venues, strategy, feeds, analysis, smc, data, model, core, and the
# backtest records and metrics that only read events.
# The mode is also a recorded fact: model/enums.py names the closed set, and the session puts it in
# its SessionStarted event (events/__init__.py) without ever branching on it, which the scan of
# .mode reads and mode-name comparisons below still checks for the core.
MODE_ALLOWED = {"bootstrap.py", "backtest/runner.py", "model/enums.py", "events/__init__.py",
                "engine/session.py"}  # fmt: skip
MODE_ALLOWED_DIRS = ("cli/", "service/")
CORE_DIRS = ("engine", "venues", "strategy", "feeds", "core", "model")
MODE_VALUES = {m.value for m in Mode}


def _sources(*dirs: str) -> Iterator[tuple[str, ast.Module]]:
    roots = [PACKAGE / d for d in dirs] if dirs else [PACKAGE]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"), str(path))


def _mode_uses(tree: ast.Module) -> list[str]:
    """Every place that names ``Mode`` or imports the composition root."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "Mode":
            found.append(f"line {node.lineno}: name Mode")
        elif isinstance(node, ast.Attribute) and node.attr == "Mode":
            found.append(f"line {node.lineno}: attribute .Mode")
        elif isinstance(node, ast.ClassDef) and node.name == "Mode":
            found.append(f"line {node.lineno}: class Mode")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("bootstrap"):
            names = {alias.name for alias in node.names}
            if "Mode" in names or "*" in names:
                found.append(f"line {node.lineno}: imports Mode from {node.module}")
        elif isinstance(node, ast.Import) and any(a.name.endswith("bootstrap") for a in node.names):
            found.append(f"line {node.lineno}: imports the composition root")
    return found


def test_mode_is_named_only_by_the_composition_root_and_the_layers_that_choose_it() -> None:
    """``Mode`` appears only in bootstrap.py, backtest/runner.py, service.py and the CLI (see MODE_ALLOWED)."""
    offenders = {
        path: uses
        for path, tree in _sources()
        if path not in MODE_ALLOWED and not path.startswith(MODE_ALLOWED_DIRS)
        for uses in [_mode_uses(tree)]
        if uses
    }
    assert offenders == {}
    assert _mode_uses(dict(_sources())["bootstrap.py"])  # the scan does find the definition


def _mode_checks(tree: ast.Module) -> list[str]:
    """Imports of the composition root, reads of a ``.mode`` attribute, comparisons with a mode name."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and "bootstrap" in (node.module or ""):
            found.append(f"line {node.lineno}: imports {node.module}")
        elif isinstance(node, ast.Import) and any("bootstrap" in a.name for a in node.names):
            found.append(f"line {node.lineno}: imports the composition root")
        elif isinstance(node, ast.Attribute) and node.attr == "mode":
            found.append(f"line {node.lineno}: reads .mode")
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in MODE_VALUES for o in operands):
                found.append(f"line {node.lineno}: compares with a mode name")
    return found


def test_the_core_imports_nothing_from_the_composition_root_and_never_tests_a_mode() -> None:
    """No core module imports bootstrap, reads a ``.mode`` attribute, or compares with 'backtest'/'paper'/'live'."""
    offenders = {path: found for path, tree in _sources(*CORE_DIRS) for found in [_mode_checks(tree)] if found}
    assert offenders == {}


def test_the_mode_scans_are_not_blind() -> None:
    """The scanners flag a hand-written module that imports Mode, reads ``.mode`` and compares with 'paper'."""
    probe = ast.parse(
        "from smc_agent.bootstrap import Mode\n"
        "def f(system):\n"
        "    if system.mode is Mode.PAPER or system.mode == 'paper':\n"
        "        pass\n"
    )
    assert sorted(_mode_uses(probe)) == ["line 1: imports Mode from smc_agent.bootstrap", "line 3: name Mode"]
    assert sorted(_mode_checks(probe)) == [
        "line 1: imports smc_agent.bootstrap",
        "line 3: compares with a mode name",
        "line 3: reads .mode",
        "line 3: reads .mode",
    ]


# -- the core never reads the wall clock -------------------------------------------------------------

# The packages that run inside a backtest or a trading session (the brief's five, plus the feeds, the
# core and the model, which the kernel calls every candle). core/clock.py is where WallClock reads the
# system clock on purpose (bootstrap hands it to paper and live sessions); benchmarks/ times code and is
# never part of a run. ``time.sleep`` (the paced replay) waits, it does not read the time.
CLOCK_SCAN_DIRS = ("engine", "venues", "strategy", "analysis", "smc", "feeds", "core", "model")
CLOCK_ALLOWED = {"core/clock.py"}
TIME_READS = {"time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "process_time"}
NOW_METHODS = {"now", "utcnow", "today"}


def _clock_reads(tree: ast.Module) -> list[str]:
    """Calls that read the system clock: ``time.time()`` and friends, ``datetime.now()``, ``date.today()``.

    ``time`` counts only where it is bound to the time module (``import time [as t]``); a
    ``from datetime import time`` is a class and ``time(0)`` is no clock read. ``.now()``,
    ``.utcnow()`` and ``.today()`` count on anything (datetime, date, pandas Timestamp).
    """
    time_modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            time_modules |= {a.asname or a.name for a in node.names if a.name == "time"}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [f"line {node.lineno}: from time import {a.name}" for a in node.names if a.name in TIME_READS]
        elif isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id in time_modules and node.attr in TIME_READS:
                found.append(f"line {node.lineno}: {base.id}.{node.attr}")
            elif node.attr in NOW_METHODS:
                found.append(f"line {node.lineno}: .{node.attr}")
    return found


def test_the_core_never_reads_the_wall_clock() -> None:
    """No module that runs in a session calls time.time, time_ns, perf_counter, datetime.now or the like."""
    offenders = {
        path: reads
        for path, tree in _sources(*CLOCK_SCAN_DIRS)
        if path not in CLOCK_ALLOWED
        for reads in [_clock_reads(tree)]
        if reads
    }
    assert offenders == {}


def test_the_clock_scan_finds_the_allowed_reads() -> None:
    """The scanner is not blind: it finds WallClock's time_ns and the benchmarks' perf_counter."""
    sources = dict(_sources("core", "benchmarks"))
    assert any(r.endswith("time.time_ns") for r in _clock_reads(sources["core/clock.py"]))
    benchmark_reads = [
        r for path, tree in sources.items() if path.startswith("benchmarks/") for r in _clock_reads(tree)
    ]
    assert any("perf_counter" in r for r in benchmark_reads)
    probe = ast.parse(
        "import time as t\nfrom datetime import datetime, time\nt.perf_counter()\ndatetime.now()\ntime(0)\n"
    )
    assert sorted(_clock_reads(probe)) == ["line 3: t.perf_counter", "line 4: .now"]
