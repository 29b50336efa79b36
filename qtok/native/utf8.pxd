# Declarations of qtok/include/qtok/utf8.h.
from libc.stdint cimport uint8_t, uint32_t

cdef extern from "qtok/utf8.h" nogil:
    uint32_t next_cp "qtok_next_cp"(const uint8_t* s, size_t i, size_t* width)
