"""Conv layers drawn: filters as small blue/red maps (one per input channel), a sample's feature maps after the
conv and the pool, and the image patches that excite a filter most. Small maps are enlarged by repeating their
pixels, so a 5x5 filter is legible in a terminal; the colours are those of every other weight map. Where the
terminal draws images (render/pixels.py) each map is an image, the repeated pixels blocks of one colour."""
from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

from pynn.words import plural
from pynn_tui.render.heatmap import Legend, max_abs
from pynn_tui.render.pixels import map_grid, map_view, view_grid

SMALLEST = 10  # pixels across a map is drawn with at least (a 5x5 filter's pixel becomes 2x2)


def enlarged(maps: np.ndarray, smallest: int = SMALLEST) -> np.ndarray:
    """Maps (..., H, W) with each pixel repeated so the side is at least `smallest` (whole repeats only)."""
    maps = np.asarray(maps)
    times = max(1, -(-smallest // max(maps.shape[-1], 1)))
    return maps.repeat(times, axis=-2).repeat(times, axis=-1) if times > 1 else maps


def filter_view(fm, scale: str = "shared", cols: int | None = None, heading: bool = True) -> Group:
    """Each filter's K x K weights: one map per filter over a one-channel input, else one row of maps per filter,
    a map per input channel; blue where the filter likes a value at that offset of its patch, red where not."""
    F, C, K = len(fm.filters), fm.maps.shape[1], fm.maps.shape[2]
    source = "the image's" if fm.reads_the_input else "the layer below's"
    parts = []
    if heading:
        channels = f"over {source} one channel" if C == 1 else f"a map per channel of {source} {C}"
        parts.append(Text(f"layer {fm.layer}: {plural(F, 'filter')} of {K}x{K} weights, {channels}; each slides "
                          "over every position with these same weights", style="bold"))
    big = enlarged(fm.maps)
    if C == 1:
        parts.append(map_grid(big[:, 0], [f"#{f} b{b:+.2f}" for f, b in zip(fm.filters, fm.bias)], scale, cols))
        return Group(*parts)
    shared = max_abs(fm.maps)
    for f, b, channels in zip(fm.filters, fm.bias, big):
        own = max_abs(channels) if scale == "each" else shared
        parts.append(Text(f"filter #{f} (bias {b:+.3f})" + (f" ±{own:.2g}" if scale == "each" else ""),
                          style="italic"))
        parts.append(view_grid([map_view(m, own, f"in {c}") for c, m in enumerate(channels)], cols))
    parts.append(Legend(None if scale == "each" else shared))
    return Group(*parts)


def feature_map_view(stages, image: np.ndarray | None = None, cols: int | None = None) -> Group:
    """One sample's feature maps, one per filter, after each conv and after the pool that follows it; each stage on
    its own scale (a relu map is never below zero, so it shows in blue only)."""
    parts = []
    if image is not None:
        parts += [Text("the sample", style="bold"), map_view(enlarged(image), max_abs(image))]
    for stage in stages:
        F, H, W = stage.maps.shape
        parts.append(Text(f"layer {stage.layer} {stage.name}: {plural(F, 'feature map')} of {H}x{W}, one per filter",
                          style="bold"))
        parts.append(map_grid(enlarged(stage.maps), [f"#{f}" for f in range(F)], "shared", cols,
                              negative="negative", positive="positive"))
    return Group(*parts)


def patches_view(patches, cols: int | None = None) -> Group:
    """The input patches that excite a filter most, each titled with its sample, output position and value."""
    R = patches.field
    titles = [f"#{s} ({r},{c}) {v:.2f}" for s, (r, c), v in zip(patches.samples, patches.positions, patches.values)]
    images = patches.patches.mean(axis=-1) if patches.patches.shape[-1] > 1 else patches.patches[..., 0]
    where = [f"#{s}: rows {t}-{t + R - 1}, columns {l}-{l + R - 1}"
             for s, (t, l) in zip(patches.samples, patches.corners)]
    return Group(
        Text(f"layer {patches.layer}, filter {patches.filter}: the {R}x{R} image patches it responds to most "
             f"(sample, output position, output; mean output {patches.mean:.3f})", style="bold"),
        map_grid(enlarged(images), titles, "shared", cols, negative="negative", positive="positive"),
        Text("where: " + "; ".join(where), style="italic"))


def conv_choices(model) -> list[int]:
    """The numbers of a model's conv layers (none for a dense or LSTM model): what a screen offers to draw."""
    return [layer.index for layer in model.layers if layer.kind == "conv"]
