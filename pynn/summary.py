"""The numbers behind `pynn summary`: each layer's parameter and gradient shapes, the math and batch views of its
output and of Z = WX + b with its broadcast bias, the parameter arithmetic, totals and memory. Layers are
numbered as the course numbers W[l] (dropout, which has no W, takes no number). Pure data; tui/ draws it."""
from __future__ import annotations

import numpy as np

from pynn.model import Sequential, count_params
from pynn.words import plural

BYTES = 4  # float32


def _fmt(n: int) -> str:
    return f"{n:,}"


def _shape(*sizes) -> str:
    return f"({', '.join(map(str, sizes))})"


def dense_row(layer) -> dict:
    l, n_in, n = layer.index, layer.n_in, layer.units
    steps = layer.input_shape[:-1] if layer.per_step else ()
    batch = ("m", *steps)
    W, b, A, Z = f"W[{l}]", f"b[{l}]", f"A[{l - 1}]", f"Z[{l}]"
    at = "at every step, " if layer.per_step else ""
    rows = "m rows" if not layer.per_step else f"m·{'·'.join(map(str, steps))} rows"
    return {
        "index": l,
        "kind": "dense",
        "name": f"Dense({n}, {layer.activation})" + (" at every step" if layer.per_step else ""),
        "activation": layer.activation,
        "params": {"W": [n, n_in], "b": [n, 1]},
        # a gradient has the shape of what it is the gradient of: every entry of W and b gets its own
        "grads": {"dW": [n, n_in], "db": [n, 1]},
        # the batch view keeps W (n_l, n_(l-1)) and lays samples in rows, so b is a row
        "batch_params": {"W": [n, n_in], "b": [1, n]},
        "batch_grads": {"dW": [n, n_in], "db": [1, n]},
        "math_view": f"{Z}, A[{l}]: ({n}, m)",
        "batch_view": _shape(*batch, n),
        "equations": {
            "math": (f"{at}{Z} = {W}·{A} + {b}: {_shape(n, n_in)}·{_shape(n_in, 'm')} = {_shape(n, 'm')}, plus {b} "
                     f"{_shape(n, 1)} broadcast across the m columns; d{W} {_shape(n, n_in)} like {W}, d{b} "
                     f"{_shape(n, 1)} like {b}"),
            "batch": (f"{at}{Z} = {A}·{W}ᵀ + {b}: {_shape(*batch, n_in)}·{_shape(n_in, n)} = {_shape(*batch, n)}, "
                      f"plus {b} as a row {_shape(1, n)} broadcast down the {rows}; d{W} {_shape(n, n_in)} like {W}, "
                      f"d{b} {_shape(1, n)} like {b}"),
        },
        "output_shape": [*batch, n],
        "n_params": count_params([layer]),
        "arithmetic": f"{n}·{n_in} + {n} = {_fmt(n * n_in + n)}",
    }


def dropout_row(layer, below: int) -> dict:
    """below: the number of the layer whose output A[below] it drops (0: the input X = A[0])."""
    shape = ("m", *layer.output_shape)
    A, keep = f"A[{below}]", 1.0 - layer.p
    flat = len(layer.output_shape) == 1
    return {
        "index": None, "kind": "dropout", "name": f"Dropout(p={layer.p:g})", "activation": None,
        "params": {}, "grads": {},
        "math_view": f"{A} ⊙ D[{below}] / {keep:g}: {_shape(layer.output_shape[0], 'm')}" if flat else
                     f"{A} ⊙ D[{below}] / {keep:g}, as {A}",
        "batch_view": _shape(*shape),
        "output_shape": list(shape), "n_params": 0,
        "arithmetic": (f"no parameters; while training each value of {A} is dropped with probability {layer.p:g} "
                       f"(the mask D[{below}] holds a 0 there) and the others are divided by {keep:g}"),
    }


def _layouts(h, w, c) -> tuple[str, str]:
    """A batch of (h, w, c) maps as Keras lays it out (N, H, W, C) and as PyTorch does (N, C, H, W)."""
    return f"NHWC (m, {h}, {w}, {c})", f"NCHW (m, {c}, {h}, {w})"


def _sides(h, w, c=1) -> str:
    return f"{h}x{w}" + (f"x{c}" if c > 1 else "")


