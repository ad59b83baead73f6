"""Parameters that check themselves where they are set.

Errors read like ``Population 'exc'.vth_mant: 140000 is out of range [0, 131071]
(17-bit threshold mantissa)``: the object, the attribute, the value and the
allowed range.
"""

from __future__ import annotations

import numbers

import numpy as np

from neurochip.cores.fixedpoint import REGISTERS, Register
from neurochip.errors import ValidationError


def _fmt(x) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def as_int_array(label: str, attr: str, value, *, ndim: int | None = None) -> np.ndarray:
    """``value`` as an ``int64`` array, refusing non-integers with a clear error."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValidationError(f"{label}.{attr}: cannot read {value!r} as integers") from exc
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise ValidationError(f"{label}.{attr}: expected integers, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            idx = np.flatnonzero(bad.ravel())[0]
            where = f"[{idx}]" if arr.ndim else ""
            raise ValidationError(
                f"{label}.{attr}{where}: {_fmt(arr.ravel()[idx])} is not an integer "
                "(registers take integer values; see the float-unit constructors)"
            )
        if np.abs(arr).max(initial=0) >= 2**62:
            raise ValidationError(f"{label}.{attr}: values exceed the 64-bit integer range")
    arr = arr.astype(np.int64)
    if ndim is not None and arr.ndim != ndim:
        raise ValidationError(f"{label}.{attr}: expected {ndim} dimension(s), got shape {arr.shape}")
    return arr


def check_range(label: str, attr: str, arr: np.ndarray, low: int, high: int, meaning: str) -> None:
    bad = (arr < low) | (arr > high)
    if bad.any():
        idx = np.flatnonzero(bad.ravel())[0]
        where = f"[{idx}]" if arr.ndim else ""
        raise ValidationError(
            f"{label}.{attr}{where}: {_fmt(arr.ravel()[idx])} is out of range [{low}, {high}] ({meaning})"
        )


def check_register(
    label: str, attr: str, value, register: Register | str, size: int | None = None
) -> int | np.ndarray:
    """Check a register value: a scalar, or (when ``size`` is given) one per element.

    Returns a Python ``int`` for scalars and a read-only ``int64`` array otherwise.
    """
    reg = REGISTERS[register] if isinstance(register, str) else register
    arr = as_int_array(label, attr, value)
    if arr.ndim == 0:
        check_range(label, attr, arr, reg.low, reg.high, reg.meaning)
        return int(arr)
    if size is None:
        raise ValidationError(f"{label}.{attr}: must be a scalar, got shape {arr.shape}")
    if arr.shape != (size,):
        raise ValidationError(f"{label}.{attr}: expected a scalar or shape ({size},), got {arr.shape}")
    check_range(label, attr, arr, reg.low, reg.high, reg.meaning)
    arr.setflags(write=False)
    return arr


def check_count(label: str, attr: str, value, low: int = 1, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValidationError(f"{label}.{attr}: expected an integer, got {value!r}")
    hi = np.iinfo(np.int32).max if high is None else high
    check_range(label, attr, np.asarray(int(value)), low, hi, "count")
    return int(value)


def check_choice(label: str, attr: str, value, choices) -> str:
    if value not in choices:
        raise ValidationError(f"{label}.{attr}: {value!r} is not one of {tuple(choices)}")
    return value


def check_name(label: str, value) -> str:
    if not isinstance(value, str) or not value or "/" in value:
        raise ValidationError(f"{label}.name: {value!r} must be a non-empty string without '/'")
    return value


class Param:
    """An attribute validated on every assignment (the owner has a ``label``)."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return obj.__dict__[self.name]

    def __set__(self, obj, value):
        obj.__dict__[self.name] = self.check(obj, value)

    def check(self, obj, value):
        raise NotImplementedError


class RegisterParam(Param):
    """A hardware register attribute.

    ``per_neuron=True`` allows one value per compartment (an array of the
    owner's size ``n``) where the hardware has per-compartment values.
    """

    def __init__(self, register: str | None = None, per_neuron: bool = True):
        self.register = register
        self.per_neuron = per_neuron

    def __set_name__(self, owner, name):
        super().__set_name__(owner, name)
        self.register = self.register or name

    def check(self, obj, value):
        size = obj.n if self.per_neuron else None
        return check_register(obj.label, self.name, value, self.register, size)


class CountParam(Param):
    """A positive integer, or None when ``optional``."""

    def __init__(self, optional: bool = False):
        self.optional = optional

    def check(self, obj, value):
        if value is None and self.optional:
            return None
        return check_count(obj.label, self.name, value)


class ChoiceParam(Param):
    """One of a fixed set of strings, or None when ``optional``."""

    def __init__(self, choices, optional: bool = False):
        self.choices = tuple(choices)
        self.optional = optional

    def check(self, obj, value):
        if value is None and self.optional:
            return None
        return check_choice(obj.label, self.name, value, self.choices)
