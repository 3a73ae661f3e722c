"""The numbers behind `pynn summary`: each layer's parameter shapes, the math and batch views of its output,
the parameter arithmetic, totals and memory. Pure data; tui/ draws it."""
from __future__ import annotations

import numpy as np

from pynn.model import Sequential, count_params
from pynn.words import plural

BYTES = 4  # float32


def _fmt(n: int) -> str:
    return f"{n:,}"


def dense_row(layer) -> dict:
    n_in, n = layer.n_in, layer.units
    steps = layer.input_shape[:-1] if layer.per_step else ()
    batch = ("m", *steps)
    return {
        "index": layer.index,
        "kind": "dense",
        "name": f"Dense({n}, {layer.activation})" + (" at every step" if layer.per_step else ""),
        "activation": layer.activation,
        "params": {"W": [n, n_in], "b": [n, 1]},
        "math_view": f"Z[{layer.index}], A[{layer.index}]: ({n}, m)",
        "batch_view": f"({', '.join(map(str, batch))}, {n})",
        "output_shape": [*batch, n],
        "n_params": count_params([layer]),
        "arithmetic": f"{n}·{n_in} + {n} = {_fmt(n * n_in + n)}",
    }


def dropout_row(layer) -> dict:
    shape = ("m", *layer.output_shape)
    return {
        "index": layer.index, "kind": "dropout", "name": f"Dropout(p={layer.p:g})", "activation": None,
        "params": {}, "math_view": "same as its input", "batch_view": f"({', '.join(map(str, shape))})",
        "output_shape": list(shape), "n_params": 0,
        "arithmetic": f"no parameters; each value dropped with probability {layer.p:g} while training",
    }


def model_summary(model: Sequential) -> dict:
    rows = []
    for layer in model.layers:
        if hasattr(layer, "summary_row"):
            rows.append(layer.summary_row(stateful=model.run.stateful))
        elif layer.kind == "dense":
            rows.append(dense_row(layer))
        else:
            rows.append(dropout_row(layer))
    n_in = int(np.prod(model.input_shape))
    flat = len(model.input_shape) > 1 and model.layers[0].kind == "dense" and not model.layers[0].per_step
    sequence = model.layers[0].kind == "lstm"
    total = model.n_params
    return {
        "spec": model.spec,
        "input": {
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
