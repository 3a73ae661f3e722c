"""What a conv layer learned and sees: its filters as small maps (one per input channel), one sample's feature
maps after the conv and after the pool that follows it, and the image patches that excite a filter most, with
where in the image they are. A filter's unit is its whole feature map: the same weights at every position."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.errors import PynnError
from pynn.inspect.activations import layer_outputs
from pynn.inspect.weights import check_units
from pynn.model import Sequential


@dataclass
class FilterMaps:
    layer: int
    filters: list[int]
    maps: np.ndarray          # (k, C_in, K, K): each filter's weights over one input channel
    bias: np.ndarray          # (k,)
    reads_the_input: bool     # the channels are the image's (else the feature maps of the conv below)


@dataclass
class FeatureStage:
    layer: int                # the conv layer's number
    name: str                 # "conv8k5 relu", "pool2"
    maps: np.ndarray          # (F, H, W): one map per filter, for one sample


@dataclass
class Patches:
    layer: int
    filter: int
    samples: np.ndarray       # (k,) sample indices, the most exciting first
    positions: np.ndarray     # (k, 2) the (row, column) of the output position each peaked at
    corners: np.ndarray       # (k, 2) the input pixel (row, column) of its patch's top-left corner (may be < 0 at
                              # a padded edge)
    values: np.ndarray        # (k,) the filter's output there
    patches: np.ndarray       # (k, R, R, C) the input patch it saw (R: its receptive field), zeros off the image
    field: int                # R
    mean: float               # the filter's mean output over every sample and position


def conv_layer(model: Sequential, index: int):
    """The conv layer numbered `index`, or a PynnError naming the ones there are."""
    layer = model.layer_numbered(index)
    convs = [l for l in model.layers if l.kind == "conv"]
    if not convs:
        raise PynnError(f"Layer {index} is not a conv layer, and this model has none.")
    if layer is None or layer.kind != "conv":
        raise PynnError(f"Layer {index} is not a conv layer; choose one of {', '.join(str(l.index) for l in convs)}.")
    return layer


def filter_maps(model: Sequential, index: int = 1, filters: list[int] | None = None) -> FilterMaps:
    """Some filters of conv layer `index` (default all), each as K x K maps, one per input channel: blue where it
    likes a pixel (or a map's value) at that offset in its patch, red where it dislikes it."""
    model = model.frozen()
    layer = conv_layer(model, index)
    filters = check_units(layer, filters, "filter")
    maps = np.array(layer.W[..., filters].transpose(3, 2, 0, 1))  # (K, K, C, F) -> (F, C, K, K)
    first = not any(l.param_specs() for l in model.layers[:layer.position - 1])
    return FilterMaps(layer.index, filters, maps, np.array(layer.b[filters]), first)


def feature_maps(model: Sequential, x: np.ndarray) -> list[FeatureStage]:
    """One sample x (as the data holds it) through the model: each conv layer's feature maps, then those of the
    pool that follows it (if any), each (F, H, W)."""
    model = model.frozen()
    outputs = layer_outputs(model, np.asarray(x, np.float32)[None])
    stages, last = [], None
    for layer, out in zip(model.layers, outputs):
        if layer.kind == "conv":
            last = layer.index
            name = f"{layer.token()} {layer.activation}"
        elif layer.kind == "pool" and last is not None:
            name = f"pool{layer.size}"
        else:
            continue
        stages.append(FeatureStage(last, name, np.array(out[0].transpose(2, 0, 1))))
    if not stages:
        raise PynnError("This model has no conv layer, so it makes no feature maps.")
    return stages


def receptive_field(model: Sequential, position: int) -> tuple[int, int, int]:
    """(R, jump, start): an output position (i, j) of the layer at `position` in model.layers sees the input
    pixels from row start + i·jump to start + i·jump + R - 1 (the same for columns), padding included."""
    field, jump, start = 1, 1, 0
    for layer in model.layers[:position]:
        if layer.kind == "conv":
            kernel, stride = layer.kernel, layer.stride
            pad = _top_padding(layer)
        elif layer.kind == "pool":
            kernel, stride, pad = layer.size, layer.size, 0
        else:
            continue
        field, start, jump = field + (kernel - 1) * jump, start - pad * jump, jump * stride
    return field, jump, start


def _top_padding(layer) -> int:
    if layer.padding != "same":
        return 0
    from pynn.conv import same_padding
    return same_padding(layer.image[0], layer.kernel, layer.stride)[0]


def exciting_patches(model: Sequential, index: int, filter: int, x: np.ndarray, k: int = 8) -> Patches:
    """The k samples of x whose strongest response of filter `filter` of conv layer `index` is the highest, each
    with the position it peaked at and the input patch the filter saw there (its receptive field on the image:
    K x K for the first conv, wider above a pool)."""
    model = model.frozen()
    layer = conv_layer(model, index)
    (filter,) = check_units(layer, [filter], "filter")
    if not len(x):
        raise PynnError("There are no samples to look for patches in.")
    x = np.asarray(x, np.float32)
    response = layer_outputs(model, x)[layer.position - 1][..., filter]   # (m, Ho, Wo)
    flat = response.reshape(len(x), -1)
    best = flat.argmax(axis=1)
    peaks = flat[np.arange(len(x)), best]
    order = np.argsort(-peaks, kind="stable")[:min(k, len(x))]
    width = response.shape[2]
    positions = np.stack([best[order] // width, best[order] % width], axis=1)
    field, jump, start = receptive_field(model, layer.position)
    corners = start + positions * jump
    images = x.reshape(len(x), *next(l for l in model.layers if l.kind in ("conv", "pool")).image)
    patches = np.stack([_crop(images[s], r, c, field) for s, (r, c) in zip(order, corners)])
    return Patches(layer.index, filter, order, positions, corners, peaks[order], patches, field,
                   float(response.mean()))


def _crop(image: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """image[top:top+size, left:left+size] with zeros where the window leaves the image (the padding)."""
    H, W, C = image.shape
    out = np.zeros((size, size, C), np.float32)
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + size, H), min(left + size, W)
    if r1 > r0 and c1 > c0:
        out[r0 - top:r1 - top, c0 - left:c1 - left] = image[r0:r1, c0:c1]
    return out
