"""A synchronous event bus: every state change is published here, in order, to every subscriber.

Subscribers (the journal, the API's WebSocket hub, notifiers, metrics, tests) see events in the
order they happened. Delivery is synchronous so a backtest stays deterministic; a subscriber that
needs to be slow must queue the event itself.

>>> bus = EventBus(); seen = []
>>> bus.subscribe(seen.append)
>>> bus.publish("x"); seen
['x']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EventBus", "Handler"]

Handler = Callable[[Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type | None, Handler]] = []

    def subscribe(self, handler: Handler, kind: type | None = None) -> None:
        """Receive every event, or only events of ``kind`` (and its subclasses)."""
        self._handlers.append((kind, handler))

    def publish(self, event: Any) -> None:
        for kind, handler in self._handlers:
            if kind is None or isinstance(event, kind):
                handler(event)
