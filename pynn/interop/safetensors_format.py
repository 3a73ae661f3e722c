"""PyTorch state dicts as safetensors, read into pynn and written from it, by PyTorch's own names.

A safetensors file is 8 bytes (the header's length, little-endian), a JSON header naming each tensor's dtype,
shape and byte range, then the bytes: the safetensors library reads and writes it (nothing is unpickled); pynn
checks the header's length against the file, and each tensor's type and axes, before asking for any values.

Reading: a Linear is `<name>.weight` (out, in) and `<name>.bias`; an nn.LSTM `<name>.weight_ih_l0` (4U, n_in),
`weight_hh_l0` (4U, U), `bias_ih_l0` and `bias_hh_l0`, gates in the order i, f, g, o, pynn's own; its two biases
are summed into pynn's one (PyTorch counts both). An nn.Conv2d is `<name>.weight` (F, C_in, K, K), OIHW, which
pynn keeps as (K, K, C_in, F), HWIO; PyTorch's nn.Flatten reads the maps channel by channel (C, H, W) where
pynn's dense reads them (H, W, C), so the columns of the Linear after a conv are reordered to pynn's order.
Layers are ordered by their names when they are indices (torch.nn.Sequential's `0.`, `2.`), else by how their
shapes chain (convs first). The tensors do not say the activations: a spec (`--model 784-25:relu-15:relu-10`)
does; without one pynn assumes relu between Linear layers and logits out of the last (for CrossEntropyLoss), and
says so in model.origin's notes. Nor do they say a conv net's image size, strides, padding or pools, so a state
dict with convs needs the spec (`--model 28x28-conv8k5-pool2-30-10`).

Writing (write_safetensors): the state dict of the torch.nn.Sequential that computes what pynn's model does,
one module per index, so `torch_model.load_state_dict(load_file(path))` loads it:
  - a Dense layer is nn.Linear at its index, followed by its activation module (nn.ReLU, nn.Sigmoid, nn.Tanh,
    nn.LeakyReLU) at the next one unless it is linear; the output layer under cross-entropy (or binary
    cross-entropy) gives logits, for nn.CrossEntropyLoss (nn.BCEWithLogitsLoss), so no module follows it;
  - a Dropout layer is nn.Dropout at its index;
  - an LSTM is nn.LSTM(n_in, U, batch_first=True) at its index (bias_ih_l0 = pynn's b, bias_hh_l0 = 0),
    followed by a module that takes its output: the last step's h (out[0][:, -1]) or every step's (out[0]);
  - a model whose input has several axes and starts with a Dense layer starts with nn.Flatten at index 0.
  784-25:relu-15:relu-10 is nn.Sequential(Linear(784, 25), ReLU(), Linear(25, 15), ReLU(), Linear(15, 10)):
  names 0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias.
"""
from __future__ import annotations

import itertools
import re
import struct
from pathlib import Path

import numpy as np

from pynn.errors import PynnError
from pynn.interop.assemble import assemble, origin
from pynn.words import plural

_LSTM_PARAM = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)$")
TORCH_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "leaky_relu": "LeakyReLU"}
WRITES = "Dense, Dropout and LSTM layers"
READS = "pynn reads state dicts of nn.Linear, nn.Conv2d and nn.LSTM layers"
KIND_ORDER = ("conv", "lstm", "linear")  # the order a chain of them takes when names do not give it


# -- the file format ----------------------------------------------------------------------------------------

# the tensor types pynn reads, each converted to float32 (BF16 through ml_dtypes, which numpy needs for it)
FLOAT_TYPES = ("F64", "F32", "F16", "BF16")
MAX_AXES = 4  # a conv's OIHW weights have the most
# what the safetensors library's refusals mean, in pynn's words (any other is quoted)
_LIBRARY_REASONS = (("invalid JSON", "its header is not JSON or not a table of tensors"),
                    ("not fully covered", "a tensor does not fit the bytes the file holds for it (the file is damaged "
                                          "or cut short)"),
                    ("invalid shape, data type, or offset", "a tensor does not fit the bytes the file holds for it "
                                                            "(the file is damaged or cut short)"),
                    ("overflow", "a tensor's shape is too large for any file"))


