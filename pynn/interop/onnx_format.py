"""ONNX models in and out: a chain of dense, LSTM, conv and pool layers, as torch.onnx.export writes them, read
into pynn's layers (read_onnx), and pynn's models written as ONNX graphs that ONNX Runtime runs (write_onnx).

Conventions converted here, once: ONNX's LSTM gate blocks are (i, o, f, c) and pynn's (i, f, g, o); ONNX and
PyTorch keep two LSTM biases (input and recurrent), which act only as their sum, pynn's one b; a Gemm's
transB, alpha and beta fold into W and b; conv filters are OIHW in ONNX and HWIO in pynn, images (C, H, W) and
(H, W, C), so a dense layer after flattened maps has its columns reordered. Nothing is unpickled: tensors are
read from the protobuf's bytes after their sizes are checked against their dims, and external data only from
files inside the model's folder.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pynn.errors import PynnError

OPSET = 17
IR_VERSION = 8  # the IR of opset 17, which every ONNX Runtime since 1.12 reads
LEAKY_SLOPE = 0.01  # pynn's leaky_relu below 0 (pynn.layers.Dense's alpha), PyTorch's LeakyReLU default too
BATCH = 1_000_003   # stands for the batch size while shapes are worked out: a size no model has
STEPS = 999_983     # stands for a number of steps the graph leaves open
INPUT = -1          # the graph's input, as the source of a flow
ONNX_TO_PYNN_GATES = (0, 2, 3, 1)  # ONNX blocks (i, o, f, c) -> pynn's (i, f, g, o)
PYNN_TO_ONNX_GATES = (0, 3, 1, 2)
READS = ("pynn reads chains of dense layers (Gemm, or MatMul + Add), Relu, Sigmoid, Tanh, LeakyRelu, "
         "Softmax/LogSoftmax, Identity, Flatten/Reshape, Dropout, one-way LSTMs, Conv and MaxPool")
ARITHMETIC_OPS = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.floor_divide}  # on sizes
# ops that only pick, move or copy their first input's values (PyTorch slices a stacked LSTM's zero state so)
RESHAPING_OPS = ("Identity", "Cast", "Slice", "Gather", "Squeeze", "Unsqueeze", "Reshape", "Expand", "Transpose")
KERAS_PRODUCERS = ("tf2onnx", "keras2onnx", "keras")  # one LSTM bias in their own convention


# -- reading -----------------------------------------------------------------------------------------------

def read_onnx(path: str | os.PathLike, task: str | None = None):
    """A built pynn model (pynn.model.Sequential) holding the weights of the ONNX model at path, or one
    PynnError sentence on why pynn cannot read it. task (classification, binary, regression) settles what a
    graph ending in a plain linear layer is; without it a softmax or sigmoid at the end decides, else a guess
    that model.origin["notes"] states. model.origin says where the model came from (framework, format,
    framework_params in the framework's own count, notes, output_softmax)."""
    path = Path(path)
    proto = _parse(path)
    chain = _Chain(proto, path)
    chain.walk()
    return chain.model(task)


def _parse(path: Path):
    import onnx
    from google.protobuf.message import DecodeError

    if not path.is_file():
        raise PynnError(f"No ONNX file at {path}.")
    try:
        proto = onnx.load(str(path), load_external_data=False)  # external tensors are read below, checked
    except (DecodeError, ValueError, RuntimeError, UnicodeDecodeError, OverflowError, TypeError) as err:
        raise PynnError(f"{path} is not an ONNX model (it cannot be parsed: {_short(err)}).") from None
    except OSError as err:
        raise PynnError(f"Cannot read {path}: {err.strerror or err}.") from None
    if not proto.HasField("graph") or not proto.graph.node or not proto.graph.output:
        raise PynnError(f"{path} is not an ONNX model (it holds no graph of operations).")
    return proto


def _text(value) -> str:
    """A string field of the file: protobuf gives bytes where a damaged file's text is not UTF-8."""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _short(err) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) < 120 else text[:117] + "..."


@dataclass
class _Flow:
    """A tensor on the data path: its axes by meaning (B batch, T steps, F features, D an LSTM's directions,
    L the one last step kept, X other), its sizes (BATCH for the batch), and the node that made it."""
    axes: tuple
    shape: tuple
    source: int               # the position of the node that made it (INPUT for the graph's input)
    cell: bool = False  # an LSTM's cell state, which pynn's LSTM does not output
    final: bool = False  # an LSTM's final hidden state (Y_h)
    maps: tuple | None = None  # (C, H, W) of feature maps flattened in ONNX's order, which pynn's dense reorders


@dataclass
class _Layer:
    kind: str                       # dense | lstm | dropout | conv | pool
    units: int = 0
    activation: str | None = None
    arrays: dict = field(default_factory=dict)
    node: str = ""
    p: float = 0.0
    return_sequences: bool | None = None  # an LSTM's, known once what reads it is seen
    bias_to_come: bool = False  # a MatMul's dense layer, whose bias an Add may still bring
    kernel: int = 0             # a conv's K (K x K filters), a pool's P
    stride: int = 1
    padding: str = "valid"
    framework_params: int = 0


class _Zeros:
    """A tensor of one value repeated (ConstantOfShape, Expand), kept as that fill: its shape may be batch-sized,
    so it is never allocated. An LSTM's initial state is one (zeros)."""

    def __init__(self, fill: float):
        self.fill = fill


