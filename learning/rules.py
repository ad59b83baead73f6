"""Loihi sum-of-products learning rules: the rule language and its integer form.

A rule for ``dw`` (weight), ``dd`` (delay) or ``dt`` (tag) is a sum of
products in Lava's syntax, e.g. ``"2^-2*x1*y0 - 2^-2*y1*x0"``. Every product
has exactly one dependency (``x0``: a presynaptic spike in the epoch, ``y0``:
a postsynaptic spike, ``u<k>``: every 2**k epochs), factors among the traces
``x1 x2 y1 y2 y3``, the synaptic variables ``w d t``, ``(var + c)``,
``(var - c)``, ``sgn(var + c)``, and one scale ``m*2^e`` with m in [-8, 7] and
e in [-7, 8] (integer literals multiply into m; ``2^e`` literals add to e).
A further ``x0`` or ``y0`` in a product is a factor (0 or 1), as in Lava.

Parsing is the only place where this module computes with anything but
integers: trace time constants become 12-bit decays here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from neurochip.learning.widths import (
    CONST_BITS,
    FACTOR_WIDTH,
    IMPULSE_FRAC_BITS,
    PRODUCT_BITS,
    SCALE_EXP_MAX,
    SCALE_EXP_MIN,
    SCALE_MANT_MAX,
    SCALE_MANT_MIN,
    T_EPOCH_MAX,
    T_EPOCH_MIN,
    TRACE_DECAY_BITS,
    TRACE_MAX,
)

from neurochip.errors import ValidationError

TRACES = ("x1", "x2", "y1", "y2", "y3")
SYNAPTIC_VARIABLES = ("w", "d", "t")
TARGETS = {"dw": "w", "dd": "d", "dt": "t"}
SCALE_MANT_BITS = 4
FORM = (
    "a term is one dependency (x0, y0 or u<k>) times factors among x1 x2 y1 y2 y3 w d t, "
    "(var + c), (var - c), sgn(var + c), and one scale m*2^e with m in [-8, 7], e in [-7, 8]"
)


class RuleError(ValidationError):
    """A learning rule string that breaks the rule language."""


@dataclass(frozen=True)
class Factor:
    var: str  # x0 y0 x1 x2 y1 y2 y3 w d t
    const: int = 0
    sgn: bool = False

    @property
    def width(self) -> int:
        return FACTOR_WIDTH["sgn"] if self.sgn else FACTOR_WIDTH[self.var]

    def __str__(self) -> str:
        sign = "+" if self.const > 0 else "-"
        inner = f"{self.var} {sign} {abs(self.const)}" if self.const else self.var
        if self.sgn:
            return f"sgn({inner})"
        return f"({inner})" if self.const else inner


@dataclass(frozen=True)
class Product:
    dependency: str  # "x0", "y0" or "u"
    u_exp: int  # k of u<k>; 0 unless dependency == "u"
    mantissa: int
    exponent: int
    factors: tuple[Factor, ...]
    text: str

    @property
    def shift(self) -> int:
        """Low bits dropped so that factors times mantissa fit the product datapath."""
        return max(0, sum(f.width for f in self.factors) + SCALE_MANT_BITS - PRODUCT_BITS)

    def __str__(self) -> str:
        dep = f"u{self.u_exp}" if self.dependency == "u" else self.dependency
        return "*".join([f"{self.mantissa}*2^{self.exponent}", dep, *map(str, self.factors)])


@dataclass(frozen=True)
class SumOfProducts:
    target: str  # "dw", "dd" or "dt"
    products: tuple[Product, ...]
    text: str

    @property
    def variable(self) -> str:
        return TARGETS[self.target]


_TOKEN = re.compile(r"\s*(?:(?P<num>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*^()]))")


def _tokens(target: str, text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise RuleError(
                f"{target} rule {text!r}: cannot read {text[pos:].strip()!r} at position {pos}; {FORM}"
            )
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, target: str, text: str):
        self.target, self.text = target, text
        self.toks = _tokens(target, text)
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None, len(self.text))

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            want = f"{value!r}" if value else "more input"
            raise self.error(f"expected {want} at position {tok[2]}")
        self.i += 1
        return tok

    def error(self, why: str, term: str | None = None) -> RuleError:
        where = f" in term {term!r}" if term else ""
        return RuleError(f"{self.target} rule {self.text!r}{where}: {why}; {FORM}")

    def rule(self) -> list[tuple[int, list, str]]:
        terms = []
        sign = 1
        if self.peek()[1] in "+-" and self.peek()[0] == "op":
            sign = -1 if self.take()[1] == "-" else 1
        while True:
            start = self.peek()[2]
            factors = self.term()
            end = self.peek()[2]
            terms.append((sign, factors, self.text[start:end].strip()))
            tok = self.peek()
            if tok[0] is None:
                return terms
            if tok[1] not in ("+", "-"):
                raise self.error(f"unexpected {tok[1]!r} at position {tok[2]}")
            sign = -1 if self.take()[1] == "-" else 1
            while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":  # "a + -b", "a - -b"
                sign *= -1 if self.take()[1] == "-" else 1

    def term(self) -> list:
        items = [self.atom()]
        while self.peek()[1] == "*":
            self.take("*")
            items.append(self.atom())
        return items

    def signed_int(self) -> int:
        sign = 1
        if self.peek()[1] in ("+", "-"):
            sign = -1 if self.take()[1] == "-" else 1
        kind, val, pos = self.take()
        if kind != "num":
            raise self.error(f"expected an integer at position {pos}")
        return sign * int(val)

    def atom(self):
        kind, val, pos = self.take()
        if kind == "num":
            if self.peek()[1] == "^":
                self.take("^")
                if val != "2":
                    raise self.error(f"only powers of 2 are allowed, got {val}^ at position {pos}")
                return ("exp", self.signed_int())
            return ("mant", int(val))
        if kind == "name" and val == "sgn":
            self.take("(")
            var, const = self.var_and_const()
            self.take(")")
            return ("factor", Factor(var, const, sgn=True))
        if val == "(":
            var, const = self.var_and_const()
            self.take(")")
            return ("factor", Factor(var, const))
        if kind == "name":
            return ("name", val)
        raise self.error(f"unexpected {val!r} at position {pos}")

    def var_and_const(self) -> tuple[str, int]:
        kind, var, pos = self.take()
        if kind != "name" or var not in (*TRACES, *SYNAPTIC_VARIABLES, "x0", "y0"):
            raise self.error(f"{var!r} at position {pos} is not a trace or synaptic variable")
        const = 0
        if self.peek()[1] in ("+", "-"):
            sign = -1 if self.take()[1] == "-" else 1
            kind, num, npos = self.take()
            if kind != "num":
                raise self.error(f"expected an integer constant at position {npos}")
            const = sign * int(num)
        return var, const


def _normalise_scale(m: int, e: int) -> tuple[int, int]:
    while (m > SCALE_MANT_MAX or m < SCALE_MANT_MIN) and m % 2 == 0 and e < SCALE_EXP_MAX:
        m //= 2
        e += 1
    while m != 0 and m % 2 == 0 and e < SCALE_EXP_MIN:  # keep e in range when m allows
        m //= 2
        e += 1
    return m, e


def parse(target: str, text: str) -> SumOfProducts:
    """Parse the rule ``text`` for ``target`` (``"dw"``, ``"dd"`` or ``"dt"``)."""
    if target not in TARGETS:
        raise RuleError(f"rule target {target!r} is not one of {tuple(TARGETS)}")
    if not isinstance(text, str) or not text.strip():
        raise RuleError(f"{target} rule: expected a non-empty string, got {text!r}")
    p = _Parser(target, text)
    products = []
    lim = (1 << (CONST_BITS - 1)) - 1
    for sign, items, term in p.rule():
        m, e, dep, k, factors = sign, 0, None, 0, []
        for kind, val in items:
            if kind == "mant":
                m *= val
            elif kind == "exp":
                e += val
            elif kind == "factor":
                if not -lim - 1 <= val.const <= lim:
                    raise p.error(f"constant {val.const} is outside the 8-bit range [-128, 127]", term)
                if val.sgn and val.var not in SYNAPTIC_VARIABLES:
                    raise p.error(f"sgn() takes w, d or t, not {val.var}", term)
                factors.append(val)
            elif val in ("x0", "y0") or re.fullmatch(r"u\d", val):
                if dep is None:
                    dep, k = ("u", int(val[1])) if val[0] == "u" else (val, 0)
                elif val[0] == "u":
                    raise p.error(f"a second dependency {val} (one per term)", term)
                else:
                    factors.append(Factor(val))
            elif val in (*TRACES, *SYNAPTIC_VARIABLES):
                factors.append(Factor(val))
            else:
                raise p.error(f"unknown symbol {val!r}", term)
        if dep is None:
            raise p.error("no dependency (x0, y0 or u<k>)", term)
        m, e = _normalise_scale(m, e)
        if not SCALE_MANT_MIN <= m <= SCALE_MANT_MAX:
            raise p.error(f"scale mantissa {m} is outside [-8, 7] (after moving factors of 2 into e)", term)
        if not SCALE_EXP_MIN <= e <= SCALE_EXP_MAX:
            raise p.error(f"scale exponent {e} is outside [-7, 8]", term)
        products.append(Product(dep, k, m, e, tuple(factors), term))
    return SumOfProducts(target, tuple(products), text)


# --------------------------------------------------------------------- traces


@dataclass(frozen=True)
class TraceConfig:
    """A trace's impulse (integer + 7-bit fraction) and 12-bit decay."""

    impulse_int: int
    impulse_frac: int
    decay: int  # per step: x <- x * (4096 - decay) >> 12, rounded stochastically

    @property
    def impulse(self) -> float:
        return self.impulse_int + self.impulse_frac / (1 << IMPULSE_FRAC_BITS)

    @property
    def kept(self) -> int:
        return (1 << TRACE_DECAY_BITS) - self.decay