def _safetensors():
    """The safetensors package, imported only when a .safetensors file is read or written."""
    try:
        import safetensors
        import safetensors.numpy
    except ImportError:
        raise PynnError("Reading and writing .safetensors files needs the safetensors package: "
                        "pip install 'pynn[interop]'.") from None
    return safetensors


def _damaged(path, err: Exception) -> PynnError:
    """One sentence for the safetensors library's refusal of a file."""
    said = str(err).removeprefix("Error while deserializing header: ")
    reason = next((words for key, words in _LIBRARY_REASONS if key in said), None)
    return PynnError(f"{path} is not a safetensors file pynn can read: "
                     f"{reason or f'the safetensors library says {said!r}'}.")


def read_tensors(path) -> tuple[dict[str, np.ndarray], dict]:
    """({name: float32 array}, the header's __metadata__) of a safetensors file, read by the safetensors library
    (which maps the file and checks every tensor's range against it); pynn checks each tensor's type and axes
    before asking for its values."""
    path = Path(path)
    if not path.is_file():
        raise PynnError(f"No model file at {path}.")
    # The library refuses a header longer than the file itself, but in its own words; checking the 8-byte length
    # here says which number is wrong, before the library maps anything.
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) != 8:
        raise PynnError(f"{path} is not a safetensors file (it is shorter than its 8-byte header length).")
    n = struct.unpack("<Q", head)[0]
    if n > size - 8:
        raise PynnError(f"{path} is not a safetensors file (its header says it is {n:,} bytes long, more than the "
                        "file holds).")
    library = _safetensors()
    try:
        with library.safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            if "BF16" in [_checked_type(path, name, f.get_slice(name)) for name in f.keys()]:
                _bfloat16()
            # Every shape is checked above (types, at most four axes, each counted by the library against the
            # bytes the file holds), so get_tensor allocates no more than the file's size.
            tensors = {name: f.get_tensor(name).astype(np.float32) for name in f.keys()}
    except PynnError:
        raise
    except (library.SafetensorError, ValueError, TypeError, OverflowError, OSError) as err:
        raise _damaged(path, err) from None
    if not tensors:
        raise PynnError(f"{path} holds no tensors.")
    return tensors, metadata


def _checked_type(path, name: str, view) -> str:
    """The type of a tensor pynn reads (one of FLOAT_TYPES, of at most MAX_AXES axes), from its header entry."""
    dtype, shape = view.get_dtype(), view.get_shape()
    if dtype not in FLOAT_TYPES:
        raise PynnError(f"{path}: tensor {name!r} is of type {dtype}; pynn reads floating-point tensors "
                        f"({', '.join(FLOAT_TYPES)}).")
    if len(shape) > MAX_AXES:
        raise PynnError(f"{path}: tensor {name!r} has {len(shape)} axes {tuple(shape)}; the layers pynn reads have "
                        f"at most {MAX_AXES}.")
    return dtype


def _bfloat16() -> None:
    """numpy has no bfloat16 of its own: ml_dtypes (which the interop extra installs with onnx) gives it one."""
    try:
        import ml_dtypes  # noqa: F401 - registers bfloat16 with numpy
    except ImportError:
        raise PynnError("Reading bfloat16 tensors needs the ml_dtypes package: pip install 'pynn[interop]'.") \
            from None


def write_tensors(tensors: dict[str, np.ndarray], path, metadata: dict[str, str] | None = None) -> Path:
    """Write float32 tensors as a safetensors file (the safetensors library's bytes), atomically: a temporary
    file beside it, then renamed."""
    from pynn.files import write_atomically

    library = _safetensors()
    arrays = {name: np.ascontiguousarray(array, dtype="<f4") for name, array in tensors.items()}
    data = library.numpy.save(arrays, metadata={k: str(v) for k, v in metadata.items()} if metadata else None)
    write_atomically(Path(path), lambda f: f.write(data))
    return Path(path)


# -- reading a state dict -------------------------------------------------------------------------------------

