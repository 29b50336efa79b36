"""Build qtok's Cython extension.  Metadata lives in pyproject.toml."""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

# qtok._nfc's table describes the code points as this Python's unicodedata
# sees them, so it is made here, for the Python being built for.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
from gen_nfc_table import write_table  # noqa: E402

write_table(os.path.join("qtok", "_nfc_table.h"))

compile_args = ["-O3"] if sys.platform != "win32" else ["/O2"]

extensions = [
    Extension(
        "qtok._bpe",
        sources=["qtok/_bpe.pyx"],
        include_dirs=["qtok"],
        extra_compile_args=compile_args,
        define_macros=[("CYTHON_USE_TYPE_SPECS", "0")],
    ),
    Extension(
        "qtok._nfc",
        sources=["qtok/_nfc.pyx"],
        include_dirs=["qtok"],
        extra_compile_args=compile_args,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
