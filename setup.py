"""Build qtok's Cython extension.  Metadata lives in pyproject.toml."""
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

compile_args = ["-O3"] if sys.platform != "win32" else ["/O2"]

extensions = [
    Extension(
        "qtok._bpe",
        sources=["qtok/_bpe.pyx"],
        include_dirs=["qtok"],
        extra_compile_args=compile_args,
        define_macros=[("CYTHON_USE_TYPE_SPECS", "0")],
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={"language_level": "3"},
    ),
)
