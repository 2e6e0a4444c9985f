"""The OpenAPI schema as the app answers: a 422 is ``{"detail": "<one readable sentence>"}`` (see
:func:`smc_agent.api.app.readable`), not FastAPI's list of error objects, so the schema says so.

schemathesis (tests/api/test_schemathesis.py) checks every answer against this schema; a client generated from it
then parses the 422s it gets.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["readable_errors"]

_DETAIL = {"title": "Detail", "type": "string", "description": "where each invalid field is and what is wrong"}
_READABLE = {"title": "HTTPValidationError", "type": "object", "required": ["detail"],
             "properties": {"detail": _DETAIL}}  # fmt: skip


def readable_errors(app: FastAPI) -> None:
    """Make ``app``'s schema describe its 422 answers as they are sent."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's own, built once and kept in app.openapi_schema
        schemas = schema.get("components", {}).get("schemas", {})
        if "HTTPValidationError" in schemas:
            schemas["HTTPValidationError"] = _READABLE
            schemas.pop("ValidationError", None)  # only the list it replaces referred to it
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
