"""Spike encoders: images (values in [0, 1], one row per sample) to spike rasters.

Every encoder returns a boolean raster of shape ``(steps, samples, channels)``
whose entry ``[k, b, c]`` is a spike of channel ``c`` of sample ``b`` at step
``k + 1``. Randomness comes from the integer counter-based generator of the
learning engine, keyed by (seed, sample id, channel, step): a sample's spikes
do not depend on which batch it is presented in.

- :func:`rate`: each step a channel spikes with probability ``x * max_prob``
  (Bernoulli per step, Poisson-like), from 16-bit integer draws.
- :func:`latency`: time to first spike; one spike per channel at a step that
  falls linearly with the intensity (brightest first), none below ``threshold``.
- :func:`saccades` / :func:`events_to_raster`: an event-camera (DVS) conversion
  in the style of N-MNIST: the image is moved along three saccades (a triangle
  of ``amplitude`` pixels) in front of a sensor with a border; every pixel
  keeps a reference log intensity and emits ON (OFF) events while the log
  intensity has risen (fallen) by ``contrast`` since its last event. Events use
  tonic's dtype ``[('x', i2), ('y', i2), ('t', i8), ('p', bool)]`` with ``t``
  the step.
"""

from __future__ import annotations

import numpy as np
from neurochip.learning.rng import random_bits

from neurochip.errors import ValidationError
from neurochip.params import check_count

