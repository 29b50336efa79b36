# Declarations of qtok/include/qtok/memory.h: the tables' and the piece
# caches' memory, offered as huge pages.

cdef extern from "qtok/memory.h" nogil:
    void* table_alloc "qtok_table_alloc"(size_t n, bint zero)
    void* cache_alloc "qtok_cache_alloc"(size_t n)
    void cache_free "qtok_cache_free"(void* p, size_t n)
