"""PyTorch state dicts as safetensors, read by PyTorch's names and checked against torch's own outputs and test
accuracy (recorded by tests/fixtures/interop/make_fixtures.py when torch made the files); pynn's export checked
against the names, shapes and outputs torch had after load_state_dict of it (recorded by the same script); damaged
files in one sentence."""
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn.errors import PynnError
from pynn.interop import read_foreign
from pynn.interop.safetensors_format import (read_safetensors, read_tensors, torch_modules, torch_state_dict,
                                             write_safetensors, write_tensors)
from interop_fixtures import FIXTURES, assert_close, expected, fuzz, other_gate_orders_miss

LAB = "784-25:relu-15:relu-10"
CONV = "28x28-conv8k5-pool2-conv16k3s2:tanh-30:relu-10"  # torch_conv's nn.Sequential, written as a pynn spec


def test_a_torch_mlp_gives_torchs_logits_with_the_activations_assumed_and_said():
    ref = expected("torch_mlp")
    model = read_safetensors(FIXTURES / "torch_mlp.safetensors")
    assert model.spec == LAB  # nn.Sequential's indices 1, 3, 5 (Flatten at 0) give the order
    assert_close(model.forward(ref["inputs"])[0], ref["outputs"])
    notes = " ".join(model.origin["notes"])
    assert "assumed relu after each hidden Linear layer" in notes and f"--model {LAB}" in notes
    assert "logits for softmax cross-entropy" in notes
    assert model.origin["framework_params"] == int(ref["params"]) == model.n_params


def test_a_spec_gives_the_activations_the_tensors_cannot():
    ref = expected("torch_mlp")
    said = read_safetensors(FIXTURES / "torch_mlp.safetensors", spec=LAB)
    assert_close(said.forward(ref["inputs"])[0], ref["outputs"])
    assert said.origin["notes"] == []
    other = read_safetensors(FIXTURES / "torch_mlp.safetensors", spec="784-25:tanh-15:tanh-10")
    assert np.abs(other.forward(ref["inputs"])[0] - ref["outputs"]).max() > 1e-2  # the spec is what decides


def test_a_spec_that_does_not_fit_the_tensors_is_one_sentence():
    with pytest.raises(PynnError, match=r"The spec 784-30-10 does not fit .*whose layers are 784-25-15-10 "
                                        r"\(1.weight, 3.weight, 5.weight\)"):
        read_safetensors(FIXTURES / "torch_mlp.safetensors", spec="784-30-10")


def test_a_torch_lstm_sums_its_two_biases_and_counts_them_as_pytorch_does(digits):
    ref = expected("torch_lstm")
    model = read_foreign(FIXTURES / "torch_lstm.safetensors")
    assert_close(model.forward(ref["inputs"])[0], ref["outputs"])
    tensors, _ = read_tensors(FIXTURES / "torch_lstm.safetensors")
    np.testing.assert_allclose(model.layers[0].b, tensors["lstm.bias_ih_l0"] + tensors["lstm.bias_hh_l0"],
                               rtol=1e-6)
    U = 16
    assert model.origin["framework_params"] == int(ref["params"]) == model.n_params + 4 * U


def test_a_torch_lstm_gate_order_is_pynns_and_no_other_reproduces_torch():
    """PyTorch's blocks are i, f, g, o, pynn's own: any other order of them gives other outputs."""
    ref = expected("torch_lstm")
    model = read_foreign(FIXTURES / "torch_lstm.safetensors")
    misses = other_gate_orders_miss(model, model.layers[0], ref["inputs"], ref["outputs"])
    assert len(misses) == 23 and all(miss > 1e-3 for _, miss in misses), misses


@pytest.mark.parametrize("name, sequence", [("torch_mlp", False), ("torch_lstm", True)])
def test_accuracy_on_the_digits_equals_torch(digits, name, sequence):
    from pynn.data import images_as_sequences
    from pynn.interop import take_steps_from

    data = images_as_sequences(digits) if sequence else digits
    model = read_foreign(FIXTURES / f"{name}.safetensors")
    take_steps_from(model, data.sample_shape)
    accuracy = model.evaluate(data)["accuracy"]
    assert abs(accuracy - float(expected(name)["accuracy"])) <= 1 / len(data.y_test)


def test_lstm_steps_come_from_the_data():
    from pynn.interop import take_steps_from

    model = read_foreign(FIXTURES / "torch_lstm.safetensors")
    assert model.input_shape == (1, 28)
    take_steps_from(model, (28, 28))
    assert model.input_shape == (28, 28) and model.spec == "28x28-lstm16-10" and model.layers[0].steps == 28


# -- conv nets: OIHW filters, and the Linear after them reordered from PyTorch's flatten order ----------------

