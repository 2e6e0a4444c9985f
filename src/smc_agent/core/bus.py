"""A synchronous event bus: every state change is published here, in order, to every subscriber.

Subscribers (the journal, the API's WebSocket hub, notifiers, metrics, tests) see events in the
order they happened. An event published while another is being delivered (a fill makes the portfolio
publish a position change) waits until the first has reached every subscriber, so no subscriber ever
sees a consequence before its cause. Delivery is synchronous and completes before the outermost
``publish`` returns, so a backtest stays deterministic; a subscriber that needs to be slow must queue
the event itself.

``seq`` counts the events delivered, in delivery order. With a ``stamp`` (the composition root
passes :func:`smc_agent.events.stamper`), each event is handed to subscribers as
``stamp(event, seq)``: the copy that carries its sequence number and session id, which is what the
journal stores and a WebSocket client resumes from. A failed delivery keeps its number (the
journal never saw it, so a gap shows where it was lost).

>>> bus = EventBus(); seen = []
>>> bus.subscribe(seen.append)
>>> bus.publish("x"); seen
['x']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

__all__ = ["EventBus", "Handler"]

Handler = Callable[[Any], None]


class EventBus:
    def __init__(self, stamp: Callable[[Any, int], Any] | None = None, *, seq: int = 0) -> None:
        self.seq = seq  # the number of the last event delivered; a resumed session starts after its journal
        self._stamp = stamp
        self._handlers: list[tuple[type | None, Handler]] = []
        self._by_type: dict[type, list[Handler]] = {}  # who receives each event type, in subscription order
        self._pending: deque[Any] = deque()
        self._delivering = False

    def subscribe(self, handler: Handler, kind: type | None = None) -> None:
        """Receive every event, or only events of ``kind`` (and its subclasses)."""
        self._handlers.append((kind, handler))
        self._by_type.clear()

    def publish(self, event: Any) -> None:
        if self._delivering:
            self._pending.append(event)  # the loop below delivers it, after the event being delivered now
            return
        self._delivering = True
        pending, stamp = self._pending, self._stamp
        try:
            while True:
                self.seq += 1
                if stamp is not None:
                    event = stamp(event, self.seq)
                receivers = self._by_type.get(type(event))
                for handler in self._receivers(type(event)) if receivers is None else receivers:
                    handler(event)
                if not pending:
                    return
                event = pending.popleft()
        except BaseException:
            pending.clear()  # a failed delivery drops what it would have caused
            raise
        finally:
            self._delivering = False

    def _receivers(self, event_type: type) -> list[Handler]:
        handlers = [h for kind, h in self._handlers if kind is None or issubclass(event_type, kind)]
        self._by_type[event_type] = handlers
        return handlers
