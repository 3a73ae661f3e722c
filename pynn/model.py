"""Sequential models: an ordered list of layers whose parameters live in one flat buffer.

All weight matrices come first in that buffer and all biases after them, so an optimiser updates the whole
model in one call and L2 applies to exactly the leading block. The model checks the whole chain of shapes
when it is built and says in words what does not fit.
"""
from __future__ import annotations

import copy
import dataclasses
import threading

import numpy as np

from pynn.data.dataset import CLASSIFICATION, Dataset
from pynn.errors import PynnError
from pynn.layers import Dense, Dropout, Layer, activation_name, written_activation
from pynn.losses import Loss, loss_name, resolve_head
from pynn.run import ConfigError, RunConfig, data_fields
from pynn.spec import LayerSpec, ModelSpec, parse_spec
from pynn.words import plural

DEFAULT_HIDDEN_ACTIVATION = "sigmoid"  # the classic 784-30-10 network's, whose weight maps read well


class Sequential:
    """An ordered list of layers, made from a spec (pynn.build, build_model) or from layer objects:

        model = pynn.Sequential([pynn.Dense(30, "sigmoid"), pynn.Dense(10)])
        model.fit(data, epochs=3)

    Layer objects need no input size and no loss: the first data the model sees (fit) gives the input shape,
    and its task the output's activation and the loss (set_head), as a spec's data does."""

    def __init__(self, layers: list[Layer], loss: str | None = None, n_outputs: int | None = None,
                 task: str | None = None, class_names: list[str] | None = None,
                 hidden_activation: str = DEFAULT_HIDDEN_ACTIVATION, double_softmax: bool = False):
        self.layers = checked_layers(layers)
        self.written = ModelSpec(None, [layer_spec(layer) for layer in self.layers])  # before any head is set
        self.task = task
        self.class_names = class_names
        self.loss: Loss | None = None  # set with the head: here when the task is given, else when fit sees data
        self.input_shape: tuple[int, ...] | None = None
        self.notes: list[str] = []   # things the user should be told about how the model was assembled
        self.spec = ""
        self.init = "lecun"
        self.seed = 0
        self.run = RunConfig(loss=loss_name(loss) if loss else None)  # what made the model and last trained it
        self.history: list = []      # the last fit's epoch records
        self.data_summary: dict | None = None  # what the data it was built or last trained on looked like
        self.weights_from_init = False  # until trained or restored, fit may draw them again for its seed
        # None for pynn's own models; for one read from another framework (pynn.interop), a dict: "framework"
        # (Keras, PyTorch ...), "format" (keras, h5, onnx, safetensors), "framework_params" (its own count),
        # "notes" (sentences on what pynn assumed in reading it) and "output_softmax" (its output applies one)
        self.origin: dict | None = None
        # Held while parameters change, so a reader in another thread never sees a half-updated layer.
        self.lock = threading.RLock()
        if task is not None:
            self.set_head(task, loss, n_outputs, hidden_activation, double_softmax)

    # -- building ------------------------------------------------------------------------------------------

    def set_head(self, task: str, loss: str | None = None, n_outputs: int | None = None,
                 hidden_activation: str = DEFAULT_HIDDEN_ACTIVATION, double_softmax: bool = False) -> None:
        """Settle what the task decides: the output's activation and the loss, fused where the loss kernel
        applies that activation itself (softmax inside cross-entropy, sigmoid inside binary cross-entropy),
        and the activation of hidden dense layers that name none. double_softmax: the loss applies the output's
        softmax and then cross-entropy's own, as asked (pynn.losses)."""
        output = self.layers[-1]
        loss, output.activation, self.notes = resolve_head(task, loss, output.activation, double_softmax)
        output.fused_into_loss = loss in ("xent", "bce")
        for layer in self.layers[:-1]:
            if layer.kind == "dense" and layer.activation is None:
                layer.activation = activation_name(hidden_activation)
        _refuse_hidden_softmax(self.layers)
        self.task, self.loss = task, Loss(loss, n_outputs or output.units, double_softmax)

    @property
    def built(self) -> bool:
        """Its parameters are allocated (build), not only its shapes worked out (plan)."""
        return hasattr(self, "params")

    def plan(self, input_shape: tuple[int, ...]) -> "Sequential":
        """Work out every layer's shapes, allocating nothing: enough to count parameters and to check the
        model against data before (or instead of) building it."""
        self.input_shape = tuple(int(v) for v in input_shape)
        if not self.input_shape or min(self.input_shape) < 1:
            raise PynnError(f"An input shape needs positive sizes, not {self.input_shape}.")
        shape, per_step = self.input_shape, False
        for position, (layer, number) in enumerate(zip(self.layers, layer_numbers(self.layers)), start=1):
            shape = layer.build(shape, number, per_step=per_step)
            layer.position = position
            per_step = getattr(layer, "return_sequences", per_step)
        self.output_shape = shape
        return self

    def build(self, input_shape: tuple[int, ...], init: str = "lecun", seed: int = 0,
              expected_params: int | None = None) -> "Sequential":
        """Work out every shape, then allocate and initialise. expected_params (from a file) is checked before
        allocating, so a damaged header cannot ask for an enormous model."""
        self.plan(input_shape)
        n_params = count_params(self.layers)
        if expected_params is not None and n_params != expected_params:
            raise PynnError(f"The layers describe {n_params:,} parameters but {expected_params:,} are stored.")
        self._allocate()
        self.initialise(init, seed)
        return self

    def initialise(self, init: str, seed: int) -> None:
        """Draw every parameter afresh from init and seed (dropout's masks are seeded from them too)."""
        rng = np.random.default_rng(seed)
        with self.lock:
            for layer in self.layers:
                layer.initialise(init, rng)
        self.init, self.seed, self.weights_from_init = init, seed, True

    def _layout(self) -> list:
        """(layer, spec, size) for every parameter, in the order of the flat buffers: weights, then biases."""
        specs = [(layer, spec, int(np.prod(spec.shape))) for layer in self.layers for spec in layer.param_specs()]
        return [s for s in specs if s[1].decays] + [s for s in specs if not s[1].decays]

    def _allocate(self) -> None:
        layout = self._layout()
        self.params = np.zeros(sum(size for _, _, size in layout), np.float32)
        self.grads = np.zeros_like(self.params)
        self.n_weights = sum(size for _, spec, size in layout if spec.decays)
        self._bind_layers()

    def _bind_layers(self) -> None:
        """Hand every layer its views into params and grads."""
        views: dict[int, tuple[dict, dict]] = {id(layer): ({}, {}) for layer in self.layers}
        offset = 0
        for layer, spec, size in self._layout():
            p, g = views[id(layer)]
            p[spec.name] = self.params[offset:offset + size].reshape(spec.shape)
            g[spec.name] = self.grads[offset:offset + size].reshape(spec.shape)
            offset += size
        for layer in self.layers:
            layer.bind(*views[id(layer)])

    def check_input(self, sample_shape: tuple[int, ...], what: str = "the data") -> None:
        """Raise a PynnError in words when samples of this shape cannot enter the first layer."""
        first = self.param_layers[0]  # layer 1: a dropout before it passes any shape on as it is
        expected = self.input_shape
        if first.kind in ("dense", "conv") and not first.per_step:  # both read a sample whole, in their own shape
            have, want = int(np.prod(sample_shape)), int(np.prod(expected))
            if have != want:
                raise PynnError(f"Layer 1 expects {plural(want, 'feature')} per sample; {what} has {have} "
                                f"(samples of shape {'x'.join(map(str, sample_shape))}).")
        elif tuple(sample_shape)[-1:] != tuple(expected)[-1:] or len(sample_shape) != len(expected):
            raise PynnError(f"Layer 1 expects samples of shape {'x'.join(map(str, expected))}; {what} has "
                            f"{'x'.join(map(str, sample_shape))}.")

    def check_targets(self, y: np.ndarray, what: str = "the data", n_classes: int | None = None) -> None:
        """Raise a PynnError in one sentence, naming what would fit, when targets y (m, ...) cannot be paired with
        this model's outputs: said before training, not as a shape error from inside a loss."""
        mismatch = self.target_mismatch(y, what, n_classes)
        if mismatch:
            raise PynnError(f"{mismatch[0]}; {mismatch[1]}.")

    def target_mismatch(self, y: np.ndarray, what: str = "the data",
                        n_classes: int | None = None) -> tuple[str, str] | None:
        """(what does not fit, what would) when targets y (m, ...) cannot be paired with this model's outputs,
        else None. n_classes: how many classes the data has, when it has class labels."""
        if self.loss.name == "xent" or np.issubdtype(y.dtype, np.integer):
            return self._label_mismatch(y, what, n_classes)
        return self._value_mismatch(tuple(y.shape[1:]), what)

    def _label_mismatch(self, y, what, n_classes):
        out, per_sample = tuple(self.output_shape), tuple(y.shape[1:])
        units, steps = out[-1], per_sample[0] if per_sample else 0
        if per_sample != out[:-1]:
            if len(per_sample) == 1 and len(out) == 1:
                return (f"{_capital(what)} has a class label at each of its {steps} steps, but the model outputs one "
                        f"set of {units} class scores per sample{self._last_step_only()}",
                        f"{self._with_every_step(True)} to score every step, or use data with one label per sequence")
            if not per_sample and len(out) == 2:
                return (f"The model outputs {units} class scores at each of {out[0]} steps (its LSTM returns every "
                        f"step), but {what} has one label per sample",
                        f"{self._with_every_step(False)} to classify from the last step")
            return (f"The model outputs {_shape(out)} values per sample, but {what} has class labels of shape "
                    f"{_shape(per_sample) or 'one per sample'}", "the output needs one set of class scores per label")
        n_classes = n_classes or (len(self.class_names) if self.class_names else None)
        if n_classes and n_classes != units:
            return (f"The output layer has {plural(units, 'unit')} but {what} has {n_classes} classes",
                    f"end the spec with -{n_classes}")
        if y.size and int(y.min()) < 0:
            return (f"{_capital(what)} has negative class labels (down to {int(y.min())})",
                    "class labels count from 0")
        if y.size and int(y.max()) >= units:
            return (f"{_capital(what)} has labels up to {int(y.max())}, but the output layer has "
                    f"{plural(units, 'unit')} (classes 0 to {units - 1})", f"end the spec with -{int(y.max()) + 1}")
        return None

    def _value_mismatch(self, per_sample, what):
        out = tuple(self.output_shape)
        units, values = out[-1], int(np.prod(per_sample))
        if len(out) == 2:  # a value (or several) at every step
            if per_sample == out or (per_sample == out[:1] and units == 1):
                return None
            if len(per_sample) == 2 and per_sample[0] == out[0]:
                return (f"The output layer has {plural(units, 'unit')} but {what} has {_values(per_sample[1])} "
                        "at each step",
                        f"end the spec with -{per_sample[1]}")
            return (f"The model outputs {_values(units, '')} at each of {out[0]} steps (its LSTM returns every "
                    f"step), but {what} has {_values(values)} per sample",
                    f"{self._with_every_step(False, units=values)} to predict from the last step")
        if values == units:  # a flat output: each unit predicts one target value, however they are laid out
            return None
        if len(per_sample) == 2 and per_sample[1] == units:
            return (f"{_capital(what)} has {_values(units)} at each of its {per_sample[0]} steps, but the model "
                    f"outputs {units} per sample{self._last_step_only()}",
                    f"{self._with_every_step(True)} to predict every step, or use one target per sequence")
        return (f"The output layer has {plural(units, 'unit')} but {what} has {_values(values)} per sample",
                f"end the spec with -{values}")

    def _last_step_only(self) -> str:
        return " (its LSTM returns only its last step)" if any(l.kind == "lstm" for l in self.layers) else ""

    def _with_every_step(self, every_step: bool, units: int | None = None) -> str:
        """A remedy: this model's spec with its last LSTM returning every step (or only its last), and an output
        of `units` when given."""
        lstms = [i for i, layer in enumerate(self.layers) if layer.kind == "lstm"]
        if not lstms:
            return f"use an LSTM that returns every step (e.g. lstm64*-{self.output_shape[-1]})"
        try:
            layers = parse_spec(self.spec).layers
        except PynnError:
            layers = []
        if len(layers) != len(self.layers):  # a model assembled in code has no spec to rewrite
            return f"give the last LSTM return_sequences={every_step}"
        layers[lstms[-1]].return_sequences = every_step
        layers[-1].units = units or layers[-1].units
        return "write " + "-".join(layer.token() for layer in layers)

    # -- computing -----------------------------------------------------------------------------------------

    def forward(self, x: np.ndarray, training: bool = False, *, upto: int | None = None,
                states: list | None = None) -> tuple[np.ndarray, list]:
        """(output, caches) for a batch x (m, *input_shape): the output layer's raw output (logits for the fused
        losses), or when given the output of the first `upto` layers of model.layers (a layer's position, dropout
        counted, not its number), and one cache per layer run, which backward takes.
        Nothing is kept on the model, so forwards on different batches may interleave; the weights are read
        as they are, so a reader in another thread than the trainer's runs this on a frozen() copy. states, for
        a stateful reading of a stream: per layer of model.layers, the state its LSTM starts from ((h0, c0), as
        pynn.lstm.carried_states gives them) or None for the zero state, as without states."""
        out, caches = np.ascontiguousarray(x, dtype=np.float32), []
        for i, layer in enumerate(self.layers[:upto]):
            state = states[i] if states else None
            out, cache = layer.forward(out, training) if state is None else layer.forward(out, training, state=state)
            caches.append(cache)
        return out, caches

    def backward(self, dout: np.ndarray, caches: list, need_dx: bool = False) -> np.ndarray | None:
        """Accumulate into grads the gradients for the forward that made `caches` (through the layers it ran),
        given dout, the loss's gradient wrt that forward's output; the gradient wrt its input when need_dx."""
        for i in reversed(range(len(caches))):
            dout = self.layers[i].backward(dout, caches[i], need_dx=i > 0 or need_dx)
        return dout if need_dx else None

    def train_step(self, x: np.ndarray, y: np.ndarray, states: list | None = None) -> tuple[float, list]:
        """Zero the gradients, forward, loss, backward. states: where each LSTM starts, as forward takes them (a
        stateful run's truncated BPTT: an input of this batch, not back-propagated through). Returns (mean loss,
        the states the batch ends in: the `states` of the step on the windows that follow)."""
        from pynn.lstm import carried_states  # imported where used, as _recurrent_layer imports pynn.lstm

        self.grads.fill(0.0)
        out, caches = self.forward(x, training=True, states=states)
        loss, dout, _ = self.loss(out, y)
        self.backward(dout, caches)
        return loss, carried_states(self, caches)

    def predict(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Probabilities (fused heads) or values, computed in batches on the weights as they are when called."""
        self._check_built("predict")
        model = self.frozen()
        parts = [self.loss.predictions(model.forward(x[i:i + batch_size])[0]) for i in range(0, len(x), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, *self.output_shape), np.float32)

    def evaluate(self, x: np.ndarray | Dataset, y: np.ndarray | None = None, batch_size: int = 2048, *,
                 split: str = "test") -> dict:
        """Mean loss and, for labelled tasks, accuracy over a whole set, on the weights as they are when called:
        arrays x and y, or a Dataset's test split (split="train" for its training split)."""
        self._check_built("evaluate")
        x, y = _scored_set(x, y, split)
        total, correct = 0.0, 0
        model = self.frozen()
        for i in range(0, len(x), batch_size):
            out = model.forward(x[i:i + batch_size])[0]
            loss, _, pred = self.loss(out, y[i:i + batch_size])
            total += loss * len(out)
            correct += count_correct(pred, y[i:i + batch_size], self.loss.name)
        result = {"loss": total / max(len(x), 1)}
        if self.loss.name != "mse" or self.task == CLASSIFICATION:
            result["accuracy"] = correct / max(len(x), 1)
        return result

    def _check_built(self, what: str) -> None:
        if not self.built:
            raise PynnError(f"The model has no weights yet to {what} with: a model of layers gets them when it "
                            "first sees data, so fit it first (or make it with pynn.build).")

    # -- training (the Python front door: pynn.build, then fit) ---------------------------------------------

    def fit(self, data: Dataset, *, on_event=None, **fields) -> list:
        """Train on data's training split, as Keras's fit does. The keywords are fields of the run description
        (pynn.run.RunConfig: epochs, batch, optimizer, lr, l2, clip, val_split, early_stop, seed, ...); the
        others stay as the model's own description, model.run, which then describes this run. A model that has
        not trained yet draws its weights for the run's init and seed. on_event is the Trainer's (called after
        each batch and epoch). Returns the history, one record per epoch, also kept as model.history."""
        from pynn.train import Trainer  # it imports this module

        _check_dataset(data, "fit")
        run = self._run_with(fields, data)
        with self.lock:
            if self.loss is None:  # a model of layer objects meets its first data
                self.class_names = data.class_names
                self.set_head(data.task, run.loss, hidden_activation=run.activation,
                              double_softmax=run.double_softmax)
            if not self.built:
                self.build(self.input_shape or data.sample_shape, run.init, run.seed)
                self.spec = self.spec or str(ModelSpec(self.input_shape, self.written.layers))
            elif self.weights_from_init and (run.init, run.seed) != (self.init, self.seed):
                self.initialise(run.init, run.seed)
        self.run = dataclasses.replace(run, model=run.model or self.spec)
        self.data_summary, self.weights_from_init = data.describe(), False
        self.history = Trainer(self, self.run, on_event).fit(data.x_train, data.y_train)
        return self.history

    def _run_with(self, fields: dict, data: Dataset) -> RunConfig:
        """The model's description with fit's fields and the data's name; one sentence for a field that fit
        cannot honour (the data's own, or one the made layers fix)."""
        run = RunConfig.from_dict({**self.run.to_dict(), **fields}, "model.fit")
        for name in fields:
            if getattr(run, name) == getattr(self.run, name):
                continue
            if RunConfig.__dataclass_fields__[name].metadata["group"] == "data":
                raise ConfigError(name, "describes how data is loaded, and fit takes the data itself; give it to "
                                  "pynn.load_dataset")
            if name == "model" or (name in ("activation", "loss", "dropout", "double_softmax")
                                   and self.loss is not None):
                raise ConfigError(name, "shapes the layers, which this model already has; give it to pynn.build")
            if name == "dropout":
                raise ConfigError(name, "adds dropout to a spec; a model of layers takes pynn.Dropout layers")
            if name == "init" and self.built and not self.weights_from_init:
                raise ConfigError(name, "draws the first weights, and this model has trained already")
        return dataclasses.replace(run, data=data.name)

    # -- parameters ----------------------------------------------------------------------------------------

    @property
    def param_layers(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.param_specs()]

    def layer_numbered(self, number: int) -> Layer | None:
        """The layer the course calls l = number (whose weights are W[number]), or None if there is none."""
        return next((layer for layer in self.layers if layer.index == number), None)

    @property
    def n_params(self) -> int:
        return count_params(self.layers)

    def snapshot(self) -> np.ndarray:
        """A consistent copy of every parameter, safe to take while another thread trains."""
        with self.lock:
            return self.params.copy()

    def frozen(self) -> "Sequential":
        """This model on a snapshot of its weights: the same layers' shapes and settings, bound to a copy of
        the parameters taken under the lock, which is held for that copy only. A reader (an analysis, the app)
        may then take as long as it likes while another thread trains this model. The copy is read-only, so a
        frozen model never changes and is its own snapshot; its gradients are scratch for analyses that run
        backward (activation maximisation), and its layers have scratch of their own."""
        if self.frozen_weights:
            return self
        twin = copy.copy(self)
        twin.lock = threading.RLock()
        twin.params = self.snapshot()
        twin.params.flags.writeable = False
        twin.grads = np.zeros_like(twin.params)
        twin.layers = [layer.twin() for layer in self.layers]
        twin._bind_layers()
        return twin

    @property
    def frozen_weights(self) -> bool:
        """True for a model from frozen(): its weights cannot change."""
        return hasattr(self, "params") and not self.params.flags.writeable

    def restore(self, params: np.ndarray) -> None:
        with self.lock:
            self.params[...] = params
        self.weights_from_init = False

    def grad_norms(self) -> list[float]:
        """The L2 norm of each parameterised layer's gradient, input side first."""
        return [layer.grad_norm() for layer in self.param_layers]


def count_params(layers: list[Layer]) -> int:
    """The parameters these shaped layers hold: what build allocates, `pynn summary` shows and the doctor
    weighs against the data."""
    return sum(int(np.prod(spec.shape)) for layer in layers for spec in layer.param_specs())


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _values(n: int, kind: str = "target ") -> str:
    return plural(n, f"{kind}value")


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def count_correct(pred: np.ndarray, y: np.ndarray, loss: str) -> float:
    """Correct predictions in a batch: argmax for classes, a 0.5 threshold for 0/1 targets."""
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        return int((pred.reshape(len(pred), -1).argmax(axis=1) == y).sum())
    if y.ndim == 2 and np.issubdtype(y.dtype, np.integer):  # a label per step: each sample counts its share
        return float((pred.argmax(axis=-1) == y).mean(axis=1).sum())
    if loss == "bce":
        return int(((pred > 0.5) == (y.reshape(pred.shape) > 0.5)).all(axis=tuple(range(1, pred.ndim))).sum())
    return 0


def checked_layers(layers) -> list[Layer]:
    """The layers a Sequential is made of, or one sentence on why they cannot make a model."""
    if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
        raise PynnError(f"Sequential takes a list of layers, e.g. [pynn.Dense(30), pynn.Dense(10)], not "
                        f"{type(layers).__name__} {layers!r}.")
    if not layers:
        raise PynnError("A model needs at least one layer, e.g. pynn.Sequential([pynn.Dense(10)]).")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise PynnError(f"Layer {i + 1} is {type(layer).__name__} {layer!r}, not a layer (pynn.Dense, pynn.LSTM "
                            "or pynn.Dropout).")
        first = next(j for j, other in enumerate(layers) if other is layer)
        if first != i:  # the two places would share, and overwrite, one layer's weights
            raise PynnError(f"Layers {first + 1} and {i + 1} are the same {type(layer).__name__} object; make a new "
                            "one for each place.")
    if all(layer.kind == "dropout" for layer in layers):
        raise PynnError("A model needs a layer with units, but this one has only Dropout; end it with a Dense "
                        "output layer, e.g. pynn.Dense(10).")
    if layers[-1].kind != "dense":
        raise PynnError(f"A model ends with a Dense output layer, e.g. pynn.Dense(10), but this one ends with "
                        f"{type(layers[-1]).__name__}.")
    _refuse_hidden_softmax(layers)
    return list(layers)


def layer_numbers(layers: list[Layer]) -> list[int | None]:
    """Each layer's number as the course writes W[l]: the layers with weights counted 1, 2, ... from the input
    side, and None for one without (dropout)."""
    numbers, count = [], 0
    for layer in layers:
        count += layer.numbered
        numbers.append(count if layer.numbered else None)
    return numbers


def _refuse_hidden_softmax(layers: list[Layer]) -> None:
    for layer, number in list(zip(layers, layer_numbers(layers)))[:-1]:
        if layer.kind == "dense" and layer.activation == "softmax":
            raise PynnError(f"Layer {number} is a hidden softmax; pynn applies softmax only on the "
                            "output, inside cross-entropy. Use sigmoid, tanh or relu for hidden layers.")


def layer_spec(layer: Layer) -> LayerSpec:
    """A layer as its spec token says it (with the activation written, if any)."""
    return spec_of_record(layer.describe())


def spec_of_record(d: dict) -> LayerSpec:
    """A layer's record (Layer.describe(), as a model file's header keeps it) as its spec token."""
    return LayerSpec(d["kind"], d.get("units", d.get("filters", 0)), d.get("activation"), d.get("p", 0.0),
                     d.get("return_sequences", False), d.get("kernel", d.get("size", 0)), d.get("stride", 1),
                     d.get("padding", "valid"))


def _check_dataset(data, what: str) -> None:
    if not isinstance(data, Dataset):
        raise PynnError(f"{what} takes a Dataset, e.g. pynn.load_dataset(\"digits\"), not {type(data).__name__}.")


def _scored_set(x, y, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) to evaluate on: the arrays given, or a Dataset's split."""
    if not isinstance(x, Dataset):
        if y is None:
            raise PynnError("evaluate takes a Dataset, or arrays x and y; the targets y are missing.")
        return x, y
    if split not in ("train", "test"):
        raise PynnError(f"split must be 'train' or 'test', not {split!r}.")
    if y is not None:
        raise PynnError("evaluate takes a Dataset or arrays x and y, not a Dataset and y.")
    return (x.x_test, x.y_test) if split == "test" else (x.x_train, x.y_train)


def build(spec: str, data: Dataset | None = None, **fields) -> Sequential:
    """pynn.build: a built, initialised model from a spec and fields of the run description (activation, init,
    loss, dropout, seed; training fields such as epochs are kept for fit). The input size comes from the data
    when the spec does not give it. The model carries the description as model.run."""
    if data is not None:
        _check_dataset(data, "pynn.build")
        fields = {**(data_fields(data.recipe) if data.recipe else {"data": data.name}), **fields}
    run = RunConfig.from_dict({"model": spec, **fields}, "pynn.build")
    if run.model is None:
        raise ConfigError("spec", "needs a model spec such as '784-30-10'")
    model = run.build_model(data)
    model.data_summary = data.describe() if data is not None else None
    return model


def build_model(spec: str | ModelSpec, data: Dataset | None = None, *, loss: str | None = None,
                task: str | None = None, n_outputs: int | None = None, init: str = "lecun", seed: int = 0,
                hidden_activation: str = DEFAULT_HIDDEN_ACTIVATION, expected_params: int | None = None,
                double_softmax: bool = False) -> Sequential:
    """A built, initialised model from a spec string; the input size comes from the data when not written.
    With data, the data's samples must fit its input and its targets its outputs."""
    model = plan_model(spec, data, loss=loss, task=task, n_outputs=n_outputs, hidden_activation=hidden_activation,
                       double_softmax=double_softmax)
    model.build(model.input_shape, init=init, seed=seed, expected_params=expected_params)
    if data is not None:
        model.check_input(data.sample_shape)
        model.check_targets(data.y_train, n_classes=data.n_outputs if model.task == CLASSIFICATION else None)
    model.run = RunConfig(model=model.spec, activation=written_activation(activation_name(hidden_activation)),
                          init=init,
                          loss=model.run.loss, seed=seed, double_softmax=model.loss.double_softmax,
                          **({"data": data.name} if data is not None else {}))
    return model


def plan_model(spec: str | ModelSpec, data: Dataset | None = None, *, loss: str | None = None,
               task: str | None = None, n_outputs: int | None = None,
               hidden_activation: str = DEFAULT_HIDDEN_ACTIVATION, double_softmax: bool = False) -> Sequential:
    """A model from a spec with every shape worked out and nothing allocated (see Sequential.plan)."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    task = task or (data.task if data is not None else CLASSIFICATION)
    input_shape = parsed.input_shape
    if input_shape is None:
        if data is None:
            raise PynnError(f"Model spec {str(parsed)!r} does not give the input size and there is no data to "
                            "take it from; write it first, e.g. 784-30-10.")
        input_shape = data.sample_shape
    layers: list[Layer] = []
    for ls in parsed.layers:
        if ls.kind == "dense":
            layers.append(Dense(ls.units, ls.activation))  # unwritten: the model settles it (set_head)
        elif ls.kind == "dropout":
            layers.append(Dropout(ls.p))
        elif ls.kind in ("conv", "pool"):
            from pynn.convolution import layer_of_spec  # loads the conv kernels only for a model that has one
            layers.append(layer_of_spec(ls))
        else:
            layers.append(_recurrent_layer(ls))
    model = Sequential(layers, loss, n_outputs or parsed.layers[-1].units, task,
                       data.class_names if data is not None else None, hidden_activation, double_softmax)
    model.plan(input_shape)
    model.spec = str(ModelSpec(tuple(input_shape), parsed.layers))
    return model


def _recurrent_layer(ls):
    try:
        from pynn.lstm import LSTM
    except ImportError:
        raise PynnError("LSTM layers are not available in this build of pynn.") from None
    return LSTM(ls.units, return_sequences=ls.return_sequences)
