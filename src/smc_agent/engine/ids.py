"""Client order ids that every exchange accepts, derived from what the order is for.

Exchanges limit client order ids: Binance to 36 characters, OKX to 32 letters and digits. Ours are
at most 22 letters and digits: a 16-hex-digit hash of the key (the signal id, or a flatten's symbol
and time) followed by the leg (``e`` entry, ``s1`` first stop, ``t1`` first take-profit, ``f`` a
flatten ...). Deriving them instead of counting makes a retried submission after a restart carry the
same id, so the venue refuses it as a duplicate instead of making a second trade. The mapping from an
id back to its signal is journaled: :class:`~smc_agent.events.EntryAccepted` names the entry's id and
its command, and every leg's order names its entry as ``parent``.

>>> order_id("EURUSD:15m:sweep_choch_ob:buy:2023-01-19T05:45:00Z", "e")
'083722a451a08ccae'
>>> len(order_id("x" * 200, "s12")) <= 32 and order_id("x", "t1").isalnum()
True
"""

from __future__ import annotations

import hashlib

__all__ = ["MAX_ID_LENGTH", "order_id"]

MAX_ID_LENGTH = 32  # the strictest venue we know of (OKX)


def order_id(key: str, leg: str) -> str:
    """A short, deterministic, alphanumeric client order id for ``leg`` of what ``key`` names."""
    if not leg.isalnum() or len(leg) > MAX_ID_LENGTH - 16:
        raise ValueError(f"an order leg is a few letters and digits, got {leg!r}")
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest() + leg
