"""The one serialiser of events: JSON for people and the API, msgpack for the journal.

Every event is a tagged msgspec Struct (``"type": "OrderFilled"``), so a single decoder reads any of
them back as the class it was, with Decimals exact (written as strings), enums as their values and
the nested order, command or signal rebuilt as its own type. The journal, the WebSocket, the API and
notifications all go through these four functions, so an event means the same everywhere.

>>> from smc_agent.events import CandleClosed
>>> event = CandleClosed(60_000, 60_000, "EURUSD", "1m", 0, 1.1, 1.2, 1.0, 1.15, 3.0, seq=7, session_id="s")
>>> from_json(to_json(event)) == event, from_msgpack(to_msgpack(event)) == event
(True, True)
>>> to_json(event)[:40]
b'{"type":"CandleClosed","event_ms":60000,'
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from smc_agent.core.errors import SmcAgentError
from smc_agent.events import AnyEvent, Event

__all__ = ["from_json", "from_msgpack", "to_builtins", "to_json", "to_msgpack"]

_json_encoder = msgspec.json.Encoder(decimal_format="string")
_json_decoder = msgspec.json.Decoder(AnyEvent)
_pack_encoder = msgspec.msgpack.Encoder(decimal_format="string")
_pack_decoder = msgspec.msgpack.Decoder(AnyEvent)


def to_json(event: Event) -> bytes:
    return _json_encoder.encode(event)


def to_msgpack(event: Event) -> bytes:
    return _pack_encoder.encode(event)


def to_builtins(event: Event) -> dict[str, object]:
    """The event as plain dicts, lists, strings and numbers (what the API and WebSocket send)."""
    built = msgspec.to_builtins(event)
    assert isinstance(built, dict)
    return built


def from_json(data: bytes | str) -> Event:
    return _decoded(lambda: _json_decoder.decode(data))


def from_msgpack(data: bytes) -> Event:
    return _decoded(lambda: _pack_decoder.decode(data))


def _decoded(decode: Callable[[], object]) -> Event:
    try:
        event = decode()
    except msgspec.DecodeError as exc:
        raise SmcAgentError(f"not a journaled event: {exc}") from None
    assert isinstance(event, Event)
    return event
