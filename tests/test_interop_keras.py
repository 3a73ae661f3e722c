"""Keras models read into pynn (.keras and legacy .h5), checked against Keras's own outputs and test accuracy on
the bundled digits, recorded by tests/fixtures/interop/make_fixtures.py when Keras made the files. Also: the gate
order (only Keras's i, f, c, o reproduces its LSTM), the head a compile config implies, one sentence for every
model pynn cannot read, and damaged files."""
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from pynn.errors import PynnError
from pynn.interop import read_foreign
from pynn.interop.keras_format import read_keras
from interop_fixtures import FIXTURES, assert_close, expected, fuzz, other_gate_orders_miss


def outputs(model, x) -> np.ndarray:
    """What the Keras model returns: logits, or probabilities when its output layer applies the softmax."""
    out = model.forward(x)[0]
    return model.loss.predictions(out) if model.origin["output_softmax"] else out


CASES = [("keras_lab", "keras_lab.keras"), ("keras_lab", "keras_lab.h5"), ("keras_softmax", "keras_softmax.keras"),
         ("keras_gates", "keras_gates.keras"), ("keras_gates", "keras_gates.h5"),
         ("keras_sequences", "keras_sequences.keras"), ("keras_conv", "keras_conv.keras"),
         ("keras_conv", "keras_conv.h5")]


@pytest.mark.parametrize("name, file", CASES)
def test_outputs_equal_keras_on_the_stored_inputs(name, file):
    ref = expected(name)
    model = read_foreign(FIXTURES / file)
    assert_close(outputs(model, ref["inputs"]), ref["outputs"])
    assert model.origin["framework"] == "Keras"
    assert model.origin["format"] == file.rsplit(".", 1)[1]
    assert model.origin["framework_params"] == int(ref["params"])  # Keras's own count_params()


@pytest.mark.parametrize("name, file, sequence", [("keras_lab", "keras_lab.keras", False),
                                                  ("keras_lab", "keras_lab.h5", False),
                                                  ("keras_softmax", "keras_softmax.keras", False),
                                                  ("keras_sequences", "keras_sequences.keras", True),
                                                  ("keras_conv", "keras_conv.keras", False),
                                                  ("keras_conv", "keras_conv.h5", False)])
def test_accuracy_on_the_digits_equals_keras(digits, name, file, sequence):
    from pynn.data import images_as_sequences

    data = images_as_sequences(digits) if sequence else digits
    model = read_foreign(FIXTURES / file)
    accuracy = model.evaluate(data)["accuracy"]
    # the same argmax of the same numbers to 1e-5: at most a tie decided the other way
    assert abs(accuracy - float(expected(name)["accuracy"])) <= 1 / len(data.y_test)


def test_the_course_lab_imports_as_logits_under_softmax_cross_entropy():
    """Dense(10, activation="linear") trained with from_logits=True: pynn's bare output layer, softmax folded into
    cross-entropy, whose forward gives the logits Keras returns."""
    model = read_keras(FIXTURES / "keras_lab.keras")
    assert model.spec == "784-25:relu-15:relu-10"
    assert model.loss.name == "xent" and not model.loss.double_softmax
    assert model.layers[-1].fused_into_loss and not model.origin["output_softmax"]
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "softmax"]
    assert model.origin["notes"] == []  # nothing assumed: the compile config said it


def test_a_softmax_output_with_its_own_cross_entropy_is_applied_once():
    model = read_keras(FIXTURES / "keras_softmax.keras")
    assert model.loss.name == "xent" and not model.loss.double_softmax
    assert model.origin["output_softmax"]
    assert [layer.kind for layer in model.layers] == ["dropout", "dense"]  # Flatten is how pynn's Dense reads


