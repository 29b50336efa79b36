/* The Arrow C data interface: the three structs through which pyarrow,
 * polars, DuckDB and others hand columns to native code without a library
 * in common (https://arrow.apache.org/docs/format/CDataInterface.html and
 * CStreamInterface.html).  Their layout is the interface's ABI; the guards
 * are the ones the specification asks for, so a file that also includes
 * Arrow's own header sees each struct once. */
#ifndef QTOK_ARROW_C_H
#define QTOK_ARROW_C_H

#include <stdint.h>

#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

struct ArrowSchema {
    const char* format;          /* "u": utf8, "U": large utf8, "vu": utf8 view, ... */
    const char* name;
    const char* metadata;
    int64_t flags;
    int64_t n_children;
    struct ArrowSchema** children;
    struct ArrowSchema* dictionary;
    void (*release)(struct ArrowSchema*);   /* NULL once released */
    void* private_data;
};

struct ArrowArray {
    int64_t length;
    int64_t null_count;          /* -1 when not computed */
    int64_t offset;              /* of the first row, in every buffer */
    int64_t n_buffers;
    int64_t n_children;
    const void** buffers;        /* buffers[0] is the validity bitmap, or NULL */
    struct ArrowArray** children;
    struct ArrowArray* dictionary;
    void (*release)(struct ArrowArray*);
    void* private_data;
};

#endif /* ARROW_C_DATA_INTERFACE */

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE

struct ArrowArrayStream {
    int (*get_schema)(struct ArrowArrayStream*, struct ArrowSchema* out);
    /* 0 and out->release == NULL at the end of the stream */
    int (*get_next)(struct ArrowArrayStream*, struct ArrowArray* out);
    const char* (*get_last_error)(struct ArrowArrayStream*);
    void (*release)(struct ArrowArrayStream*);
    void* private_data;
};

#endif /* ARROW_C_STREAM_INTERFACE */

/* Calls through the structs' function pointers (Cython cannot call a
 * function pointer held in an extern struct's field directly). */
static inline void qtok_release_schema(struct ArrowSchema* s) { if (s->release) s->release(s); }
static inline void qtok_release_array(struct ArrowArray* a) { if (a->release) a->release(a); }
static inline void qtok_release_stream(struct ArrowArrayStream* s) { if (s->release) s->release(s); }
static inline int qtok_stream_schema(struct ArrowArrayStream* s, struct ArrowSchema* out) {
    return s->get_schema(s, out);
}
static inline int qtok_stream_next(struct ArrowArrayStream* s, struct ArrowArray* out) {
    return s->get_next(s, out);
}
static inline const char* qtok_stream_error(struct ArrowArrayStream* s) {
    return s->get_last_error ? s->get_last_error(s) : NULL;
}

#endif /* QTOK_ARROW_C_H */
