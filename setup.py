"""Build qtok's Cython extensions.  Metadata lives in pyproject.toml.

The native core needs a POSIX system, GCC or Clang, and a little-endian CPU
(qtok/include/qtok/platform.h says why); elsewhere the build stops with a
message saying so.
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

if os.name != "posix":
    sys.exit("qtok's native core needs a POSIX system (Linux, macOS, BSD) with GCC or Clang; "
             f"this is {sys.platform}")
if sys.byteorder != "little":
    sys.exit("qtok's native core assumes a little-endian CPU")

# qtok._nfc's table describes the code points as this Python's unicodedata
# sees them, so it is made here, for the Python being built for.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
from gen_nfc_table import write_table  # noqa: E402

write_table(os.path.join("qtok", "_nfc_table.h"))

compile_args = ["-O3", "-Wall", "-Wno-unused-function", "-Wno-unreachable-code"]
include_dirs = ["qtok", "qtok/include"]

extensions = [
    Extension(
        "qtok._bpe",
        sources=["qtok/_bpe.pyx"],
        include_dirs=include_dirs,
        extra_compile_args=compile_args,
        define_macros=[("CYTHON_USE_TYPE_SPECS", "0")],
    ),
    Extension(
        "qtok._nfc",
        sources=["qtok/_nfc.pyx"],
        include_dirs=include_dirs,
        extra_compile_args=compile_args,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