def conv_row(layer) -> dict:
    """A conv layer: its weights W (K, K, C_in, F) as Keras keeps them and PyTorch's (F, C_in, K, K), its output in
    both layouts, and the sentence on what one filter sees against a dense unit."""
    l, K, S = layer.index, layer.kernel, layer.stride
    (H, W, C), (Ho, Wo, F) = layer.image, layer.output_shape
    nhwc, nchw = _layouts(Ho, Wo, F)
    in_nhwc, in_nchw = _layouts(H, W, C)
    n_in, patch = H * W * C, K * K * C
    how = f"stride {S}, {layer.padding} padding"
    source = "image" if l == 1 else f"{_sides(H, W, C)} maps of the layer below"
    seen = (f"the whole {_sides(H, W)} image" if l == 1 and C == 1 else f"the whole {_sides(H, W, C)} "
            + ("image" if l == 1 else "maps of the layer below"))
    sentence = (f"each of the {F} filters sees {seen}, one {_sides(K, K, C)} "
                f"patch at a time, at {Ho * Wo:,} positions, with the same {patch:,} weights; a dense unit sees all "
                f"{n_in:,} inputs at once with {n_in:,} weights of its own")
    if F == 1:
        sentence = sentence.replace("each of the 1 filters sees", "the one filter sees", 1)
    W_, b_ = f"W[{l}]", f"b[{l}]"
    return {
        "index": l, "kind": "conv",
        "name": f"Conv2D({F}, {K}x{K}" + (f", stride {S}" if S != 1 else "") +
                (f", {layer.padding}" if layer.padding != "valid" else "") + f", {layer.activation})",
        "activation": layer.activation, "filters": F, "kernel": K, "stride": S, "padding": layer.padding,
        "params": {"W": [K, K, C, F], "b": [F]},
        "grads": {"dW": [K, K, C, F], "db": [F]},
        "pytorch_params": {"weight": [F, C, K, K], "bias": [F]},
        "math_view": nchw,
        "batch_view": nhwc,
        "layouts": {"keras": ["m", Ho, Wo, F], "pytorch": ["m", F, Ho, Wo]},
        "input_layouts": {"keras": ["m", H, W, C], "pytorch": ["m", C, H, W]},
        "output_shape": ["m", Ho, Wo, F],
        "positions": Ho * Wo, "patch": patch, "source": source,
        "n_params": count_params([layer]),
        "arithmetic": f"{F}·({K}·{K}·{C}) + {F} = {_fmt(count_params([layer]))}",
        "equations": {
            "Keras (N, H, W, C)": (f"A[{l}] {nhwc} = {layer.activation}(conv(A[{l - 1}] {in_nhwc}, {W_} "
                                   f"{_shape(K, K, C, F)} HWIO, {how}) + {b_} {_shape(F)}); d{W_} {_shape(K, K, C, F)} "
                                   f"like {W_}, d{b_} {_shape(F)} like {b_}"),
            "PyTorch (N, C, H, W)": (f"A[{l}] {nchw} = {layer.activation}(conv2d(A[{l - 1}] {in_nchw}, weight "
                                     f"{_shape(F, C, K, K)} OIHW, {how}) + bias {_shape(F)})"),
        },
        "notes": [f"layer {l}: {sentence}"],
        "sees": sentence,
    }


def pool_row(layer, below: int) -> dict:
    """A max pool: no parameters; it keeps the largest of each P x P window of A[below]."""
    P = layer.size
    (H, W, C), (Ho, Wo, _) = layer.image, layer.output_shape
    nhwc, nchw = _layouts(Ho, Wo, C)
    dropped = " (the rows and columns that fill no window are dropped)" if H % P or W % P else ""
    return {
        "index": None, "kind": "pool", "name": f"MaxPool2D({P})", "activation": None, "size": P,
        "params": {}, "grads": {},
        "math_view": nchw, "batch_view": nhwc,
        "layouts": {"keras": ["m", Ho, Wo, C], "pytorch": ["m", C, Ho, Wo]},
        "output_shape": ["m", Ho, Wo, C], "n_params": 0,
        "arithmetic": f"no parameters; the largest value of each {P}x{P} window of A[{below}], {P} apart",
        "notes": [f"max pool after layer {below}: the largest value of each {P}x{P} window, {P} apart: "
                  f"{_shape(H, W, C)} -> {_shape(Ho, Wo, C)} = {Ho * Wo * C:,} values per sample{dropped}; no "
                  "parameters"],
    }


