"""A foreign model's layers and arrays made into a pynn Sequential, once every array has been checked against
the shape its layer needs: the one place the readers of .keras/.h5 and safetensors build a model."""
from __future__ import annotations

from typing import Callable, Mapping, Union

import numpy as np

from pynn.data.dataset import BINARY, CLASSIFICATION, REGRESSION
from pynn.errors import PynnError
from pynn.layers import Layer, written_activation
from pynn.model import Sequential, count_params, layer_spec
from pynn.run import HIDDEN_ACTIVATIONS, RunConfig
from pynn.spec import ModelSpec

# what each task's output does inside its loss, so a spec leaves it unwritten
TASK_OF_LOSS = {"xent": CLASSIFICATION, "bce": BINARY, "mse": REGRESSION}
HEAD_OF_LOSS = {"xent": "softmax", "bce": "sigmoid"}
Arrays = Union[Mapping[str, np.ndarray], Callable[[Layer], Mapping[str, np.ndarray]]]


def assemble(path, layers: list[Layer], arrays: list[Arrays], input_shape: tuple[int, ...], *,
             loss: str, origin: dict, double_softmax: bool = False) -> Sequential:
    """A built model of `layers` on samples of input_shape whose parameters are `arrays` (one mapping per layer,
    pynn's names: W, b for Dense and Conv2D; Wx, Wh, b for LSTM; empty for dropout and pool — or a function of
    the planned layer giving that mapping, for arrays laid out by the shapes the layer reads), with the loss it
    was trained with and origin as model.origin. Every shape is checked before anything is allocated; one
    sentence names the first that does not fit."""
    model = Sequential(layers, loss=loss, task=TASK_OF_LOSS[loss], double_softmax=double_softmax)
    model.plan(input_shape)
    arrays = [given(layer) if callable(given) else given for layer, given in zip(layers, arrays)]
    for layer, given in zip(layers, arrays):
        wanted = {spec.name: spec.shape for spec in layer.param_specs()}
        for name, shape in wanted.items():
            have = tuple(given[name].shape) if name in given else None
            if have != shape:
                raise PynnError(f"{path}: layer {layer.index} ({type(layer).__name__}) needs {name} of shape "
                                f"{_shape(shape)}, but the file holds {_shape(have) if have else 'none'}.")
    model.build(input_shape, expected_params=count_params(layers))
    with model.lock:
        for layer, given in zip(layers, arrays):
            for name, view in getattr(layer, "param_views", {}).items():
                view[...] = np.asarray(given[name], dtype=np.float32)
    if not np.isfinite(model.params).all():
        raise PynnError(f"{path} holds weights that are not finite numbers (NaN or infinity).")
    model.weights_from_init = False
    model.notes = []
    model.spec = _spec(model)
    hidden = {written_activation(l.activation) for l in model.layers[:-1] if l.kind == "dense"}
    model.run = RunConfig(model=model.spec, loss=model.loss.name, double_softmax=model.loss.double_softmax,
                          **({"activation": hidden.pop()} if len(hidden) == 1 and hidden <= set(HIDDEN_ACTIVATIONS)
                             else {}))
    model.origin = origin
    return model


def _spec(model: Sequential) -> str:
    """The model's spec, its output's activation left unwritten where the loss applies it (a bare -10 with
    cross-entropy is softmax, as for any pynn model)."""
    tokens = [layer_spec(layer) for layer in model.layers]
    output = model.layers[-1]
    if HEAD_OF_LOSS.get(model.loss.name) == output.activation or (
            model.loss.name == "mse" and output.activation == "identity"):
        tokens[-1].activation = None
    return str(ModelSpec(model.input_shape, tokens))


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def origin(framework: str, fmt: str, framework_params: int, notes: list[str], output_softmax: bool) -> dict:
    """model.origin of an imported model: where it came from, its framework's own parameter count, what pynn
    assumed in reading it, and whether its output applies a softmax."""
    return {"framework": framework, "format": fmt, "framework_params": int(framework_params), "notes": list(notes),
            "output_softmax": bool(output_softmax)}
