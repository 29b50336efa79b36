# Declarations of qtok/include/qtok/utf8.h.
from libc.stdint cimport uint8_t, uint32_t

cdef extern from "qtok/utf8.h" nogil:
    uint32_t next_cp "qtok_next_cp"(const uint8_t* s, size_t i, size_t* width)
    size_t utf8_room "qtok_utf8_room"(int kind, size_t n)
    size_t utf8_write "qtok_utf8_write"(int kind, const void* data, size_t n, uint8_t* out)
    void utf8_init "qtok_utf8_init"()
