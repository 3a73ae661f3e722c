"""An HDF5 file's float arrays and text attributes, read by h5py in a child process with a memory limit.

HDF5's C library trusts the sizes written in a file: a damaged or hostile .h5 can make it allocate gigabytes or
crash (found by the fuzz loop in tests/test_interop_keras.py). pynn therefore never opens one in its own process:
a child reads the bytes (from stdin) and hands back, as an .npz without pickles, every floating-point dataset
reachable through hard links and the attributes pynn reads, or one sentence. A child that runs out of memory,
crashes or takes too long is a damaged file, not a dead pynn.

    python -m pynn.interop.hdf5_dump < file.h5 > dump.npz     (the child; imports h5py and numpy only)
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np

ATTRIBUTES = ("model_config", "training_config", "layer_names", "name", "weight_names")
MIN_MEMORY = 1 << 30          # the child's data limit: at least 1 GiB,
MEMORY_PER_FILE_BYTE = 8      # or 8 bytes per byte of the file, whichever is more
TIMEOUT_S = 120
EXIT_REFUSED = 3              # the child's stderr then holds the sentence


class HDF5Dump:
    """{path: float32 array} and {group path: {name: text or list of texts}} of one HDF5 file ('' is the root)."""

    def __init__(self, arrays: dict[str, np.ndarray], attrs: dict[str, dict]):
        self.arrays, self.attrs = arrays, attrs

    def attr(self, group: str, name: str):
        return self.attrs.get(group, {}).get(name)

    def children(self, group: str) -> list[str]:
        """The names directly under group, in the file's (alphabetical) order."""
        prefix = f"{group}/" if group else ""
        paths = [p for p in [*self.arrays, *self.attrs] if p.startswith(prefix) and p != group]
        names = {p[len(prefix):].split("/")[0] for p in paths}
        return sorted(n for n in names if n)


def dump_hdf5(data: bytes, what: str) -> HDF5Dump:
    """The arrays and attributes of the HDF5 file whose bytes are data; PynnError naming `what` if it cannot be
    read."""
    from pynn.errors import PynnError

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    limit = max(MIN_MEMORY, MEMORY_PER_FILE_BYTE * len(data))
    try:
        done = subprocess.run([sys.executable, "-m", "pynn.interop.hdf5_dump"], input=data, capture_output=True,
                              timeout=TIMEOUT_S, env=env, preexec_fn=_limit_memory(limit) if os.name == "posix"
                              else None)
    except subprocess.TimeoutExpired:
        raise PynnError(f"{what} could not be read within {TIMEOUT_S} s; it is damaged.") from None
    if done.returncode == EXIT_REFUSED:
        raise PynnError(f"{what} {done.stderr.decode('utf-8', 'replace').strip()}")
    if done.returncode != 0:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:160]
        if "No module named 'h5py'" in last:
            raise PynnError(f"Reading {what} needs h5py (pip install h5py, or pynn's interop extra).")
        how = f"HDF5 crashed on it (signal {-done.returncode})" if done.returncode < 0 else last or "it failed"
        raise PynnError(f"{what} is not a readable HDF5 file ({how}).")
    with np.load(io.BytesIO(done.stdout), allow_pickle=False) as npz:
        meta = json.loads(npz["__meta__"].tobytes().decode())
        arrays = {path: npz[f"a{i}"] for i, path in enumerate(meta["arrays"])}
    return HDF5Dump(arrays, meta["attrs"])


def _limit_memory(limit: int):
    def apply():
        import resource

        for kind in ("RLIMIT_DATA", "RLIMIT_AS"):
            if hasattr(resource, kind):
                resource.setrlimit(getattr(resource, kind), (limit * (4 if kind == "RLIMIT_AS" else 1),) * 2)
    return apply


# -- the child ---------------------------------------------------------------------------------------------

def _refuse(sentence: str) -> None:
    sys.stderr.write(sentence)
    sys.exit(EXIT_REFUSED)


def _text(value):
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return [_text(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return str(value)


def _child() -> None:
    import h5py

    data = sys.stdin.buffer.read()
    arrays, attrs = {}, {}
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except Exception as err:  # noqa: BLE001 - any failure to open is a damaged file
        _refuse(f"is not an HDF5 file ({type(err).__name__}: {str(err)[:120]}).")

    def read_attrs(path, obj):
        found = {k: _text(obj.attrs[k]) for k in ATTRIBUTES if k in obj.attrs}
        if found:
            attrs[path] = found

    def visit(path, link):
        if not isinstance(link, h5py.HardLink):
            _refuse("links to data outside its own arrays, which pynn does not follow.")
        obj = f[path]
        if isinstance(obj, h5py.Group):
            read_attrs(path, obj)
            return
        if obj.dtype.kind != "f" or obj.is_virtual or obj.external:
            return  # not weights (an optimizer's counters, text): never read
        if obj.size * obj.dtype.itemsize > 4 * len(data) + 4096:
            _refuse(f"says its array {path!r} holds {obj.size:,} numbers, more than the file can.")
        arrays[path] = np.asarray(obj[()], dtype=np.float32)

    try:
        read_attrs("", f)
        f.visititems_links(visit)
    except SystemExit:
        raise
    except Exception as err:  # noqa: BLE001 - HDF5 raises many kinds for a damaged file
        _refuse(f"is damaged ({type(err).__name__}: {str(err)[:120]}).")
    paths = list(arrays)
    out = io.BytesIO()
    meta = json.dumps({"arrays": paths, "attrs": attrs}).encode()
    np.savez(out, __meta__=np.frombuffer(meta, np.uint8), **{f"a{i}": arrays[p] for i, p in enumerate(paths)})
    sys.stdout.buffer.write(out.getvalue())


if __name__ == "__main__":
    _child()
