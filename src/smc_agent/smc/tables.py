"""Record tables that the detector kernels write, and the rule that makes look-ahead testable.

A detected object is one row: integer columns (indices, enums) and float columns (prices). A row
never changes after it is written, except its *state-change columns*: each holds -1 until the
event happens (mitigated, filled, swept, superseded ...) and is then set once to the index of the
candle at whose close it happened. So the state of any object "as known at candle k" is exact and
mechanical: keep rows with ``confirmed_index < k`` and reset state changes at or after ``k`` to -1.
That is what :meth:`ObjectTable.as_of` does, and what the no-look-ahead tests compare against.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from smc_agent.smc.jit import kernel

__all__ = ["ObjectTable", "Schema", "new_row", "slist_insert", "slist_probe", "slist_remove"]


@dataclass(frozen=True, slots=True)
class Schema:
    """Column layout of one kind of detected object.

    ``events`` names the int columns that are state changes; ``per_candle`` bounds how many rows
    one candle can add, so the engine can reserve room before each kernel call.
    """

    name: str
    ints: tuple[str, ...]
    floats: tuple[str, ...]
    events: tuple[str, ...]
    per_candle: int

    def __post_init__(self) -> None:
        for required in ("formed_index", "confirmed_index"):
            if required not in self.ints:
                raise ValueError(f"schema {self.name} lacks {required}")
        unknown = set(self.events) - set(self.ints)
        if unknown:
            raise ValueError(f"schema {self.name}: event columns {sorted(unknown)} are not int columns")

    def empty(self, capacity: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
        """Uninitialised storage; :func:`new_row` initialises each row as the kernel adds it, so
        capacity that is never used is never touched (and costs no resident memory)."""
        return np.empty((capacity, len(self.ints)), dtype=np.int32), np.empty((capacity, len(self.floats)))


@dataclass(frozen=True, slots=True, eq=False)
class ObjectTable:
    """The rows of one object kind, as returned to callers (copies, safe to keep)."""

    schema: Schema
    ints: npt.NDArray[np.int32]
    floats: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ints.shape[0])

    def col(self, name: str) -> npt.NDArray[Any]:
        """One column by name, int or float."""
        if name in self.schema.ints:
            return self.ints[:, self.schema.ints.index(name)]
        if name in self.schema.floats:
            return self.floats[:, self.schema.floats.index(name)]
        raise KeyError(f"{self.schema.name} has no column {name!r}")

    def as_of(self, k: int) -> ObjectTable:
        """The table as it was known at the close of candle ``k - 1`` (i.e. after ``k`` candles)."""
        keep = self.col("confirmed_index") < k
        ints = self.ints[keep].copy()
        for name in self.schema.events:
            column = ints[:, self.schema.ints.index(name)]
            column[column >= k] = -1
        return ObjectTable(self.schema, ints, self.floats[keep].copy())

    def where(self, mask: npt.NDArray[np.bool_]) -> ObjectTable:
        """The rows selected by a boolean mask."""
        return ObjectTable(self.schema, self.ints[mask], self.floats[mask])

    def rows(self) -> Iterator[dict[str, Any]]:
        """Each row as a dict of Python ints and floats (for JSON and reports)."""
        int_names, float_names = self.schema.ints, self.schema.floats
        for ints, floats in zip(self.ints.tolist(), self.floats.tolist(), strict=True):
            row: dict[str, Any] = dict(zip(int_names, ints, strict=True))
            row.update(zip(float_names, floats, strict=True))
            yield row

    def equals(self, other: ObjectTable) -> bool:
        """Exact equality, NaN equal to NaN (detectors are deterministic, so no tolerance)."""
        return (
            self.schema == other.schema
            and np.array_equal(self.ints, other.ints)
            and np.array_equal(self.floats, other.floats, equal_nan=True)
        )


@kernel
def new_row(
    ints: npt.NDArray[np.int32], floats: npt.NDArray[np.float64], counts: npt.NDArray[np.int64], table: int
) -> int:
    """Append a row with every state change still to come (-1) and no prices yet (NaN)."""
    row = int(counts[table])
    counts[table] = row + 1
    ints[row, :] = -1
    floats[row, :] = np.nan
    return row


# Tracked objects live in *sorted lists* inside the kernels' state: int slot ``base`` holds the
# length, the next ``cap`` int slots the rows, and float slots ``fbase ...`` their trigger keys,
# sorted descending. A list is "down" (a candle affects a row when its low <= the row's key, e.g.
# a bullish gap's top) or "up" (when its high >= the key; stored negated so one order serves both).
# A candle then walks only the prefix it can touch instead of every tracked object.


@kernel
def slist_probe(up: bool, high: float, low: float) -> float:
    """The value to compare stored keys against: rows with key >= probe are affected."""
    return -high if up else low


@kernel
def slist_insert(
    state_i: npt.NDArray[np.int64],
    state_f: npt.NDArray[np.float64],
    base: int,
    fbase: int,
    cap: int,
    row: int,
    key: float,
    up: bool,
) -> int:
    """Insert a row by key; when full, drop the oldest row (lowest number) and return it, else -1."""
    evicted = -1
    if state_i[base] == cap:
        oldest = 0
        for j in range(1, cap):
            if state_i[base + 1 + j] < state_i[base + 1 + oldest]:
                oldest = j
        evicted = state_i[base + 1 + oldest]
        slist_remove(state_i, state_f, base, fbase, oldest)
    stored = -key if up else key
    j = state_i[base]
    while j > 0 and state_f[fbase + j - 1] < stored:
        state_i[base + 1 + j] = state_i[base + j]
        state_f[fbase + j] = state_f[fbase + j - 1]
        j -= 1
    state_i[base + 1 + j] = row
    state_f[fbase + j] = stored
    state_i[base] += 1
    return evicted


@kernel
def slist_remove(
    state_i: npt.NDArray[np.int64], state_f: npt.NDArray[np.float64], base: int, fbase: int, pos: int
) -> None:
    """Remove the entry at ``pos``, keeping the order of the rest."""
    n = state_i[base]
    for j in range(pos, n - 1):
        state_i[base + 1 + j] = state_i[base + 2 + j]
        state_f[fbase + j] = state_f[fbase + j + 1]
    state_i[base] = n - 1