RATE_STREAM = 101
EVENT_DTYPE = np.dtype([("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "?")])


def _check_x(name, x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise ValidationError(f"{name}.x: expected (samples, features), got shape {x.shape}")
    if x.size and (np.nanmin(x) < 0 or np.nanmax(x) > 1 or np.isnan(x).any()):
        raise ValidationError(f"{name}.x: values must lie in [0, 1]")
    return x


def rate(x, steps: int, *, max_prob: float = 1.0, seed: int = 0, sample_ids=None) -> np.ndarray:
    """Bernoulli rate code: channel ``c`` of sample ``b`` spikes with probability ``x[b, c] * max_prob``.

    ``sample_ids`` (default ``0 .. samples-1``) key the random draws, so a
    sample gets the same spikes whatever batch it is in.
    """
    x = _check_x("rate", x)
    steps = check_count("rate", "steps", steps)
    if not 0 < max_prob <= 1:
        raise ValidationError(f"rate.max_prob: {max_prob} is not in (0, 1]")
    b, f = x.shape
    ids = np.arange(b, dtype=np.int64) if sample_ids is None else np.asarray(sample_ids, np.int64)
    if ids.shape != (b,):
        raise ValidationError(f"rate.sample_ids: expected {b} ids, got shape {ids.shape}")
    level = np.rint(x * max_prob * 65536).astype(np.int64)  # spike when a 16-bit draw is below
    keys = (ids[:, None] * f + np.arange(f)).ravel()
    out = np.empty((steps, b, f), dtype=bool)
    for k in range(steps):
        out[k] = (random_bits(seed, RATE_STREAM, 0, keys, k + 1, 16) < level.ravel()).reshape(b, f)
    return out


def latency(x, steps: int, *, threshold: float = 0.0) -> np.ndarray:
    """Time to first spike: intensity 1 spikes at step 1, intensity just above ``threshold`` at ``steps``."""
    x = _check_x("latency", x)
    steps = check_count("latency", "steps", steps)
    if not 0 <= threshold < 1:
        raise ValidationError(f"latency.threshold: {threshold} is not in [0, 1)")
    b, f = x.shape
    fires = x > threshold
    frac = (1 - x) / (1 - threshold)
    step = np.clip(np.floor(frac * steps).astype(np.int64), 0, steps - 1)
    out = np.zeros((steps, b, f), dtype=bool)
    bi, ci = np.nonzero(fires)
    out[step[bi, ci], bi, ci] = True
    return out


def _shift_bilinear(img: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``img`` (samples, H, W) moved by (dy, dx) pixels, zero outside, bilinear."""
    iy, ix = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - iy, dx - ix
    out = np.zeros_like(img)
    h, w = img.shape[1:]
    for oy, wy in ((iy, 1 - fy), (iy + 1, fy)):
        for ox, wx in ((ix, 1 - fx), (ix + 1, fx)):
            wgt = wy * wx
            if wgt == 0:
                continue
            ys, yd = slice(max(0, -oy), min(h, h - oy)), slice(max(0, oy), min(h, h + oy))
            xs, xd = slice(max(0, -ox), min(w, w - ox)), slice(max(0, ox), min(w, w + ox))
            out[:, yd, xd] += wgt * img[:, ys, xs]
    return out


def saccades(
    x,
    shape,
    *,
    steps_per_saccade: int = 10,
    amplitude: float = 3.0,
    border: int = 3,
    contrast: float = 0.25,
) -> tuple[list[np.ndarray], tuple[int, int, int]]:
    """N-MNIST-style events for each image: three saccades in front of a DVS pixel array.

    Returns the events of each sample (a structured array per sample, sorted by
    step) and the sensor size ``(width, height, 2)``; the sensor is the image
    plus ``border`` pixels each side (28 x 28 -> 34 x 34, as N-MNIST).
    """
    x = _check_x("saccades", x)
    steps_per_saccade = check_count("saccades", "steps_per_saccade", steps_per_saccade)
    h, w = (int(s) for s in shape)
    if h * w != x.shape[1]:
        raise ValidationError(f"saccades.shape: {shape} does not hold {x.shape[1]} features")
    if contrast <= 0:
        raise ValidationError(f"saccades.contrast: {contrast} must be positive")
    hs, ws = h + 2 * border, w + 2 * border
    canvas = np.zeros((len(x), hs, ws))
    canvas[:, border : border + h, border : border + w] = x.reshape(-1, h, w)
    # the three saccades of N-MNIST: a triangle (0,0) -> (a, a/2) -> (0, a) -> (0, 0) in (x, y)
    corners = np.array([(0, 0), (amplitude, amplitude / 2), (0, amplitude), (0, 0)], dtype=np.float64)
    eps = 1e-2
    ref = np.log(eps + canvas)
    events: list[list] = [[] for _ in range(len(x))]
    t = 0
    for a, b in zip(corners[:-1], corners[1:], strict=True):
        for k in range(1, steps_per_saccade + 1):
            t += 1
            px, py = a + (b - a) * k / steps_per_saccade
            log_i = np.log(eps + _shift_bilinear(canvas, py, px))
            diff = log_i - ref
            n = np.trunc(diff / contrast)  # events this step: sign is the polarity
            ref += n * contrast
            s, yy, xx = np.nonzero(n)
            pol = n[s, yy, xx] > 0
            for sample in np.unique(s):
                sel = s == sample
                ev = np.empty(int(sel.sum()), EVENT_DTYPE)
                ev["x"], ev["y"], ev["t"], ev["p"] = xx[sel], yy[sel], t, pol[sel]
                events[sample].append(ev)
    out = [np.concatenate(e) if e else np.empty(0, EVENT_DTYPE) for e in events]
    return out, (ws, hs, 2)


def events_to_raster(events, sensor, steps: int | None = None) -> np.ndarray:
    """Event arrays (one per sample) to a raster with channel ``(p * height + y) * width + x``."""
    width, height, pols = sensor
    if steps is None:
        steps = max((int(e["t"].max()) for e in events if len(e)), default=1)
    steps = check_count("events_to_raster", "steps", steps)
    out = np.zeros((steps, len(events), width * height * pols), dtype=bool)
    for b, e in enumerate(events):
        keep = (e["t"] >= 1) & (e["t"] <= steps)
        e = e[keep]
        ch = (e["p"].astype(np.int64) * height + e["y"]) * width + e["x"]
        out[e["t"] - 1, b, ch] = True
    return out
