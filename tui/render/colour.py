"""The diverging palette every picture shares — blue where a value is positive (a neuron likes that input),
red where it is negative, dark at zero so the strong values stand out on a terminal — and its stand-in
characters for when colour is off."""
from __future__ import annotations

import numpy as np
from rich.console import Console

POSITIVE = (40, 120, 255)
NEGATIVE = (235, 50, 40)
ZERO = (28, 28, 28)

# Without colour a value is one character: the sign picks the family, |value| / scale the weight.
PLAIN_POSITIVE = ".+#"
PLAIN_NEGATIVE = "-=X"
PLAIN_STEPS = (0.15, 0.4, 0.7)  # below the first: blank (near zero); then weak, medium, strong


def colour_on(console: Console) -> bool:
    """True when the console will show colour (not NO_COLOR, TERM=dumb or a pipe)."""
    return not console.no_color and console.color_system is not None


def diverging_rgb(value: float, scale: float) -> tuple[int, int, int]:
    """The colour of value on a scale of -scale (full red) .. 0 (dark) .. +scale (full blue)."""
    return tuple(int(c) for c in diverging_rgb_array(value, scale))


def diverging_rgb_array(values, scale: float) -> np.ndarray:
    """diverging_rgb for every value at once: integer RGB of shape values.shape + (3,). A whole map is
    coloured in one pass instead of a Python call per pixel (a frame of 30 digit maps is 23,520 pixels)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    t = np.zeros(values.shape)
    if scale > 0:
        t[finite] = np.minimum(np.abs(values[finite]) / scale, 1.0)
    end = np.where((values > 0)[..., None], POSITIVE, NEGATIVE)
    zero = np.asarray(ZERO)
    return np.rint(zero + (end - zero) * t[..., None]).astype(np.int64)  # rint: half to even, as round()


def plain_char(value: float, scale: float) -> str:
    """The character standing for value when colour is off."""
    t = 0.0 if scale <= 0 or not np.isfinite(value) else abs(float(value)) / scale
    level = sum(t >= step for step in PLAIN_STEPS)
    if level == 0:
        return " "
    return (PLAIN_POSITIVE if value > 0 else PLAIN_NEGATIVE)[level - 1]
