"""Keras models read into pynn: Keras 3 `.keras` files (a zip of config.json and model.weights.h5) and legacy
`.h5` files (a model_config attribute and a model_weights group). The HDF5 part is read by h5py in a child
process with a memory limit (pynn.interop.hdf5_dump), which hands back float arrays and text attributes only;
the configuration is JSON. Nothing is unpickled or executed.

Sequential models (or functional ones that are a single chain) of InputLayer, Dense, LSTM, Dropout, Flatten,
Conv2D and MaxPooling2D, with activations by name. Keras keeps a Dense kernel as (n_in, units) and an LSTM's
kernel (n_in, 4U) and recurrent_kernel (U, 4U) with one bias (4U), its gates in the order i, f, c, o: the order
of pynn's blocks (input, forget, candidate, output), so the matrices are only transposed into pynn's W
(units, n_in), Wx (4U, n_in) and Wh (4U, U). A Conv2D's kernel (K, K, C_in, F) and its channels_last maps
(H, W, C) are pynn's own layouts, and Keras's Flatten reads the maps in pynn's H, W, C order, so a conv model's
arrays are taken as they are. The loss the model was compiled with (when saved) decides its head: a linear
output trained with from_logits=True is logits under softmax cross-entropy, as pynn's own output layer is.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from pynn.errors import PynnError
from pynn.layers import Dense, Dropout
from pynn.interop.assemble import assemble, origin
from pynn.interop.hdf5_dump import HDF5Dump, dump_hdf5

SUPPORTED = ("pynn reads Sequential Keras models of InputLayer, Dense, LSTM, Dropout, Flatten, Conv2D and "
             "MaxPooling2D")
# Keras's activation names -> pynn's (Keras 3's leaky_relu has a slope of 0.2 below zero)
ACTIVATIONS = {"linear": "identity", None: "identity", "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
               "softmax": "softmax", "leaky_relu": "leaky_relu"}
KERAS_LEAKY_SLOPE = 0.2
MAX_CONFIG_BYTES = 64 << 20
# a stored member may be at most this many times its compressed size (zip bombs)
MAX_COMPRESSION_RATIO = 200


def read_keras(path) -> "Sequential":  # noqa: F821 - pynn.model.Sequential
    """The Keras model saved at path (.keras or legacy .h5) as a pynn Sequential, with model.origin saying it
    came from Keras and what was assumed; one PynnError sentence for anything pynn cannot read."""
    path = Path(path)
    if not path.is_file():
        raise PynnError(f"No model file at {path}.")
    if path.suffix.lower() == ".keras":
        config, weights_bytes = _keras_zip(path)
        dump = dump_hdf5(weights_bytes, f"{path}'s model.weights.h5")
        return _translate(path, config, _KerasWeights(path, dump), "keras")
    dump = dump_hdf5(path.read_bytes(), str(path))
    return _translate(path, _legacy_config(path, dump), _LegacyWeights(path, dump), "h5")


# -- the files --------------------------------------------------------------------------------------------

def _keras_zip(path: Path) -> tuple[dict, bytes]:
    """(config with its compile_config, the bytes of model.weights.h5) of a .keras zip. Only these two members
    are read, by their exact names, into memory: nothing is extracted, so no member's path can point elsewhere."""
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(_member(path, z, "config.json", MAX_CONFIG_BYTES).decode("utf-8"))
            weights = _member(path, z, "model.weights.h5", path.stat().st_size * MAX_COMPRESSION_RATIO)
    except zipfile.BadZipFile:
        raise PynnError(f"{path} is not a Keras .keras file (not a zip archive).") from None
    except (ValueError, UnicodeDecodeError):
        raise PynnError(f"{path} has a damaged config.json (not valid JSON).") from None
    except (OSError, EOFError, RuntimeError, NotImplementedError) as err:
        raise PynnError(f"{path} is a damaged .keras archive ({err}).") from None
    except Exception as err:  # zlib and struct errors from a corrupted member
        raise PynnError(f"{path} is a damaged .keras archive ({type(err).__name__}: {err}).") from None
    if not isinstance(config, dict):
        raise PynnError(f"{path} has a config.json that does not describe a model.")
    return config, weights


