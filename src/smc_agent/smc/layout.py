"""Slot numbers for the kernels' parameter and state arrays.

The fused kernel keeps all detector state in two flat arrays (int64 and float64) so that one
streaming update is a single compiled call with few arguments. Each detector owns a named block
of slots here; numba reads these module-level ints as compile-time constants.
"""

from __future__ import annotations

N_SCOPES = 2  # 0 = internal structure, 1 = swing structure
MAX_SESSIONS = 8  # sessions plus killzones that one config may define
N_PERIODS = 3  # day, week, month
CAL_STREAMS = N_PERIODS + MAX_SESSIONS

# Capacities of the active lists. An object pushed out of a full list gets ``expired_index``.
OB_CAP = 128
FVG_CAP = 128
POOL_CAP = 32
CANDIDATE_CAP = 32

# --- detector switches (bit mask in P_ENABLE) ---
EN_SWINGS = 1
EN_STRUCTURE = 2
EN_ORDER_BLOCKS = 4
EN_FVG = 8
EN_LIQUIDITY = 16
EN_RANGES = 32
EN_CALENDAR = 64

# --- int parameters ---
P_ATR_PERIOD = 0
P_LEFT = 1  # + scope * 2
P_RIGHT = 2  # + scope * 2
P_CLOSE_BREAK = 5
P_OB_MODE = 6
P_FVG_MODE = 7
P_FVG_JOIN = 8
P_LIQ_SCOPE = 9
P_LIQ_MIN_MEMBERS = 10
P_RANGE_SCOPE = 11
P_TF_MS = 12
P_N_SESSIONS = 13
P_N_KILLZONES = 14
P_ENABLE = 15
P_CAL_TZ = 16
N_PARAMS_I = 17

# --- float parameters ---
PF_FVG_MIN_ATR = 0
PF_LIQ_TOL_ATR = 1
N_PARAMS_F = 2

# --- mode values ---
OB_TOUCH, OB_HALF, OB_CLOSE = 0, 1, 2
FVG_ANY, FVG_ATR, FVG_AUTO = 0, 1, 2

# --- series columns (one row per candle) ---
SF_ATR, SF_PD_TOP, SF_PD_BOTTOM = 0, 1, 2
N_SF = 3
SI_TREND = 0  # + scope
SI_SESSIONS = 2  # bit s: in session s; bit 16 + k: in killzone k
N_SI = 3
KILLZONE_BIT = 16


def _blocks(sizes: dict[str, int]) -> dict[str, int]:
    base, out = 0, {}
    for name, size in sizes.items():
        out[name] = base
        base += size
    out["_total"] = base
    return out


MAX_ZONES = 1 + MAX_SESSIONS
# Sorted lists (see tables.py): ints = length + rows, floats = keys.
FVG_LISTS = 2  # 0: bullish gaps (down), 1: bearish gaps (up)
# 0: bullish blocks (down), 1: bearish (up), 2: failed bullish = breakers (up), 3: failed bearish (down)
OB_LISTS = 4
_LIST_I = {"fvg": 1 + FVG_CAP, "ob": 1 + OB_CAP, "pool": 1 + POOL_CAP, "cand": 1 + CANDIDATE_CAP}

_I = _blocks(
    {
        "swing": 3 * N_SCOPES,
        "struct": 5 * N_SCOPES,
        "fvg": 2,
        "fvg_lists": FVG_LISTS * _LIST_I["fvg"],
        "ob_lists": OB_LISTS * _LIST_I["ob"],
        "pools": 2 * _LIST_I["pool"],
        "cands": 2 * _LIST_I["cand"],
        "range": 1,
        "zones": MAX_ZONES,
        "calendar": 4,
        "cal": 6 * CAL_STREAMS,
    }
)
_F = _blocks(
    {
        "atr": 1,
        "swing": 2 * N_SCOPES,
        "fvg": 2,
        "fvg_keys": FVG_LISTS * FVG_CAP,
        "ob_keys": OB_LISTS * OB_CAP,
        "pool_keys": 2 * POOL_CAP,
        "cand_keys": 2 * CANDIDATE_CAP,
        "range": 2,
        "cal": 2 * CAL_STREAMS,
    }
)
N_STATE_I = _I["_total"]
N_STATE_F = _F["_total"]

SF_ATR_SUM = _F["atr"]

# swings, per scope (base + 3 * scope)
S_SW_LAST_KIND = _I["swing"]
S_SW_BEST_HIGH = _I["swing"] + 1
S_SW_BEST_LOW = _I["swing"] + 2
SF_SW_PREV_HIGH = _F["swing"]  # + 2 * scope
SF_SW_PREV_LOW = _F["swing"] + 1

# structure, per scope (base + 5 * scope)
S_ST_TOP = _I["struct"]
S_ST_TOP_CROSSED = _I["struct"] + 1
S_ST_BOTTOM = _I["struct"] + 2
S_ST_BOTTOM_CROSSED = _I["struct"] + 3
S_ST_TREND = _I["struct"] + 4

# fair value gaps: list k at S_FVG_LISTS + k * (1 + FVG_CAP), keys at SF_FVG_KEYS + k * FVG_CAP
S_FVG_LAST_BULL = _I["fvg"]
S_FVG_LAST_BEAR = _I["fvg"] + 1
S_FVG_LISTS = _I["fvg_lists"]
SF_FVG_KEYS = _F["fvg_keys"]
SF_FVG_BODY_SUM = _F["fvg"]
SF_FVG_BODY_N = _F["fvg"] + 1

# order blocks: list k at S_OB_LISTS + k * (1 + OB_CAP), keys at SF_OB_KEYS + k * OB_CAP
S_OB_LISTS = _I["ob_lists"]
SF_OB_KEYS = _F["ob_keys"]

# liquidity: side 0 = buy-side (highs, up lists), side 1 = sell-side (lows, down lists)
S_LQ_POOLS = _I["pools"]  # + side * (1 + POOL_CAP)
SF_LQ_POOL_KEYS = _F["pool_keys"]  # + side * POOL_CAP
S_LQ_CANDS = _I["cands"]  # + side * (1 + CANDIDATE_CAP)
SF_LQ_CAND_KEYS = _F["cand_keys"]  # + side * CANDIDATE_CAP

# dealing range
S_RG_ROW = _I["range"]
SF_RG_TOP = _F["range"]
SF_RG_BOTTOM = _F["range"] + 1

# calendar: the local day last seen in each zone (so a division happens once a day, not per
# candle), the calendar-zone week and month derived from it, and one block per stream
S_ZONE_DAY = _I["zones"]  # + zone slot
S_CAL_DAY_SEEN = _I["calendar"]
S_CAL_WEEK = _I["calendar"] + 1
S_CAL_MONTH = _I["calendar"] + 2
S_CAL_MONTH_END = _I["calendar"] + 3
S_CAL_KEY = _I["cal"]  # + 6 * stream
S_CAL_START = _I["cal"] + 1
S_CAL_HI_IDX = _I["cal"] + 2
S_CAL_LO_IDX = _I["cal"] + 3
S_CAL_EMITTED = _I["cal"] + 4
S_CAL_LAST_ROW = _I["cal"] + 5
SF_CAL_HI = _F["cal"]  # + 2 * stream
SF_CAL_LO = _F["cal"] + 1
