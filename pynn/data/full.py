"""The full MNIST and Fashion-MNIST sets (60,000 train + 10,000 test) from IDX files found on this machine,
and downloading MNIST with its published MD5 sums checked."""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from pynn.data.dataset import CLASSIFICATION, Dataset
from pynn.data.idx import read_idx
from pynn.errors import PynnError

FILES = {"train_x": "train-images-idx3-ubyte", "train_y": "train-labels-idx1-ubyte",
         "test_x": "t10k-images-idx3-ubyte", "test_y": "t10k-labels-idx1-ubyte"}
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
SOURCES = {
    "mnist": "MNIST database (Y. LeCun, C. Cortes, C. J. C. Burges), CC BY-SA 3.0",
    "fashion-mnist": "Fashion-MNIST (Zalando Research), MIT licence",
}


def user_dir(name: str) -> Path:
    """Where pynn keeps and looks first for a dataset's files: $PYNN_DATA/<name>, else ~/.cache/pynn/<name>."""
    root = os.environ.get("PYNN_DATA")
    return (Path(root) if root else Path.home() / ".cache" / "pynn") / name


def search_dirs(name: str) -> list[Path]:
    return [user_dir(name), Path("/usr/share/datasets") / name]


def find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem, folder / stem.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    return None


def load_full(name: str, n: int | None = None) -> Dataset:
    for folder in search_dirs(name):
        found = {key: find_idx(folder, stem) for key, stem in FILES.items()}
        if all(found.values()):
            break
    else:
        hint = "`pynn data fetch mnist` downloads them" if name == "mnist" else \
            "Debian's package dataset-fashion-mnist installs them (apt-get install dataset-fashion-mnist)"
        raise PynnError(f"The {name} files are not on this machine; put the four IDX files "
                        f"({', '.join(s + '.gz' for s in FILES.values())}) in {user_dir(name)}, or {hint}.")
    arrays = {key: read_idx(path) for key, path in found.items()}
    x_train, x_test = (arrays[k][:n] for k in ("train_x", "test_x"))
    y_train, y_test = (arrays[k][:n].astype(np.int32) for k in ("train_y", "test_y"))
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise PynnError(f"The {name} files in {folder} disagree: images and labels differ in number.")
    names = FASHION_CLASSES if name == "fashion-mnist" else [str(d) for d in range(10)]
    return Dataset(name, x_train.astype(np.float32) / 255.0, y_train, x_test.astype(np.float32) / 255.0,
                   y_test, tuple(x_train.shape[1:]), CLASSIFICATION, names,
                   source=f"{SOURCES[name]}; read from {folder}")


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_mnist(dest: Path | None = None, base_url: str | None = None,
                checksums: dict[str, str] = MNIST_MD5) -> Path:
    """Download the four MNIST files into dest (default: user_dir("mnist")), checking each MD5 sum. A file
    is written under a temporary name and renamed only once its sum is right, so nothing half-fetched stays."""
    dest = dest or user_dir("mnist")
    base_url = base_url or os.environ.get("PYNN_MNIST_URL", MNIST_URL)
    dest.mkdir(parents=True, exist_ok=True)
    for filename, expected in checksums.items():
        target = dest / filename
        if target.is_file() and md5(target) == expected:
            continue
        url = base_url.rstrip("/") + "/" + filename
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", dir=dest)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=30) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
            got = md5(Path(tmp))
            if got != expected:
                raise PynnError(f"{url} arrived with MD5 {got}, not the published {expected}; nothing was kept.")
            os.replace(tmp, target)
        except (urllib.error.URLError, OSError, ValueError) as err:
            reason = getattr(err, "reason", None) or err
            raise PynnError(f"Cannot download {url} ({reason}); copy the four MNIST files into {dest} by "
                            "hand instead.") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return dest
