# Arrow string columns in: the rows of a column as spans of UTF-8 in the
# producer's own buffers, through the Arrow C data interface (arrow_c.h).
#
# A column arrives as a PyCapsule from its __arrow_c_stream__ (a stream of
# arrays: pyarrow ChunkedArray, polars Series, DuckDB results) or
# __arrow_c_array__ (one array).  Each array is moved out of its capsule
# into an ArrowRows, which releases it when it goes, so the spans stay valid
# as long as the ArrowRows lives; no str is made for any row, and nothing
# here needs pyarrow.  Three layouts are read: utf8 ("u", 32-bit offsets),
# large_utf8 ("U", 64-bit offsets) and utf8_view ("vu", 16-byte views with
# short strings inline).  The producer's offsets and views are checked
# against each other before any byte is read, so a damaged column is an
# error, never a read out of bounds.

from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid


cdef struct RowSpan:
    const uint8_t* data
    int64_t n                 # bytes; -1 for a null row


cdef enum:
    ROW_NULL = -1
    VIEW_INLINE = 12          # a view of at most this many bytes holds them itself


cdef inline bint bit_set(const uint8_t* bitmap, int64_t i) noexcept nogil:
    return (bitmap[i >> 3] >> (i & 7)) & 1


cdef class ArrowRows:
    """The rows of an Arrow string column (see the top of arrow_rows.pxi)."""
    cdef RowSpan* rows
    cdef readonly int64_t n_rows
    cdef readonly int64_t n_nulls
    cdef readonly int64_t total_bytes
    cdef int64_t cap_rows
    cdef ArrowArray* chunks   # moved out of their capsules; released in __dealloc__
    cdef int64_t n_chunks
    cdef int64_t cap_chunks
    cdef readonly str format
    cdef bint in_struct       # a one-column table (struct) whose column is the strings

    def __cinit__(self):
        self.rows = NULL
        self.chunks = NULL

    def __dealloc__(self):
        cdef int64_t i
        for i in range(self.n_chunks):
            release_array(&self.chunks[i])
        free(self.chunks)
        free(self.rows)

    @staticmethod
    def from_stream(capsule):
        """The rows of every array of an "arrow_array_stream" capsule."""
        cdef ArrowRows self = ArrowRows()
        cdef ArrowArrayStream* source
        cdef ArrowArrayStream stream
        cdef ArrowSchema schema
        cdef ArrowArray chunk
        cdef int status
        if not PyCapsule_IsValid(capsule, b"arrow_array_stream"):
            raise TypeError("__arrow_c_stream__ did not return an arrow_array_stream capsule")
        source = <ArrowArrayStream*>PyCapsule_GetPointer(capsule, b"arrow_array_stream")
        if source.release == NULL:
            raise ValueError("the Arrow stream was already consumed")
        # Moved out of the capsule, as the interface asks of a consumer: the
        # capsule no longer releases it, this reader does, when done.
        memcpy(&stream, source, sizeof(ArrowArrayStream))
        source.release = NULL
        try:
            memset(&schema, 0, sizeof(ArrowSchema))
            status = stream_schema(&stream, &schema)
            if status != 0:
                raise ValueError(f"the Arrow stream gave no schema: {_stream_error(&stream, status)}")
            try:
                self._take_schema(&schema)
            finally:
                release_schema(&schema)
            while True:
                memset(&chunk, 0, sizeof(ArrowArray))
                status = stream_next(&stream, &chunk)
                if status != 0:
                    raise ValueError(f"the Arrow stream failed: {_stream_error(&stream, status)}")
                if chunk.release == NULL:
                    break                       # the end of the stream
                self._take_chunk(&chunk)
        finally:
            release_stream(&stream)
        return self

    @staticmethod
    def from_array(schema_capsule, array_capsule):
        """The rows of the array of an ("arrow_schema", "arrow_array") pair."""
        cdef ArrowRows self = ArrowRows()
        cdef ArrowSchema* schema
        cdef ArrowArray* array
        if not (PyCapsule_IsValid(schema_capsule, b"arrow_schema")
                and PyCapsule_IsValid(array_capsule, b"arrow_array")):
            raise TypeError("__arrow_c_array__ did not return (arrow_schema, arrow_array) capsules")
        schema = <ArrowSchema*>PyCapsule_GetPointer(schema_capsule, b"arrow_schema")
        array = <ArrowArray*>PyCapsule_GetPointer(array_capsule, b"arrow_array")
        if array.release == NULL:
            raise ValueError("the Arrow array was already consumed")
        self._take_schema(schema)
        self._take_chunk(array)
        return self

    cdef int _take_schema(self, ArrowSchema* schema) except -1:
        fmt = (<bytes>schema.format).decode("utf-8", "replace") if schema.format != NULL else ""
        if fmt == "+s" and schema.n_children == 1 and schema.children != NULL:
            # A table (or DuckDB relation) of one column: that column.
            self.in_struct = True
            return self._take_schema(schema.children[0])
        if fmt == "+s":
            raise TypeError(f"expected an Arrow string column, got a table of "
                            f"{schema.n_children} columns: pass one column")
        if schema.dictionary != NULL:
            raise TypeError("expected an Arrow string column, got a dictionary-encoded one; "
                            "decode it first (pyarrow: column.dictionary_decode(); "
                            "polars: series.cast(pl.String))")
        if fmt not in ("u", "U", "vu"):
            raise TypeError(f"expected an Arrow string column (utf8, large_utf8 or utf8_view), "
                            f"got Arrow format {fmt!r} ({_FORMAT_NAMES.get(fmt[:2], 'another type')})")
        self.format = fmt
        return 0

    cdef int _take_chunk(self, ArrowArray* source) except -1:
        """Move source into self.chunks (source is left released) and add its rows."""
        cdef ArrowArray* chunk
        cdef ArrowArray* grown
        if self.n_chunks == self.cap_chunks:
            self.cap_chunks = self.cap_chunks * 2 + 4
            grown = <ArrowArray*>realloc(self.chunks, self.cap_chunks * sizeof(ArrowArray))
            if grown == NULL:
                release_array(source)
                raise MemoryError()
            self.chunks = grown
        chunk = &self.chunks[self.n_chunks]
        memcpy(chunk, source, sizeof(ArrowArray))
        source.release = NULL                   # moved: its capsule no longer releases it
        self.n_chunks += 1
        if chunk.length < 0 or chunk.offset < 0:
            raise ValueError("a damaged Arrow array: negative length or offset")
        if chunk.length == 0:
            return 0
        self._reserve(chunk.length)
        cdef ArrowArray* strings = chunk
        cdef const uint8_t* outer_valid = NULL
        cdef int64_t outer_offset = 0
        if self.in_struct:
            if chunk.n_children != 1 or chunk.children == NULL or chunk.children[0] == NULL:
                raise ValueError("a damaged Arrow table: not one column")
            strings = chunk.children[0]
            outer_valid = <const uint8_t*>chunk.buffers[0] if chunk.n_buffers >= 1 else NULL
            outer_offset = chunk.offset
            if strings.offset < 0 or strings.length < chunk.offset + chunk.length:
                raise ValueError("a damaged Arrow table: its column is shorter than the table")
        if self.format == "vu":
            self._add_views(strings, chunk.length, outer_offset, outer_valid)
        else:
            self._add_offsets(strings, self.format == "U", chunk.length, outer_offset, outer_valid)
        return 0

    cdef int _reserve(self, int64_t more) except -1:
        cdef RowSpan* grown
        cdef int64_t cap = self.cap_rows
        if self.n_rows + more <= cap:
            return 0
        while cap < self.n_rows + more:
            cap = cap * 2 + 1024
        grown = <RowSpan*>realloc(self.rows, cap * sizeof(RowSpan))
        if grown == NULL:
            raise MemoryError(f"no memory for the spans of {self.n_rows + more:,} rows")
        self.rows = grown
        self.cap_rows = cap
        return 0

    cdef int _add_offsets(self, ArrowArray* a, bint large, int64_t length, int64_t outer_offset,
                          const uint8_t* outer_valid) except -1:
        """Add rows outer_offset .. + length of the utf8 array a (outer_*: the
        table's own offset and validity, when a is a table's column)."""
        cdef const uint8_t* valid
        cdef const int32_t* off32
        cdef const int64_t* off64
        cdef const uint8_t* data
        cdef int64_t i, j, start, end, base = self.n_rows
        cdef RowSpan* row
        if a.n_buffers != 3 or a.buffers == NULL:
            raise ValueError(f"a damaged Arrow string array: {a.n_buffers} buffers, not 3")
        valid = <const uint8_t*>a.buffers[0]
        off32 = <const int32_t*>a.buffers[1]
        off64 = <const int64_t*>a.buffers[1]
        data = <const uint8_t*>a.buffers[2]
        if a.buffers[1] == NULL:
            raise ValueError("a damaged Arrow string array: no offsets buffer")
        for i in range(length):
            j = a.offset + outer_offset + i
            row = &self.rows[base + i]
            if (valid != NULL and not bit_set(valid, j)) or (
                    outer_valid != NULL and not bit_set(outer_valid, outer_offset + i)):
                row.data = NULL
                row.n = ROW_NULL
                self.n_nulls += 1
                continue
            if large:
                start, end = off64[j], off64[j + 1]
            else:
                start, end = off32[j], off32[j + 1]
            if start < 0 or end < start:
                raise ValueError(f"a damaged Arrow string array: row {base + i} has offsets "
                                 f"{start}..{end}")
            if end > start and data == NULL:
                raise ValueError("a damaged Arrow string array: no data buffer")
            row.data = data + start if data != NULL else <const uint8_t*>""
            row.n = end - start
            self.total_bytes += row.n
        self.n_rows += length
        return 0

    cdef int _add_views(self, ArrowArray* a, int64_t length, int64_t outer_offset,
                        const uint8_t* outer_valid) except -1:
        """As _add_offsets, for a utf8_view array."""
        cdef const uint8_t* valid
        cdef const uint8_t* views
        cdef const uint8_t* view
        cdef const int64_t* sizes
        cdef int64_t i, j, n_data, base = self.n_rows
        cdef int32_t view_length, buffer_index, offset
        cdef RowSpan* row
        if a.n_buffers < 3 or a.buffers == NULL:
            raise ValueError(f"a damaged Arrow string view array: {a.n_buffers} buffers")
        valid = <const uint8_t*>a.buffers[0]
        views = <const uint8_t*>a.buffers[1]
        n_data = a.n_buffers - 3                # validity, views, data..., sizes
        sizes = <const int64_t*>a.buffers[a.n_buffers - 1]
        if views == NULL:
            raise ValueError("a damaged Arrow string view array: no views buffer")
        for i in range(length):
            j = a.offset + outer_offset + i
            row = &self.rows[base + i]
            if (valid != NULL and not bit_set(valid, j)) or (
                    outer_valid != NULL and not bit_set(outer_valid, outer_offset + i)):
                row.data = NULL
                row.n = ROW_NULL
                self.n_nulls += 1
                continue
            view = views + 16 * j
            memcpy(&view_length, view, 4)
            if view_length < 0:
                raise ValueError(f"a damaged Arrow string view array: row {base + i} has length {view_length}")
            if view_length <= VIEW_INLINE:
                row.data = view + 4
            else:
                memcpy(&buffer_index, view + 8, 4)
                memcpy(&offset, view + 12, 4)
                if (buffer_index < 0 or buffer_index >= n_data or offset < 0 or sizes == NULL
                        or <int64_t>offset + view_length > sizes[buffer_index]
                        or a.buffers[2 + buffer_index] == NULL):
                    raise ValueError(f"a damaged Arrow string view array: row {base + i} points "
                                     f"outside its data buffers")
                row.data = <const uint8_t*>a.buffers[2 + buffer_index] + offset
            row.n = view_length
            self.total_bytes += view_length
        self.n_rows += length
        return 0

    def row_bytes(self, int64_t i):
        """The UTF-8 bytes of row i (None for a null row)."""
        if not 0 <= i < self.n_rows:
            raise IndexError(i)
        if self.rows[i].n < 0:
            return None
        return PyBytes_FromStringAndSize(<const char*>self.rows[i].data, self.rows[i].n)


