# setuptools reads everything else from pyproject.toml; this file only declares the cffi-built core.
from setuptools import setup

setup(cffi_modules=["pynn/_build.py:ffibuilder"])