class _Module:
    """One Linear or Conv2d, or one layer (l0, l1 ...) of an nn.LSTM, with its tensors by PyTorch's names. A
    conv's n_in and n_out are its input and output channels."""

    def __init__(self, name: str, kind: str, tensors: dict[str, np.ndarray], depth: int = 0):
        self.name, self.kind, self.tensors, self.depth = name, kind, tensors, depth

    @property
    def label(self) -> str:
        return f"{self.name}.weight" if self.kind in ("linear", "conv") else \
            f"{self.name + '.' if self.name else ''}weight_ih_l{self.depth}"

    @property
    def n_in(self) -> int:
        return (self.tensors["weight_ih"] if self.kind == "lstm" else self.tensors["weight"]).shape[1]

    @property
    def n_out(self) -> int:
        return self.tensors["weight_hh"].shape[1] if self.kind == "lstm" else self.tensors["weight"].shape[0]

    @property
    def token(self) -> str:
        """The module as a spec writes it (a conv's stride and padding the tensors cannot say)."""
        if self.kind == "conv":
            return f"conv{self.n_out}k{self.tensors['weight'].shape[2]}"
        return f"lstm{self.n_out}" if self.kind == "lstm" else str(self.n_out)

    @property
    def n_params(self) -> int:
        return sum(t.size for t in self.tensors.values())


def _modules(path, tensors: dict[str, np.ndarray]) -> list[_Module]:
    """The state dict's Linear and LSTM modules, each checked to hold what its kind needs, in no order yet."""
    linear: dict[str, dict] = {}
    lstm: dict[tuple[str, int], dict] = {}
    for key, tensor in tensors.items():
        prefix, _, param = key.rpartition(".")
        if m := _LSTM_PARAM.match(param):
            lstm.setdefault((prefix, int(m.group(2))), {})[m.group(1)] = tensor
        elif param in ("weight", "bias"):
            linear.setdefault(prefix, {})[param] = tensor
        else:
            raise PynnError(f"{path} holds the tensor {key!r}, which is not a Linear's, a Conv2d's or an LSTM's; "
                            f"{READS} (weight, bias, weight_ih_l0 ...).")
    modules = []
    for name, params in linear.items():
        weight = params.get("weight")
        if weight is None:
            raise PynnError(f"{path} holds {name}.bias without {name}.weight.")
        if weight.ndim not in (2, 4) or (weight.ndim == 4 and weight.shape[2] != weight.shape[3]):
            what = {4: "a convolution's with a kernel that is not square", 3: "a 1-D convolution's",
                    1: "a normalisation layer's"}.get(weight.ndim, f"a {weight.ndim}-D")
            raise PynnError(f"{path} holds {name}.weight of shape {tuple(weight.shape)}, {what} weights; {READS}.")
        bias = params.get("bias", np.zeros(weight.shape[0], np.float32))
        if bias.shape != (weight.shape[0],):
            raise PynnError(f"{path}: {name}.bias has shape {tuple(bias.shape)}; {name}.weight "
                            f"{tuple(weight.shape)} needs ({weight.shape[0]},).")
        modules.append(_Module(name, "linear" if weight.ndim == 2 else "conv", {"weight": weight, "bias": bias}))
    for (name, depth), params in sorted(lstm.items()):
        label = f"{name + '.' if name else ''}weight_hh_l{depth}"
        if "weight_ih" not in params or "weight_hh" not in params:
            raise PynnError(f"{path} lacks {label.replace('hh', 'ih') if 'weight_ih' not in params else label}, "
                            "which an nn.LSTM layer holds.")
        wih, whh = params["weight_ih"], params["weight_hh"]
        if whh.ndim != 2 or wih.ndim != 2 or whh.shape[0] != 4 * whh.shape[1] or wih.shape[0] != whh.shape[0]:
            raise PynnError(f"{path}: {label} has shape {tuple(whh.shape)} and the input weights "
                            f"{tuple(wih.shape)}; an nn.LSTM's are (4U, U) and (4U, n_in) — a GRU or RNN is not "
                            "an LSTM, and pynn reads only LSTMs (without proj_size).")
        units = whh.shape[1]
        for b in ("bias_ih", "bias_hh"):
            params.setdefault(b, np.zeros(4 * units, np.float32))
            if params[b].shape != (4 * units,):
                raise PynnError(f"{path}: {name}.{b}_l{depth} has shape {tuple(params[b].shape)}, not "
                                f"({4 * units},).")
        modules.append(_Module(name, "lstm", params, depth))
    return modules