_FORMAT_NAMES = {"z": "binary", "Z": "large binary", "vz": "binary view", "c": "int8",
                 "C": "uint8", "s": "int16", "S": "uint16", "i": "int32", "I": "uint32",
                 "l": "int64", "L": "uint64", "f": "float32", "g": "float64", "b": "bool",
                 "n": "null", "+l": "list", "+L": "large list", "+s": "struct (a table?)",
                 "+m": "map", "td": "date", "ts": "time", "tt": "timestamp"}


cdef str _stream_error(ArrowArrayStream* stream, int status):
    cdef const char* message = stream_error(stream)
    if message != NULL:
        return (<bytes>message).decode("utf-8", "replace")
    return f"error {status}"


# -- a native buffer handed to pyarrow without a copy ------------------------------------

cdef class NativeBuffer:
    """Bytes qtok allocated, exposed through the buffer protocol (pyarrow's
    py_buffer and numpy's frombuffer take them without a copy) and freed
    with the last reference."""
    cdef void* data
    cdef Py_ssize_t size
    cdef Py_ssize_t shape[1]

    def __cinit__(self):
        self.data = NULL
        self.size = 0

    def __dealloc__(self):
        free(self.data)

    def __len__(self):
        return self.size

    def __getbuffer__(self, Py_buffer* view, int flags):
        self.shape[0] = self.size
        view.buf = self.data
        if view.buf == NULL:
            view.buf = <void*>&self.shape[0]       # any valid address, for 0 bytes
        view.obj = self
        view.len = self.size
        view.readonly = 0
        view.itemsize = 1
        view.format = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = NULL
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer* view):
        pass


cdef NativeBuffer native_buffer(void* data, Py_ssize_t size):
    """Wrap data (malloc'ed, size bytes; owned from now on by the result)."""
    cdef NativeBuffer b = NativeBuffer()
    b.data = data
    b.size = size
    return b


from array import array as _py_array


cdef object _uint32_array(ids):
    """The ids a fallback returned, as a uint32 buffer."""
    return _py_array("I", ids)
