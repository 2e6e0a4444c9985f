"""How the detector kernels are compiled.

The kernels never allocate, so they run without numba's reference counting (``_nrt=False``):
with it, every array handed to a helper costs an atomic increment and decrement per candle,
which made the loop ~10x slower. ``error_model="numpy"`` drops Python's zero-division checks,
and ``cache=True`` keeps the compiled code on disk so only the first run ever compiles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba as nb

__all__ = ["kernel"]

F = TypeVar("F", bound=Callable[..., Any])


def kernel(fn: F) -> F:
    """Compile a detector step or loop for the fused kernel."""
    return nb.njit(cache=True, _nrt=False, error_model="numpy")(fn)  # type: ignore[no-any-return]
