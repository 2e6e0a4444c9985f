"""The API's routes, one small module per group; :mod:`smc_agent.api.app` mounts them."""