def _ordered(path, modules: list[_Module]) -> list[_Module]:
    """The modules in the order data flows through them: by their names when those are indices (an nn.LSTM's
    layers by depth), else the one order in which every module's input size is the output size before it."""
    def index_key(m: _Module):
        parts = m.name.split(".") if m.name else []
        return tuple(int(p) for p in parts) + (m.depth,) if all(p.isdigit() for p in parts) else None

    keys = [index_key(m) for m in modules]
    if all(k is not None for k in keys) and len(set(keys)) == len(keys):
        order = [m for _, m in sorted(zip(keys, modules), key=lambda pair: pair[0])]
        _check_chain(path, order)
        return order
    if len(modules) > 7:
        raise PynnError(f"{path} has {len(modules)} layers with names that do not give their order; name them by "
                        "index, as torch.nn.Sequential does (0.weight, 2.weight ...).")
    # an nn.LSTM's own layers keep their depth order, and convs, then LSTMs, come before the Linear layers
    chains = [list(p) for p in itertools.permutations(modules) if _chains(p) and _depths_in_order(p)]
    in_kind_order = [c for c in chains if [m.kind for m in c] == sorted((m.kind for m in c), key=KIND_ORDER.index)]
    chains = in_kind_order or chains
    if not chains:
        _check_chain(path, sorted(modules, key=lambda m: (KIND_ORDER.index(m.kind), m.name, m.depth)))
    if len({tuple(id(m) for m in c) for c in chains}) > 1:
        names = ", ".join(m.label for m in modules)
        raise PynnError(f"{path}: the shapes of {names} chain in more than one order; name the layers by index, "
                        "as torch.nn.Sequential does (0.weight, 2.weight ...), so pynn knows their order.")
    return chains[0]


def _feeds(a: _Module, b: _Module) -> bool:
    """Whether b can take a's output: a Linear after a conv takes its maps flattened, a whole number of them."""
    if a.kind == "conv" and b.kind == "linear":
        return b.n_in % a.n_out == 0
    return a.n_out == b.n_in and (b.kind != "conv" or a.kind == "conv")


def _chains(order) -> bool:
    return all(_feeds(a, b) for a, b in zip(order, order[1:]))


def _depths_in_order(order) -> bool:
    seen: dict[str, int] = {}
    for m in order:
        if m.kind == "lstm":
            if seen.get(m.name, -1) != m.depth - 1:
                return False
            seen[m.name] = m.depth
    return True


def _check_chain(path, order: list[_Module]) -> None:
    for a, b in zip(order, order[1:]):
        if not _feeds(a, b):
            gives = f"{a.n_out} maps" if a.kind == "conv" else f"{a.n_out} outputs"
            takes = f"{b.n_in} channels" if b.kind == "conv" else f"{b.n_in} inputs" + \
                (", not a whole number of maps" if a.kind == "conv" else "")
            raise PynnError(f"{path}: {a.label} gives {gives} but {b.label}, which follows it, takes {takes}; pynn "
                            "reads a chain of layers, each taking the output of the one before.")


def read_safetensors(path, *, spec: str | None = None):
    """The PyTorch state dict at path as a pynn Sequential; spec (a pynn model spec) gives the activations, the
    input shape and whether an LSTM returns every step, which tensors cannot say. A file pynn exported carries
    its spec in the header's metadata and needs none."""
    from pynn.spec import parse_spec

    path = Path(path)
    tensors, metadata = read_tensors(path)
    modules = _ordered(path, _modules(path, tensors))
    framework_params = sum(m.n_params for m in modules)
    notes: list[str] = []
    written = spec or metadata.get("pynn_spec")
    if written:
        parsed = parse_spec(written)
        layers, arrays, input_shape, loss, output_softmax = _from_spec(path, parsed, modules, written, notes)
        if not spec and metadata.get("pynn_loss") in ("xent", "bce", "mse"):  # pynn's own export says its loss
            loss = metadata["pynn_loss"]
    elif any(m.kind == "conv" for m in modules):
        raise PynnError(f"{path} holds convolutions ({', '.join(m.label for m in modules if m.kind == 'conv')}), "
                        "whose tensors do not say the image size, strides, padding or pooling; give them with "
                        f"--model SPEC, e.g. --model 28x28-{'-'.join(_conv_example(modules))}.")
    else:
        layers, arrays, input_shape, loss, output_softmax = _assumed(path, modules, notes)
    model = assemble(path, layers, arrays, input_shape, loss=loss,
                     origin=origin("PyTorch", "safetensors", framework_params, notes, output_softmax))
    if not spec and metadata.get("pynn_spec"):  # pynn's own export: the spec as pynn wrote it
        model.spec = metadata["pynn_spec"]
        model.run = model.run.replace(model=model.spec)
    return model


