"""cffi builder for pynn's C core: compiles csrc/*.c into the extension module pynn._core.

The cdef is csrc/pynn.h itself, minus preprocessor lines and `restrict`, so the Python side can never drift
from the C API. The core needs GCC or Clang: the kernels use their vector extensions and attributes, which
MSVC lacks (on Windows, build under WSL or with MinGW's GCC). Flags are portable by default; PYNN_NATIVE=1
adds -march=native for a local build, and PYNN_SANITIZE=1 builds with AddressSanitizer and UBSan for the
CI's memory-safety run.
"""
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from cffi import FFI

# Run as a script (python pynn/_build.py), this file's folder heads sys.path, and there pynn/inspect would be found
# as the standard library's inspect by whatever imports it next (setuptools does, to compile; the imports above
# do not). The folder holds nothing this script imports, so it leaves the path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "csrc"
HEADER = CSRC / "pynn.h"


def header_cdef(text: str) -> str:
    """The header as cffi can parse it: no preprocessor lines, no comments, no `restrict`."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return re.sub(r"\brestrict\b", "", "\n".join(lines))


def compile_flags() -> tuple[list[str], list[str]]:
    cflags = ["-O3", "-std=c11", "-fno-math-errno", "-fopenmp", "-Wall", "-Wno-unknown-pragmas"]
    ldflags = ["-fopenmp"]
    if os.environ.get("PYNN_NATIVE") == "1":
        cflags.append("-march=native")
    if os.environ.get("PYNN_SANITIZE") == "1":
        # float-cast-overflow (a NaN or huge float made an int) is undefined too, but not in GCC's "undefined"
        san = ["-fsanitize=address,undefined,float-cast-overflow", "-fno-omit-frame-pointer",
               "-fno-sanitize-recover=all"]
        # -fno-wrapv: Python's own CFLAGS carry -fwrapv, which defines signed overflow and so hid it from UBSan
        cflags = [f for f in cflags if f != "-O3"] + ["-O1", "-g", "-fno-wrapv"] + san
        ldflags += san
    return cflags, ldflags


ffibuilder = FFI()
ffibuilder.cdef(header_cdef(HEADER.read_text()))
_cflags, _ldflags = compile_flags()
ffibuilder.set_source(
    "pynn._core",
    '#include "pynn.h"',
    sources=[str(p.relative_to(ROOT)) for p in sorted(CSRC.glob("*.c"))],
    include_dirs=[str(CSRC.relative_to(ROOT))],
    extra_compile_args=_cflags,
    extra_link_args=_ldflags,
)



def build_in_place() -> Path:
    """Compiles the core into the pynn/ beside this file. The build runs in a scratch folder under build/, so
    an older setuptools never reads the checkout's pyproject.toml (it refused the license field), and the
    module is then moved in at once: a failed build leaves the old one, and no process imports half a file."""
    (ROOT / "build").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / "build") as scratch:
        shutil.copytree(CSRC, Path(scratch) / "csrc")  # the sources' relative paths, and their objects, live here
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            built = Path(ffibuilder.compile(tmpdir=".", verbose=True))
        finally:
            os.chdir(cwd)
        target = ROOT / "pynn" / built.name
        os.replace(built, target)
    return target


if __name__ == "__main__":  # `python -m pynn._build` (or `python pynn/_build.py`) builds in place
    print(f"built {build_in_place()}")
