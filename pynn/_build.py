"""cffi builder for pynn's C core: compiles csrc/*.c into the extension module pynn._core, and on x86-64 twice
more, for AVX2 (x86-64-v3) and AVX-512 (x86-64-v4), into pynn._core_avx2 and pynn._core_avx512.

Why whole builds per ISA, not target_clones: the kernels' tile sizes, vector widths and block sizes change with
the ISA (32 vector registers of 16 floats against 16 of 8), which is a compile-time choice, and one build per
ISA lets PYNN_ISA force any path on one machine, so the tests run every path. pynn.core loads the portable
module first, asks it what the processor runs, and loads the widest build it can (or the one PYNN_ISA names).

The cdef is csrc/pynn.h itself, minus preprocessor lines and `restrict`, so the Python side can never drift
from the C API. The core needs GCC or Clang: the kernels use their vector extensions and attributes, which
MSVC lacks (on Windows, build under WSL or with MinGW's GCC). Flags are portable by default; PYNN_NATIVE=1
adds -march=native for a local build, and PYNN_SANITIZE=1 builds with AddressSanitizer and UBSan for the
CI's memory-safety run.
"""
import os
import platform
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


# The builds: module name and the flags that make it. x86-64-v4 is AVX-512 F/BW/CD/DQ/VL; GCC prefers 256-bit
# vectors for it by default (older cores clock down on 512-bit ones), which the loops it vectorises itself
# (optimisers, activations) would keep, so the AVX-512 build asks for 512.
ISA_BUILDS = {"generic": ("pynn._core", [])}
if platform.machine().lower() in ("x86_64", "amd64"):
    ISA_BUILDS["avx2"] = ("pynn._core_avx2", ["-march=x86-64-v3"])
    ISA_BUILDS["avx512"] = ("pynn._core_avx512", ["-march=x86-64-v4", "-mprefer-vector-width=512"])


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


def isa_builder(isa: str) -> FFI:
    """The cffi builder of one ISA's module (the portable one where this machine has no such build)."""
    module, isa_flags = ISA_BUILDS.get(isa, ISA_BUILDS["generic"])
    if isa not in ISA_BUILDS:  # setup.py names every build; elsewhere than x86-64 the extra two are portable
        module = f"pynn._core_{isa}"
    builder = FFI()
    builder.cdef(header_cdef(HEADER.read_text()))
    cflags, ldflags = compile_flags()
    builder.set_source(
        module,
        '#include "pynn.h"',
        sources=[str(p.relative_to(ROOT)) for p in sorted(CSRC.glob("*.c"))],
        include_dirs=[str(CSRC.relative_to(ROOT))],
        extra_compile_args=cflags + isa_flags,
        extra_link_args=ldflags,
    )
    return builder


ffibuilder = isa_builder("generic")
ffibuilder_avx2 = isa_builder("avx2")
ffibuilder_avx512 = isa_builder("avx512")


def build_in_place() -> list[Path]:
    """Compiles the core, every ISA's build of it, into the pynn/ beside this file. The build runs in a scratch folder under build/, so
    an older setuptools never reads the checkout's pyproject.toml (it refused the license field), and the
    module is then moved in at once: a failed build leaves the old one, and no process imports half a file."""
    (ROOT / "build").mkdir(exist_ok=True)
    targets = []
    for isa in ISA_BUILDS:
        with tempfile.TemporaryDirectory(dir=ROOT / "build") as scratch:
            shutil.copytree(CSRC, Path(scratch) / "csrc")  # the sources' relative paths, and objects, live here
            cwd = os.getcwd()
            os.chdir(scratch)
            try:
                built = Path(isa_builder(isa).compile(tmpdir=".", verbose=True))
            finally:
                os.chdir(cwd)
            target = ROOT / "pynn" / built.name
            os.replace(built, target)
            targets.append(target)
    return targets


if __name__ == "__main__":  # `python -m pynn._build` (or `python pynn/_build.py`) builds in place
    print("built " + ", ".join(map(str, build_in_place())))