def _arrays(module: _Module, after_conv: bool = False):
    """pynn's arrays for a module; for a Linear after a conv, a function of the pynn layer (assemble calls it
    once the shapes are planned) that reorders its columns from PyTorch's flatten order to pynn's."""
    t = module.tensors
    if module.kind == "conv":
        return {"W": t["weight"].transpose(2, 3, 1, 0), "b": t["bias"]}  # OIHW -> HWIO
    if module.kind == "linear" and after_conv:
        return lambda layer: {"W": hwc_columns(t["weight"], layer.input_shape), "b": t["bias"]}
    if module.kind == "linear":
        return {"W": t["weight"], "b": t["bias"]}
    return {"Wx": t["weight_ih"], "Wh": t["weight_hh"], "b": t["bias_ih"] + t["bias_hh"]}


def hwc_columns(W: np.ndarray, maps: tuple) -> np.ndarray:
    """A Linear's weights (out, C*H*W) over maps that PyTorch flattened channel by channel, with their columns in
    pynn's order for maps (H, W, C); unchanged when they do not fit (assemble then names the shapes)."""
    if len(maps) != 3 or W.shape[1] != int(np.prod(maps)):
        return W
    H, Wd, C = maps
    return W.reshape(W.shape[0], C, H, Wd).transpose(0, 2, 3, 1).reshape(W.shape[0], -1)


def _head_of(activation: str | None, units: int) -> tuple[str, str | None, bool]:
    """(loss, the output layer's activation, whether the output applies a softmax) for the output a spec writes
    (None: bare, as a spec leaves a classifier's)."""
    if activation in (None, "softmax"):
        if units == 1 and activation is None:
            return "mse", "identity", False
        return "xent", activation, activation == "softmax"
    if activation == "sigmoid":
        return "bce", "sigmoid", False
    return "mse", activation, False


def _from_spec(path, parsed, modules: list[_Module], written: str, notes: list[str]):
    from pynn.convolution import layer_of_spec
    from pynn.layers import Dense, Dropout
    from pynn.lstm import LSTM

    weighted = [ls for ls in parsed.layers if ls.kind not in ("dropout", "pool")]
    if len(weighted) != len(modules) or any(_token_of(ls) != m.token for ls, m in zip(weighted, modules)):
        held = "-".join(m.token for m in modules)
        first = modules[0]
        held = f"{held} on images of {plural(first.n_in, 'channel')}" if first.kind == "conv" else \
            f"{first.n_in}-{held}"
        raise PynnError(f"The spec {written} does not fit {path}, whose layers are {held} "
                        f"({', '.join(m.label for m in modules)}).")
    input_shape = _spec_input(path, parsed, modules[0], written, notes)
    layers, arrays, queue, after_conv = [], [], iter(modules), False
    for ls in parsed.layers:
        if ls.kind in ("dropout", "pool"):
            layers.append(Dropout(ls.p) if ls.kind == "dropout" else layer_of_spec(ls))
            arrays.append({})
            continue
        module = next(queue)
        if ls.kind in ("lstm", "conv"):
            layers.append(LSTM(ls.units, return_sequences=ls.return_sequences) if ls.kind == "lstm" else
                          layer_of_spec(ls))
        elif ls is weighted[-1]:
            loss, act, output_softmax = _head_of(ls.activation, ls.units)
            layers.append(Dense(ls.units, act))
        else:
            act = ls.activation
            if act is None:
                notes.append(f"The spec writes no activation for layer {weighted.index(ls) + 1}; pynn's default, "
                             "sigmoid, applies.")
                act = "sigmoid"
            layers.append(Dense(ls.units, act))
        arrays.append(_arrays(module, after_conv))
        after_conv = module.kind == "conv"
    return layers, arrays, tuple(input_shape), loss, output_softmax


