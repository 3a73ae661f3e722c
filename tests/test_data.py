"""Loaders on real files: the bundled digits, files the tests write, the Debian Fashion-MNIST set, a download
from a local server; every malformed file gets one clear PynnError."""
import gzip
import hashlib
import pickle
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import pynn.data
from pynn.data import list_datasets, load_dataset
from pynn.data.full import fetch_mnist
from pynn.data.idx import read_idx
from pynn.errors import PynnError

DIGITS_DIR = Path(pynn.data.__file__).parent / "digits"


def test_digits_shapes_split_and_balance(digits):
    assert digits.x_train.shape == (8000, 28, 28) and digits.x_test.shape == (2000, 28, 28)
    assert digits.x_train.dtype == np.float32 and 0.0 <= digits.x_train.min() and digits.x_train.max() <= 1.0
    assert digits.y_train.dtype == np.int32 and set(np.unique(digits.y_test)) == set(range(10))
    assert np.bincount(digits.y_test).min() > 150  # every class well represented in the test part
    again = load_dataset("digits")
    assert np.array_equal(again.x_test, digits.x_test)  # the split is a fixed rule, not a draw


def test_idx_round_trip_and_damage(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    blob = b"\x00\x00\x08\x03" + b"".join(int(d).to_bytes(4, "big") for d in data.shape) + data.tobytes()
    (tmp_path / "a.idx").write_bytes(blob)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(blob))
    assert np.array_equal(read_idx(tmp_path / "a.idx"), data)
    assert np.array_equal(read_idx(tmp_path / "a.idx.gz"), data)
    (tmp_path / "short.idx").write_bytes(blob[:-5])
    with pytest.raises(PynnError, match="truncated"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02" + blob[2:])
    with pytest.raises(PynnError, match="not an IDX file"):
        read_idx(tmp_path / "magic.idx")
    liar = b"\x00\x00\x08\x03" + (10**9).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100
    (tmp_path / "liar.idx").write_bytes(liar)
    with pytest.raises(PynnError, match="promises 1000000000x28x28"):
        read_idx(tmp_path / "liar.idx")


def write(path, text):
    path.write_text(text)
    return path


def test_csv_with_header_target_by_name_quotes_and_blank_lines(tmp_path):
    path = write(tmp_path / "t.csv", 'a,"b",label,c\n1,2,0,3\n\n"4",5,1,6\n7,8,0,9\n1,1,1,1\n2,2,0,2\n')
    data = load_dataset(str(path), target="label")
    assert data.task == "classification" and data.sample_shape == (3,)
    assert len(data.x_train) + len(data.x_test) == 5
    rows = {tuple(r) for r in np.concatenate([data.x_train, data.x_test]).tolist()}
    assert (4.0, 5.0, 6.0) in rows  # the label column was taken out, quotes read as numbers


def test_csv_without_header_defaults_to_last_column_and_regression(tmp_path):
    path = write(tmp_path / "r.csv", "".join(f"{i},{i * 2},{i * 0.37}\n" for i in range(200)))
    data = load_dataset(str(path))
    assert data.task == "regression" and data.y_train.shape[1] == 1 and data.sample_shape == (2,)
    by_index = load_dataset(str(path), target="0")  # 200 distinct integers: too many to be classes
    assert by_index.task == "regression"
    assert np.allclose(np.concatenate([by_index.x_train, by_index.x_test])[:, 0] * 0.37 / 2,
                       np.concatenate([by_index.x_train, by_index.x_test])[:, 1], atol=1e-4)


@pytest.mark.parametrize("text,target,fragment", [
    ("a,b,y\n1,2,0\n3,4\n", None, "line 3 has 2 fields"),
    ("a,b,y\n1,2,0\n3,x,1\n", None, "line 3, column 'b': 'x' is not a number"),
    ("a,b,y\n1,2,0\n", "label", "no column 'label'"),
    ("", None, "no rows"),
    ("a,b,y\n", None, "no data rows"),
])
def test_malformed_csv_gets_one_clear_sentence(tmp_path, text, target, fragment):
    path = write(tmp_path / "bad.csv", text)
    with pytest.raises(PynnError, match=fragment):
        load_dataset(str(path), target=target)


def test_non_utf8_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("a,b\n1,\xe9\n".encode("latin-1"))
    with pytest.raises(PynnError, match="not UTF-8"):
        load_dataset(str(path))


def test_npz_keys_pairs_and_refusals(tmp_path, rng):
    x, y = rng.random((30, 4)).astype(np.float32), rng.integers(0, 3, 30)
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    np.savez(tmp_path / "arr.npz", x, y)
    for name in ("xy.npz", "arr.npz"):
        data = load_dataset(str(tmp_path / name))
        assert data.n_features == 4 and data.n_outputs == 3
    np.savez(tmp_path / "images.npz", x)
    np.savez(tmp_path / "labels.npz", y)
    assert load_dataset(str(tmp_path / "images.npz"), labels=str(tmp_path / "labels.npz")).n_outputs == 3
    np.savez(tmp_path / "wrong.npz", inputs=x)
    with pytest.raises(PynnError, match="expects x and y"):
        load_dataset(str(tmp_path / "wrong.npz"))
    np.savez(tmp_path / "objects.npz", x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3))
    with pytest.raises(PynnError, match="pickled"):
        load_dataset(str(tmp_path / "objects.npz"))
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(PynnError, match="empty.npz is empty, not a valid .npz"):
        load_dataset(str(tmp_path / "empty.npz"))


