"""Model spec strings, the same in the API and on the command line.

    784-30-10              input 784, hidden 30, output 10
    30-10                  input size taken from the data
    784-100:relu-10        an activation per layer
    784-100:relu-drop0.5-10  dropout after a layer
    20x1-lstm300-20        a sequence input (steps x features), an LSTM, a dense head
    lstm128*-65            `*`: the LSTM returns its whole sequence of outputs

A leading bare number is the input size only when at least two sized layers follow it (so `30-10` is a hidden
layer of 30 and an output of 10); a leading shape such as 28x28 or 20x1 is always the input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from pynn.errors import PynnError
from pynn.layers import activation_name

_SHAPE = re.compile(r"^\d+(x\d+)+$")
_DENSE = re.compile(r"^(\d+)(?::([a-z_]+))?$")
_DROP = re.compile(r"^drop(0?\.\d+|0|1(?:\.0*)?)$")
_LSTM = re.compile(r"^lstm(\d+)(\*)?$")


@dataclass
class LayerSpec:
    kind: str                      # dense | dropout | lstm
    units: int = 0
    activation: str | None = None  # None: the default (hidden) or the task's choice (output)
    p: float = 0.0
    return_sequences: bool = False

    def token(self) -> str:
        if self.kind == "dropout":
            return f"drop{self.p:g}"
        if self.kind == "lstm":
            return f"lstm{self.units}{'*' if self.return_sequences else ''}"
        return f"{self.units}:{self.activation}" if self.activation else str(self.units)


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
    sized = sum(1 for t in tokens if _DENSE.match(t) or _LSTM.match(t))
    first = tokens[0]
    if _SHAPE.match(first):
        input_shape = tuple(int(v) for v in first.split("x"))
        tokens = tokens[1:]
    elif first.isdigit() and sized >= 3:
        input_shape = (int(first),)
        tokens = tokens[1:]
    layers = [_parse_layer(tok, text) for tok in tokens]
    if not any(l.kind != "dropout" for l in layers):
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
    raise PynnError(f"Cannot read {tok!r} in model spec {text!r}; expected a size like 30, 100:relu, drop0.5 "
                    "or lstm128.")