def test_a_torch_conv_net_with_its_spec_gives_torchs_logits(digits):
    ref = expected("torch_conv")
    model = read_foreign(FIXTURES / "torch_conv.safetensors", spec=CONV)
    assert model.spec == CONV and model.origin["notes"] == []
    assert [layer.kind for layer in model.layers] == ["conv", "pool", "conv", "dense", "dense"]
    assert_close(model.forward(ref["inputs"])[0], ref["outputs"])
    assert model.origin["framework_params"] == int(ref["params"]) == model.n_params
    accuracy = model.evaluate(digits)["accuracy"]
    assert abs(accuracy - float(ref["accuracy"])) <= 1 / len(digits.y_test)


def test_conv_filters_are_transposed_and_the_linear_after_them_reads_pynns_flatten_order():
    """nn.Conv2d's weight (F, C, K, K) is pynn's W (K, K, C, F); nn.Flatten read the (16, 5, 5) maps channel by
    channel, pynn's dense reads (5, 5, 16) position by position, so the Linear's columns are reordered — taken
    as they are, the outputs are not torch's."""
    ref = expected("torch_conv")
    tensors, _ = read_tensors(FIXTURES / "torch_conv.safetensors")
    model = read_safetensors(FIXTURES / "torch_conv.safetensors", spec=CONV)
    np.testing.assert_array_equal(model.layers[2].W, tensors["3.weight"].transpose(2, 3, 1, 0))
    linear = tensors["6.weight"]
    hwc = linear.reshape(30, 16, 5, 5).transpose(0, 2, 3, 1).reshape(30, 400)
    np.testing.assert_array_equal(model.layers[3].W, hwc)
    model.layers[3].W[...] = linear  # PyTorch's column order, unconverted
    assert np.abs(model.forward(ref["inputs"])[0] - ref["outputs"]).max() > 1e-2


def test_conv_modules_named_by_attribute_are_ordered_by_how_their_channels_chain(tmp_path):
    """The PyTorch tutorial's style, self.conv1 ... self.fc2: safetensors keeps no module order, so the shapes
    give it (convs first, each conv's channels into the next, the maps into the first Linear)."""
    tensors, _ = read_tensors(FIXTURES / "torch_conv.safetensors")
    names = {"0": "conv1", "3": "conv2", "6": "fc1", "8": "fc2"}
    renamed = {f"{names[k.split('.')[0]]}.{k.split('.')[1]}": v for k, v in tensors.items()}
    model = read_safetensors(write_tensors(renamed, tmp_path / "net.safetensors"), spec=CONV)
    assert_close(model.forward(expected("torch_conv")["inputs"])[0], expected("torch_conv")["outputs"])


def test_a_conv_state_dict_without_its_spec_or_image_size_is_one_sentence(tmp_path):
    path = FIXTURES / "torch_conv.safetensors"
    with pytest.raises(PynnError, match=r"holds convolutions \(0.weight, 3.weight\), whose tensors do not say the "
                                        r"image size, strides, padding or pooling; give them with --model SPEC, e.g. "
                                        r"--model 28x28-conv8k5-conv16k3-pool2-30:relu-10\.$"):
        read_safetensors(path)
    with pytest.raises(PynnError, match=r"does not say the images' size, which .* convolutions need; write it first, "
                                        r"e.g. 28x28-conv8k5"):
        read_safetensors(path, spec=CONV.removeprefix("28x28-"))
    with pytest.raises(PynnError, match=r"gives images of 3 channels, but 0.weight takes 1"):
        read_safetensors(path, spec="28x28x3-" + CONV.removeprefix("28x28-"))
    with pytest.raises(PynnError, match=r"does not fit .*whose layers are conv8k5-conv16k3-30-10 on images of 1 "
                                        r"channel \(0.weight, 3.weight, 6.weight, 8.weight\)"):
        read_safetensors(path, spec="28x28-conv8k3-pool2-conv16k3s2-30-10")
    with pytest.raises(PynnError, match=r"layer 3 \(Dense\) needs W of shape \(30, 1936\), but the file holds "
                                        r"\(30, 400\)"):  # no pool: the Linear would read 11x11x16 maps
        read_safetensors(path, spec="28x28-conv8k5-conv16k3s2:tanh-30:relu-10")


# -- export: the equivalent torch.nn.Sequential's state dict --------------------------------------------------

@pytest.mark.parametrize("name", ["pynn_mlp", "pynn_lstm"])
def test_the_export_has_the_names_and_shapes_torch_loaded_and_gives_torchs_outputs(name):
    """make_fixtures.py exported this pynn model with `pynn export`, loaded it into the torch.nn.Sequential the
    export names (load_state_dict, strict) and recorded torch's names, shapes and outputs."""
    torch_side = expected(f"{name}_torch")
    model = pynn.load(FIXTURES / f"{name}.npz")
    tensors = torch_state_dict(model)
    assert sorted(tensors) == list(torch_side["names"])
    for n, shape in zip(torch_side["names"], torch_side["shapes"]):
        assert list(tensors[n].shape) == [int(v) for v in shape if v]  # recorded padded with 0 to two axes
    out = model.forward(torch_side["inputs"])[0]
    assert_close(out, torch_side["outputs"])