def test_a_file_that_is_not_numpy_is_named_for_what_it_is(tmp_path):
    (tmp_path / "table.npz").write_text("a,b,label\n1,2,0\n")
    with pytest.raises(PynnError, match=r"table.npz is text \(it starts 'a,b,label'\), not a valid .npz \(a zip"):
        load_dataset(str(tmp_path / "table.npz"))
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"x": [1, 2]}))
    with pytest.raises(PynnError, match="holds pickled Python objects"):
        load_dataset(str(tmp_path / "pickle.npz"))
    (tmp_path / "noise.npy").write_bytes(bytes(range(200, 256)) * 3)
    with pytest.raises(PynnError, match="starts with the bytes"):
        load_dataset(str(tmp_path / "noise.npy"))


def test_idx_images_with_a_labels_file(tmp_path):
    shutil.copy(DIGITS_DIR / "t10k-images-idx3-ubyte.gz", tmp_path)
    shutil.copy(DIGITS_DIR / "t10k-labels-idx1-ubyte.gz", tmp_path)
    data = load_dataset(str(tmp_path / "t10k-images-idx3-ubyte.gz"),
                        labels=str(tmp_path / "t10k-labels-idx1-ubyte.gz"), n=500)
    assert data.sample_shape == (28, 28) and data.x_train.max() <= 1.0 and data.n_outputs == 10


def test_synthetic_sets_are_seeded():
    for name in ("spiral", "circles", "moons", "sine"):
        a, b, c = load_dataset(name, seed=1), load_dataset(name, seed=1), load_dataset(name, seed=2)
        assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)


def test_sine_windows_continue_the_series():
    data = load_dataset("sine", lookback=10, horizon=3)
    series = data.meta["series"]
    assert data.x_train.shape[1:] == (10, 1) and data.y_train.shape[1] == 3
    assert np.array_equal(data.x_train[5, :, 0], series[5:15]) and np.array_equal(data.y_train[5], series[15:18])
    with pytest.raises(PynnError, match="lookback"):
        load_dataset("sine", lookback=0)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(PynnError, match="digits"):
        load_dataset("cifar")


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(),
                    reason="Debian's dataset-fashion-mnist is not installed (CI installs it)")
def test_fashion_mnist_from_debian():
    data = load_dataset("fashion-mnist")
    assert data.x_train.shape == (60000, 28, 28) and data.x_test.shape == (10000, 28, 28)
    assert data.class_names[9] == "Ankle boot"
    assert next(r for r in list_datasets() if r["name"] == "fashion-mnist")["available"]


def test_missing_full_set_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PYNN_DATA", str(tmp_path))
    with pytest.raises(PynnError, match=str(tmp_path / "mnist")):
        load_dataset("mnist")


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server holding the bundled t10k files and a corrupted one."""
    root = tmp_path / "mirror"
    root.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(DIGITS_DIR / name, root)
    (root / "broken.gz").write_bytes(b"not the real file")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_fetch_checks_md5_and_keeps_nothing_wrong(tmp_path, mirror):
    sums = {name: hashlib.md5((DIGITS_DIR / name).read_bytes()).hexdigest()
            for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    dest = fetch_mnist(tmp_path / "got", base_url=mirror, checksums=sums)
    assert sorted(p.name for p in dest.iterdir()) == sorted(sums)
    with pytest.raises(PynnError, match="MD5"):
        fetch_mnist(tmp_path / "bad", base_url=mirror, checksums={"broken.gz": "0" * 32})
    assert list((tmp_path / "bad").iterdir()) == []
    with pytest.raises(PynnError, match="Cannot download"):
        fetch_mnist(tmp_path / "gone", base_url=mirror, checksums={"missing.gz": "0" * 32})


def test_data_command(capsys):
    from pynn_tui.cli import main

    assert main(["data", "list", "--json"]) == 0
    assert "digits" in capsys.readouterr().out
    assert main(["data", "info", "xor"]) == 0
    assert "classification" in capsys.readouterr().out
    assert main(["data", "info", "nope"]) == 2


def test_data_list_piped_has_a_header_and_whole_descriptions(capsys):
    from pynn_tui.cli import main

    assert main(["data", "list"]) == 0  # captured: not a terminal, so the plain form
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["name", "kind", "here", "description"]
    sine = next(line for line in lines if line.startswith("sine\t"))
    assert sine.endswith("the next `horizon` steps out (default 1).")