def keras_with(tmp_path, name: str, edit, source: str = "keras_lab.keras") -> Path:
    """A copy of a fixture whose config.json was changed by edit(config)."""
    with zipfile.ZipFile(FIXTURES / source) as z:
        members = {n: z.read(n) for n in z.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return path


def layers_of(config):
    return config["config"]["layers"]


def test_a_softmax_output_trained_from_logits_is_the_softmax_applied_twice(tmp_path):
    """The freeze people meet: a softmax output and a loss told from_logits=True apply the softmax twice; pynn
    reads it so (double_softmax), and says so."""
    def softmax_out(config):
        layers_of(config)[-1]["config"]["activation"] = "softmax"

    model = read_keras(keras_with(tmp_path, "twice.keras", softmax_out))
    assert model.loss.double_softmax and model.origin["output_softmax"]
    assert any("applied twice" in note for note in model.origin["notes"])


def test_without_a_compile_config_the_assumed_head_is_said(tmp_path):
    def uncompiled(config):
        config.pop("compile_config")

    model = read_keras(keras_with(tmp_path, "plain.keras", uncompiled))
    assert model.loss.name == "xent"
    assert any("assumed" in note and "logits" in note for note in model.origin["notes"])


def test_keras_lstm_gate_order_is_proved_by_a_model_whose_gates_differ():
    """Keras keeps the gate blocks as i, f, c, o, which are pynn's input, forget, candidate, output: read in that
    order the outputs are Keras's; read in any other order of the blocks, they are not."""
    ref = expected("keras_gates")
    model = read_keras(FIXTURES / "keras_gates.keras")
    assert_close(outputs(model, ref["inputs"]), ref["outputs"])
    misses = other_gate_orders_miss(model, model.layers[0], ref["inputs"], ref["outputs"], outputs)
    assert len(misses) == 23 and all(miss > 1e-3 for _, miss in misses), misses


def test_keras_kernels_are_transposed_into_pynn_weights():
    """Keras's Dense kernel (n_in, units) is pynn's W (units, n_in); its LSTM kernel (n_in, 4U) pynn's Wx (4U, n_in)."""
    import h5py

    with zipfile.ZipFile(FIXTURES / "keras_gates.keras") as z:
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            kernel = f["layers/lstm/cell/vars/0"][()]
            recurrent = f["layers/lstm/cell/vars/1"][()]
            bias = f["layers/lstm/cell/vars/2"][()]
    lstm = read_keras(FIXTURES / "keras_gates.keras").layers[0]
    np.testing.assert_array_equal(lstm.Wx, kernel.T)
    np.testing.assert_array_equal(lstm.Wh, recurrent.T)
    np.testing.assert_array_equal(lstm.b, bias)  # one bias: Keras's convention is pynn's


def test_return_sequences_reads_every_step_into_the_next_lstm():
    model = read_keras(FIXTURES / "keras_sequences.keras")
    assert model.spec == "28x28-lstm16*-lstm12-10"
    assert [getattr(layer, "return_sequences", None) for layer in model.layers] == [True, False, None]


def test_a_keras_conv_net_reads_as_pynns_conv_and_pool_layers_with_its_arrays_as_they_are():
    """Conv2D -> MaxPooling2D -> Conv2D(strides=2, padding="same") -> Flatten -> Dense: Keras's HWIO kernels and
    channels_last maps are pynn's layouts, and its Flatten reads H, W, C as pynn's dense does, so nothing is
    reordered; the input (28, 28, 1) is pynn's one-channel 28x28."""
    import h5py

    model = read_keras(FIXTURES / "keras_conv.keras")
    assert model.spec == "28x28-conv8k5-pool2-conv16k3s2psame:tanh-30:relu-10"
    assert [layer.kind for layer in model.layers] == ["conv", "pool", "conv", "dense", "dense"]
    with zipfile.ZipFile(FIXTURES / "keras_conv.keras") as z:
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:
            kernel, dense = f["layers/conv2d_1/vars/0"][()], f["layers/dense/vars/0"][()]
    np.testing.assert_array_equal(model.layers[2].W, kernel)     # (3, 3, 8, 16) as Keras keeps it
    np.testing.assert_array_equal(model.layers[3].W, dense.T)    # columns in Flatten's H, W, C order
    assert model.layers[2].image == (12, 12, 8) and model.layers[3].input_shape == (6, 6, 16)


@pytest.mark.parametrize("layer, key, value, words", [
    (3, "dilation_rate", [2, 2], r"Conv2D layer 'conv2' has dilation_rate=\[2, 2\]; pynn's conv is neither dilated "
                                 r"nor grouped"),
    (3, "groups", 2, r"Conv2D layer 'conv2' has groups=2; pynn's conv is neither dilated nor grouped"),
    (1, "data_format", "channels_first", r"Conv2D layer 'conv1' has data_format='channels_first'; pynn reads images "
                                         r"channels_last"),
    (1, "kernel_size", [5, 3], r"layer 'conv1' has kernel_size=\[5, 3\]; pynn's conv and pool layers take the same "
                               r"size along both axes"),
    (3, "strides", [2, 1], r"layer 'conv2' has strides=\[2, 1\]"),
    (1, "activation", "softmax", r"Conv2D layer 'conv1' applies a softmax to its maps"),
    (2, "strides", [1, 1], r"MaxPooling2D layer 'pool1' has strides=\[1, 1\] and padding='valid'; pynn's pool takes "
                           r"2x2 windows at stride 2, valid"),
    (2, "padding", "same", r"MaxPooling2D layer 'pool1' has strides=\[2, 2\] and padding='same'"),
])
def test_convolutions_pynn_has_no_layer_for_are_refused_in_one_sentence(tmp_path, layer, key, value, words):
    def edit(config):
        layers_of(config)[layer]["config"][key] = value

    with pytest.raises(PynnError, match=words):
        read_keras(keras_with(tmp_path, "edited.keras", edit, "keras_conv.keras"))


def test_an_activation_layer_after_a_linear_conv_is_its_activation(tmp_path):
    def separate_relu(config):
        layers_of(config)[1]["config"]["activation"] = "linear"
        layers_of(config).insert(2, {"module": "keras.layers", "class_name": "ReLU", "config": {"name": "relu"}})

    model = read_keras(keras_with(tmp_path, "relu.keras", separate_relu, "keras_conv.keras"))
    assert model.spec == "28x28-conv8k5-pool2-conv16k3s2psame:tanh-30:relu-10"
    ref = expected("keras_conv")
    assert_close(model.forward(ref["inputs"])[0], ref["outputs"])


def test_a_dense_layer_on_conv_maps_without_flatten_is_refused(tmp_path):
    """Keras applies a Dense straight after a Conv2D at each pixel; pynn's Dense reads the whole maps."""
    def no_flatten(config):
        del layers_of(config)[4]

    with pytest.raises(PynnError, match=r"Dense layer 'dense' reads the last axis of a 6x6x16 input"):
        read_keras(keras_with(tmp_path, "pixels.keras", no_flatten, "keras_conv.keras"))


# -- what pynn refuses, in one sentence -------------------------------------------------------------------------

def test_a_functional_model_with_branches_is_refused_naming_the_layer():
    with pytest.raises(PynnError, match=r"functional model whose Dense layer 'right' takes 'input_layer"):
        read_keras(FIXTURES / "keras_branches.keras")


def test_an_unsupported_layer_is_refused_naming_it_and_what_pynn_reads():
    with pytest.raises(PynnError, match=r"has a Conv1D layer \('conv'\), which pynn does not read; pynn reads "
                                        r"Sequential Keras models of InputLayer, Dense, LSTM, Dropout, Flatten, "
                                        r"Conv2D and MaxPooling2D"):
        read_keras(FIXTURES / "keras_conv1d.keras")  # Conv1D: pynn's conv is 2-D


def test_a_custom_layer_is_refused_naming_it(tmp_path):
    def custom(config):
        layer = layers_of(config)[2]
        layer["class_name"], layer["registered_name"] = "MyDense", "my_package>MyDense"
        layer["config"]["name"] = "mine"

    with pytest.raises(PynnError, match=r"has a MyDense layer \('mine'\), which pynn does not read"):
        read_keras(keras_with(tmp_path, "custom.keras", custom))


def test_an_activation_pynn_lacks_is_named(tmp_path):
    def gelu(config):
        layers_of(config)[1]["config"]["activation"] = "gelu"

    with pytest.raises(PynnError, match=r"Dense layer 'L1' uses the gelu activation; pynn reads linear, relu"):
        read_keras(keras_with(tmp_path, "gelu.keras", gelu))


def test_an_lstm_with_another_activation_is_refused(tmp_path):
    def relu_cell(config):
        layers_of(config)[1]["config"]["activation"] = "relu"

    with pytest.raises(PynnError, match=r"LSTM layer 'lstm' has activation='relu'; pynn's LSTM uses tanh"):
        read_keras(keras_with(tmp_path, "cell.keras", relu_cell, "keras_gates.keras"))


def test_a_dense_layer_on_rows_of_a_multi_axis_input_is_refused(tmp_path):
    """Keras applies Dense to the last axis of a 28x28 input, row by row; pynn's Dense reads the whole sample."""
    def no_flatten(config):
        del layers_of(config)[1]  # the Flatten

    with pytest.raises(PynnError, match=r"Dense layer 'dense' reads the last axis of a 28x28 input"):
        read_keras(keras_with(tmp_path, "rows.keras", no_flatten, "keras_softmax.keras"))


def test_a_weight_of_the_wrong_shape_is_refused_before_anything_is_built(tmp_path):
    def wider(config):
        layers_of(config)[1]["config"]["units"] = 26

    with pytest.raises(PynnError, match=r"layer 'L1' holds an array of shape \(784, 25\) where its configuration "
                                        r"needs \(784, 26\)"):
        read_keras(keras_with(tmp_path, "wider.keras", wider))


def test_zip_members_are_read_by_their_exact_names_only(tmp_path):
    """A .keras file whose config sits under another path ('../config.json') is not read from anywhere else."""
    path = tmp_path / "tricky.keras"
    with zipfile.ZipFile(FIXTURES / "keras_lab.keras") as z, zipfile.ZipFile(path, "w") as out:
        for n in z.namelist():
            out.writestr("../config.json" if n == "config.json" else n, z.read(n))
    with pytest.raises(PynnError, match=r"lacks config.json"):
        read_keras(path)


def test_a_member_that_claims_to_unpack_to_more_than_the_file_can_hold_is_refused(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(FIXTURES / "keras_lab.keras") as z, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for n in z.namelist():
            out.writestr(n, z.read(n) if n != "model.weights.h5" else b"\0" * (300 * path.stat().st_size + 10**8))
    with pytest.raises(PynnError, match=r"model.weights.h5 says it unpacks to [\d,]+ bytes, more than"):
        read_keras(path)


def test_a_legacy_h5_of_weights_only_is_refused(tmp_path):
    import h5py

    path = tmp_path / "weights.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
        f.create_dataset("dense/kernel", data=np.zeros((3, 2), np.float32))
    with pytest.raises(PynnError, match=r"holds only weights \(save_weights\), no model_config"):
        read_keras(path)


def test_an_external_link_in_a_legacy_h5_is_not_followed(tmp_path):
    """An HDF5 file can link to arrays in another file; pynn reads only the file it was given."""
    import h5py

    path = tmp_path / "linked.h5"
    with h5py.File(FIXTURES / "keras_lab.h5", "r") as src, h5py.File(path, "w") as f:
        for key, value in src.attrs.items():
            f.attrs[key] = value
        src.copy("model_weights", f)
        group = f["model_weights/L1/lab/L1"]
        del group["kernel"]
        group["kernel"] = h5py.ExternalLink(str(FIXTURES / "keras_lab.h5"), "/model_weights/L1/lab/L1/kernel")
    with pytest.raises(PynnError, match=r"links to data outside its own arrays"):
        read_keras(path)


def test_not_a_keras_file_is_one_sentence(tmp_path):
    for name, data in (("empty.keras", b""), ("text.keras", b"hello"), ("text.h5", b"not hdf5 at all")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(PynnError):
            read_keras(tmp_path / name)
    with pytest.raises(PynnError, match=r"No model file at"):
        read_keras(tmp_path / "missing.keras")


@pytest.mark.parametrize("file, trials", [("keras_lab.keras", 80), ("keras_gates.h5", 40),
                                          ("keras_conv.keras", 40)])
def test_mutated_keras_files_fail_only_with_a_pynn_error(tmp_path, file, trials):
    """A fuzz loop: any byte damage is a PynnError sentence or a model that still builds, never another
    exception (nor a crash or gigabytes taken by HDF5: it runs in a child). A zip keeps its structure at its
    end, HDF5 at its start."""
    size = (FIXTURES / file).stat().st_size
    structure = (size - 4096, size) if file.endswith(".keras") else (0, 4096)
    assert fuzz(read_keras, FIXTURES / file, tmp_path / file, trials, structure) > trials // 4


def test_an_activation_layer_after_a_linear_dense_is_its_activation(tmp_path):
    """Dense(10) followed by Activation("softmax") is a softmax output layer; under from_logits=True that is the
    softmax applied twice."""
    def separate_softmax(config):
        layers_of(config).append({"module": "keras.layers", "class_name": "Activation",
                                  "config": {"name": "probabilities", "activation": "softmax"}})

    model = read_keras(keras_with(tmp_path, "activation.keras", separate_softmax))
    assert len(model.layers) == 3 and model.origin["output_softmax"] and model.loss.double_softmax
    ref = expected("keras_lab")
    assert_close(model.forward(ref["inputs"])[0], ref["outputs"])  # the same logits before the softmax


def test_a_tensorflow_2_legacy_h5_layout_reads_the_same(tmp_path):
    """TensorFlow 2's Keras wrote .h5 files with batch_input_shape on the first layer (no InputLayer), weights named
    <layer>/kernel:0 and a string loss; built here with h5py from the lab's weights, it gives the same logits."""
    import h5py

    lab = read_keras(FIXTURES / "keras_lab.h5")
    layers = [{"class_name": "Dense", "config": {"name": f"dense_{i}", "units": layer.units,
                                                 "activation": "relu" if i < 2 else "linear", "use_bias": True,
                                                 **({"batch_input_shape": [None, 784]} if i == 0 else {})}}
              for i, layer in enumerate(lab.layers)]
    path = tmp_path / "tf2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential",
                                                                                     "layers": layers}})
        f.attrs["training_config"] = json.dumps({"loss": {"class_name": "SparseCategoricalCrossentropy",
                                                          "config": {"from_logits": True}}})
        weights = f.create_group("model_weights")
        for i, layer in enumerate(lab.layers):
            group = weights.create_group(f"dense_{i}")
            group.attrs["weight_names"] = [f"dense_{i}/kernel:0".encode(), f"dense_{i}/bias:0".encode()]
            group[f"dense_{i}/kernel:0"] = layer.W.T
            group[f"dense_{i}/bias:0"] = layer.b
    model = read_keras(path)
    ref = expected("keras_lab")
    assert model.spec == "784-25:relu-15:relu-10" and model.origin["notes"] == []
    assert_close(model.forward(ref["inputs"])[0], ref["outputs"])