def test_export_names_follow_torch_sequential_indices():
    model = pynn.build("784-25:relu-15-10", activation="tanh", loss="xent")
    assert list(torch_state_dict(model)) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    assert torch_modules(model) == ["Linear(784, 25)", "ReLU()", "Linear(25, 15)", "Tanh()", "Linear(15, 10)"]
    lstm = pynn.build("28x28-lstm8*-drop0.1-lstm6-10")
    assert list(torch_state_dict(lstm))[:4] == ["0.weight_ih_l0", "0.weight_hh_l0", "0.bias_ih_l0", "0.bias_hh_l0"]
    assert torch_modules(lstm) == ["LSTM(28, 8, batch_first=True)", "EveryStep()", "Dropout(0.1)",
                                   "LSTM(8, 6, batch_first=True)", "LastStep()", "Linear(6, 10)"]
    flat_input = pynn.build("28x28-10")
    assert torch_modules(flat_input)[0] == "Flatten()" and "1.weight" in torch_state_dict(flat_input)


@pytest.mark.parametrize("spec, loss", [("784-12:relu-drop0.2-10", "xent"), ("20x1-lstm5-3", "mse"),
                                        ("6-4:leaky-1:sigmoid", "bce")])
def test_export_round_trips_through_pynns_reader(tmp_path, spec, loss):
    model = pynn.build(spec, loss=loss, seed=3)
    path = write_safetensors(model, tmp_path / "m.safetensors")
    back = read_safetensors(path)
    assert back.spec == model.spec and back.loss.name == model.loss.name
    np.testing.assert_array_equal(back.params, model.params)
    x = np.random.default_rng(0).standard_normal((4, *model.input_shape)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x)[0], model.forward(x)[0])


def test_names_that_are_not_indices_are_ordered_by_how_their_shapes_chain(tmp_path):
    rng = np.random.default_rng(0)
    tensors = {"head.weight": rng.standard_normal((3, 5)), "head.bias": rng.standard_normal(3),
               "body.weight": rng.standard_normal((5, 7)), "body.bias": rng.standard_normal(5)}
    model = read_safetensors(write_tensors(tensors, tmp_path / "named.safetensors"))
    assert model.spec == "7-5:relu-3"
    np.testing.assert_array_equal(model.layers[0].W, tensors["body.weight"].astype(np.float32))
    same = {"a.weight": rng.standard_normal((4, 4)), "b.weight": rng.standard_normal((4, 4))}
    with pytest.raises(PynnError, match=r"chain in more than one order; name the layers by index"):
        read_safetensors(write_tensors(same, tmp_path / "ambiguous.safetensors"))


# -- refusals and damaged files ----------------------------------------------------------------------------

