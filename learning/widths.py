"""Bit widths of the Loihi 1 learning engine (Davies et al. 2018; Lava's learning constants).

This module owns every number of the learning datapath; the rule compiler,
the engine and the tests import them from here.
"""

TRACE_BITS = 7  # x1, x2, y1, y2, y3 in [0, 127]
TRACE_MAX = (1 << TRACE_BITS) - 1
IMPULSE_FRAC_BITS = 7  # impulses are integer + 7-bit fraction
TRACE_DECAY_BITS = 12  # traces decay like compartments: x * (4096 - d) >> 12
CONST_BITS = 8  # additive constants in (var + c), sgn(var + c): [-128, 127]
SCALE_MANT_MIN, SCALE_MANT_MAX = -8, 7  # 4-bit scale mantissa
SCALE_EXP_MIN, SCALE_EXP_MAX = -7, 8
ACC_BITS = 16  # learning accumulator, signed
ACC_FRAC_BITS = 7  # ... with 7 fraction bits: a synaptic variable v enters as v << 7
ACC_MIN, ACC_MAX = -(1 << (ACC_BITS - 1)), (1 << (ACC_BITS - 1)) - 1
# Products wider than the accumulator (factor widths + mantissa > 15 bits) drop
# their low bits to fit the datapath.
PRODUCT_BITS = ACC_BITS - 1
T_EPOCH_MIN, T_EPOCH_MAX = 1, 63

# Width of each factor in the product datapath (Lava's FACTOR_TO_WIDTH_DICT):
# a factor is saturated to [-2**width, 2**width - 1] before multiplying.
FACTOR_WIDTH = {
    "x0": 1,
    "y0": 1,
    "x1": TRACE_BITS,
    "x2": TRACE_BITS,
    "y1": TRACE_BITS,
    "y2": TRACE_BITS,
    "y3": TRACE_BITS,
    "w": 9,  # weight mantissa, 9-bit signed
    "d": 6,  # synaptic delay, 6-bit unsigned
    "t": 9,  # tag, 9-bit signed
    "sgn": 1,  # sgn(...) is -1, 0 or 1
}

# Ranges of the learnable synaptic variables (weights saturate to their sign mode
# and precision instead, see neurochip.cores.fixedpoint).
DELAY_MIN, DELAY_MAX = 0, 62
TAG_MIN, TAG_MAX = -256, 255
