"""Reading IDX files (the MNIST format), gzipped or raw, with the header checked against the data that follows
before anything is allocated, so a damaged or lying file is refused instead of exhausting memory."""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from pynn.errors import PynnError

# IDX type codes -> big-endian numpy dtypes
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    try:
        with open(path, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        opener = gzip.open if gz else open
        with opener(path, "rb") as f:
            if limit is None:
                return f.read()
            # in chunks: read(limit) would allocate `limit` bytes up front, however short the file
            chunks, left = [], limit
            while left > 0 and (chunk := f.read(min(left, 1 << 20))):
                chunks.append(chunk)
                left -= len(chunk)
            return b"".join(chunks)
    except FileNotFoundError:
        raise PynnError(f"No such file: {path}.") from None
    except (OSError, EOFError, zlib.error) as err:
        raise PynnError(f"{path} cannot be read as IDX data ({err}).") from None


def read_idx(path: str | Path) -> np.ndarray:
    path = Path(path)
    head = _read_bytes(path, 4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in IDX_TYPES or head[3] == 0:
        raise PynnError(f"{path} is not an IDX file (its first four bytes are not an IDX magic number).")
    dtype, ndim = np.dtype(IDX_TYPES[head[2]]), head[3]
    header = _read_bytes(path, 4 + 4 * ndim)
    if len(header) < 4 + 4 * ndim:
        raise PynnError(f"{path} is truncated inside its header.")
    dims = struct.unpack(f">{ndim}I", header[4:])
    expected = math.prod(dims) * dtype.itemsize  # Python ints: a lying header cannot overflow this
    # read at most one byte more than the header promises: enough to tell a short file from a long one
    blob = _read_bytes(path, 4 + 4 * ndim + expected + 1)
    have = len(blob) - 4 - 4 * ndim
    if have < expected:
        raise PynnError(f"{path} is truncated: the header promises {'x'.join(map(str, dims))} values "
                        f"({expected:,} bytes) but only {have:,} bytes follow.")
    return np.frombuffer(blob, dtype, count=expected // dtype.itemsize, offset=4 + 4 * ndim).reshape(dims)
