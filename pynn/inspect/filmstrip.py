"""One neuron's weights epoch by epoch. A recorder follows a Trainer through its on_event callback; replaying
a saved model's training (same seed, data and settings, so the same numbers on the same machine) fills it
for a model trained without one."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.data.dataset import Dataset
from pynn.errors import PynnError
from pynn.files import load_model
from pynn.inspect.activations import dense_layer
from pynn.inspect.weights import check_units, input_layout, reads_the_input
from pynn.model import Sequential
from pynn.train import EpochEnd, Trainer


class EpochWeights:
    """An on_event callback that copies some neurons' incoming weights before training and after every epoch.
    It runs in the training thread between steps, so each copy is a whole step's weights."""

    def __init__(self, model: Sequential, index: int, neurons: list[int]):
        self.layer = dense_layer(model, index)
        self.neurons = check_units(self.layer, neurons)
        self.epochs: list[int] = [0]
        self.frames: list[np.ndarray] = [np.array(self.layer.W[self.neurons])]

    def __call__(self, event) -> None:
        if isinstance(event, EpochEnd):
            self.epochs.append(event.record.epoch)
            self.frames.append(np.array(self.layer.W[self.neurons]))


@dataclass
class Filmstrip:
    layer: int
    neurons: list[int]
    epochs: list[int]          # 0 is the initialisation
    maps: np.ndarray           # (frames, neurons, H, W)
    matches_saved: bool        # the replay ended on exactly the saved weights


def why_no_filmstrip(model: Sequential, index: int) -> str:
    """Why layer `index` has no filmstrip, in a sentence, or ""."""
    layer = model.layer_numbered(index)
    if getattr(layer, "kind", None) == "lstm":
        return (f"A filmstrip shows a dense neuron's weight map over the input; layer {index} is an LSTM, whose "
                "weights are per gate (pynn weights shows them as they are now).")
    if layer is not None and not reads_the_input(model, layer):
        return f"Layer {index} does not read the input directly; a filmstrip shows first-layer maps."
    return ""


def replay_training(path: str, data: Dataset, index: int, neurons: list[int]) -> Filmstrip:
    """Train the model saved at path again from its initialisation with its saved settings, recording the
    neurons' weights each epoch; says whether the replay reproduced the saved weights exactly."""
    reason = why_no_filmstrip(load_model(path)[0], index)
    if reason:
        raise PynnError(reason)
    model, recorder, matches = replay_saved_run(path, data, lambda model: EpochWeights(model, index, neurons))
    height, width = input_layout(model.input_shape, data.sample_shape)
    maps = np.stack(recorder.frames).reshape(len(recorder.frames), len(recorder.neurons), height, width)
    return Filmstrip(index, recorder.neurons, recorder.epochs, maps, matches)


def replay_saved_run(path: str, data: Dataset, recorder_for):
    """(model, recorder, matches_saved): the model saved at path trained again from its very initialisation
    with its saved settings, recorder_for(model) following the run (an on_event callback); matches_saved says
    whether the replay ended on exactly the saved weights."""
    model, header = load_model(path)
    if not header.get("history"):
        raise PynnError(f"{path} records no training, so there is none to replay.")
    saved = model.snapshot()
    model.build(model.input_shape, init=model.init, seed=model.seed)  # the very initialisation it started from
    recorder = recorder_for(model)
    Trainer(model, model.run, recorder).fit(data.x_train, data.y_train)  # the run that made it, as saved
    return model, recorder, bool(np.array_equal(model.snapshot(), saved))