class _Chain:
    """Walks a graph's nodes in order, following the one tensor that carries the input, and collects the layers
    it passes through. Nodes off that path (shapes, constants, an LSTM's zero state) are worked out with numpy
    on small arrays; anything pynn has no layer for ends the walk in one sentence."""

    def __init__(self, proto, path: Path):
        self.path, self.folder = path, path.resolve().parent
        self.graph = proto.graph
        self.producer = _text(proto.producer_name).strip() or "unknown"
        self.opset = next((int(o.version) for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.consts: dict[str, object] = {}
        for tensor in self.graph.initializer:
            self.consts[tensor.name] = self.tensor(tensor, f"initializer {tensor.name!r}")
        self.flows: dict[str, _Flow] = {}
        self.consumed: set[int] = set()   # nodes whose outputs a node on the data path has read
        self.position = INPUT              # the node being read
        self.layers: list[_Layer] = []
        self.open_layer: _Layer | None = None  # the dense or conv layer an activation or bias may still join
        self.ending: tuple[str, str] | None = None  # (op, node) of a trailing Softmax / LogSoftmax
        self.notes: list[str] = []
        self.input_shape = self._input()

    # -- tensors, checked before allocating ---------------------------------------------------------------

    def tensor(self, t, what: str) -> np.ndarray:
        from onnx import TensorProto

        types = {TensorProto.FLOAT: ("<f4", "float_data"), TensorProto.DOUBLE: ("<f8", "double_data"),
                 TensorProto.FLOAT16: ("<f2", "int32_data"), TensorProto.INT64: ("<i8", "int64_data"),
                 TensorProto.INT32: ("<i4", "int32_data"), TensorProto.BOOL: ("?", "int32_data")}
        if t.data_type not in types:
            raise PynnError(f"{self.path}: {what} holds data of ONNX type {t.data_type}, which pynn does not read "
                            "(it reads float, double, float16 and integer tensors).")
        dtype, typed_field = types[t.data_type]
        dims = [int(d) for d in t.dims]
        if any(d < 0 for d in dims) or len(dims) > 8:
            raise PynnError(f"{self.path}: {what} has an impossible shape {dims}.")
        count = int(np.prod(dims, dtype=np.float64)) if dims else 1
        nbytes = count * np.dtype(dtype).itemsize
        if t.data_location == TensorProto.EXTERNAL:
            data = self._external(t, what, nbytes)
        elif t.HasField("raw_data"):
            data = t.raw_data
            if len(data) != nbytes:
                raise PynnError(f"{self.path}: {what} has shape {dims} ({count:,} values) but holds "
                                f"{len(data):,} bytes, not {nbytes:,}; the file is damaged.")
        else:
            values = getattr(t, typed_field)
            if len(values) != count:
                raise PynnError(f"{self.path}: {what} has shape {dims} ({count:,} values) but holds "
                                f"{len(values):,}; the file is damaged.")
            if t.data_type == TensorProto.FLOAT16:
                return np.array(values, np.uint16).view(np.float16).reshape(dims)
            return np.array(values, dtype).reshape(dims)
        return np.frombuffer(data, dtype).reshape(dims).copy()

    def _external(self, t, what: str, nbytes: int) -> bytes:
        """A tensor's bytes from its external file, which must lie inside the model's folder."""
        info = {_text(entry.key): _text(entry.value) for entry in t.external_data}
        location = info.get("location", "")
        try:
            target = (self.folder / location).resolve()  # symbolic links followed: they may lead out
            size = target.stat().st_size if target.is_file() else None
        except (OSError, ValueError):  # a name no file system takes (a NUL byte, too long)
            target, size = None, None
        if not location or Path(location).is_absolute() or target is None or not target.is_relative_to(self.folder):
            raise PynnError(f"{self.path}: {what} keeps its data at {location!r}, outside the model's folder "
                            f"{self.folder}; pynn reads external data only from files beside the model.")
        try:
            offset, length = int(info.get("offset", 0)), int(info.get("length", nbytes))
        except ValueError:
            raise PynnError(f"{self.path}: {what} has a damaged external-data record.") from None
        if size is None:
            raise PynnError(f"{self.path}: {what} keeps its data in {location!r}, which is not a file beside the "
                            "model.")
        if length != nbytes or offset < 0 or offset + length > size:
            raise PynnError(f"{self.path}: {what} needs {nbytes:,} bytes from {location!r} at offset {offset:,}, "
                            f"but the record says {length:,} and the file has {size:,}.")
        with open(target, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def _input(self) -> tuple:
        """The model's input shape for pynn, and its flow: the graph's one input that is not a weight."""
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            names = ", ".join(repr(i.name) for i in inputs) or "none"
            raise PynnError(f"{self.path} has {len(inputs)} inputs ({names}); pynn reads models with one input.")
        tensor_type = inputs[0].type.tensor_type
        dims = tensor_type.shape.dim
        if not tensor_type.HasField("shape") or not 2 <= len(dims) <= 4:
            raise PynnError(f"{self.path}: its input {inputs[0].name!r} has {len(dims)} axes; pynn reads inputs of "
                            "(batch, features), (batch, steps, features) or images (batch, channels, height, width).")
        sizes = []
        for k, d in enumerate(dims[1:], start=1):
            if d.HasField("dim_value") and d.dim_value >= 1:
                sizes.append(int(d.dim_value))
            elif k == 1 and len(dims) == 3:  # a sequence of any length: an LSTM reads it step by step
                sizes.append(STEPS)
                self.notes.append("The graph leaves the number of steps open; pynn takes it from the data.")
            else:
                raise PynnError(f"{self.path}: size {k} of its input {inputs[0].name!r} is not fixed "
                                f"({_text(d.dim_param) or 'unknown'}); pynn needs every size but the batch's (and "
                                "a sequence's steps), so export with only those axes dynamic.")
        if len(sizes) == 3:  # images (C, H, W), which pynn reads as (H, W, C): 28x28 for one channel
            self.flows[inputs[0].name] = _Flow(("B", "C", "H", "W"), (BATCH, *sizes), INPUT)
            C, H, W = sizes
            if C > 1:
                self.notes.append(f"The graph reads images as (channels, height, width), {C}x{H}x{W}; pynn reads "
                                  f"them as (height, width, channels), {H}x{W}x{C}, so give it images in that order.")
            return (H, W) if C == 1 else (H, W, C)
        axes = ("B", "T", "F") if len(sizes) == 2 else ("B", "F")
        self.flows[inputs[0].name] = _Flow(axes, (BATCH, *sizes), INPUT)
        return tuple(1 if size == STEPS else size for size in sizes)  # 1 step until the data says (as Keras's None)

    # -- the walk ------------------------------------------------------------------------------------------

    def walk(self) -> None:
        live = self._live()
        for k, node in enumerate(self.graph.node):
            if node.domain not in ("", "ai.onnx"):
                self.refuse(node, f"is a custom operation {node.op_type!r} of domain {node.domain!r}")
            if k not in live:
                continue
            if not any(node.output):
                self.refuse(node, "has no output")
            self.position = k  # names the flows it makes: node names need not be unique
            data = [name for name in node.input if name in self.flows]
            if not data:
                self._side(node)
                continue
            if node.op_type == "Shape":  # sizes, not values: off the data path (start and end since opset 15)
                shape = self.flows[data[0]].shape
                start, end = self.int_attr(node, "start", 0), self.int_attr(node, "end", len(shape))
                self.consts[node.output[0]] = np.array(shape[slice(start, end)], np.int64)
                continue
            if node.op_type == "Concat" and len(data) > 1 and all(self.flows[name].final for name in data):
                self._stacked_states(node, data)
                continue
            if len(data) > 1:
                self.refuse(node, f"combines {len(data)} tensors of the data path ({', '.join(data)}), which makes "
                                  "a branching graph")
            flow = self.flows[data[0]]
            if flow.source in self.consumed:
                self.refuse(node, f"reads {data[0]!r}, which another node reads too: the graph branches")
            self.consumed.add(flow.source)
            if flow.cell:
                self.refuse(node, "reads an LSTM's cell state c; pynn's LSTM outputs its hidden state h")
            if self.ending and node.op_type != "Identity":
                self.refuse(node, f"follows the {self.ending[0]} of node {self.ending[1]!r}; pynn reads a softmax "
                                  "only at the output")
            handler = getattr(self, f"_op_{node.op_type}", None)
            if handler is None:
                self.refuse(node, f"is a {node.op_type} operation, which pynn does not read")
            handler(node, flow)
        self._finish()

    def _live(self) -> set[int]:
        """The nodes the graph's outputs are computed from. A Shape node's input counts only for its size, so a
        node read only by Shape (PyTorch computes an LSTM's zero state from the batch size so) is not on the
        data path and makes no branch."""
        producer = {name: k for k, node in enumerate(self.graph.node) for name in node.output if name}
        live, todo = set(), [producer[o.name] for o in self.graph.output if o.name in producer]
        while todo:
            k = todo.pop()
            if k in live:
                continue
            live.add(k)
            if self.graph.node[k].op_type != "Shape":
                todo.extend(producer[name] for name in self.graph.node[k].input if name in producer)
        return live

    def refuse(self, node, reason: str):
        # names come from the file: a damaged one may hold line breaks, which a one-line message must not
        reason = "".join(c if c.isprintable() else "?" for c in reason)
        raise PynnError(f"{self.path}: node {node.name or node.op_type!r} {reason}; {READS}.")

    def _out(self, node, axes, shape, k: int = 0, cell: bool = False, maps: tuple | None = None) -> None:
        if k >= len(node.output) or not node.output[k]:  # an optional output left unnamed
            return
        self.flows[node.output[k]] = _Flow(tuple(axes), tuple(shape), self.position, cell=cell, maps=maps)

    def _same(self, node, flow) -> None:
        """node passes its input on unchanged."""
        self._out(node, flow.axes, flow.shape, maps=flow.maps)

    def const(self, node, k: int, what: str, required: bool = True):
        """Input k of node as a constant (None when absent and not required)."""
        name = node.input[k] if k < len(node.input) else ""
        if not name:
            if required:
                self.refuse(node, f"has no {what}")
            return None
        if name in self.flows:
            self.refuse(node, f"takes its {what} from the data path")
        value = self.consts.get(name)
        if value is None:
            self.refuse(node, f"takes its {what} from {name!r}, a value pynn cannot work out")
        return value

    def weights(self, node, k: int, what: str, required: bool = True):
        """Input k of node as float64 parameters (None when absent and not required), finite."""
        value = self.const(node, k, what, required)
        if value is None:
            return None
        if isinstance(value, _Zeros) or value.dtype.kind != "f":
            self.refuse(node, f"has {what} that are not a tensor of floating-point numbers")
        if not np.all(np.isfinite(value)):
            self.refuse(node, f"has {what} that are not all finite numbers")
        return value.astype(np.float64)

    def attr(self, node, name: str, default=None, kind: str | None = None):
        """Attribute name of node (default when absent); kind (INT, INTS, FLOAT, STRING, STRINGS, TENSOR) is the
        type it must have, else the file is damaged."""
        from onnx import AttributeProto, helper

        for a in node.attribute:
            if a.name == name:
                if kind is not None and a.type != getattr(AttributeProto, kind):
                    self.refuse(node, f"has an attribute {name!r} of the wrong type")
                try:
                    value = helper.get_attribute_value(a)
                except Exception:  # an attribute of no type onnx knows: a damaged file
                    self.refuse(node, f"has a damaged attribute {name!r}")
                if a.type == AttributeProto.TENSOR:
                    return self.tensor(value, f"node {node.name!r}'s {name}")
                return value
        return default

    def int_attr(self, node, name: str, default: int) -> int:
        return int(self.attr(node, name, default, "INT"))

    def float_attr(self, node, name: str, default: float) -> float:
        value = float(self.attr(node, name, default, "FLOAT"))
        if not np.isfinite(value):
            self.refuse(node, f"has a {name} of {value}")
        return value

    def text_attr(self, node, name: str, default: str) -> str:
        return _text(self.attr(node, name, default, "STRING"))

    def axis(self, node, value, flow: _Flow) -> int:
        rank = len(flow.axes)
        if not -rank <= int(value) < rank:
            self.refuse(node, f"names axis {value} of a tensor with {rank} axes")
        return int(value) % rank

    # -- off the data path: small shape and constant arithmetic ------------------------------------------

    def _side(self, node) -> None:
        op = node.op_type
        inputs = [self.consts.get(name) for name in node.input]
        value = None
        if op == "Constant":
            value = self.attr(node, "value", kind="TENSOR")
            ints, floats = self.attr(node, "value_ints", kind="INTS"), self.attr(node, "value_floats", kind="FLOATS")
            if value is None and (ints is not None or floats is not None):
                value = np.array(ints, np.int64) if ints is not None else np.array(floats, np.float32)
        elif op == "ConstantOfShape":  # its shape may hold the batch size: kept as its fill, never allocated
            fill = self.attr(node, "value", kind="TENSOR")
            value = _Zeros(float(np.asarray(fill).ravel()[0]) if fill is not None and np.size(fill) else 0.0)
        elif inputs and isinstance(inputs[0], _Zeros) and op in RESHAPING_OPS:  # parts of zeros: zeros
            value = inputs[0]
        elif any(v is None or isinstance(v, _Zeros) for v in inputs) or not inputs:
            value = None  # computed from something unknown: unknown itself
        elif op in ("Identity", "Cast"):
            value = inputs[0]
        elif op == "Gather" and len(inputs) == 2 and inputs[0].ndim == 1 and inputs[1].size <= 64:
            index = inputs[1].astype(np.int64)
            if self.int_attr(node, "axis", 0) == 0 and np.all((index >= -len(inputs[0])) & (index < len(inputs[0]))):
                value = np.take(inputs[0], index)
        elif op == "Unsqueeze" and inputs[0].ndim == 0:
            value = inputs[0].reshape(1)
        elif op == "Concat" and all(v.ndim == 1 for v in inputs):
            value = np.concatenate(inputs)
        elif op == "Slice" and inputs[0].ndim == 1 and len(inputs) in (3, 4) and all(v.size == 1 for v in inputs[1:]) \
                and (len(inputs) == 3 or int(inputs[3].ravel()[0]) in (0, -1)):
            value = inputs[0][int(inputs[1].ravel()[0]):int(np.clip(inputs[2].ravel()[0], -2**62, 2**62))]
        elif op in ARITHMETIC_OPS and len(inputs) == 2 and all(v.size <= 64 and v.dtype.kind == "i" for v in inputs):
            with np.errstate(all="ignore"):
                value = ARITHMETIC_OPS[op](*inputs) if op != "Div" or np.all(inputs[1]) else None
        elif op == "Reshape" and inputs[0].size <= 64 and inputs[1].ndim == 1 and 0 not in inputs[1]:
            try:
                value = inputs[0].reshape([int(v) for v in inputs[1]])
            except ValueError:  # sizes that do not fit: unknown
                value = None
        elif op == "Expand" and inputs[0].size >= 1 and np.all(inputs[0] == inputs[0].ravel()[0]):
            value = _Zeros(float(inputs[0].ravel()[0]))  # one value copied to a shape that may hold the batch
        if node.output:
            self.consts[node.output[0]] = value
        # anything else off the data path stays unknown; a data node that needs its value says so

    # -- on the data path ---------------------------------------------------------------------------------

    def _op_Identity(self, node, flow):
        self._same(node, flow)

    def _op_Dropout(self, node, flow):
        if len(node.output) > 1 and node.output[1]:
            self.refuse(node, "returns its dropout mask, which pynn's Dropout does not output")
        training = self.const(node, 2, "training mode", required=False)
        if training is not None and np.any(training):
            self.refuse(node, "runs in training mode; export the model in inference mode (model.eval())")
        ratio = self.const(node, 1, "ratio", required=False)
        p = float(np.asarray(ratio).ravel()[0]) if ratio is not None and np.size(ratio) else \
            self.float_attr(node, "ratio", 0.5)
        if not 0.0 <= p < 1.0:
            self.refuse(node, f"drops a share {p} of its values, outside [0, 1)")
        p = float(f"{p:.6g}")  # the ratio as written (0.3), not its nearest float32 (0.30000001)
        self.layers.append(_Layer("dropout", p=p, node=node.name))
        self._same(node, flow)

    def _op_Flatten(self, node, flow):
        axis = self.axis(node, self.int_attr(node, "axis", 1), flow) if len(flow.axes) > 1 else 1
        self._flatten(node, flow, axis)

    def _flatten(self, node, flow, axis: int):
        if axis != 1 or flow.axes[0] != "B":
            self.refuse(node, "flattens other axes than all but the batch")
        if STEPS in flow.shape:
            self.refuse(node, "flattens a sequence whose number of steps the graph leaves open")
        if len(flow.axes) > 2 and self.layers and self.layers[-1].kind == "lstm":
            self.refuse(node, "flattens an LSTM's steps into one vector; pynn's dense layers after an LSTM that "
                              "returns every step act at each step")
        maps = flow.shape[1:] if flow.axes == ("B", "C", "H", "W") else None
        self._out(node, ("B", "F"), (BATCH, int(np.prod(flow.shape[1:]))), maps=maps)

    def _op_Reshape(self, node, flow):
        target = self.const(node, 1, "shape")
        target = [int(v) for v in np.asarray(target).ravel()]
        resolved = [flow.shape[k] if v == 0 and k < len(flow.shape) else v for k, v in enumerate(target)]
        rest = int(np.prod(flow.shape[1:]))
        if resolved in ([BATCH, -1], [-1, rest], [BATCH, rest]):
            return self._flatten(node, flow, 1)
        if tuple(resolved) == flow.shape:
            return self._same(node, flow)
        image = _resolve(resolved, flow.shape)
        if flow.source == INPUT and flow.axes == ("B", "F") and image and len(image) == 4 and image[:2] == [BATCH, 1]:
            # flat samples viewed as one-channel images, x.view(-1, 1, H, W): pynn's input is then H x W
            self.input_shape = tuple(image[2:])
            return self._out(node, ("B", "C", "H", "W"), image)
        kept = [k for k, (axis, size) in enumerate(zip(flow.axes, flow.shape)) if axis not in ("D", "L") or size != 1]
        if len(kept) < len(flow.axes) and image == [flow.shape[k] for k in kept]:
            # an LSTM's direction (or a kept last step) reshaped away: a Squeeze
            return self._out(node, [flow.axes[k] for k in kept], [flow.shape[k] for k in kept])
        self.refuse(node, f"reshapes {_sizes(flow.shape)} to {_sizes(resolved)}; pynn reads a reshape only as a "
                          "flatten to (batch, features)")

    def _op_Transpose(self, node, flow):
        perm = self.attr(node, "perm", list(reversed(range(len(flow.axes)))), "INTS")
        if sorted(int(p) for p in perm) != list(range(len(flow.axes))):
            self.refuse(node, f"has a permutation {list(perm)} that does not fit its {len(flow.axes)} axes")
        self._out(node, [flow.axes[p] for p in perm], [flow.shape[p] for p in perm])

    def _op_Squeeze(self, node, flow):
        axes = self.const(node, 1, "axes", required=False) if self.opset >= 13 else \
            self.attr(node, "axes", kind="INTS")
        if axes is None:
            self.refuse(node, "squeezes without naming its axes")
        axes = {self.axis(node, a, flow) for a in np.asarray(axes).ravel()}
        if any(flow.axes[a] not in ("D", "L") or flow.shape[a] != 1 for a in axes):
            self.refuse(node, "removes an axis that is not an LSTM's direction or a kept last step")
        self._out(node, [a for k, a in enumerate(flow.axes) if k not in axes],
                  [s for k, s in enumerate(flow.shape) if k not in axes])

    def _op_Gather(self, node, flow):
        index = np.asarray(self.const(node, 1, "indices"))
        axis = self.axis(node, self.int_attr(node, "axis", 0), flow)
        size, label = flow.shape[axis], flow.axes[axis]
        if index.ndim != 0 or not -size <= int(index) < size:
            self.refuse(node, "gathers other than one position")
        last = int(index) % size == size - 1
        if label == "T" and last:
            self._last_step(node)
        elif label == "S" and not last:
            self.refuse(node, f"reads the final state of stacked LSTM layer {int(index) % size + 1} of {size}; pynn "
                              "reads a model's output from its last layer")
        elif label not in ("D", "L", "S") and not (label == "T" and last):
            self.refuse(node, f"reads position {int(index)} of the {_AXIS_NAMES.get(label, 'feature')} axis; pynn's "
                              "LSTM gives its last step or every step")
        self._out(node, flow.axes[:axis] + flow.axes[axis + 1:], flow.shape[:axis] + flow.shape[axis + 1:])

    def _op_Slice(self, node, flow):
        starts, ends = self.const(node, 1, "starts"), self.const(node, 2, "ends")
        axes = self.const(node, 3, "axes", required=False)
        steps = self.const(node, 4, "steps", required=False)
        starts, ends = np.asarray(starts).ravel(), np.asarray(ends).ravel()
        axes = np.arange(len(starts)) if axes is None else np.asarray(axes).ravel()
        if len(starts) != 1 or len(ends) != 1 or len(axes) != 1 or (steps is not None and np.any(steps != 1)):
            self.refuse(node, "slices more than one axis, or with a step")
        axis = self.axis(node, axes[0], flow)
        size, start, end = flow.shape[axis], int(starts[0]), int(ends[0])
        start, end = (start + size if start < 0 else start), min(end + size if end < 0 else end, size)
        if (start, end) == (0, size):
            return self._same(node, flow)
        if flow.axes[axis] != "T" or (start, end) != (size - 1, size):
            self.refuse(node, "keeps a part of an axis other than an LSTM's last step")
        self._last_step(node)
        self._out(node, flow.axes[:axis] + ("L",) + flow.axes[axis + 1:],
                  flow.shape[:axis] + (1,) + flow.shape[axis + 1:])

    def _last_step(self, node) -> None:
        lstm = self.layers[-1] if self.layers else None
        if lstm is None or lstm.kind != "lstm" or lstm.return_sequences is not None:
            self.refuse(node, "picks the last step of the input, not of an LSTM")
        lstm.return_sequences = False

    def _settle_sequences(self, flow) -> None:
        """An LSTM whose steps reach the next layer (or the output) unpicked returns every step."""
        if self.layers and self.layers[-1].kind == "lstm" and self.layers[-1].return_sequences is None:
            self.layers[-1].return_sequences = "T" in flow.axes

    def _dense(self, node, flow, W: np.ndarray, b: np.ndarray, framework_params: int) -> None:
        self._settle_sequences(flow)
        if flow.axes == ("B", "T", "F") and not (self.layers and self.layers[-1].kind == "lstm"):
            self.refuse(node, "applies a dense layer at each step of the input; pynn's dense layers flatten "
                              "the input, and act at each step only after an LSTM that returns every step")
        if flow.axes not in (("B", "F"), ("B", "T", "F")):
            self.refuse(node, f"multiplies a tensor of axes {_sizes(flow.shape)} not laid out as (batch, "
                              "features) or (batch, steps, features)")
        if W.shape[1] != flow.shape[-1]:
            self.refuse(node, f"has weights for {W.shape[1]} inputs but receives {flow.shape[-1]}")
        if flow.maps:  # ONNX flattened the maps channel by channel (C, H, W); pynn's dense reads (H, W, C)
            W = W.reshape(W.shape[0], *flow.maps).transpose(0, 2, 3, 1).reshape(W.shape[0], -1)
        layer = _Layer("dense", W.shape[0], None, {"W": W, "b": b}, node.name, framework_params=framework_params)
        self.layers.append(layer)
        self._out(node, flow.axes, (*flow.shape[:-1], W.shape[0]))
        self.open_layer = layer

    def _op_Gemm(self, node, flow):
        if self.int_attr(node, "transA", 0):
            self.refuse(node, "multiplies its input transposed (transA)")
        B = self.weights(node, 1, "weights")
        C = self.weights(node, 2, "bias", required=False)
        alpha, beta = self.float_attr(node, "alpha", 1.0), self.float_attr(node, "beta", 1.0)
        if B.ndim != 2:
            self.refuse(node, f"has weights of shape {_sizes(B.shape)}, not a matrix")
        W = (B if self.int_attr(node, "transB", 0) else B.T).astype(np.float64) * alpha
        b = self._bias(node, C, W.shape[0]) * beta
        self._dense(node, flow, W, b, B.size + (C.size if C is not None else 0))

    def _bias(self, node, C, units: int) -> np.ndarray:
        if C is None:
            return np.zeros(units)
        C = np.asarray(C, np.float64)
        if C.size not in (1, units) or (C.ndim and C.shape[-1] not in (1, units)):
            self.refuse(node, f"adds a bias of shape {_sizes(C.shape)} to {units} units")
        return np.broadcast_to(C.reshape(-1), (units,)).copy()

    def _op_MatMul(self, node, flow):
        if node.input[0] not in self.flows:
            self.refuse(node, "multiplies its input from the left")
        B = self.weights(node, 1, "weights")
        if B.ndim != 2:
            self.refuse(node, f"has weights of shape {_sizes(B.shape)}, not a matrix")
        self._dense(node, flow, B.T, np.zeros(B.shape[1]), B.size)
        self.open_layer.bias_to_come = True  # a MatMul's bias follows as an Add

    def _op_Add(self, node, flow):
        layer = self.open_layer
        other = next((k for k, name in enumerate(node.input) if name not in self.flows), None)
        if other is None:
            self.refuse(node, "adds nothing to its input")
        C = self.weights(node, other, "addend")
        if layer is None or not layer.bias_to_come or layer is not self.layers[-1]:
            self.refuse(node, "adds a constant other than a MatMul's bias")
        C = np.asarray(C, np.float64)
        if C.ndim > len(flow.axes) or any(s != 1 for s in C.shape[:-1]):
            self.refuse(node, f"adds a constant of shape {_sizes(C.shape)} that is not one bias per unit")
        layer.arrays["b"] = layer.arrays["b"] + self._bias(node, C, layer.units)
        layer.bias_to_come = False
        layer.framework_params += C.size
        self._same(node, flow)

    def _activation(self, node, flow, name: str) -> None:
        layer = self.open_layer
        pooled = layer is not None and layer.kind == "conv" and self.layers[-1].kind == "pool" \
            and self.layers[-2] is layer and name != "softmax"  # max pooling commutes with a rising activation
        if layer is None or (layer is not self.layers[-1] and not pooled) or layer.activation is not None:
            self.refuse(node, f"applies {node.op_type} other than right after a dense or conv layer; pynn applies "
                              "activations inside those layers")
        if layer.kind == "conv" and name == "softmax":
            self.refuse(node, "applies a softmax to feature maps; pynn applies softmax only on the output")
        layer.activation, layer.bias_to_come = name, False
        self._same(node, flow)

    def _op_Relu(self, node, flow):
        self._activation(node, flow, "relu")

    def _op_Sigmoid(self, node, flow):
        self._activation(node, flow, "sigmoid")

    def _op_Tanh(self, node, flow):
        self._activation(node, flow, "tanh")

    def _op_LeakyRelu(self, node, flow):
        alpha = self.float_attr(node, "alpha", 0.01)
        if abs(alpha - LEAKY_SLOPE) > 1e-6:
            self.refuse(node, f"is a LeakyRelu of slope {alpha:g} below zero, and pynn's leaky_relu has slope "
                              f"{LEAKY_SLOPE:g}")
        self._activation(node, flow, "leaky_relu")

    def _op_Softmax(self, node, flow):
        self._softmax(node, flow)

    def _op_LogSoftmax(self, node, flow):
        self._softmax(node, flow)

    def _softmax(self, node, flow):
        default = -1 if self.opset >= 13 else 1
        axis = self.axis(node, self.int_attr(node, "axis", default), flow)
        if axis != len(flow.axes) - 1:
            self.refuse(node, f"takes its {node.op_type} over axis {axis}, not over the features (the last axis)")
        self._activation(node, flow, "softmax")
        self.ending = (node.op_type, node.name)

    def _op_Conv(self, node, flow):
        if flow.axes != ("B", "C", "H", "W"):
            self.refuse(node, "convolves a tensor that is not images (batch, channels, height, width)")
        W, B = self.weights(node, 1, "filters"), self.weights(node, 2, "bias", required=False)
        C, H, Wd = flow.shape[1:]
        if W.ndim != 4 or W.shape[1] != C or W.shape[2] != W.shape[3] or W.shape[0] < 1 or W.shape[2] < 1:
            self.refuse(node, f"has filters of shape {_sizes(W.shape)}; pynn's conv takes square filters over all "
                              f"{C} input channels")
        F, K = W.shape[0], W.shape[2]
        if self.int_attr(node, "group", 1) != 1 or any(d != 1 for d in self.attr(node, "dilations", [1, 1], "INTS")):
            self.refuse(node, "is a grouped or dilated convolution; pynn's conv is neither")
        kernel = self.attr(node, "kernel_shape", [K, K], "INTS")
        strides = self.attr(node, "strides", [1, 1], "INTS")
        if list(kernel) != [K, K] or len(strides) != 2 or strides[0] != strides[1] or strides[0] < 1:
            self.refuse(node, f"slides with strides {list(strides)}; pynn's conv takes one stride for both axes")
        S = int(strides[0])
        padding = self._padding(node, H, Wd, K, S)
        if padding == "valid" and (K > H or K > Wd):
            self.refuse(node, f"has {K}x{K} filters, larger than its {H}x{Wd} input")
        b = np.zeros(F) if B is None else self._bias(node, B, F)
        layer = _Layer("conv", F, None, {"W": W.transpose(2, 3, 1, 0), "b": b}, node.name,
                       framework_params=W.size + (0 if B is None else B.size), kernel=K, stride=S, padding=padding)
        self.layers.append(layer)
        self.open_layer = layer
        from pynn.conv import conv_output_size
        self._out(node, flow.axes, (BATCH, F, conv_output_size(H, K, S, padding), conv_output_size(Wd, K, S, padding)))

    def _padding(self, node, H: int, W: int, K: int, S: int) -> str:
        """valid or same (TensorFlow's: the extra zero, if any, after), the two pynn's conv pads as."""
        from pynn.conv import same_padding

        auto = self.text_attr(node, "auto_pad", "NOTSET")
        if auto in ("VALID", "SAME_UPPER"):
            return "valid" if auto == "VALID" else "same"
        pads = list(self.attr(node, "pads", [0, 0, 0, 0], "INTS"))
        if auto == "NOTSET" and pads == [0, 0, 0, 0]:
            return "valid"
        (top, bottom), (left, right) = same_padding(H, K, S), same_padding(W, K, S)
        if auto == "NOTSET" and pads == [top, left, bottom, right]:
            return "same"
        self.refuse(node, f"pads its input by {pads or auto}; pynn's conv pads none (valid) or as TensorFlow's "
                          f"same ({[top, left, bottom, right]} here)")

    def _op_MaxPool(self, node, flow):
        if flow.axes != ("B", "C", "H", "W"):
            self.refuse(node, "pools a tensor that is not images (batch, channels, height, width)")
        kernel = list(self.attr(node, "kernel_shape", [], "INTS"))
        strides = list(self.attr(node, "strides", [1, 1], "INTS"))
        P = kernel[0] if kernel else 0
        C, H, W = flow.shape[1:]
        if kernel != [P, P] or strides != [P, P] or not 1 <= P <= min(H, W):
            self.refuse(node, f"takes windows {kernel} at strides {strides}; pynn's pool takes P x P windows at "
                              "stride P, within the maps")
        if any(self.attr(node, "pads", [0, 0, 0, 0], "INTS")) or self.int_attr(node, "ceil_mode", 0) \
                or any(d != 1 for d in self.attr(node, "dilations", [1, 1], "INTS")) \
                or self.text_attr(node, "auto_pad", "NOTSET") not in ("NOTSET", "VALID") \
                or (len(node.output) > 1 and node.output[1]):
            self.refuse(node, "pads, rounds up, dilates or returns indices; pynn's pool drops what does not fill "
                              "a window")
        self.layers.append(_Layer("pool", kernel=P, node=node.name))
        self._out(node, flow.axes, (BATCH, C, H // P, W // P))

    def _op_LSTM(self, node, flow):
        if node.input[0] not in self.flows:
            self.refuse(node, "reads its sequence from a constant")
        self._settle_sequences(flow)
        direction = self.text_attr(node, "direction", "forward")
        if direction != "forward":
            self.refuse(node, f"is a {direction} LSTM; pynn's LSTM reads its steps forward, one way")
        activations = self.attr(node, "activations", kind="STRINGS")
        if activations is not None and [_text(a) for a in activations] != ["Sigmoid", "Tanh", "Tanh"]:
            self.refuse(node, "uses other activations than sigmoid gates and tanh cells")
        if self.attr(node, "clip") is not None or self.int_attr(node, "input_forget", 0):
            self.refuse(node, "clips its cell or couples its input and forget gates")
        layout = self.int_attr(node, "layout", 0)
        if flow.axes != (("B", "T", "F") if layout else ("T", "B", "F")):
            self.refuse(node, "reads a sequence laid out other than (steps, batch, features)"
                              if not layout else "reads a sequence laid out other than (batch, steps, features)")
        W, R = self.weights(node, 1, "input weights W"), self.weights(node, 2, "recurrent weights R")
        B = self.weights(node, 3, "biases B", required=False)
        if len(node.input) > 4 and node.input[4]:
            self.refuse(node, "takes sequence lengths; pynn's LSTM reads every step of every sequence")
        for k, what in ((5, "initial hidden state"), (6, "initial cell state"), (7, "peephole weights")):
            value = self.const(node, k, what, required=False)
            if value is not None and not _zero(value):
                self.refuse(node, f"has a non-zero {what}; pynn's LSTM starts from the zero state")
        H = self.int_attr(node, "hidden_size", R.shape[-1] if R.ndim == 3 else 0)
        n_in = flow.shape[-1]
        if W.shape != (1, 4 * H, n_in) or R.shape != (1, 4 * H, H) or (B is not None and B.shape != (1, 8 * H)):
            self.refuse(node, f"has weights W {_sizes(W.shape)}, R {_sizes(R.shape)}"
                              f"{'' if B is None else ', B ' + _sizes(B.shape)} that do not fit {H} units on "
                              f"{n_in} features")
        bias = np.zeros(4 * H) if B is None else B[0, :4 * H].astype(np.float64) + B[0, 4 * H:]
        keras = any(p in self.producer.lower() for p in KERAS_PRODUCERS)
        count = W.size + R.size + (0 if B is None else 4 * H if keras else B.size)
        layer = _Layer("lstm", H, None, {"Wx": _gates(W[0]), "Wh": _gates(R[0]), "b": _gates(bias)}, node.name,
                       framework_params=count)
        self.layers.append(layer)
        self.open_layer = None
        T = flow.shape[flow.axes.index("T")]
        if layout:
            self._out(node, ("B", "T", "D", "F"), (BATCH, T, 1, H), 0)
        else:
            self._out(node, ("T", "D", "B", "F"), (T, 1, BATCH, H), 0)
        for k in (1, 2):
            self._out(node, ("B", "D", "F") if layout else ("D", "B", "F"),
                          (BATCH, 1, H) if layout else (1, BATCH, H), k, cell=k == 2)
        if len(node.output) > 1 and node.output[1]:
            self.flows[node.output[1]].final = True

    def _stacked_states(self, node, data: list[str]) -> None:
        """PyTorch's h_n of an LSTM of several layers: every layer's final state concatenated, of which pynn
        reads the last layer's (h_n[-1]), the Gather that follows. The earlier layers' states go no further."""
        last = self.flows[data[-1]]
        if list(node.input) != data or self.int_attr(node, "axis", 0) != 0 or last.axes != ("D", "B", "F") \
                or last.source in self.consumed or self.layers[-1].kind != "lstm":
            self.refuse(node, "combines LSTM states other than as PyTorch stacks its layers' final states")
        self.consumed.add(last.source)
        self._out(node, ("S", "B", "F"), (len(data), *last.shape[1:]))

    def _finish(self) -> None:
        outputs = list(self.graph.output)
        if len(outputs) != 1:
            raise PynnError(f"{self.path} has {len(outputs)} outputs; pynn reads models with one output.")
        flow = self.flows.get(outputs[0].name)
        if flow is None or flow.source == INPUT:
            raise PynnError(f"{self.path}: its output {outputs[0].name!r} is not computed from its input through "
                            f"layers; {READS}.")
        if flow.cell:
            raise PynnError(f"{self.path}: its output is an LSTM's cell state c; pynn's LSTM outputs its hidden "
                            "state h.")
        if flow.source in self.consumed:
            raise PynnError(f"{self.path}: its output {outputs[0].name!r} is also read by another node: the graph "
                            "branches.")
        self._settle_sequences(flow)
        if flow.axes not in (("B", "F"), ("B", "T", "F")) or not self.layers or self.layers[-1].kind != "dense":
            raise PynnError(f"{self.path}: its output is not a dense layer's (batch, units) or (batch, steps, "
                            f"units); pynn's models end with a dense output layer.")

    # -- the pynn model --------------------------------------------------------------------------------------

    def model(self, task: str | None):
        from pynn.data.dataset import BINARY, CLASSIFICATION, REGRESSION, TASKS
        from pynn.convolution import Conv2D, MaxPool2D
        from pynn.interop.assemble import assemble, origin
        from pynn.layers import Dense, Dropout
        from pynn.lstm import LSTM

        output = self.layers[-1]
        if task is not None and task not in TASKS:
            raise PynnError(f"task must be one of {', '.join(TASKS)}, not {task!r}.")
        ends = output.activation
        guessed = {"softmax": CLASSIFICATION, "sigmoid": BINARY}.get(ends)
        has_lstm = any(layer.kind == "lstm" for layer in self.layers)
        if task is None:
            task = guessed or (CLASSIFICATION if ends is None and output.units > 1 and not has_lstm else REGRESSION)
            if guessed is None:
                self.notes.append(self._guess_note(task, ends))
        elif guessed and task != guessed:
            raise PynnError(f"{self.path} ends in {self.ending[0] if self.ending else 'Sigmoid'}, which makes it a "
                            f"{guessed} model, not {task}.")
        if task == CLASSIFICATION and ends not in (None, "softmax"):
            raise PynnError(f"{self.path} ends in {ends}, not in class scores: it is not a classification model.")
        if task != CLASSIFICATION:
            output.activation = ends or "identity"
        layers, arrays = [], []
        for layer in self.layers:
            if layer.kind == "dense":  # a hidden layer no activation followed is linear, not pynn's default
                layers.append(Dense(layer.units, layer.activation or ("identity" if layer is not output else None)))
            elif layer.kind == "lstm":
                layers.append(LSTM(layer.units, return_sequences=bool(layer.return_sequences)))
            elif layer.kind == "conv":
                layers.append(Conv2D(layer.units, layer.kernel, layer.stride, layer.padding,
                                     layer.activation or "identity"))
            elif layer.kind == "pool":
                layers.append(MaxPool2D(layer.kernel))
            else:
                layers.append(Dropout(layer.p))
            if any(np.abs(a).max(initial=0) > np.finfo(np.float32).max for a in layer.arrays.values()):
                raise PynnError(f"{self.path}: node {layer.node!r} has parameters too large for 32-bit floats.")
            arrays.append(layer.arrays)
        if self.ending:
            self.notes.insert(0, _ending_note(*self.ending, pynn_export=self.producer == "pynn"))
        framework_params = sum(layer.framework_params for layer in self.layers)
        return assemble(self.path, layers, arrays, self.input_shape,
                        loss={CLASSIFICATION: "xent", BINARY: "bce", REGRESSION: "mse"}[task],
                        origin=origin(self.producer, "onnx", framework_params, self.notes, self.ending is not None))

    def _guess_note(self, task: str, ends: str | None) -> str:
        if task == "classification":
            return ("The graph ends in a linear layer, read as class scores (logits): pynn applies the softmax "
                    "inside cross-entropy, so predictions are probabilities; give the task if these are values.")
        return (f"The graph ends in a {ends or 'linear'} layer, read as predicted values (regression, quadratic "
                "cost); give the task if these are class scores.")


_AXIS_NAMES = {"B": "batch", "T": "steps", "F": "feature", "D": "direction", "L": "last step", "S": "layers"}


def _ending_note(op: str, node: str, pynn_export: bool = False) -> str:
    if pynn_export:
        return (f"The graph ends in {op} (node {node!r}), which pynn's export adds so that ONNX Runtime gives "
                "predict's probabilities: pynn reads it as the output's softmax inside cross-entropy.")
    if op == "LogSoftmax":
        return (f"The graph ends in LogSoftmax (node {node!r}): pynn reads it as the output's softmax inside "
                "cross-entropy, so pynn's predictions are probabilities, the exponent of the graph's outputs.")
    return (f"The graph ends in Softmax (node {node!r}): pynn reads it as the output's softmax, which its "
            "cross-entropy applies once; if it was trained with a loss that applies its own softmax (PyTorch's "
            "CrossEntropyLoss), it was applied twice, and training on in pynn applies it once.")


def _gates(blocks: np.ndarray, order=ONNX_TO_PYNN_GATES) -> np.ndarray:
    """The four gate blocks of an LSTM's rows (4U, ...) put in another order."""
    parts = np.split(np.asarray(blocks, np.float64), 4, axis=0)
    return np.concatenate([parts[k] for k in order], axis=0)


def _zero(value) -> bool:
    if isinstance(value, _Zeros):
        return value.fill == 0.0
    return not np.any(np.asarray(value))


def _resolve(target: list[int], shape: tuple) -> list[int] | None:
    """A Reshape's target sizes with its one -1 worked out from the tensor's shape (None if they cannot fit)."""
    total = int(np.prod(shape, dtype=np.float64))
    known = int(np.prod([v for v in target if v != -1], dtype=np.float64))
    if target.count(-1) > 1 or known <= 0 or (-1 in target and total % known):
        return None
    return [total // known if v == -1 else v for v in target]


def _sizes(shape) -> str:
    return "(" + ", ".join({BATCH: "batch", STEPS: "steps"}.get(s, str(s)) for s in shape) + ")"


# -- writing -------------------------------------------------------------------------------------------------

def write_onnx(model, path: str | os.PathLike) -> Path:
    """Write a built pynn model (dense, dropout, LSTM, conv and pool layers) as an ONNX graph (opset 17) whose
    output is what model.predict returns (probabilities for a softmax or sigmoid head). Its input is the
    model's samples, (batch, *model.input_shape), except for images into a conv layer, which it takes as ONNX
    and PyTorch do, (batch, channels, height, width). Atomic: a temporary file renamed over path."""
    from onnx import TensorProto, helper

    from pynn import __version__
    from pynn.files import write_atomically

    if not getattr(model, "built", False):
        raise PynnError("The model has no weights yet to export; fit it first (or make it with pynn.build).")
    writer = _GraphWriter()
    first = model.param_layers[0]
    input_shape = list(model.input_shape)
    if first.kind == "conv":
        H, W, C = first.image
        input_shape = [C, H, W]
    elif len(input_shape) > 1 and first.kind == "dense":
        writer.current = writer.node("Flatten", [writer.current], axis=1)
    for layer in model.frozen().layers:
        getattr(writer, layer.kind)(layer)
    if model.loss.name == "xent":
        writer.current = writer.node("Softmax", [writer.current], axis=-1)
    elif model.loss.name == "bce":
        writer.current = writer.node("Sigmoid", [writer.current])
    writer.nodes.append(helper.make_node("Identity", [writer.current], ["y"], name="output"))
    graph = helper.make_graph(
        writer.nodes, "pynn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", *input_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", *model.output_shape])], writer.inits)
    proto = helper.make_model(graph, producer_name="pynn", producer_version=__version__,
                              opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION,
                              doc_string=f"pynn model {model.spec}")
    return write_atomically(Path(path), lambda f: f.write(proto.SerializeToString()))


class _GraphWriter:
    """Appends each pynn layer's nodes and initializers to a graph; current names the tensor the next reads.
    Feature maps stay (batch, C, H, W), as ONNX's Conv and MaxPool take them, until a dense layer reads them."""

    def __init__(self):
        self.nodes, self.inits = [], []
        self.current = "x"
        self.maps = False  # current holds feature maps (batch, C, H, W)
        self.count = 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def init(self, name: str, array, dtype=np.float32) -> str:
        from onnx import numpy_helper

        self.inits.append(numpy_helper.from_array(np.array(array, dtype, order="C"), name))  # 0-d stays 0-d
        return name

    def node(self, op: str, inputs: list, **attrs) -> str:
        from onnx import helper

        out = self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def activate(self, layer, activation: str) -> None:
        if activation == "leaky_relu":
            self.current = self.node("LeakyRelu", [self.current], alpha=float(layer.alpha))
        elif activation in ("relu", "sigmoid", "tanh"):
            self.current = self.node(activation.capitalize(), [self.current])
        elif activation != "identity":
            raise PynnError(f"Layer {layer.index}'s activation {activation} has no ONNX counterpart pynn writes.")

    def dropout(self, layer) -> None:  # kept for training on; inference passes it through
        self.current = self.node("Dropout", [self.current, self.init(self.fresh("ratio"), layer.p)])

    def dense(self, layer) -> None:
        n = layer.index
        if self.maps:  # pynn's dense reads maps in (H, W, C) order
            self.current = self.node("Flatten", [self.node("Transpose", [self.current], perm=[0, 2, 3, 1])], axis=1)
            self.maps = False
        b = self.init(f"dense{n}.b", layer.b)
        if layer.per_step:  # Gemm takes matrices only: the same weights at every step are a MatMul
            self.current = self.node("Add", [self.node("MatMul", [self.current,
                                                                  self.init(f"dense{n}.W_t", layer.W.T)]), b])
        else:
            self.current = self.node("Gemm", [self.current, self.init(f"dense{n}.W", layer.W), b], transB=1)
        self.activate(layer, layer.kernel_activation)

    def lstm(self, layer) -> None:
        from onnx import helper

        n, U = layer.index, layer.units
        W = self.init(f"lstm{n}.W", _gates(layer.Wx, PYNN_TO_ONNX_GATES)[None])
        R = self.init(f"lstm{n}.R", _gates(layer.Wh, PYNN_TO_ONNX_GATES)[None])
        B = self.init(f"lstm{n}.B", np.concatenate([_gates(layer.b, PYNN_TO_ONNX_GATES), np.zeros(4 * U)])[None])
        steps_first = self.node("Transpose", [self.current], perm=[1, 0, 2])
        y, y_h = self.fresh("lstm_y"), self.fresh("lstm_h")
        self.nodes.append(helper.make_node("LSTM", [steps_first, W, R, B], [y, y_h], name=f"lstm{n}", hidden_size=U))
        if layer.return_sequences:
            squeezed = self.node("Squeeze", [y, self.init(self.fresh("axes"), [1], np.int64)])
            self.current = self.node("Transpose", [squeezed], perm=[1, 0, 2])
        else:
            self.current = self.node("Squeeze", [y_h, self.init(self.fresh("axes"), [0], np.int64)])

    def conv(self, layer) -> None:
        from pynn.conv import padding_amounts

        n = layer.index
        H, W, _ = layer.image
        (top, bottom), (left, right) = padding_amounts(H, W, layer.kernel, layer.stride, layer.padding)
        self.current = self.node("Conv", [self.current, self.init(f"conv{n}.W", layer.W.transpose(3, 2, 0, 1)),
                                          self.init(f"conv{n}.b", layer.b)],
                                 kernel_shape=[layer.kernel] * 2, strides=[layer.stride] * 2,
                                 pads=[top, left, bottom, right])
        self.maps = True
        self.activate(layer, layer.activation)

    def pool(self, layer) -> None:
        self.current = self.node("MaxPool", [self.current], kernel_shape=[layer.size] * 2, strides=[layer.size] * 2)