def _token_of(ls) -> str:
    """A spec's layer as _Module.token writes a module: sizes only."""
    return f"conv{ls.units}k{ls.kernel}" if ls.kind == "conv" else f"lstm{ls.units}" if ls.kind == "lstm" else \
        str(ls.units)


def _spec_input(path, parsed, first: _Module, written: str, notes: list[str]) -> tuple:
    """The input shape the spec writes, checked against the first module (a conv's input channels, a Linear's
    features, an LSTM's features per step); what the tensors leave open otherwise."""
    from pynn.convolution import image_shape

    input_shape = parsed.input_shape
    if first.kind == "conv":
        if input_shape is None:
            raise PynnError(f"The spec {written} does not say the images' size, which {path}'s convolutions need; "
                            f"write it first, e.g. 28x28-{written}.")
        channels = image_shape(input_shape, f"The spec {written}")[2]
        if channels != first.n_in:
            raise PynnError(f"The spec {written} gives images of {plural(channels, 'channel')}, but {first.label} "
                            f"takes {first.n_in}.")
        if channels > 1:
            notes.append("PyTorch reads images as (channels, height, width); pynn reads them as (height, width, "
                         "channels), so give it images in that order.")
        return input_shape
    if input_shape is None:
        if first.kind == "lstm":
            notes.append("The tensors do not say how many steps a sequence has; pynn reads them from the data.")
        return (1, first.n_in) if first.kind == "lstm" else (first.n_in,)
    if (first.kind == "lstm" and input_shape[-1] != first.n_in) or \
            (first.kind == "linear" and int(np.prod(input_shape)) != first.n_in):
        raise PynnError(f"The spec {written} gives an input of {'x'.join(map(str, input_shape))}, but {first.label} "
                        f"takes {first.n_in} features.")
    return input_shape


def _assumed(path, modules: list[_Module], notes: list[str]):
    """Layers from the shapes alone: relu between Linear layers, logits out of the last, an LSTM read at its
    last step by a Linear that follows it (or at every step by another LSTM)."""
    from pynn.layers import Dense
    from pynn.lstm import LSTM

    layers, arrays = [], []
    hidden_linear = [m for m in modules[:-1] if m.kind == "linear"]
    for i, module in enumerate(modules):
        last = i == len(modules) - 1
        if module.kind == "lstm":
            feeds_lstm = not last and modules[i + 1].kind == "lstm"
            layers.append(LSTM(module.n_out, return_sequences=feeds_lstm))
        else:
            layers.append(Dense(module.n_out, None if last else "relu"))
        arrays.append(_arrays(module))
    if modules[-1].kind != "linear":
        raise PynnError(f"{path} ends with an LSTM ({modules[-1].label}); pynn's models end with a Linear (Dense) "
                        "output layer.")
    units = modules[-1].n_out
    loss, _, _ = _head_of(None, units)
    if hidden_linear:
        notes.append(f"The tensors do not say the activations; pynn assumed relu after "
                     f"{'each hidden Linear layer' if len(hidden_linear) > 1 else 'the hidden Linear layer'} "
                     "(give --model SPEC to say otherwise, e.g. --model "
                     f"{_example_spec(modules)}).")
    if loss == "xent":
        notes.append(f"pynn assumed the last layer's {units} outputs are logits for softmax cross-entropy "
                     "(nn.CrossEntropyLoss).")
    else:
        notes.append("pynn assumed the last layer's one output is a value for the mean squared error.")
    if any(m.kind == "lstm" for m in modules):
        notes.append("pynn assumed the Linear layer reads the LSTM's last step (out[:, -1]) and that a sequence's "
                     "steps come from the data (batch_first).")
    first = modules[0]
    input_shape = (1, first.n_in) if first.kind == "lstm" else (first.n_in,)
    return layers, arrays, input_shape, loss, False


