# Declarations of qtok/include/qtok/arrow_c.h: the Arrow C data and stream
# interfaces, through which columns arrive from pyarrow, polars, DuckDB, ...

from libc.stdint cimport int64_t

cdef extern from "qtok/arrow_c.h" nogil:
    struct ArrowSchema:
        const char* format
        const char* name
        int64_t n_children
        ArrowSchema** children
        ArrowSchema* dictionary
        void* release

    struct ArrowArray:
        int64_t length
        int64_t null_count
        int64_t offset
        int64_t n_buffers
        int64_t n_children
        const void** buffers
        ArrowArray** children
        ArrowArray* dictionary
        void* release

    struct ArrowArrayStream:
        void* release

    void release_schema "qtok_release_schema"(ArrowSchema* s)
    void release_array "qtok_release_array"(ArrowArray* a)
    void release_stream "qtok_release_stream"(ArrowArrayStream* s)
    int stream_schema "qtok_stream_schema"(ArrowArrayStream* s, ArrowSchema* out)
    int stream_next "qtok_stream_next"(ArrowArrayStream* s, ArrowArray* out)
    const char* stream_error "qtok_stream_error"(ArrowArrayStream* s)
