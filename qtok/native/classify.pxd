# Declarations of qtok/include/qtok/classify.h: the byte classes of 64 bytes.
from libc.stdint cimport uint8_t, uint64_t

cdef extern from "qtok/classify.h" nogil:
    ctypedef struct Block "qtok_block":
        uint64_t letter, digit, space, newline, blank, quote, high, spill
    void classify64 "qtok_classify64"(const uint8_t* p, Block* b)
    void classify64_sse2 "qtok_classify64_sse2"(const uint8_t* p, Block* b)
    void classify64_avx2 "qtok_classify64_avx2"(const uint8_t* p, Block* b)
    void classify64_bytes "qtok_classify64_bytes"(const uint8_t* p, Block* b)
    void classify_init "qtok_classify_init"()
    bint classify_has_avx2 "qtok_classify_has_avx2"()