def _conv_example(modules: list[_Module]) -> list[str]:
    """Spec tokens for a conv net's modules, a pool after the last conv (as most have), for the sentence that
    asks for a spec."""
    tokens = []
    for i, m in enumerate(modules):
        last = i == len(modules) - 1
        tokens.append(m.token if m.kind != "linear" or last else f"{m.n_out}:relu")
        if m.kind == "conv" and not last and modules[i + 1].kind != "conv":
            tokens.append("pool2")
    return tokens


def _example_spec(modules: list[_Module]) -> str:
    tokens = [str(modules[0].n_in)]
    for i, m in enumerate(modules):
        last = i == len(modules) - 1
        tokens.append(f"lstm{m.n_out}" if m.kind == "lstm" else str(m.n_out) if last else f"{m.n_out}:relu")
    return "-".join(tokens)


# -- writing --------------------------------------------------------------------------------------------------

def torch_state_dict(model) -> dict[str, np.ndarray]:
    """pynn's parameters under the names of the equivalent torch.nn.Sequential's state dict (see the module's
    docstring for the layout), in the order torch lists them."""
    model = model.frozen()
    tensors: dict[str, np.ndarray] = {}
    first = model.layers[0]
    index = 1 if first.kind == "dense" and len(model.input_shape) > 1 and not first.per_step else 0
    for layer in model.layers:
        if layer.kind == "dense":
            tensors[f"{index}.weight"], tensors[f"{index}.bias"] = layer.W, layer.b
            index += 1 + (layer.kernel_activation != "identity")
        elif layer.kind == "dropout":
            index += 1
        elif layer.kind == "lstm":
            tensors[f"{index}.weight_ih_l0"], tensors[f"{index}.weight_hh_l0"] = layer.Wx, layer.Wh
            tensors[f"{index}.bias_ih_l0"] = layer.b
            tensors[f"{index}.bias_hh_l0"] = np.zeros_like(layer.b)
            index += 2
        else:
            raise PynnError(f"Layer {layer.index} is a {layer.kind} layer; pynn's safetensors export writes "
                            f"{WRITES}.")
    for layer in model.layers:
        if layer.kind == "dense" and layer.kernel_activation not in ("identity", *TORCH_ACTIVATIONS):
            raise PynnError(f"Layer {layer.index} applies {layer.kernel_activation}, which has no torch.nn module "
                            "pynn's export names.")
    return tensors


def torch_modules(model) -> list[str]:
    """The torch.nn.Sequential, module by module, whose state dict torch_state_dict gives (for the README and
    the export's note)."""
    mods = []
    first = model.layers[0]
    if first.kind == "dense" and len(model.input_shape) > 1 and not first.per_step:
        mods.append("Flatten()")
    for layer in model.layers:
        if layer.kind == "dense":
            mods.append(f"Linear({layer.n_in}, {layer.units})")
            act = layer.kernel_activation
            if act == "leaky_relu":
                mods.append(f"LeakyReLU({layer.alpha:g})")
            elif act != "identity":
                mods.append(f"{TORCH_ACTIVATIONS.get(act, act)}()")
        elif layer.kind == "dropout":
            mods.append(f"Dropout({layer.p:g})")
        elif layer.kind == "lstm":
            mods.append(f"LSTM({layer.n_in}, {layer.units}, batch_first=True)")
            mods.append("EveryStep()" if layer.return_sequences else "LastStep()")
    return mods


def write_safetensors(model, path) -> Path:
    """Write model's parameters as the state dict of the equivalent torch.nn.Sequential (torch_modules), with its
    pynn spec in the metadata so pynn reads the file back with its activations."""
    if not getattr(model, "built", False):
        raise PynnError("The model has no weights yet to export; fit it first (or make it with pynn.build).")
    tensors = torch_state_dict(model)
    return write_tensors(tensors, path, {"format": "pt", "pynn_spec": model.spec, "pynn_loss": model.loss.name,
                                         "torch_modules": ", ".join(torch_modules(model))})