def _flattening_note(layer) -> str:
    """A dense layer reading maps: in which order it flattens them."""
    H, W, C = layer.input_shape
    return (f"layer {layer.index}: reads the {_shape(H, W, C)} maps flattened to {layer.n_in:,} features in H, W, C "
            f"order, as Keras's Flatten does; PyTorch's nn.Flatten on (m, {C}, {H}, {W}) reads C, H, W order, so "
            "its weight columns come in another order")


def _input_summary(model: Sequential) -> dict | None:
    """The input of a model whose first layer with weights is a conv: an image, in both layouts."""
    first = model.param_layers[0]
    if first.kind != "conv":
        return None
    H, W, C = first.image
    nhwc, nchw = _layouts(H, W, C)
    n_in = int(np.prod(model.input_shape))
    channels = "one channel" if C == 1 else plural(C, "channel")
    sample = f"each sample of {plural(n_in, 'value')} is read as" if len(model.input_shape) == 1 else \
        f"each {_sides(H, W)} sample is"
    return {"shape": list(model.input_shape), "math_view": f"X = A[0]: {nchw}", "batch_view": nhwc,
            "layouts": {"keras": ["m", H, W, C], "pytorch": ["m", C, H, W]},
            "note": (f"{sample} an image of {channels}, {_shape(H, W, C)}; maps are NHWC (m, H, W, C) as in "
                     "Keras, which pynn computes in, and NCHW (m, C, H, W) as in PyTorch")}


def model_summary(model: Sequential) -> dict:
    rows, below = [], 0
    for layer in model.layers:
        if layer.kind == "pool":
            rows.append(pool_row(layer, below))
        elif hasattr(layer, "summary_row"):
            rows.append(layer.summary_row(stateful=model.run.stateful))
        elif layer.kind == "dense":
            rows.append(dense_row(layer))
            if len(layer.input_shape) == 3 and not layer.per_step and layer.position > 1:
                rows[-1]["notes"] = [_flattening_note(layer)]
        else:
            rows.append(dropout_row(layer, below))
        rows[-1].setdefault("grads", {f"d{name}": shape for name, shape in rows[-1]["params"].items()})
        below = layer.index if layer.index is not None else below
    n_in = int(np.prod(model.input_shape))
    flat = len(model.input_shape) > 1 and model.layers[0].kind == "dense" and not model.layers[0].per_step
    sequence = model.layers[0].kind == "lstm"
    total = model.n_params
    image = _input_summary(model)
    return {
        "spec": model.spec,
        "input": image or {
            "shape": list(model.input_shape),
            "math_view": (f"x_t: ({model.input_shape[-1]}, m) at each of {plural(model.input_shape[0], 'step')}"
                          if sequence else f"X = A[0]: ({n_in}, m)"),
            "batch_view": f"(m, {', '.join(map(str, model.input_shape))})",
            "note": (f"each {'x'.join(map(str, model.input_shape))} sample is flattened to {plural(n_in, 'feature')}"
                     if flat else f"each sample is {plural(model.input_shape[0], 'step')} of "
                     f"{plural(model.input_shape[-1], 'feature')}" if sequence
                     else f"{plural(n_in, 'feature')} per sample"),
        },
        "layers": rows,
        "loss": model.loss.name,
        "total_params": total,
        "total_arithmetic": " + ".join(_fmt(r["n_params"]) for r in rows if r["n_params"]) + f" = {_fmt(total)}",
        "memory_bytes": {"params": total * BYTES, "training (params, grads, Adam moments)": 4 * total * BYTES},
    }


HEAD_FOLLOWS_THE_DATA = ("the output's activation and loss follow the data: softmax + cross-entropy for class labels, "
                         "sigmoid + binary cross-entropy for 0/1 targets, linear + quadratic cost (MSE) for real "
                         "values; every head has the same parameters, and with data the summary shows the one "
                         "that applies.")


def without_data(summary: dict, activation_written: bool) -> dict:
    """The summary of a model described by its spec alone: the loss follows the data it will be trained on,
    and so does the output's activation unless the spec writes one, so neither is claimed."""
    summary = {**summary, "loss": None}
    output = summary["layers"][-1]
    if not activation_written and output["kind"] == "dense":
        output = {**output, "name": output["name"].replace(output["activation"], "head follows the data", 1),
                  "activation": None, "notes": [*output.get("notes", []), f"layer {output['index']}: "
                                                + HEAD_FOLLOWS_THE_DATA]}
        summary["layers"] = [*summary["layers"][:-1], output]
    return summary
