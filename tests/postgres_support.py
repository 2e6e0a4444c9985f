"""A fresh PostgreSQL database per test, on the test server; tests/conftest.py makes it the ``postgres_url``
fixture, and tests/store/conftest.py one side of ``store_url``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_VAR = "SMC_REQUIRE_POSTGRES"
POSTGRES_SERVER_VAR = "SMC_TEST_POSTGRES_URL"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


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
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
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
