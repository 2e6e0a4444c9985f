"""A faster ``__init__`` for the frozen, slotted dataclasses that the trading core builds in bulk.

A frozen dataclass's generated ``__init__`` stores every field through ``object.__setattr__`` (its own
``__setattr__`` raises), which costs about 0.15 µs a field: 1.9 µs for a candle event, built a
million times in a backtest, and as much again for each order and fill event. :func:`fast_init`
replaces it with one that writes through the slots' member descriptors, about three times faster.
The class is otherwise untouched: still frozen (assignment raises ``FrozenInstanceError``), with the
same signature, defaults, ``__post_init__``, equality, hash, repr and pickling.

>>> from dataclasses import FrozenInstanceError, dataclass
>>> @fast_init
... @dataclass(frozen=True, slots=True)
... class Point:
...     x: int
...     y: int = 0
>>> p = Point(1); p, p == Point(1, 0)
(Point(x=1, y=0), True)
>>> try:
...     p.x = 2
... except FrozenInstanceError:
...     print("frozen")
frozen
"""

from __future__ import annotations

import inspect
from dataclasses import MISSING, fields
from typing import Any, TypeVar

__all__ = ["fast_init"]

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Give a ``@dataclass(frozen=True, slots=True)`` class the descriptor-writing ``__init__``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__}: fast_init needs a @dataclass(frozen=True, slots=True) class")
    namespace: dict[str, Any] = {}
    signature: list[str] = []
    body: list[str] = []
    keyword_only = False
    # The order dataclasses uses: positional fields first, then keyword-only ones.
    for f in sorted(fields(cls), key=lambda f: bool(f.kw_only)):  # type: ignore[arg-type]
        if not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: fast_init does not support init=False fields")
        if f.default_factory is not MISSING:
            raise TypeError(f"{cls.__name__}.{f.name}: fast_init does not support default_factory")
        if f.kw_only and not keyword_only:
            signature.append("*")
            keyword_only = True
        default = ""
        if f.default is not MISSING:
            namespace[f"_default_{f.name}"] = f.default
            default = f"=_default_{f.name}"
        signature.append(f"{f.name}{default}")
        namespace[f"_set_{f.name}"] = inspect.getattr_static(cls, f.name).__set__
        body.append(f"    _set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
