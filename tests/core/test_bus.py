"""The event bus contract that the journal, the WebSocket hub and the notifiers will rely on.

Delivery is in subscription order; a subscription by type also receives the type's subclasses; an
event published during delivery waits until the current event has reached every subscriber
(breadth-first, so no subscriber sees a consequence before its cause); and a failing handler's
exception leaves the outermost ``publish``, the events still queued are dropped, and the bus works on.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smc_agent.core.bus import EventBus


class Fill:
    pass


class PartialFill(Fill):
    pass


class Cancel:
    pass


def _recorder(log: list[tuple[str, object]], name: str) -> Callable[[object], None]:
    return lambda event: log.append((name, event))


def test_subscribers_receive_each_event_in_subscription_order() -> None:
    bus, log = EventBus(), []
    for name in ("journal", "hub", "notifier"):
        bus.subscribe(_recorder(log, name))
    bus.publish("a")
    bus.publish("b")
    assert log == [
        ("journal", "a"), ("hub", "a"), ("notifier", "a"),
        ("journal", "b"), ("hub", "b"), ("notifier", "b"),
    ]  # fmt: skip


def test_a_typed_subscription_receives_the_type_and_its_subclasses_only() -> None:
    bus, log = EventBus(), []
    bus.subscribe(_recorder(log, "fills"), Fill)
    bus.subscribe(_recorder(log, "all"))
    fill, partial, cancel = Fill(), PartialFill(), Cancel()
    for event in (fill, partial, cancel, "text"):
        bus.publish(event)
    assert log == [
        ("fills", fill), ("all", fill),
        ("fills", partial), ("all", partial),
        ("all", cancel),
        ("all", "text"),
    ]  # fmt: skip


def test_a_later_subscriber_receives_the_later_events_of_a_type_already_seen() -> None:
    bus, log = EventBus(), []
    bus.subscribe(_recorder(log, "first"), Fill)
    early, late = Fill(), PartialFill()
    bus.publish(early)
    bus.subscribe(_recorder(log, "second"), Fill)
    bus.publish(late)
    assert log == [("first", early), ("first", late), ("second", late)]


def test_nested_publishes_are_delivered_breadth_first() -> None:
    """Two levels of nesting: every event reaches both subscribers before the next one starts.

    A answers ``root`` with ``a1`` and ``a2``, and ``a1`` with ``a1.1``; B answers ``root`` with
    ``b1``, and ``b1`` with ``b1.1``. Each answer waits behind what was already queued.
    """
    bus, log = EventBus(), []
    answers = {("A", "root"): ["a1", "a2"], ("A", "a1"): ["a1.1"], ("B", "root"): ["b1"], ("B", "b1"): ["b1.1"]}

    def subscriber(name: str) -> Callable[[object], None]:
        def handle(event: object) -> None:
            log.append((name, event))
            for answer in answers.get((name, str(event)), []):
                bus.publish(answer)

        return handle

    bus.subscribe(subscriber("A"))
    bus.subscribe(subscriber("B"))
    bus.publish("root")  # returns only once everything it caused has been delivered
    order = ["root", "a1", "a2", "b1", "a1.1", "b1.1"]
    assert log == [(name, event) for event in order for name in ("A", "B")]


def test_a_failing_handler_raises_from_the_outermost_publish_and_drops_the_queue() -> None:
    bus, log, returned = EventBus(), [], []

    def cause(event: object) -> None:
        log.append(("cause", event))
        if event == "root":
            bus.publish("p1")  # only queued: the failure below does not surface here
            bus.publish("p2")
            returned.append(event)

    def fail_on_p1(event: object) -> None:
        log.append(("failing", event))
        if event == "p1":
            raise RuntimeError("journal is full")

    bus.subscribe(cause)
    bus.subscribe(fail_on_p1)
    bus.subscribe(_recorder(log, "last"))
    with pytest.raises(RuntimeError, match="journal is full"):
        bus.publish("root")
    assert returned == ["root"]
    # p1 stopped at the failing handler, and p2, still queued, was never delivered.
    assert log == [("cause", "root"), ("failing", "root"), ("last", "root"), ("cause", "p1"), ("failing", "p1")]

    log.clear()
    bus.publish("after")  # the bus works on, with nothing left over from the failed delivery
    assert log == [("cause", "after"), ("failing", "after"), ("last", "after")]


def test_a_failure_in_the_first_event_stops_it_at_the_failing_handler() -> None:
    bus, log = EventBus(), []

    def cause_then_fail(event: object) -> None:
        log.append(("failing", event))
        if event == "root":
            bus.publish("consequence")
            raise ValueError("bad event")

    bus.subscribe(cause_then_fail)
    bus.subscribe(_recorder(log, "last"))
    with pytest.raises(ValueError, match="bad event"):
        bus.publish("root")
    assert log == [("failing", "root")]
    bus.publish("next")
    assert log == [("failing", "root"), ("failing", "next"), ("last", "next")]
