"""The agent's Prometheus metrics, in the process's default registry (the API's ``/metrics`` serves it).

Only what the agent itself knows lives here: each feed's health (an enum per feed, so a dashboard shows
which state it is in and an alert fires on ``down``) and its changes of state.
"""

from __future__ import annotations

from prometheus_client import Counter, Enum

from smc_agent.feeds import FeedHealth

__all__ = ["FEED_CHANGES", "FEED_STATE", "feed_changed"]

FEED_STATE = Enum("smc_agent_feed_state", "Each live feed's health", ["feed"], states=[h.value for h in FeedHealth])
FEED_CHANGES = Counter("smc_agent_feed_changes", "Changes of a live feed's health", ["feed", "health"])


def feed_changed(feed: str, health: FeedHealth) -> None:
    FEED_STATE.labels(feed=feed).state(health.value)
    FEED_CHANGES.labels(feed=feed, health=health.value).inc()