def trace_config(name: str, impulse: float, tau: float) -> TraceConfig:
    """Discretise an impulse and a time constant (in steps; inf = no decay)."""
    impulse, tau = float(impulse), float(tau)
    scale = 1 << IMPULSE_FRAC_BITS
    if not 0 <= impulse <= TRACE_MAX + (scale - 1) / scale:
        raise ValidationError(f"LearningRule.{name}_impulse: {impulse} is out of range [0, 127.9921875]")
    if not tau > 0:
        raise ValidationError(f"LearningRule.{name}_tau: {tau} must be > 0 steps (inf: no decay)")
    q = round(impulse * scale)
    unity = 1 << TRACE_DECAY_BITS
    decay = 0 if math.isinf(tau) else min(unity - 1, round(unity * -math.expm1(-1.0 / tau)))
    return TraceConfig(q // scale, q % scale, int(decay))


# ---------------------------------------------------------------------- rule


@dataclass
class LearningRule:
    """A Loihi learning rule: ``dw``/``dd``/``dt`` sums of products, traces, epoch.

    Parameters
    ----------
    dw, dd, dt : str, optional
        Rules for the weight, the synaptic delay and the tag (at least one).
    x1_impulse, x1_tau, ..., y3_impulse, y3_tau : float
        Trace impulse added on a spike (0 .. 127 + 127/128, kept to 1/128) and
        time constant in steps (``inf``: no decay); the decay per step is
        ``round(4096 * (1 - exp(-1/tau)))``. x traces belong to the presynaptic
        source, y traces to the postsynaptic compartment.
    t_epoch : int, [1, 63]
        Learning epoch in steps; rules apply at the end of each epoch.
    rounding : {"stochastic", "nearest"}
        How fractions are rounded (trace decays and impulses, the update). The
        stochastic mode draws from an integer generator keyed by seed, id and
        step; "nearest" (half up) is deterministic.
    """

    dw: str | None = None
    dd: str | None = None
    dt: str | None = None
    x1_impulse: float = 0.0
    x1_tau: float = math.inf
    x2_impulse: float = 0.0
    x2_tau: float = math.inf
    y1_impulse: float = 0.0
    y1_tau: float = math.inf
    y2_impulse: float = 0.0
    y2_tau: float = math.inf
    y3_impulse: float = 0.0
    y3_tau: float = math.inf
    t_epoch: int = 1
    rounding: str = "stochastic"
    sums: dict = field(init=False, repr=False)
    traces: dict = field(init=False, repr=False)

    def __post_init__(self):
        self.sums = {t: parse(t, getattr(self, t)) for t in TARGETS if getattr(self, t) is not None}
        if not self.sums:
            raise RuleError("LearningRule: give at least one of dw, dd, dt")
        if (
            isinstance(self.t_epoch, bool)
            or not isinstance(self.t_epoch, int)
            or not (T_EPOCH_MIN <= self.t_epoch <= T_EPOCH_MAX)
        ):
            raise ValidationError(f"LearningRule.t_epoch: {self.t_epoch!r} is out of range [1, 63]")
        if self.rounding not in ("stochastic", "nearest"):
            raise ValidationError(
                f"LearningRule.rounding: {self.rounding!r} is not 'stochastic' or 'nearest'"
            )
        ks = {p.u_exp for s in self.sums.values() for p in s.products if p.dependency == "u"}
        if len(ks) > 1:
            raise RuleError(
                f"LearningRule: u dependencies must share one k across dw, dd, dt; got u{sorted(ks)}"
            )
        self.traces = {
            n: trace_config(n, getattr(self, f"{n}_impulse"), getattr(self, f"{n}_tau")) for n in TRACES
        }

    @property
    def u_exp(self) -> int | None:
        ks = {p.u_exp for s in self.sums.values() for p in s.products if p.dependency == "u"}
        return ks.pop() if ks else None

    def to_registers(self) -> dict:
        """The rule as the hardware holds it: rule texts and integer trace registers."""
        return {
            "rules": {t: getattr(self, t) for t in TARGETS if getattr(self, t) is not None},
            "traces": {n: [c.impulse_int, c.impulse_frac, c.decay] for n, c in self.traces.items()},
            "t_epoch": self.t_epoch,
            "rounding": self.rounding,
        }

    @classmethod
    def from_registers(cls, regs: dict) -> LearningRule:
        rule = cls(**regs["rules"], t_epoch=int(regs["t_epoch"]), rounding=regs["rounding"])
        rule.traces = {n: TraceConfig(*map(int, v)) for n, v in regs["traces"].items()}
        return rule

    def used_traces(self) -> set[str]:
        return {f.var for s in self.sums.values() for p in s.products for f in p.factors if f.var in TRACES}


def scale_literal(value: float) -> str:
    """``m*2^e`` for the representable scale nearest to ``value`` (for building rules)."""
    if value == 0:
        return "0"
    best = None
    for e in range(SCALE_EXP_MIN, SCALE_EXP_MAX + 1):
        m = round(value / 2.0**e)
        if SCALE_MANT_MIN <= m <= SCALE_MANT_MAX and m != 0:
            err = abs(m * 2.0**e - value)
            if best is None or err <= best[0]:  # on a tie the smaller mantissa
                best = (err, m, e)
    if best is None:
        raise ValidationError(f"scale {value} is not representable as m*2^e with m in [-8, 7], e in [-7, 8]")
    return f"{best[1]}*2^{best[2]}"
