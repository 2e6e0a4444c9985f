"""The REST API over the store (``smc-agent serve``): :func:`create_app`, its credentials (:mod:`.keys`, :mod:`.auth`)
and its routes (:mod:`.routes`); docs/api.md shows how to call it."""

from smc_agent.api.app import create_app

__all__ = ["create_app"]
