"""Where the real market data lives: tests, benchmarks and demos read it, and it is never committed.

``SMC_SHARED_DATA`` wins; otherwise it is ``../shared/data`` beside the project root (the checkout
that holds ``pyproject.toml`` when the package runs from source), or, for an installed package that
has no project root, ``../shared/data`` relative to the working directory.

>>> shared_data_dir().name
'data'
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "project_root", "shared_data_dir"]

ENV_VAR = "SMC_SHARED_DATA"


def project_root() -> Path | None:
    """The source checkout this package runs from (src layout), or None when it is installed."""
    here = Path(__file__).resolve()
    root = here.parents[3]
    if here.parents[2].name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


def shared_data_dir() -> Path:
    """The directory of the real data (it may not exist; callers decide whether to skip or fail)."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    root = project_root()
    return ((root if root is not None else Path.cwd()) / ".." / "shared" / "data").resolve()
