"""What a model computes over the plane of a 2-D set, as TensorFlow Playground draws it: the output's decision
surface and each neuron's own surface (its activation at every point of the plane), read with the model's own
forward pass on a grid of points, the grid put through the model's features first. Also the same surfaces
epoch by epoch, from a replay of the saved run (pynn.inspect.filmstrip)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pynn.data.dataset import CLASSIFICATION, Dataset
from pynn.data.playground import PRETTY, feature_matrix
from pynn.errors import PynnError
from pynn.inspect.activations import layer_outputs, unit_layer, unit_layers
from pynn.inspect.filmstrip import replay_saved_run
from pynn.inspect.weights import check_units
from pynn.model import Sequential
from pynn.train import EpochEnd

DEFAULT_RESOLUTION = 40


@dataclass
class Plane:
    """A 2-D set as drawn: the features its model reads, the box shown, and its points where they are."""
    features: list[str]
    extent: list[list[float]]      # [[x1 low, x1 high], [x2 low, x2 high]]
    x_train: np.ndarray            # (m, 2) raw coordinates
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    task: str


def why_no_plane(data: Dataset) -> str:
    """Why data has no plane to draw on, in a sentence, or ""."""
    if "plane" in data.meta:
        return ""
    return (f"Surfaces are drawn over a plane of two inputs (x1, x2); {data.name}'s samples have shape "
            f"{tuple(data.sample_shape)}. Try xor, circles, spiral, moons, plane, bump or a CSV of two columns.")


def plane_of(data: Dataset) -> Plane:
    """The plane of a 2-D set loaded by load_dataset (see pynn.data.playground.on_the_plane)."""
    reason = why_no_plane(data)
    if reason:
        raise PynnError(reason)
    p = data.meta["plane"]
    return Plane(list(p["features"]), p["extent"], p["x_train"], data.y_train, p["x_test"], data.y_test, data.task)


def why_no_surface(model: Sequential, plane: Plane) -> str:
    """Why model cannot be drawn over plane, in a sentence, or ""."""
    if any(layer.kind != "dense" and layer.kind != "dropout" for layer in model.layers):
        kinds = sorted({layer.kind for layer in model.layers} - {"dense", "dropout"})
        return f"{model.spec} has {', '.join(kinds)} layers; surfaces are drawn for dense networks on 2-D data."
    if tuple(model.input_shape) != (len(plane.features),):
        return (f"{model.spec} reads {model.input_shape[0]} features but the data gives "
                f"{len(plane.features)} ({', '.join(plane.features)}).")
    return ""


def grid(extent, resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x1 axis (R,), x2 axis (R,), points (R*R, 2)): pixel centres of an R x R picture of the box, row 0 at
    the top (the largest x2) as a plot has it, each row left to right."""
    if resolution < 2:
        raise PynnError(f"A surface needs a resolution of at least 2 points a side, not {resolution}.")
    (x1_low, x1_high), (x2_low, x2_high) = extent
    x1 = x1_low + (np.arange(resolution) + 0.5) * (x1_high - x1_low) / resolution
    x2 = x2_high - (np.arange(resolution) + 0.5) * (x2_high - x2_low) / resolution
    g1, g2 = np.meshgrid(x1, x2)
    return x1, x2, np.stack([g1.ravel(), g2.ravel()], axis=1)


@dataclass
class NeuronSurfaces:
    layer: int                 # numbered as W[l]
    neurons: list[int]
    activation: str
    maps: np.ndarray           # (neurons, R, R): each neuron's output over the plane
    incoming: np.ndarray       # (neurons, inputs): their weights from the layer below (the features for layer 1)
    bias: np.ndarray           # (neurons,)


@dataclass
class Surfaces:
    x1: np.ndarray             # (R,) the columns' x1
    x2: np.ndarray             # (R,) the rows' x2, top first
    features: list[str]
    outputs: np.ndarray        # (units, R, R): what the model outputs (probabilities, or values)
    decision: np.ndarray | None  # (R, R) one signed surface of the output, or None for 3 classes or more
    meaning: str               # what decision holds, in words
    layers: list[NeuronSurfaces]


