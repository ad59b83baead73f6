"""The compartment update of DESIGN.md section 5 as Brian2 code, and its integer functions.

One place holds the equations the Brian2 backend runs. Brian2 code strings
have no shift or bitwise operators, and integer ``//`` and ``%`` compile with
Python semantics in the cython target (slow), so the three integer primitives
are Brian2 ``Function``s with per-target code: branch-free C for cython and C++
for cpp_standalone (real shifts and masks, inlined) and the numpy definitions
of :mod:`neurochip.cores.fixedpoint` for the numpy target.
"""

from __future__ import annotations

import numpy as np
from neurochip.cores import fixedpoint as fp

# Names the generated code uses; fixed so that Brian2's Cython cache is reused.
DECAY = "nc_decay"
WRAP = "nc_wrap"
CLAMP = "nc_clamp"

CYTHON = {
    DECAY: f"""
cdef inline int64_t {DECAY}(int32_t x, int32_t kept) noexcept nogil:
    # sign(x) * ((|x| * kept) >> 12), branch-free: s is 0 or -1. The arguments
    # are 32-bit (|x| < 2**25, kept <= 4096) so the widening multiply vectorises.
    cdef int64_t p = (<int64_t>x) * kept
    cdef int64_t s = p >> 63
    return ((((p ^ s) - s) >> {fp.DECAY_BITS}) ^ s) - s
""",
    WRAP: f"""
cdef inline int64_t {WRAP}(int64_t x, int64_t bits) noexcept nogil:
    # two's-complement wrap into [-2**(bits-1), 2**(bits-1) - 1]
    cdef uint64_t h = (<uint64_t>1) << (bits - 1)
    return <int64_t>(((<uint64_t>x + h) & (2 * h - 1)) - h)
""",
    CLAMP: f"""
cdef inline int64_t {CLAMP}(int64_t x, int64_t lo, int64_t hi) noexcept nogil:
    return lo if x < lo else (hi if x > hi else x)
""",
}


# The same functions in C++ for the cpp_standalone device (real shifts and masks;
# >> of a negative int64 is arithmetic in GCC and Clang, and defined from C++20).
CPP = {
    DECAY: f"""
static inline int64_t {DECAY}(const int32_t x, const int32_t kept) {{
    const int64_t p = (int64_t)x * kept;
    const int64_t s = p >> 63;
    return ((((p ^ s) - s) >> {fp.DECAY_BITS}) ^ s) - s;
}}
""",
    WRAP: f"""
static inline int64_t {WRAP}(const int64_t x, const int64_t bits) {{
    const uint64_t h = (uint64_t)1 << (bits - 1);
    return (int64_t)((((uint64_t)x + h) & (2 * h - 1)) - h);
}}
""",
    CLAMP: f"""
static inline int64_t {CLAMP}(const int64_t x, const int64_t lo, const int64_t hi) {{
    return x < lo ? lo : (x > hi ? hi : x);
}}
""",
}


def _np_decay(x, kept):
    return fp.rtz_decay(x, fp.DECAY_UNITY - np.asarray(kept, np.int64))


NUMPY = {DECAY: _np_decay, WRAP: fp.wrap_signed, CLAMP: fp.clamp}
N_ARGS = {DECAY: 2, WRAP: 2, CLAMP: 3}

# Per-compartment registers the update reads (derived once from the program):
#   ku, kv  4096 minus the effective decays (du + ds_offset, dv + dm_offset)
#   bias    bias_mant * 2**bias_exp;  vth = vth_mant * 2**6
#   vmin, vmax  the core's voltage bounds;  ref = refractory register
REGISTER_VARIABLES = ("ku", "kv", "bias", "vth", "vmin", "vmax", "ref")
STATE_VARIABLES = ("q", "u", "v", "c", "nspk")


def update_code(refractory: bool) -> str:
    """The per-step update; without any refractory compartment the counter c is left out."""
    hold = " * int(c <= 0)\nc = c - int(c > 0)" if refractory else ""
    return (
        f"u = {WRAP}({DECAY}(u, ku) + {WRAP}(q, {fp.Q_BITS}), {fp.U_BITS})\n"
        f"v = {CLAMP}({DECAY}(v, kv) + u + bias, vmin, vmax){hold}\n"
        "q = 0"
    )


def reset_code(refractory: bool) -> str:
    """On a spike: v <- 0, count it, and load the refractory counter."""
    return "v = 0\nnspk += 1" + ("\nc = ref - 1" if refractory else "")


THRESHOLD = "v > vth"
ON_PRE = "q_post += w"


def brian2_functions() -> dict:
    """The Brian2 ``Function`` objects the update uses, keyed by name."""
    from brian2 import Function

    funcs = {}
    for name, pyfunc in NUMPY.items():
        f = Function(
            pyfunc,
            arg_units=[1] * N_ARGS[name],
            return_unit=1,
            arg_types=["integer"] * N_ARGS[name],
            return_type="integer",
            stateless=True,
        )
        f.implementations.add_implementation("cython", CYTHON[name], name=name)
        f.implementations.add_implementation("cpp", CPP[name], name=name)
        funcs[name] = f
    return funcs


def register_values(regs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Values of :data:`REGISTER_VARIABLES` per compartment from hardware registers."""
    return {
        "ku": fp.DECAY_UNITY - (regs["du"] + regs["ds_offset"]),
        "kv": fp.DECAY_UNITY - (regs["dv"] + regs["dm_offset"]),
        "bias": fp.bias_value(regs["bias_mant"], regs["bias_exp"]),
        "vth": fp.threshold_value(regs["vth_mant"]),
        "vmin": fp.vmin_from_exp(regs["vmin_exp"]),
        "vmax": fp.vmax_from_exp(regs["vmax_exp"]),
        "ref": np.asarray(regs["refractory"], np.int64),
    }
