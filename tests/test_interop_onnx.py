"""ONNX in and out: models PyTorch exported (tests/fixtures/interop/onnx, made by its make_fixtures.py with torch
itself) read into pynn give torch's own outputs and accuracy; what pynn has no layer for is one sentence; pynn's
models written as ONNX run in ONNX Runtime as model.predict does; damaged files and escaping external data are
refused."""
import itertools
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pynn.errors import PynnError
from pynn.interop.onnx_format import read_onnx, write_onnx
from pynn.model import build_model
from test_fuzz import only_clear_errors

FIXTURES = Path(__file__).parent / "fixtures" / "interop" / "onnx"
EXPECTED = np.load(FIXTURES / "expected.npz")


def assert_close(actual, expected, rtol=1e-5):
    """Equal to rtol relative to the largest expected value, the largest difference shown."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape
    worst = float(np.abs(actual - expected).max())
    assert worst <= rtol * float(np.abs(expected).max()), f"largest difference {worst:.3g}"


def torch_params(name: str) -> int:
    """PyTorch's own count of the model's parameters, sum(p.numel() for p in model.parameters())."""
    return int(EXPECTED[f"{name}_params"])


def one_sentence(err) -> str:
    text = str(err.value)
    assert "\n" not in text and text.endswith(".") and text.count(". ") == 0, text
    return text


# -- PyTorch's models, read ------------------------------------------------------------------------------------

def test_pytorch_mlp_gives_torchs_logits_and_counts():
    model = read_onnx(FIXTURES / "mlp.onnx")
    assert model.spec == "784-25:relu-15:relu-10"
    assert_close(model.forward(EXPECTED["mlp_x"])[0], EXPECTED["mlp_y"])
    assert model.origin["framework"] == "pytorch" and model.origin["format"] == "onnx"
    assert model.origin["framework_params"] == torch_params("mlp") == model.n_params
    assert model.origin["output_softmax"] is False
    assert any("logits" in note for note in model.origin["notes"])


def test_pytorch_mlp_accuracy_on_the_digits_equals_torchs(digits):
    model = read_onnx(FIXTURES / "mlp.onnx")
    assert model.evaluate(digits)["accuracy"] == pytest.approx(float(EXPECTED["mlp_accuracy"]), abs=1e-9)


def test_trailing_softmax_is_the_outputs_and_says_so():
    model = read_onnx(FIXTURES / "softmax.onnx")
    # eval mode exports no Dropout
    assert [(layer.units, layer.activation) for layer in model.layers] == [
        (12, "sigmoid"), (8, "leaky_relu"), (6, "tanh"), (10, "softmax")]
    assert_close(model.predict(EXPECTED["softmax_x"]), EXPECTED["softmax_y"])
    assert model.loss.name == "xent" and model.origin["output_softmax"] is True
    assert "ends in Softmax" in model.origin["notes"][0]
    assert model.origin["framework_params"] == torch_params("softmax")


def test_lstm_gate_order_is_onnxs_i_o_f_c():
    model = read_onnx(FIXTURES / "lstm_gates.onnx")
    x, y = EXPECTED["lstm_gates_x"], EXPECTED["lstm_gates_y"]
    assert model.spec == "6x3-lstm4-2"
    assert_close(model.forward(x)[0], y)
    # the fixture's gates differ enough that every other order of the four blocks misses torch's outputs
    lstm = model.layers[0]
    read = {name: np.array(getattr(lstm, name)) for name in ("Wx", "Wh", "b")}
    for order in itertools.permutations(range(4)):
        if order == (0, 1, 2, 3):
            continue
        for name, value in read.items():
            getattr(lstm, name)[...] = np.concatenate([np.split(value, 4)[k] for k in order])
        assert np.abs(model.forward(x)[0] - y).max() > 1e-2, order


def test_lstm_biases_are_summed_and_counted_twice_for_pytorch():
    model = read_onnx(FIXTURES / "lstm_gates.onnx")
    B = numpy_helper.to_array(next(t for t in onnx.load(FIXTURES / "lstm_gates.onnx").graph.initializer
                                   if list(t.dims) == [1, 32]))[0]
    U = 4
    input_gate = model.layers[0].b[:U]  # the i block comes first in both orders
    np.testing.assert_allclose(input_gate, B[:U] + B[4 * U:5 * U], rtol=1e-6)
    assert model.origin["framework_params"] == torch_params("lstm_gates") == model.n_params + 4 * U


def test_lstm_returning_every_step():
    model = read_onnx(FIXTURES / "lstm_seq.onnx")
    assert model.spec == "7x2-lstm5*-3" and model.layers[0].return_sequences
    assert_close(model.forward(EXPECTED["lstm_seq_x"])[0], EXPECTED["lstm_seq_y"])


def test_stacked_lstms_read_through_the_final_state():
    model = read_onnx(FIXTURES / "lstm_stack.onnx")
    assert model.spec == "5x2-lstm5*-lstm4-1"
    assert_close(model.forward(EXPECTED["lstm_stack_x"])[0], EXPECTED["lstm_stack_y"])
    assert model.origin["framework_params"] == torch_params("lstm_stack") == model.n_params + 4 * 5 + 4 * 4


def test_reshape_to_the_batch_size_and_log_softmax():
    model = read_onnx(FIXTURES / "viewed.onnx")  # x.view(x.size(0), -1), then log_softmax
    assert model.spec == "4x5-3" and model.origin["output_softmax"] is True
    assert_close(np.log(model.predict(EXPECTED["viewed_x"])), EXPECTED["viewed_y"])
    assert "LogSoftmax" in model.origin["notes"][0]


def test_matmul_and_add_layers_as_tf2onnx_writes_them(tmp_path, rng):
    import onnxruntime as ort

    inits = {"W1": rng.normal(size=(4, 6)), "b1": rng.normal(size=6), "W2": rng.normal(size=(6, 3)),
             "b2": rng.normal(size=(1, 3))}
    nodes = [helper.make_node("MatMul", ["x", "W1"], ["z1"]), helper.make_node("Add", ["z1", "b1"], ["a1"]),
             helper.make_node("Tanh", ["a1"], ["h"]), helper.make_node("MatMul", ["h", "W2"], ["z2"]),
             helper.make_node("Add", ["b2", "z2"], ["logits"]), helper.make_node("Sigmoid", ["logits"], ["y"])]
    path = graph_file(tmp_path, nodes, inits)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    model = read_onnx(path)
    assert model.spec == "4-6:tanh-3" and model.loss.name == "bce"
    assert_close(model.predict(x), expected)


def test_lstm_of_two_layers_read_through_h_n():
    model = read_onnx(FIXTURES / "lstm_layers.onnx")  # nn.LSTM(num_layers=2), then h_n[-1]
    assert model.spec == "5x3-lstm4*-lstm4-2"
    assert_close(model.forward(EXPECTED["lstm_layers_x"])[0], EXPECTED["lstm_layers_y"])
    assert model.origin["framework_params"] == torch_params("lstm_layers") == model.n_params + 2 * 4 * 4


def test_gemm_alpha_beta_and_untransposed_weights_fold_into_w_and_b(tmp_path, rng):
    import onnxruntime as ort

    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["z"], alpha=2.0, beta=0.5),  # W1 (4, 6): x @ W1
             helper.make_node("Relu", ["z"], ["h"]),
             helper.make_node("Gemm", ["h", "W2", "b2"], ["y"], transB=1, beta=-1.0)]
    inits = {"W1": rng.normal(size=(4, 6)), "b1": rng.normal(size=(1, 6)), "W2": rng.normal(size=(3, 6)),
             "b2": rng.normal(size=3)}
    path = graph_file(tmp_path, nodes, inits)
    x = rng.normal(size=(5, 4)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert_close(read_onnx(path, task="regression").predict(x), expected)
    nodes[0] = helper.make_node("Gemm", ["x", "W1", "b1"], ["z"], transA=1, name="transposed")
    with pytest.raises(PynnError) as err:
        read_onnx(graph_file(tmp_path, nodes, inits))
    assert "transA" in one_sentence(err) and "'transposed'" in str(err.value)


def test_lstm_exported_for_any_number_of_steps():
    model = read_onnx(FIXTURES / "lstm_open.onnx")
    assert model.spec == "1x3-lstm4*-2"  # 1 step until the data says how many, as for Keras's (None, n)
    assert "steps open" in model.origin["notes"][0]
    assert_close(model.forward(EXPECTED["lstm_open_x"])[0], EXPECTED["lstm_open_y"])  # read at 9 steps


@pytest.mark.parametrize("name, spec", [("dynamo_mlp", "20-16:tanh-3"), ("dynamo_lstm", "6x3-lstm4*-2"),
                                        ("dynamo_layers", "6x3-lstm4*-lstm4-2")])
def test_pytorchs_default_exporter(name, spec):
    """torch.onnx.export's dynamo exporter: a zero state Expanded to the batch, Reshape where the other exporter
    squeezes, sizes computed from Shape slices, and the MLP's first weights in the external file beside it."""
    model = read_onnx(FIXTURES / f"{name}.onnx", task="regression")
    assert model.spec == spec
    assert_close(model.forward(EXPECTED[f"{name}_x"])[0], EXPECTED[f"{name}_y"])
    assert model.origin["framework_params"] == torch_params(name)


