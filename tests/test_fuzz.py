"""Seeded byte mutation of real files: every loader either loads or raises the one clear PynnError, never
anything else (no traceback, no huge allocation, no crash)."""
import gzip
from pathlib import Path

import numpy as np
import pytest

from pynn.data.idx import read_idx
from pynn.errors import PynnError
from pynn.files import load_model, save_model
from pynn.model import build_model

ROUNDS = 150


def mutations(blob: bytes, seed: int):
    """Flip, overwrite, insert, delete and truncate bytes, each mutation from its own seeded draw."""
    rng = np.random.default_rng(seed)
    for _ in range(ROUNDS):
        data = bytearray(blob)
        kind = rng.integers(5)
        pos = int(rng.integers(len(data))) if data else 0
        if kind == 0:
            for _ in range(int(rng.integers(1, 8))):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            data[pos:pos + 4] = rng.integers(0, 256, 4, dtype=np.uint8).tobytes()
        elif kind == 2:
            data[pos:pos] = rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8).tobytes()
        elif kind == 3:
            del data[pos:pos + int(rng.integers(1, 64))]
        else:
            del data[pos:]
        yield bytes(data)


def only_clear_errors(load, path, blob, seed):
    outcomes = {"loaded": 0, "refused": 0}
    for mutated in mutations(blob, seed):
        path.write_bytes(mutated)
        try:
            load(path)
            outcomes["loaded"] += 1
        except PynnError as err:
            assert str(err).strip() and "\n" not in str(err)
            outcomes["refused"] += 1
    assert outcomes["refused"] > 0  # the mutations really did damage files
    return outcomes


def test_model_loader_under_mutation(tmp_path):
    path = save_model(build_model("12-7:relu-drop0.2-3", seed=1), tmp_path / "m.npz", history=[{"epoch": 1}])
    # the header sits in the archive stored (not deflated), so header mutations are exercised too
    only_clear_errors(load_model, tmp_path / "fuzzed.npz", path.read_bytes(), seed=1)


def test_model_loader_with_mutated_header_json(tmp_path):
    import json

    model = build_model("12-7:relu-3", seed=1)
    path = save_model(model, tmp_path / "m.npz")
    with np.load(path) as f:
        arrays = dict(f)
    text = arrays["header"].tobytes()
    for mutated in mutations(text, seed=3):
        arrays["header"] = np.frombuffer(mutated, np.uint8)
        np.savez(tmp_path / "h.npz", **arrays)
        try:
            load_model(tmp_path / "h.npz")
        except PynnError:
            pass
    # a header asking for an enormous layer is refused before anything is allocated
    header = json.loads(text)
    header["layers"][0]["units"] = 10**9
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(tmp_path / "big.npz", **arrays)
    with pytest.raises(PynnError, match="parameters"):
        load_model(tmp_path / "big.npz")


def test_idx_reader_under_mutation(tmp_path):
    import pynn.data

    digits_dir = Path(pynn.data.__file__).parent / "digits"
    # a small but valid IDX file: the header and the first 3 of the bundled digit images
    images = gzip.decompress((digits_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    raw = b"\x00\x00\x08\x03" + (3).to_bytes(4, "big") + images[8:16] + images[16:16 + 3 * 784]
    assert read_idx_ok(raw, tmp_path)
    only_clear_errors(read_idx, tmp_path / "fuzzed.idx", raw, seed=4)
    only_clear_errors(read_idx, tmp_path / "fuzzed.idx.gz", gzip.compress(raw), seed=5)


def read_idx_ok(raw, tmp_path):
    (tmp_path / "ok.idx").write_bytes(raw)
    return read_idx(tmp_path / "ok.idx").shape == (3, 28, 28)


def test_csv_and_npz_loaders_under_mutation(tmp_path, rng):
    from pynn.data import load_dataset

    csv_text = "a,b,\"c\",label\n" + "".join(f"{i % 7},{i * 0.5},{i % 3},{i % 2}\n" for i in range(40))
    only_clear_errors(lambda p: load_dataset(str(p)), tmp_path / "fuzzed.csv", csv_text.encode(), seed=6)
    npz = tmp_path / "clean.npz"
    np.savez(npz, x=rng.random((20, 3)).astype(np.float32), y=rng.integers(0, 2, 20))
    only_clear_errors(lambda p: load_dataset(str(p)), tmp_path / "fuzzed.npz", npz.read_bytes(), seed=7)


def test_text_loader_under_mutation(tmp_path):
    """A character corpus with flipped bytes is either still UTF-8 text or refused in one sentence."""
    from pynn.data import load_dataset
    from pynn.data.text import SHAKESPEARE

    blob = SHAKESPEARE.read_bytes()[:3000]
    only_clear_errors(lambda p: load_dataset(str(p)), tmp_path / "fuzzed.txt", blob, seed=8)
