"""A fresh PostgreSQL database per test, on the test server; tests/conftest.py makes it the ``postgres_url``
fixture, and tests/store/conftest.py one side of ``store_url``."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

POSTGRES_VAR = "SMC_REQUIRE_POSTGRES"
POSTGRES_SERVER_VAR = "SMC_TEST_POSTGRES_URL"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _create(admin: Any, name: str, busy: type[Exception]) -> None:
    """CREATE DATABASE, tried again while another worker's CREATE holds the template database."""
    for attempt in range(20):
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            return
        except busy as exc:
            if "is being accessed by other users" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.2)


def postgres_database() -> Iterator[str]:
    """A fresh, empty database on the test server (``SMC_TEST_POSTGRES_URL``'s, by default
    127.0.0.1:5432), dropped afterwards; skips when no server answers, unless ``SMC_REQUIRE_POSTGRES=1``."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    server = sqlalchemy.engine.make_url(os.environ.get(POSTGRES_SERVER_VAR, POSTGRES_SERVER)).set(
        drivername="postgresql+psycopg", database="postgres"
    )
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    name = f"test_{uuid.uuid4().hex[:16]}"
    try:
        _create(admin, name, sqlalchemy.exc.OperationalError)
    except sqlalchemy.exc.OperationalError as exc:
        admin.dispose()
        reason = f"no PostgreSQL server at {server.render_as_string(hide_password=True)} ({exc.orig})"
        if os.environ.get(POSTGRES_VAR) == "1":
            pytest.fail(f"{reason}; {POSTGRES_VAR}=1 requires one", pytrace=False)
        pytest.skip(reason)
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
