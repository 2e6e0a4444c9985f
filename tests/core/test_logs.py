"""Log lines: the JSON fields a collector relies on, the level rule, and the CLI options that set them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from smc_agent.cli import app
from smc_agent.core.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each test configures logging its own way; leave the process as the CLI's default finds it."""
    yield
    configure_logging("warning")


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_json_line_carries_event_level_logger_time_and_fields() -> None:
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    before = datetime.now(UTC)
    get_logger("smc_agent.venues.test").info("order sent", client_order_id="smc-1-7", qty=2, price=1.2345)
    (line,) = _lines(out)
    assert {k: line[k] for k in ("event", "level", "logger", "client_order_id", "qty", "price")} == {
        "event": "order sent",
        "level": "info",
        "logger": "smc_agent.venues.test",
        "client_order_id": "smc-1-7",
        "qty": 2,
        "price": 1.2345,
    }
    stamp = str(line["timestamp"])
    assert stamp.endswith("Z")  # ISO-8601 in UTC
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(stamp) <= datetime.now(UTC)


def test_an_exception_is_one_json_line_with_its_traceback() -> None:
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    try:
        raise ConnectionError("exchange unreachable")
    except ConnectionError:
        get_logger("smc_agent.feeds.test").exception("feed lost")
    (line,) = _lines(out)
    assert line["level"] == "error"
    assert "ConnectionError: exchange unreachable" in str(line["exception"])


def test_bound_context_joins_our_lines_and_a_librarys_until_it_is_left() -> None:
    out = io.StringIO()
    configure_logging("info", json=True, stream=out)
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        get_logger("smc_agent.api.test").info("inside")
        logging.getLogger("somelib").warning("library line")
    get_logger("smc_agent.api.test").info("after")
    assert [(line["event"], line.get("request_id")) for line in _lines(out)] == [
        ("inside", "r-1"),
        ("library line", "r-1"),
        ("after", None),
    ]


def test_the_level_is_ours_and_libraries_show_warnings_only() -> None:
    out = io.StringIO()
    configure_logging("debug", json=True, stream=out)
    get_logger("smc_agent.engine.test").debug("ours, debug")
    library = logging.getLogger("a_library.module")  # one that sets no level of its own
    library.info("theirs, info")
    library.warning("theirs, %s", "warning")
    assert [(line["event"], line["logger"]) for line in _lines(out)] == [
        ("ours, debug", "smc_agent.engine.test"),
        ("theirs, warning", "a_library.module"),
    ]


def test_configuring_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("info", json=True, stream=first)
    configure_logging("error", stream=second)
    log = get_logger("smc_agent.test")
    log.warning("below error")
    log.error("shown once", attempt=3)
    assert first.getvalue() == ""
    (text,) = second.getvalue().splitlines()  # console form: one line, not JSON
    for part in ("shown once", "attempt=3", "smc_agent.test"):
        assert part in text


def test_the_cli_options_configure_logging_and_leave_the_output_alone(
    shared_data_path: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--log-level/--log-json come before the command; its stdout is the same, and logs go to stderr."""
    source = str(shared_data_path("forex/EURUSD_15m_mt5.csv"))
    plain = CliRunner().invoke(app, ["data", "inspect", source])
    logged = CliRunner().invoke(app, ["--log-level", "DEBUG", "--log-json", "data", "inspect", source])
    assert plain.exit_code == logged.exit_code == 0
    assert logged.stdout == plain.stdout
    assert logged.stderr == ""
    get_logger("smc_agent.cli.test").debug("after the command", rows=3)
    line = json.loads(capsys.readouterr().err)
    assert (line["event"], line["level"], line["rows"]) == ("after the command", "debug", 3)


def test_an_unknown_level_is_a_usage_error() -> None:
    refused = CliRunner().invoke(app, ["--log-level", "loud", "bench", "--help"])
    assert refused.exit_code == 2
    assert "--log-level" in refused.stderr
