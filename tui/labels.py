"""How classes and characters are written wherever they are shown, in the commands and the app alike: a class
by its name, a line break or a space as a symbol that can be seen, a one-hot sequence as its text."""
from __future__ import annotations

import numpy as np

from pynn.data.dataset import Dataset
from pynn.model import Sequential

LINE_BREAKS = {"\n": "⏎", "\t": "⇥", "\r": "␍"}


def class_name(model: Sequential, data: Dataset, index: int) -> str:
    names = model.class_names or data.class_names
    return shown_char(names[index]) if names and 0 <= index < len(names) else str(index)


def characters(model: Sequential) -> list[str] | None:
    """A character model's vocabulary (one-hot characters in, the next character out at every step): its
    class names, which are also its input features; None for any other model."""
    names = model.class_names
    if names and len(model.output_shape) == 2 and model.input_shape[-1] == len(names) == model.output_shape[-1]:
        return list(names)
    return None


def shown_char(ch: str) -> str:
    """A character as a label that can be seen: line breaks and a space get a symbol."""
    return {**LINE_BREAKS, " ": "␣"}.get(ch, ch)


def as_text(sample: np.ndarray, names: list[str]) -> str:
    """A sequence of one-hot characters (T, vocabulary) as one line of text."""
    return "".join(LINE_BREAKS.get(names[i], names[i]) for i in np.asarray(sample).argmax(axis=-1))
