# Declarations of qtok/include/qtok/find_units.h.
from libc.stdint cimport uint32_t

cdef extern from "qtok/find_units.h" nogil:
    uint32_t unit_at "qtok_unit_at"(int kind, const void* data, size_t i)
    int holds_pair "qtok_holds_pair"(int kind, const void* data, size_t n, uint32_t first,
                                     const uint32_t* seconds, size_t k)