def decision_surface(model: Sequential, outputs: np.ndarray) -> tuple[np.ndarray | None, str]:
    """One signed surface from the model's outputs (units, ...): p(class 1) - p(class 0) for two classes,
    2p - 1 for one sigmoid unit, the value for one unit of regression; None for more classes."""
    if len(outputs) == 2 and model.task == CLASSIFICATION:
        return outputs[1] - outputs[0], "p(class 1) − p(class 0)"
    if len(outputs) == 1 and model.loss.name == "bce":
        return 2 * outputs[0] - 1, "2·p(1) − 1"
    if len(outputs) == 1:
        return outputs[0], "the output"
    return None, ""


def surfaces(model: Sequential, plane: Plane, resolution: int = DEFAULT_RESOLUTION, *,
             layers: list[int] | None = None, neurons: list[int] | None = None,
             neuron_resolution: int | None = None) -> Surfaces:
    """The output's surfaces at resolution x resolution points, and the neurons' of `layers` (layer numbers;
    default every hidden layer; neurons: which, default all) at neuron_resolution (default the same), all by
    the model's own forward pass (inference mode) on the grid's features."""
    reason = why_no_surface(model, plane)
    if reason:
        raise PynnError(reason)
    model = model.frozen()
    x1, x2, points = grid(plane.extent, resolution)
    outputs = _outputs(model, points, plane.features).T.reshape(-1, resolution, resolution)
    decision, meaning = decision_surface(model, outputs)
    chosen = [layer.index for layer in unit_layers(model)[:-1]] if layers is None else layers
    r = neuron_resolution or resolution
    _, _, small = grid(plane.extent, r)
    below = layer_outputs(model, feature_matrix(small, plane.features)) if chosen else []
    drawn = []
    for index in chosen:
        layer = unit_layer(model, index)
        units = check_units(layer, neurons) if neurons is not None else list(range(layer.units))
        values = below[layer.position - 1]
        if layer is model.layers[-1]:
            values, activation = model.loss.predictions(values), "output"
        else:
            activation = layer.activation
        maps = values[:, units].T.reshape(len(units), r, r).astype(np.float64)
        drawn.append(NeuronSurfaces(index, units, activation, maps, np.array(layer.W[units]), np.array(layer.b[units])))
    return Surfaces(x1, x2, list(plane.features), outputs.astype(np.float64), decision, meaning, drawn)


def _outputs(model: Sequential, points: np.ndarray, features: list[str]) -> np.ndarray:
    """What model.predict answers for the points of the plane: (points, units)."""
    return model.predict(feature_matrix(points, features)).reshape(len(points), -1)


def feature_surfaces(plane: Plane, resolution: int) -> np.ndarray:
    """(features, R, R): each input feature over the plane, Playground's input column."""
    _, _, points = grid(plane.extent, resolution)
    return feature_matrix(points, plane.features).T.reshape(-1, resolution, resolution).astype(np.float64)


def feature_labels(names) -> list[str]:
    return [PRETTY.get(name, name) for name in names]


# -- across epochs ---------------------------------------------------------------------------------------------

class EpochSnapshots:
    """An on_event callback that keeps every parameter before training and after each epoch."""

    def __init__(self, model: Sequential):
        self.model = model
        self.epochs: list[int] = [0]
        self.params: list[np.ndarray] = [model.snapshot()]

    def __call__(self, event) -> None:
        if isinstance(event, EpochEnd):
            self.epochs.append(event.record.epoch)
            self.params.append(self.model.snapshot())


@dataclass
class SurfaceFilm:
    epochs: list[int]                 # the frames' epochs, 0 the initialisation
    frames: list[Surfaces]
    matches_saved: bool               # the replay ended on exactly the saved weights


def replay_surfaces(path: str, data: Dataset, resolution: int, *, frames: int = 6, layers: list[int] | None = None,
                    neurons: list[int] | None = None, neuron_resolution: int | None = None) -> SurfaceFilm:
    """The surfaces of the model saved at path at `frames` epochs from its initialisation to its last (evenly
    spread), by training it again from its first weights with its saved settings."""
    plane = plane_of(data)
    model, recorder, matches = replay_saved_run(path, data, EpochSnapshots)
    reason = why_no_surface(model, plane)
    if reason:
        raise PynnError(reason)
    picks = sorted(set(np.linspace(0, len(recorder.epochs) - 1, max(2, frames)).round().astype(int)))
    film = []
    for i in picks:
        model.restore(recorder.params[i])
        film.append(surfaces(model, plane, resolution, layers=layers, neurons=neurons,
                             neuron_resolution=neuron_resolution))
    return SurfaceFilm([recorder.epochs[i] for i in picks], film, matches)
