"""Model spec strings, the same in the API and on the command line.

    784-30-10              input 784, hidden 30, output 10
    30-10                  input size taken from the data
    784-100:relu-10        an activation per layer
    784-100:relu-drop0.5-10  dropout after a layer
    20x1-lstm300-20        a sequence input (steps x features), an LSTM, a dense head
    lstm128*-65            `*`: the LSTM returns its whole sequence of outputs
    28x28-conv8k5-pool2-30-10  8 filters of 5x5 (relu, stride 1, valid padding), 2x2 max pooling, dense 30, 10
    32x32x3-conv16k3s2psame:tanh-10  stride 2, same padding, tanh; 28x28 is one channel, 32x32x3 three

A leading bare number is the input size only when at least two sized layers follow it (so `30-10` is a hidden
layer of 30 and an output of 10); a leading shape such as 28x28 or 20x1 is always the input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pynn.errors import PynnError
from pynn.layers import activation_name, written_activation

_SHAPE = re.compile(r"^\d+(x\d+)+$")
_DENSE = re.compile(r"^(\d+)(?::([a-z_]+))?$")
_DROP = re.compile(r"^drop(0?\.\d+|0|1(?:\.0*)?)$")
_LSTM = re.compile(r"^lstm(\d+)(\*)?$")
_CONV = re.compile(r"^conv(\d+)k(\d+)(?:s(\d+))?(?:p(same|valid))?(?::([a-z_]+))?$")
_POOL = re.compile(r"^pool(\d+)$")


@dataclass
class LayerSpec:
    kind: str                      # dense | dropout | lstm | conv | pool
    units: int = 0                 # a conv's filters
    activation: str | None = None  # None: the default (hidden) or the task's choice (output); a conv's relu
    p: float = 0.0
    return_sequences: bool = False
    kernel: int = 0                # a conv's K (K x K filters), a pool's P (P x P windows)
    stride: int = 1
    padding: str = "valid"

    def token(self) -> str:
        if self.kind == "conv":
            shape = f"conv{self.units}k{self.kernel}" + (f"s{self.stride}" if self.stride != 1 else "")
            shape += f"p{self.padding}" if self.padding != "valid" else ""
            return shape + (f":{written_activation(self.activation)}" if self.activation not in (None, "relu") else "")
        if self.kind == "pool":
            return f"pool{self.kernel}"
        if self.kind == "dropout":
            return f"drop{self.p:g}"
        if self.kind == "lstm":
            return f"lstm{self.units}{'*' if self.return_sequences else ''}"
        # the kernel's name (leaky_relu) is written as the spec writes it (leaky), so a spec reads back as typed
        return f"{self.units}:{written_activation(self.activation)}" if self.activation else str(self.units)


@dataclass
class ModelSpec:
    input_shape: tuple[int, ...] | None
    layers: list[LayerSpec] = field(default_factory=list)

    def __str__(self) -> str:
        head = ["x".join(map(str, self.input_shape))] if self.input_shape else []
        return "-".join(head + [layer.token() for layer in self.layers])


def parse_spec(text: str) -> ModelSpec:
    """Parse a spec string; any token that does not fit gets one sentence naming it."""
    tokens = [t.strip() for t in str(text).strip().lower().split("-")]
    if not text or not all(tokens):
        raise PynnError(f"Model spec {text!r} is empty or has an empty part; write sizes joined by '-', "
                        "e.g. 784-30-10.")
    input_shape = None
    sized = sum(1 for t in tokens if _DENSE.match(t) or _LSTM.match(t) or _CONV.match(t))
    first = tokens[0]
    if _SHAPE.match(first):
        input_shape = tuple(int(v) for v in first.split("x"))
        tokens = tokens[1:]
    elif first.isdigit() and sized >= 3:
        input_shape = (int(first),)
        tokens = tokens[1:]
    layers = [_parse_layer(tok, text) for tok in tokens]
    if not any(l.kind not in ("dropout", "pool") for l in layers):
        raise PynnError(f"Model spec {text!r} has no layer with units; it needs at least an output size.")
    if layers[-1].kind != "dense":
        raise PynnError(f"Model spec {text!r} must end with a dense output layer, e.g. '-10'.")
    if input_shape is not None and 0 in input_shape:
        raise PynnError(f"Model spec {text!r} has an input of size 0.")
    return ModelSpec(input_shape, layers)


def _parse_layer(tok: str, text: str) -> LayerSpec:
    if m := _DENSE.match(tok):
        units = int(m.group(1))
        if units < 1:
            raise PynnError(f"Layer {tok!r} in {text!r} has no units; a layer needs at least one.")
        return LayerSpec("dense", units, activation_name(m.group(2)) if m.group(2) else None)
    if m := _DROP.match(tok):
        p = float(m.group(1))
        if p >= 1.0:
            raise PynnError(f"Dropout {tok!r} in {text!r} would drop everything; use a probability below 1.")
        return LayerSpec("dropout", p=p)
    if m := _LSTM.match(tok):
        return LayerSpec("lstm", int(m.group(1)), return_sequences=bool(m.group(2)))
    if m := _CONV.match(tok):
        filters, kernel, stride = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        for what, value in (("filters", filters), ("a kernel size", kernel), ("a stride", stride)):
            if value < 1:
                raise PynnError(f"Layer {tok!r} in {text!r} has {what} of 0; it needs at least 1.")
        activation = activation_name(m.group(5)) if m.group(5) else "relu"
        if activation == "softmax":
            raise PynnError(f"Layer {tok!r} in {text!r} is a conv with softmax, which pynn applies only on the "
                            "output; use relu, tanh or sigmoid.")
        return LayerSpec("conv", filters, activation, kernel=kernel, stride=stride, padding=m.group(4) or "valid")
    if m := _POOL.match(tok):
        if int(m.group(1)) < 1:
            raise PynnError(f"Pool {tok!r} in {text!r} has windows of size 0; it needs at least 1, e.g. pool2.")
        return LayerSpec("pool", kernel=int(m.group(1)))
    if tok.startswith(("conv", "pool")):
        raise PynnError(f"Cannot read {tok!r} in model spec {text!r}; a conv is written conv<filters>k<kernel>, "
                        "e.g. conv8k5, conv8k5:tanh or conv16k3s2psame, and a pool pool<size>, e.g. pool2.")
    raise PynnError(f"Cannot read {tok!r} in model spec {text!r}; expected a size like 30, 100:relu, drop0.5, "
                    "lstm128, conv8k5 or pool2.")
