"""How the detector kernels are compiled, and where the compiled code is cached.

The kernels never allocate, so they run without numba's reference counting (``_nrt=False``):
with it, every array handed to a helper costs an atomic increment and decrement per candle,
which made the loop ~10x slower. ``error_model="numpy"`` drops Python's zero-division checks.

``cache=True`` keeps compiled code on disk so only the first run compiles. Numba keys a cached
function on its own file only, so after an edit to a detector the fused loop in ``fused.py``
would keep running the old detector code. The cache therefore lives in a directory named by a
hash of every source file in this package (and the numba version): any edit gets fresh code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba as nb
from numba.core import config as numba_config

__all__ = ["CACHE_DIR", "kernel"]

F = TypeVar("F", bound=Callable[..., Any])


def _cache_dir() -> str:
    digest = hashlib.sha256(nb.__version__.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "smc-agent", "numba"
    )
    return os.path.join(base, digest.hexdigest()[:16])


CACHE_DIR = _cache_dir()
# ``_nrt`` is a numba option its type stubs do not list.
_OPTIONS: dict[str, Any] = {"cache": True, "_nrt": False, "error_model": "numpy"}


def kernel(fn: F) -> F:
    """Compile a detector step or loop for the fused kernel (cached in :data:`CACHE_DIR`)."""
    # Numba picks the cache location when the dispatcher is created; other numba users in the
    # process keep theirs.
    previous = getattr(numba_config, "CACHE_DIR", "")
    setattr(numba_config, "CACHE_DIR", CACHE_DIR)  # noqa: B010 - numba's config has no typed attribute
    try:
        compiled: F = nb.njit(**_OPTIONS)(fn)
        return compiled
    finally:
        setattr(numba_config, "CACHE_DIR", previous)  # noqa: B010
