"""schemathesis against the app's own OpenAPI schema, through the ASGI app with an admin key: for every operation,
generated requests (valid and not) never get a 500 nor an answer that breaks the schema. Bounded: at most 20
examples per operation and no deadline, so the whole run takes seconds.

The operations are walked in one test (each a Hypothesis run of its own strategy) rather than with
``schema.parametrize`` over a fixture: the app needs the per-test store, and the lazy fixture loader does not
work with this pytest.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from smc_agent.api import create_app, keys
from smc_agent.store import Store

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.timeout(60)
def test_no_server_error_and_every_answer_fits_the_schema(store: Store) -> None:
    admin = {"X-API-Key": keys.create_key(store, "admin", 1_000)[1]}
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(store))
    walked = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def fits(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=admin, checks=CHECKS)

        fits()
        walked.append(operation.label)
    assert len(walked) >= 12, walked  # every route of the schema, not an empty walk