def test_a_pickled_torch_file_gets_the_two_lines_that_save_safetensors(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(PynnError) as err:
        read_foreign(path)
    assert "from safetensors.torch import save_file; save_file(model.state_dict(), \"model.safetensors\")" \
        in str(err.value)
    assert "never loads" in str(err.value)


def test_a_1d_or_non_square_convolution_or_a_gru_is_refused_naming_the_tensor(tmp_path):
    conv1d = write_tensors({"0.weight": np.zeros((4, 1, 3)), "0.bias": np.zeros(4)}, tmp_path / "conv1d.safetensors")
    with pytest.raises(PynnError, match=r"0.weight of shape \(4, 1, 3\), a 1-D convolution's weights; pynn reads "
                                        r"state dicts of nn.Linear, nn.Conv2d and nn.LSTM layers"):
        read_safetensors(conv1d)
    oblong = write_tensors({"0.weight": np.zeros((4, 1, 3, 5))}, tmp_path / "oblong.safetensors")
    with pytest.raises(PynnError, match=r"0.weight of shape \(4, 1, 3, 5\), a convolution's with a kernel that is "
                                        r"not square"):
        read_safetensors(oblong, spec="28x28-conv4k3-10")
    gru = write_tensors({"rnn.weight_ih_l0": np.zeros((12, 2)), "rnn.weight_hh_l0": np.zeros((12, 4))},
                        tmp_path / "gru.safetensors")
    with pytest.raises(PynnError, match=r"a GRU or RNN is not an LSTM"):
        read_safetensors(gru)
    norm = write_tensors({"0.weight": np.zeros((4, 3)), "1.running_mean": np.zeros(4)}, tmp_path / "bn.safetensors")
    with pytest.raises(PynnError, match=r"holds the tensor '1.running_mean', which is not a Linear's, a Conv2d's or "
                                        r"an LSTM's"):
        read_safetensors(norm)


def raw_file(path: Path, header: dict, data: bytes = b"") -> Path:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return path


def test_ranges_and_types_are_checked_against_the_file_before_reading(tmp_path):
    cases = {
        "long.safetensors": (struct.pack("<Q", 10**12) + b"{}", r"header says it is [\d,]+ bytes long"),
        "short.safetensors": (b"\x01\x02", r"shorter than its 8-byte header length"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(PynnError, match=message):
            read_tensors(tmp_path / name)
    past = raw_file(tmp_path / "past.safetensors",
                    {"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}, b"\0" * 16)
    with pytest.raises(PynnError, match=r"does not fit the bytes the file holds"):
        read_tensors(past)
    ints = raw_file(tmp_path / "ints.safetensors", {"w": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}},
                    b"\0" * 16)
    with pytest.raises(PynnError, match=r"of type I64; pynn reads floating-point tensors"):
        read_tensors(ints)
    (tmp_path / "text.safetensors").write_bytes(struct.pack("<Q", 5) + b"{nope")
    with pytest.raises(PynnError, match=r"header is not JSON"):
        read_tensors(tmp_path / "text.safetensors")


def test_bfloat16_and_float16_tensors_are_read_as_float32(tmp_path):
    w = np.array([[1.5, -2.0], [0.25, 3.0]], np.float32)
    bf16 = (w.view(np.uint32) >> 16).astype("<u2").tobytes()
    f16 = w.astype("<f2").tobytes()
    path = raw_file(tmp_path / "half.safetensors",
                    {"0.weight": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]},
                     "0.bias": {"dtype": "F16", "shape": [2], "data_offsets": [8, 12]}}, bf16 + f16[:4])
    tensors, _ = read_tensors(path)
    np.testing.assert_array_equal(tensors["0.weight"], w)
    np.testing.assert_array_equal(tensors["0.bias"], w[0])


def test_the_safetensors_librarys_refusals_are_one_sentence_each(tmp_path):
    """The library reads the file; what it refuses, and what pynn refuses before asking it for values, is said
    in one sentence."""
    cases = {
        "meta": ({"__metadata__": {"spec": 1}}, b"", r"is not a safetensors file pynn can read: its header is not "
                                                    r"JSON or not a table of tensors\.$"),
        "overflow": ({"w": {"dtype": "F32", "shape": [2**40, 2**40], "data_offsets": [0, 8]}}, b"\0" * 8,
                     r"a tensor's shape is too large for any file\.$"),
        "gap": ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 16,
                r"a tensor does not fit the bytes the file holds for it"),
        "axes": ({"w": {"dtype": "F32", "shape": [1] * 5, "data_offsets": [0, 4]}}, b"\0" * 4,
                 r"tensor 'w' has 5 axes \(1, 1, 1, 1, 1\); the layers pynn reads have at most 4\.$"),
        "empty": ({}, b"", r"holds no tensors\.$"),
    }
    for name, (header, data, message) in cases.items():
        with pytest.raises(PynnError, match=message):
            read_tensors(raw_file(tmp_path / f"{name}.safetensors", header, data))


def test_without_the_safetensors_package_reading_and_writing_say_how_to_install_it(tmp_path, monkeypatch):
    import sys

    path = write_tensors({"0.weight": np.ones((2, 3))}, tmp_path / "m.safetensors")
    monkeypatch.setitem(sys.modules, "safetensors", None)  # as if it were not installed
    for call in (lambda: read_safetensors(path), lambda: write_tensors({"w": np.ones(2)}, tmp_path / "w.safetensors")):
        with pytest.raises(PynnError, match=r"needs the safetensors package: pip install 'pynn\[interop\]'\.$"):
            call()


def test_what_pynn_writes_is_what_the_safetensors_library_reads(tmp_path):
    from safetensors import safe_open

    tensors = {"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "0.bias": np.ones(2, np.float32)}
    path = write_tensors(tensors, tmp_path / "m.safetensors", {"pynn_spec": "3-2"})
    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"pynn_spec": "3-2"}
        for name, value in tensors.items():
            np.testing.assert_array_equal(f.get_tensor(name), value)


@pytest.mark.parametrize("file, spec", [("torch_mlp.safetensors", None), ("torch_lstm.safetensors", None),
                                        ("torch_conv.safetensors", CONV)])
def test_mutated_safetensors_fail_only_with_a_pynn_error(tmp_path, file, spec):
    """A fuzz loop, mostly in the header (its length and JSON), where the structure is."""
    original = (FIXTURES / file).read_bytes()
    header_end = 8 + struct.unpack("<Q", original[:8])[0]
    read = lambda path: read_safetensors(path, spec=spec)  # noqa: E731
    assert fuzz(read, FIXTURES / file, tmp_path / file, 200, (0, header_end)) > 50