def test_task_given_settles_a_linear_ending():
    model = read_onnx(FIXTURES / "lstm_gates.onnx", task="classification")
    assert model.loss.name == "xent"
    assert_close(model.forward(EXPECTED["lstm_gates_x"])[0], EXPECTED["lstm_gates_y"])
    with pytest.raises(PynnError) as err:
        read_onnx(FIXTURES / "softmax.onnx", task="regression")
    assert "Softmax" in one_sentence(err)


# -- refusals: one sentence naming the op and the node ------------------------------------------------------

def graph_file(tmp_path, nodes, inits, n_in=4, n_out=3, name="g.onnx", out="y", opset=17):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", n_in])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", n_out])],
                              [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def dense_inits(rng, n_in=4, n_out=3, stem="l"):
    return {f"{stem}.W": rng.normal(size=(n_out, n_in)), f"{stem}.b": rng.normal(size=n_out)}


def test_pytorch_conv_net_gives_torchs_outputs_and_accuracy(digits):
    model = read_onnx(FIXTURES / "conv.onnx")
    assert model.spec == "28x28-conv4k3psame-pool2-conv6k3s2:tanh-10"
    # one channel: PyTorch's (m, 1, 28, 28) and pynn's 28x28 images hold the same numbers
    assert_close(model.forward(EXPECTED["conv_x"][:, 0])[0], EXPECTED["conv_y"])
    assert model.origin["framework_params"] == torch_params("conv") == model.n_params
    assert model.evaluate(digits)["accuracy"] == pytest.approx(float(EXPECTED["conv_accuracy"]), abs=1e-9)


def test_flat_samples_viewed_as_images():
    model = read_onnx(FIXTURES / "conv_view.onnx")  # x.view(-1, 1, 6, 6) into a conv
    assert model.spec == "6x6-conv2k3-3"
    assert_close(model.forward(EXPECTED["conv_view_x"])[0], EXPECTED["conv_view_y"])  # flat samples, as given


def edited_conv(tmp_path, node_name, **changes):
    """conv.onnx with one node's op or attributes changed."""
    proto = onnx.load(FIXTURES / "conv.onnx")
    node = next(n for n in proto.graph.node if n.name == node_name)
    for key, value in changes.items():
        if key == "op_type":
            node.op_type = value
            continue
        kept = [a for a in node.attribute if a.name != key]
        del node.attribute[:]
        node.attribute.extend(kept + [helper.make_attribute(key, value)])
    onnx.save(proto, tmp_path / "edited.onnx")
    return tmp_path / "edited.onnx"


@pytest.mark.parametrize("node, changes, words", [
    ("/0/Conv", {"dilations": [2, 2]}, "dilated"),
    ("/3/Conv", {"pads": [1, 1, 1, 1]}, "pads its input by [1, 1, 1, 1]"),  # PyTorch's padding=1 at stride 2
    ("/2/MaxPool", {"op_type": "AveragePool"}, "AveragePool operation"),
])
def test_convolutions_pynn_has_no_layer_for_are_refused(tmp_path, node, changes, words):
    with pytest.raises(PynnError) as err:
        read_onnx(edited_conv(tmp_path, node, **changes))
    text = one_sentence(err)
    assert words in text and repr(node) in text and "pynn reads" in text


def test_branching_graph_is_refused(tmp_path, rng):
    nodes = [helper.make_node("Gemm", ["x", "a.W", "a.b"], ["a"], name="left", transB=1),
             helper.make_node("Gemm", ["x", "b.W", "b.b"], ["b"], name="right", transB=1),
             helper.make_node("Add", ["a", "b"], ["y"], name="join")]
    path = graph_file(tmp_path, nodes, {**dense_inits(rng, stem="a"), **dense_inits(rng, stem="b")})
    with pytest.raises(PynnError) as err:
        read_onnx(path)
    assert "branch" in one_sentence(err) and "'right'" in str(err.value)


def test_custom_op_is_refused(tmp_path, rng):
    nodes = [helper.make_node("Gemm", ["x", "l.W", "l.b"], ["z"], name="dense", transB=1),
             helper.make_node("Swish", ["z"], ["y"], name="act", domain="com.example")]
    with pytest.raises(PynnError) as err:
        read_onnx(graph_file(tmp_path, nodes, dense_inits(rng)))
    text = one_sentence(err)
    assert "custom" in text and "Swish" in text and "'act'" in text


def test_leaky_slope_other_than_pynns_is_refused(tmp_path, rng):
    nodes = [helper.make_node("Gemm", ["x", "l.W", "l.b"], ["z"], name="dense", transB=1),
             helper.make_node("LeakyRelu", ["z"], ["y"], name="leaky", alpha=0.3)]
    with pytest.raises(PynnError) as err:
        read_onnx(graph_file(tmp_path, nodes, dense_inits(rng)))
    assert "0.3" in one_sentence(err) and "0.01" in str(err.value)


def lstm_graph(tmp_path, rng, direction="forward", initial_h=None, U=3, n_in=2, T=4, producer="pytorch"):
    inits = {"W": rng.normal(size=(1, 4 * U, n_in)), "R": rng.normal(size=(1, 4 * U, U)),
             "B": rng.normal(size=(1, 8 * U)), "head.W": rng.normal(size=(2, U)), "head.b": rng.normal(size=2)}
    inputs = ["xt", "W", "R", "B", ""]
    if initial_h is not None:
        inits["h0"] = np.full((1, 1, U), initial_h)
        inputs.append("h0")
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("LSTM", inputs, ["", "h"], name="rnn", hidden_size=U, direction=direction),
             helper.make_node("Squeeze", ["h", "zero"], ["last"]),
             helper.make_node("Gemm", ["last", "head.W", "head.b"], ["y"], transB=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", T, n_in])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
                              [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()]
                              + [numpy_helper.from_array(np.array([0], np.int64), "zero")])
    path = tmp_path / "lstm.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name=producer), path)
    return path


def test_hand_made_lstm_through_its_final_state_matches_onnx_runtime(tmp_path, rng):
    import onnxruntime as ort

    path = lstm_graph(tmp_path, rng, producer="tf2onnx")
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    model = read_onnx(path, task="regression")
    assert_close(model.forward(x)[0], expected)
    assert model.origin["framework_params"] == model.n_params  # Keras's convention: one bias per gate


def test_bidirectional_lstm_and_nonzero_initial_state_are_refused(tmp_path, rng):
    with pytest.raises(PynnError) as err:
        read_onnx(lstm_graph(tmp_path, rng, direction="bidirectional"))
    assert "bidirectional" in one_sentence(err) and "'rnn'" in str(err.value)
    with pytest.raises(PynnError) as err:
        read_onnx(lstm_graph(tmp_path, rng, initial_h=0.5))
    assert "initial hidden state" in one_sentence(err)


# -- pynn's models written, run by ONNX Runtime -------------------------------------------------------------

@pytest.mark.parametrize("spec, task, shape", [
    ("784-25:relu-15:relu-10", "classification", (5, 784)),
    ("28x28-12:relu-10", "classification", (5, 28, 28)),
    ("10-8:leaky-drop0.3-6:tanh-3", "binary", (4, 10)),
    ("10-8:sigmoid-2", "regression", (4, 10)),
    ("6x3-lstm5-4", "classification", (3, 6, 3)),
    ("6x3-lstm5*-4", "classification", (3, 6, 3)),
    ("6x3-lstm5*-lstm4-2", "regression", (3, 6, 3)),
    ("6x3-lstm5*-2", "regression", (3, 6, 3)),
    ("28x28-conv4k3psame-pool2-conv6k3s2:tanh-10", "classification", (3, 28, 28)),
    ("12x10x3-conv5k3s2psame:leaky-pool2-drop0.2-7", "classification", (3, 12, 10, 3)),
    ("784-conv2k5-pool2-10", "classification", (3, 784)),
])
def test_export_runs_in_onnx_runtime_as_predict(tmp_path, rng, spec, task, shape):
    import onnxruntime as ort

    model = build_model(spec, task=task, seed=3, loss={"binary": "bce", "regression": "mse"}.get(task))
    for layer in model.param_layers:  # weights away from the initial draw, biases too
        for value in layer.param_views.values():
            value[...] = rng.normal(size=value.shape) * 0.5
    x = rng.normal(size=shape).astype(np.float32)
    path = write_onnx(model, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(path), full_check=True)  # a valid graph, its shapes inferred throughout
    images = model.param_layers[0].kind == "conv"
    if images:  # the graph takes images as ONNX does, (batch, C, H, W)
        H, W, C = model.param_layers[0].image
        x = x.reshape(len(x), H, W, C)
    onnx_x = x.transpose(0, 3, 1, 2).copy() if images else x
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": onnx_x})[0]
    assert_close(got, model.predict(x))
    back = read_onnx(path, task=task)
    assert back.origin["framework"] == "pynn" and back.n_params == model.n_params
    assert [layer.describe() for layer in back.layers] == [layer.describe() for layer in model.layers]
    assert_close(back.predict(x), model.predict(x))
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed, not left behind


def test_export_to_a_missing_folder_is_one_sentence(tmp_path):
    model = build_model("4-5-3", seed=0)
    with pytest.raises(PynnError) as err:
        write_onnx(model, tmp_path / "nowhere" / "m.onnx")
    assert "does not exist" in one_sentence(err)


# -- safety: external data, sizes, damaged files -------------------------------------------------------------

def external_copy(tmp_path, location="weights.bin"):
    """mlp.onnx saved with its tensors in a file beside it, then pointed at location."""
    proto = onnx.load(FIXTURES / "mlp.onnx")
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save_model(proto, folder / "mlp.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    if location != "weights.bin":
        proto = onnx.load(folder / "mlp.onnx", load_external_data=False)
        for t in proto.graph.initializer:
            for entry in t.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save_model(proto, folder / "mlp.onnx")
    return folder / "mlp.onnx"


def test_external_data_beside_the_model_is_read(tmp_path):
    model = read_onnx(external_copy(tmp_path))
    assert_close(model.forward(EXPECTED["mlp_x"])[0], EXPECTED["mlp_y"])


@pytest.mark.parametrize("where", ["../weights.bin", "/etc/passwd", "link.bin"])
def test_external_data_outside_the_models_folder_is_refused(tmp_path, where):
    path = external_copy(tmp_path, where)
    (tmp_path / "weights.bin").write_bytes((path.parent / "weights.bin").read_bytes())
    (path.parent / "link.bin").symlink_to(tmp_path / "weights.bin")
    with pytest.raises(PynnError) as err:
        read_onnx(path)
    assert "outside the model's folder" in one_sentence(err)


def test_tensor_larger_than_its_bytes_is_refused_before_allocating(tmp_path):
    proto = onnx.load(FIXTURES / "mlp.onnx")
    first = proto.graph.initializer[0]
    del first.dims[:]
    first.dims.extend([1 << 20, 1 << 20])  # 4 TiB of float32 claimed, 78 KB held
    onnx.save_model(proto, tmp_path / "big.onnx")
    with pytest.raises(PynnError) as err:
        read_onnx(tmp_path / "big.onnx")
    assert "damaged" in one_sentence(err)


@pytest.mark.parametrize("content", [b"", b"\x00" * 10, bytes(range(256)) * 4, b"PK\x03\x04 not onnx"])
def test_files_that_are_not_onnx_are_one_sentence(tmp_path, content):
    path = tmp_path / "bad.onnx"
    path.write_bytes(content)
    with pytest.raises(PynnError) as err:
        read_onnx(path)
    one_sentence(err)


def test_truncated_and_wrong_proto_files_are_one_sentence(tmp_path):
    blob = (FIXTURES / "mlp.onnx").read_bytes()
    (tmp_path / "cut.onnx").write_bytes(blob[:len(blob) // 2])
    (tmp_path / "tensor.onnx").write_bytes(numpy_helper.from_array(np.ones((3, 3), np.float32)).SerializeToString())
    for name in ("cut.onnx", "tensor.onnx", "missing.onnx"):
        with pytest.raises(PynnError) as err:
            read_onnx(tmp_path / name)
        one_sentence(err)


@pytest.mark.parametrize("fixture, seed", [("lstm_gates.onnx", 1), ("softmax.onnx", 2), ("lstm_stack.onnx", 3),
                                           ("conv.onnx", 4), ("dynamo_layers.onnx", 6)])
def test_onnx_reader_under_mutation(tmp_path, fixture, seed):
    only_clear_errors(read_onnx, tmp_path / "fuzzed.onnx", (FIXTURES / fixture).read_bytes(), seed)


def test_onnx_reader_with_external_data_under_mutation(tmp_path):
    """Mutated records of where the tensors lie: read from beside the model, or refused, never from elsewhere."""
    path = external_copy(tmp_path)
    only_clear_errors(read_onnx, path.parent / "fuzzed.onnx", path.read_bytes(), seed=5)
