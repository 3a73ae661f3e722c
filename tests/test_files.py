"""Model files: a save/load round trip predicts identically; bad files give one clear error; saves are atomic."""
import json
import os
import zipfile

import numpy as np
import pytest

from pynn.errors import PynnError
from pynn.files import check_destination, load_model, read_header, save_model
from pynn.model import build_model


@pytest.fixture
def model():
    return build_model("784-30:relu-drop0.2-10", seed=5)


def test_round_trip_gives_identical_predictions(tmp_path, model, rng):
    path = save_model(model, tmp_path / "m.npz", history=[{"epoch": 1, "loss": 0.5}], data={"name": "digits"})
    loaded, header = load_model(path)
    x = rng.random((20, 784), dtype=np.float32)
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert loaded.spec == model.spec and header["history"][0]["loss"] == 0.5
    assert header["layers"][0]["params"]["W"] == [30, 784]


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, header=np.array([{"a": 1}], dtype=object), params=np.zeros(3, np.float32))
    with pytest.raises(PynnError, match="pickled"):
        load_model(path)


@pytest.mark.parametrize("damage,fragment", [
    ("truncate", "not a pynn model file|corrupted"),
    ("garbage", "not a pynn model file"),
    ("empty", "not a pynn model file"),
])
def test_damaged_files_give_one_clear_error(tmp_path, model, damage, fragment):
    path = save_model(model, tmp_path / "m.npz")
    blob = path.read_bytes()
    path.write_bytes({"truncate": blob[: len(blob) // 2], "garbage": b"hello" * 100, "empty": b""}[damage])
    with pytest.raises(PynnError, match=fragment):
        load_model(path)


def _rewrite(path, header=None, params=None):
    with np.load(path) as f:
        arrays = dict(f)
    if header is not None:
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    if params is not None:
        arrays["params"] = params
    np.savez(path, **arrays)


def test_unknown_version_and_mismatched_shapes_are_refused(tmp_path, model):
    path = save_model(model, tmp_path / "m.npz")
    header, _ = read_header(path)
    _rewrite(path, header=dict(header, format_version=99))
    with pytest.raises(PynnError, match="version 99"):
        load_model(path)
    _rewrite(path, header=header, params=np.zeros(7, np.float32))
    with pytest.raises(PynnError, match="but 7 are stored"):
        load_model(path)
    _rewrite(path, header={"format": "something-else"})
    with pytest.raises(PynnError, match="not a pynn model"):
        load_model(path)


def test_missing_keys_and_missing_file(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(PynnError, match="lacks the header"):
        load_model(path)
    with pytest.raises(PynnError, match="No model file"):
        load_model(tmp_path / "nope.npz")


def half_a_zip(f, **arrays):
    f.write(b"PK\x03\x04 half a zip")
    raise OSError(28, "No space left on device")


def ctrl_c_midway(f, **arrays):
    f.write(b"PK\x03\x04 half a zip")
    raise KeyboardInterrupt


def disk_error(*args):
    raise OSError(5, "Input/output error")


@pytest.mark.parametrize("where, failure, expected", [
    ("savez", half_a_zip, PynnError),        # the disk fills while the archive is written
    ("savez", ctrl_c_midway, KeyboardInterrupt),  # Ctrl-C while the archive is written
    ("fsync", disk_error, PynnError),        # written, but not safely on disk
    ("replace", disk_error, PynnError),      # on disk, but the rename over the old file fails
])
def test_interrupted_save_leaves_the_previous_file_intact(tmp_path, model, monkeypatch, where, failure, expected):
    path = save_model(model, tmp_path / "m.npz")
    before = path.read_bytes()
    monkeypatch.setattr(np if where == "savez" else os, where, failure)
    with pytest.raises(expected):
        save_model(build_model("784-30:relu-drop0.2-10", seed=6), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind
    assert np.array_equal(load_model(path)[0].params, model.params)


def test_save_into_a_missing_folder_is_a_clear_error(tmp_path, model):
    with pytest.raises(PynnError, match="does not exist"):
        save_model(model, tmp_path / "no" / "m.npz")


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_saved_file_gets_the_mode_any_new_file_gets(tmp_path, model, umask):
    """0666 less the umask, as for any file a program creates, whether the save creates or replaces it."""
    previous = os.umask(umask)
    try:
        path = save_model(model, tmp_path / "m.npz")
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
        os.chmod(path, 0o600)
        save_model(model, path)
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.umask(previous)


@pytest.mark.parametrize("where,fragment", [
    ("no/m.npz", "the folder .*no does not exist"),
    ("afile/m.npz", "afile is a file, not a folder"),
    ("adir", "it is a folder; give a file name"),
])
def test_a_destination_that_cannot_take_the_model_is_refused_in_words(tmp_path, where, fragment):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(PynnError, match=fragment):
        check_destination(tmp_path / where)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_folder_that_takes_no_new_files_is_refused_and_a_good_one_left_as_it_was(tmp_path, monkeypatch):
    check_destination(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []  # the probe file is gone again

    def read_only(*args):
        raise OSError(30, "Read-only file system")
    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(PynnError, match="does not take new files .Read-only file system"):
        check_destination(tmp_path / "m.npz")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into any folder")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(PynnError, match="does not take new files"):
        check_destination(locked / "m.npz")


def test_a_loaded_model_tells_nothing_about_a_softmax_it_never_was_written_with(tmp_path):
    """A file records the output as softmax; the note about a written softmax is for specs a user wrote."""
    plain = build_model("4-8-3", loss="xent")
    assert plain.notes == []
    loaded, _ = load_model(save_model(plain, tmp_path / "m.npz"))
    assert loaded.notes == []


def test_the_file_holds_the_run_description_and_load_gives_it_back(tmp_path):
    from pynn.data import load_dataset
    from pynn.run import RunConfig

    config = RunConfig(model="784-16:relu-10", dropout=0.25, limit=200, standardize=True, epochs=4, lr=0.2,
                       optimizer="momentum", seed=9)
    data = config.load_data()
    model = config.build_model(data)
    assert model.spec.startswith("784-16:relu-drop0.25") and model.run == config
    path = save_model(model, tmp_path / "m.npz", data=data.describe())
    header, _ = read_header(path)
    assert header["format_version"] == 2 and header["run"] == config.to_dict()
    loaded, _ = load_model(path)
    assert loaded.run == config and loaded.run.data_recipe() == {"name": "digits",
                                                                 "options": {"standardize": True, "n": 200}}
    assert np.array_equal(loaded.run.load_data().x_test, load_dataset("digits", n=200, standardize=True).x_test)


def test_a_damaged_run_description_is_one_sentence_naming_the_file(tmp_path, model):
    path = save_model(model, tmp_path / "m.npz")
    header, _ = read_header(path)
    _rewrite(path, header=dict(header, run=dict(header["run"], epochs=0)))
    with pytest.raises(PynnError, match=r"m.npz has a run description pynn cannot use: epochs must be at least 1"):
        load_model(path)


def test_a_file_saved_without_a_description_is_described_by_its_header(tmp_path):
    model = build_model("6-5:tanh-4:tanh-3", init="xavier", seed=2)
    path = save_model(model, tmp_path / "m.npz")
    header, _ = read_header(path)
    _rewrite(path, header=dict(header, run=None))
    run = load_model(path)[0].run
    assert (run.model, run.activation, run.init, run.seed, run.loss) == ("6-5:tanh-4:tanh-3", "tanh", "xavier", 2,
                                                                        "xent")
