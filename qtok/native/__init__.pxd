# Makes qtok.native a Cython package, so that _bpe.pyx can cimport the
# declarations of the C headers from it (nothing here is a Python module).