def _member(path: Path, z: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise PynnError(f"{path} lacks {name}; a Keras 3 .keras file holds config.json and model.weights.h5.") \
            from None
    if info.file_size > limit:
        raise PynnError(f"{path}: {name} says it unpacks to {info.file_size:,} bytes, more than a model of this "
                        "file's size can hold.")
    with z.open(info) as f:
        data = f.read(limit + 1)
    if len(data) != info.file_size:
        raise PynnError(f"{path}: {name} is damaged (it unpacks to another size than it says).")
    return data


def _legacy_config(path: Path, dump: HDF5Dump) -> dict:
    """The model_config of a legacy .h5, with its training_config's loss as compile_config."""
    raw = dump.attr("", "model_config")
    if not isinstance(raw, str):
        what = "only weights (save_weights)" if dump.attr("", "layer_names") is not None else "no model"
        raise PynnError(f"{path} holds {what}, no model_config: pynn needs the model saved whole (model.save).")
    try:
        config = json.loads(raw)
        training = dump.attr("", "training_config")
        if isinstance(training, str) and isinstance(config, dict):
            config["compile_config"] = json.loads(training)
    except ValueError:
        raise PynnError(f"{path} has a damaged model_config (not valid JSON).") from None
    if not isinstance(config, dict):
        raise PynnError(f"{path} has a model_config that does not describe a model.")
    return config


class _Weights:
    """A layer's stored arrays by its Keras name (from an HDF5Dump: float arrays the file holds through hard
    links), checked against the shapes its configuration implies."""

    def __init__(self, path: Path, dump: HDF5Dump):
        self.path, self.dump = path, dump

    def arrays(self, name: str) -> list[np.ndarray]:
        raise NotImplementedError

    def read(self, name: str, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
        arrays = self.arrays(name)
        if len(arrays) != len(shapes):
            raise PynnError(f"{self.path}: layer {name!r} holds {len(arrays)} weight arrays where its "
                            f"configuration needs {len(shapes)}.")
        for array, shape in zip(arrays, shapes):
            if tuple(array.shape) != tuple(shape):
                raise PynnError(f"{self.path}: layer {name!r} holds an array of shape {tuple(array.shape)} where "
                                f"its configuration needs {tuple(shape)}.")
        return arrays


class _KerasWeights(_Weights):
    """model.weights.h5 of a .keras file: layers/<path>/vars/0, 1 ... (an LSTM's under layers/<path>/cell/vars),
    each layer's group naming the layer in its vars' 'name' attribute."""

    def __init__(self, path, dump):
        super().__init__(path, dump)
        self.groups = {}
        for key in dump.children("layers"):
            name = dump.attr(f"layers/{key}/vars", "name")
            self.groups[name if isinstance(name, str) else key] = key

    def arrays(self, name):
        key = self.groups.get(name)
        found = []
        for where in ([f"layers/{key}/vars", f"layers/{key}/cell/vars"] if key is not None else []):
            i = 0
            while f"{where}/{i}" in self.dump.arrays:
                found.append(self.dump.arrays[f"{where}/{i}"])
                i += 1
        return found


class _LegacyWeights(_Weights):
    """model_weights/<layer name>, whose weight_names attribute lists its arrays in order."""

    def arrays(self, name):
        names = self.dump.attr(f"model_weights/{name}", "weight_names") or []
        found = []
        for weight in [names] if isinstance(names, str) else names:
            array = self.dump.arrays.get(f"model_weights/{name}/{str(weight).strip('/')}")
            if array is None:
                raise PynnError(f"{self.path}: layer {name!r} lists the array {weight!r} but does not hold it.")
            found.append(array)
        return found


# -- the configuration --------------------------------------------------------------------------------------

def _layer_list(path: Path, config: dict) -> list[dict]:
    """The layers of a Sequential model, or of a functional one that is a single chain, in order."""
    kind = config.get("class_name")
    inner = config.get("config")
    if kind == "Sequential":
        layers = inner.get("layers") if isinstance(inner, dict) else inner
        if not isinstance(layers, list):
            raise PynnError(f"{path} describes a Sequential model without a list of layers.")
        return layers
    if kind in ("Functional", "Model") and isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        return _chain(path, inner["layers"])
    raise PynnError(f"{path} holds a {kind or 'model'} model; {SUPPORTED}.")


def _chain(path: Path, layers: list[dict]) -> list[dict]:
    """A functional model's layers when each one takes only the output of the one before; a branch or a merge
    is named in one sentence."""
    previous = None
    for layer in layers:
        name = layer.get("name") or (layer.get("config") or {}).get("name")
        sources = _inbound(layer)
        if (previous is None and sources) or (previous is not None and sources != [previous]):
            raise PynnError(f"{path} is a functional model whose {layer.get('class_name')} layer {name!r} takes "
                            f"{' and '.join(map(repr, sources)) or 'no input'}, not one chain of layers; {SUPPORTED} "
                            "(or a functional model that is one chain).")
        previous = name
    return layers


def _inbound(layer: dict) -> list[str]:
    """The names of the layers whose outputs a functional layer takes (Keras 3 and Keras 2 configs)."""
    names = []

    def walk(node):
        if isinstance(node, dict):
            history = (node.get("config") or {}).get("keras_history") if node.get("class_name") == \
                "__keras_tensor__" else None
            if history:
                names.append(history[0])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):  # Keras 2: [name, 0, 0, {}]
                names.append(node[0])
                return
            for value in node:
                walk(value)

    walk(layer.get("inbound_nodes", []))
    return names


def _loss(config: dict) -> tuple[str | None, bool | None, str]:
    """(pynn's loss or None, from_logits or None, Keras's name of it) from the compile configuration."""
    compiled = config.get("compile_config") or {}
    loss = compiled.get("loss") if isinstance(compiled, dict) else None
    if isinstance(loss, list) and len(loss) == 1:
        loss = loss[0]
    if isinstance(loss, dict):
        name = loss.get("class_name") or ""
        logits = (loss.get("config") or {}).get("from_logits")
        if name in ("function", "Function"):  # Keras 2 kept a function loss as {"class_name": "function"}
            name, logits = str(loss.get("config") or ""), None
    elif isinstance(loss, str):
        name, logits = loss, None
    else:
        return None, None, ""
    key = name.lower().replace("_", "")
    if "crossentropy" in key and "binary" not in key:
        return "xent", bool(logits), name
    if "binarycrossentropy" in key:
        return "bce", bool(logits), name
    if key in ("mse", "meansquarederror"):
        return "mse", None, name
    return None, None, name


def _head(path: Path, config: dict, output) -> tuple[str, bool, list[str]]:
    """(pynn's loss, the softmax applied twice, notes) for the model's output layer as Keras trained it."""
    loss, logits, keras_name = _loss(config)
    act, units = output.activation, output.units
    notes: list[str] = []
    if loss == "xent":
        if act == "softmax" and logits:
            notes.append(f"Its output layer applies a softmax and its loss ({keras_name}, from_logits=True) "
                         "applies another, so the softmax is applied twice, which stalls learning (pynn freeze "
                         "shows why); pynn reads it so, as double_softmax.")
            return "xent", True, notes
        if act == "identity" and not logits:
            notes.append(f"Its output layer is linear but its loss ({keras_name}) expects probabilities "
                         "(from_logits=False); pynn reads the outputs as logits under softmax cross-entropy.")
        elif act not in ("identity", "softmax"):
            raise PynnError(f"{path}: its output layer applies {act} before {keras_name}; pynn's cross-entropy "
                            "takes logits (a linear output) or a softmax.")
        return "xent", False, notes
    if loss == "bce":
        if act not in ("identity", "sigmoid"):
            raise PynnError(f"{path}: its output layer applies {act} before {keras_name}; pynn's binary "
                            "cross-entropy takes logits (a linear output) or a sigmoid.")
        return "bce", False, notes
    if loss == "mse":
        if act == "softmax":
            raise PynnError(f"{path}: its output layer applies a softmax before the mean squared error, which "
                            "pynn does not pair; it reads softmax with cross-entropy.")
        return "mse", False, notes
    said = (f"compiled with the loss {keras_name}, which pynn does not have" if keras_name
            else "saved without its loss (not compiled)")
    if act == "softmax":
        notes.append(f"It was {said}; pynn assumed cross-entropy on its softmax output.")
        return "xent", False, notes
    if act == "identity" and units > 1:
        notes.append(f"It was {said}; pynn assumed its {units} linear outputs are logits under softmax "
                     "cross-entropy, as from_logits=True would train them.")
        return "xent", False, notes
    if act == "sigmoid":
        notes.append(f"It was {said}; pynn assumed binary cross-entropy on its sigmoid output.")
        return "bce", False, notes
    notes.append(f"It was {said}; pynn assumed the mean squared error on its {act} output.")
    return "mse", False, notes


def _activation(path: Path, layer_kind: str, name: str, value) -> str:
    if isinstance(value, dict):
        value = value.get("config", {}).get("name") if value.get("class_name") in ("function", None) else \
            value.get("class_name")
    if value not in ACTIVATIONS:
        raise PynnError(f"{path}: {layer_kind} layer {name!r} uses the {value} activation; pynn reads linear, "
                        "relu, sigmoid, tanh, softmax and leaky_relu.")
    return ACTIVATIONS[value]


def _input_shape(config: dict) -> tuple | None:
    """The batch shape (None first) a layer's configuration declares, if any."""
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(config.get(key), list):
            return tuple(config[key])
    return None


def _translate(path: Path, config: dict, weights: _Weights, fmt: str):
    """The pynn model a Keras configuration and its weights describe."""
    layer_configs = _layer_list(path, config)
    shape = None     # the shape of one sample at this point, as Keras has it
    declared = None  # the input shape the model declares
    layers, arrays, stored = [], [], 0
    notes: list[str] = []
    for entry in layer_configs:
        if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
            raise PynnError(f"{path} has a damaged layer list.")
        kind, cfg = entry.get("class_name"), entry.get("config") or {}
        name = str(cfg.get("name") or entry.get("name") or kind)
        batch = _input_shape(cfg)
        if batch is not None and shape is None:
            declared = shape = batch[1:]
        if shape is None and isinstance(entry.get("build_config"), dict):
            built = entry["build_config"].get("input_shape")
            if isinstance(built, list):
                declared = shape = tuple(built[1:])
        if kind == "InputLayer":
            continue
        if kind == "Dense":
            units = _positive(path, name, "units", cfg.get("units"))
            act = _activation(path, kind, name, cfg.get("activation"))
            if shape is None:
                n_in = weights.arrays(name)[0].shape[0] if weights.arrays(name) else None
                declared = shape = (n_in,)
            if len(shape) > 1 and not (layers and getattr(layers[-1], "return_sequences", False)):
                raise PynnError(f"{path}: Dense layer {name!r} reads the last axis of a {_shape(shape)} input (Keras "
                                "applies it to each row), which pynn does not; put a Flatten before it.")
            n_in = shape[-1]
            if n_in is None:
                raise PynnError(f"{path}: Dense layer {name!r} has an input of unknown size.")
            use_bias = cfg.get("use_bias", True)
            got = weights.read(name, [(n_in, units)] + ([(units,)] if use_bias else []))
            layer = Dense(units, "identity" if act is None else act, **({"alpha": KERAS_LEAKY_SLOPE}
                                                                        if act == "leaky_relu" else {}))
            layers.append(layer)
            arrays.append({"W": got[0].T, "b": got[1] if use_bias else np.zeros(units, np.float32)})
            stored += sum(a.size for a in got)
            shape = (*shape[:-1], units)
        elif kind == "LSTM":
            layer, given, shape = _lstm(path, name, cfg, shape, weights, notes)
            layers.append(layer)
            arrays.append(given)
            stored += sum(a.size for a in given.values()) if cfg.get("use_bias", True) else \
                sum(given[k].size for k in ("Wx", "Wh"))
        elif kind == "Dropout":
            layers.append(Dropout(float(cfg.get("rate", 0.0))))
            arrays.append({})
        elif kind == "Conv2D":
            layer, given, shape = _conv2d(path, name, cfg, shape, weights)
            layers.append(layer)
            arrays.append(given)
            stored += sum(a.size for a in given.values()) if cfg.get("use_bias", True) else given["W"].size
        elif kind == "MaxPooling2D":
            layer, shape = _max_pooling2d(path, name, cfg, shape)
            layers.append(layer)
            arrays.append({})
        elif kind == "Flatten":
            if shape is not None and len(shape) > 1 and [l.kind for l in layers if l.kind != "dropout"][-1:] == \
                    ["lstm"]:
                raise PynnError(f"{path}: Flatten layer {name!r} flattens the {_shape(shape)} steps of an LSTM, "
                                "which pynn does not; its dense layers read an LSTM's last step or each step.")
            shape = None if shape is None else (int(np.prod(shape)),)
        elif kind in ("Activation", "Softmax", "ReLU") and layers and layers[-1].kind in ("dense", "conv") \
                and layers[-1].activation == "identity":
            act = {"Softmax": "softmax", "ReLU": "relu"}.get(kind) or cfg.get("activation")
            layers[-1].activation = _activation(path, kind, name, act)
            if layers[-1].kind == "conv" and layers[-1].activation == "softmax":
                raise PynnError(f"{path}: {kind} layer {name!r} applies a softmax to a Conv2D's maps; pynn applies "
                                "a softmax only on the output.")
        else:
            raise PynnError(f"{path} has a {kind} layer ({name!r}), which pynn does not read; {SUPPORTED}.")
    if not layers or layers[-1].kind != "dense":
        raise PynnError(f"{path} does not end with a Dense layer; {SUPPORTED}, ending with a Dense output.")
    loss, twice, head_notes = _head(path, config, layers[-1])
    output = layers[-1]
    output_softmax = output.activation == "softmax"
    if loss in ("xent", "bce") and output.activation == "identity":
        output.activation = None  # logits: the loss applies the softmax (sigmoid), as a bare pynn output
    if declared is None or any(v is None for v in declared):
        declared = _steps_from_data(declared, notes)
    if layers[0].kind == "conv" and len(declared) == 3 and declared[2] == 1:
        declared = declared[:2]  # one channel: 28x28, as pynn writes a grey image (and its data holds it)
    return assemble(path, layers, arrays, tuple(int(v) for v in declared), loss=loss, double_softmax=twice,
                    origin=origin("Keras", fmt, stored, [*notes, *head_notes], output_softmax))


def _steps_from_data(declared, notes: list[str]) -> tuple:
    """A sequence input whose number of steps Keras left open (None): 1 until data gives it."""
    notes.append("The model takes sequences of any length; pynn reads the steps from the data it is given.")
    return tuple(1 if v is None else v for v in declared)


def _lstm(path: Path, name: str, cfg: dict, shape, weights: _Weights, notes: list[str]):
    """(pynn LSTM, its arrays in pynn's names, the shape after it) for a Keras LSTM layer."""
    from pynn.lstm import LSTM

    units = _positive(path, name, "units", cfg.get("units"))
    for key, want in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
        if cfg.get(key, want) != want:
            raise PynnError(f"{path}: LSTM layer {name!r} has {key}={cfg.get(key)!r}; pynn's LSTM uses "
                            f"{want} there, as Keras's default.")
    for key in ("go_backwards", "return_state", "time_major"):
        if cfg.get(key):
            raise PynnError(f"{path}: LSTM layer {name!r} has {key}=True, which pynn's LSTM does not do.")
    if cfg.get("stateful"):
        notes.append(f"LSTM layer {name!r} was stateful in Keras; pynn reads each window from the zero state "
                     "unless it is trained with --stateful.")
    if shape is None or len(shape) != 2:
        raise PynnError(f"{path}: LSTM layer {name!r} needs sequences of steps x features; the model gives it "
                        f"{_shape(shape) if shape else 'an input of unknown shape'}.")
    steps, n_in = shape
    if n_in is None:
        raise PynnError(f"{path}: LSTM layer {name!r} has an input of unknown size.")
    use_bias = cfg.get("use_bias", True)
    got = weights.read(name, [(n_in, 4 * units), (units, 4 * units)] + ([(4 * units,)] if use_bias else []))
    return_sequences = bool(cfg.get("return_sequences", False))
    given = {"Wx": got[0].T, "Wh": got[1].T, "b": got[2] if use_bias else np.zeros(4 * units, np.float32)}
    return LSTM(units, return_sequences=return_sequences), given, ((steps, units) if return_sequences else (units,))


def _conv2d(path: Path, name: str, cfg: dict, shape, weights: _Weights):
    """(pynn Conv2D, its arrays, the maps after it) for a Keras Conv2D: channels_last, square kernel and strides,
    valid or same padding (TensorFlow's, pynn's own), no dilation or groups."""
    from pynn.conv import conv_output_size
    from pynn.convolution import Conv2D

    filters = _positive(path, name, "filters", cfg.get("filters"))
    K = _square(path, name, "kernel_size", cfg.get("kernel_size"))
    S = _square(path, name, "strides", cfg.get("strides", 1))
    _channels_last(path, "Conv2D", name, cfg)
    for key in ("dilation_rate", "groups"):
        if _pair(cfg.get(key, 1)) != [1, 1]:
            raise PynnError(f"{path}: Conv2D layer {name!r} has {key}={cfg.get(key)!r}; pynn's conv is neither "
                            "dilated nor grouped.")
    padding = cfg.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise PynnError(f"{path}: Conv2D layer {name!r} has padding={padding!r}; pynn's conv pads valid or same.")
    act = _activation(path, "Conv2D", name, cfg.get("activation"))
    if act == "softmax":
        raise PynnError(f"{path}: Conv2D layer {name!r} applies a softmax to its maps; pynn applies a softmax "
                        "only on the output.")
    if shape is None or len(shape) != 3 or any(v is None for v in shape):
        raise PynnError(f"{path}: Conv2D layer {name!r} needs images of height x width x channels; the model gives "
                        f"it {_shape(shape) if shape else 'an input of unknown shape'}.")
    H, W, C = shape
    use_bias = cfg.get("use_bias", True)
    got = weights.read(name, [(K, K, C, filters)] + ([(filters,)] if use_bias else []))
    layer = Conv2D(filters, K, S, padding, act, **({"alpha": KERAS_LEAKY_SLOPE} if act == "leaky_relu" else {}))
    given = {"W": got[0], "b": got[1] if use_bias else np.zeros(filters, np.float32)}
    return layer, given, (conv_output_size(H, K, S, padding), conv_output_size(W, K, S, padding), filters)


def _max_pooling2d(path: Path, name: str, cfg: dict, shape):
    """(pynn MaxPool2D, the maps after it) for a Keras MaxPooling2D of P x P windows at stride P, valid."""
    from pynn.convolution import MaxPool2D

    P = _square(path, name, "pool_size", cfg.get("pool_size", 2))
    strides = cfg.get("strides")
    _channels_last(path, "MaxPooling2D", name, cfg)
    if (strides is not None and _pair(strides) != [P, P]) or cfg.get("padding", "valid") != "valid":
        raise PynnError(f"{path}: MaxPooling2D layer {name!r} has strides={strides!r} and padding="
                        f"{cfg.get('padding')!r}; pynn's pool takes {P}x{P} windows at stride {P}, valid.")
    if shape is None or len(shape) != 3 or any(v is None for v in shape):
        raise PynnError(f"{path}: MaxPooling2D layer {name!r} needs maps of height x width x channels; the model "
                        f"gives it {_shape(shape) if shape else 'an input of unknown shape'}.")
    H, W, C = shape
    return MaxPool2D(P), (H // P, W // P, C)


def _pair(value) -> list:
    """Keras's (a, b) sizes, or one number meaning both."""
    return [value, value] if isinstance(value, int) else list(value) if isinstance(value, (list, tuple)) else \
        [value]


def _square(path: Path, name: str, key: str, value) -> int:
    """The one size of a square kernel, window or stride (K for (K, K))."""
    pair = _pair(value)
    if len(pair) != 2 or pair[0] != pair[1]:
        raise PynnError(f"{path}: layer {name!r} has {key}={value!r}; pynn's conv and pool layers take the same "
                        "size along both axes.")
    return _positive(path, name, key, pair[0])


def _channels_last(path: Path, kind: str, name: str, cfg: dict) -> None:
    if cfg.get("data_format") not in (None, "channels_last"):
        raise PynnError(f"{path}: {kind} layer {name!r} has data_format={cfg.get('data_format')!r}; pynn reads "
                        "images channels_last (height, width, channels), as Keras does by default.")


def _positive(path: Path, name: str, key: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PynnError(f"{path}: layer {name!r} has {key}={value!r}, not a positive whole number.")
    return value


def _shape(shape) -> str:
    return "x".join("?" if v is None else str(v) for v in shape)
