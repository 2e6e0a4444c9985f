"""How the numba kernels (indicators and detectors) are compiled, and where the compiled code is cached.

The kernels never allocate, so they run without numba's reference counting (``_nrt=False``):
with it, every array handed to a helper costs an atomic increment and decrement per candle,
which made the loop ~10x slower. ``error_model="numpy"`` drops Python's zero-division checks.

``cache=True`` keeps compiled code on disk so only the first run compiles. Numba keys a cached
function on its own file only, and a kernel that calls another compiles the callee into itself:
after an edit to the ATR step, the detectors' fused loop would keep running the old ATR code. So
each package's cache lives in a directory named by a hash of every source file that its kernels
can compile in (and the numba version): any edit gets fresh code. :func:`compiler` makes such a
decorator; :data:`kernel` is this package's, keyed on this package alone, since indicators call
nothing above them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numba as nb
from numba.core import config as numba_config

__all__ = ["compiler", "kernel"]

F = TypeVar("F", bound=Callable[..., Any])

# ``_nrt`` is a numba option its type stubs do not list.
_OPTIONS: dict[str, Any] = {"cache": True, "_nrt": False, "error_model": "numpy"}


def compiler(*packages: Path) -> Callable[[F], F]:
    """A compile decorator whose disk cache is keyed on every ``*.py`` file in ``packages``."""
    cache_dir = _cache_dir(packages)

    def compile_kernel(fn: F) -> F:
        # Numba picks the cache location when the dispatcher is created; other numba users in the
        # process keep theirs.
        previous = getattr(numba_config, "CACHE_DIR", "")
        setattr(numba_config, "CACHE_DIR", cache_dir)  # noqa: B010 - numba's config has no typed attribute
        try:
            compiled: F = nb.njit(**_OPTIONS)(fn)
            return compiled
        finally:
            setattr(numba_config, "CACHE_DIR", previous)  # noqa: B010

    return compile_kernel


def _cache_dir(packages: tuple[Path, ...]) -> str:
    digest = hashlib.sha256(nb.__version__.encode())
    for package in packages:
        for source in sorted(package.glob("*.py")):
            digest.update(source.read_bytes())
    base = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "smc-agent", "numba"
    )
    return os.path.join(base, digest.hexdigest()[:16])


kernel = compiler(Path(__file__).parent)
"""Compile an indicator step or loop (cached under a hash of this package's sources)."""
