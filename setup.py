# setuptools reads everything else from pyproject.toml; this file declares the cffi-built core and the packages.
from setuptools import find_packages, setup

# The terminal front end lives in the folder tui/ but installs as pynn_tui: "tui" is a name other projects use.
# Packages are found, not listed, so a new subpackage (tui.screens was one) cannot be left out of the wheel.
FRONT_END = {"pynn_tui" + name[len("tui"):] for name in find_packages(include=["tui", "tui.*"])}

setup(
    # the core once per instruction set (pynn/_build.py); pynn.core loads the widest the processor runs
    cffi_modules=["pynn/_build.py:ffibuilder", "pynn/_build.py:ffibuilder_avx2", "pynn/_build.py:ffibuilder_avx512"],
    packages=sorted(find_packages(include=["pynn", "pynn.*"]) + list(FRONT_END)),
    package_dir={"pynn_tui": "tui"},
)
