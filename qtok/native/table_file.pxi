# The compiled-table file: the finished tables of a vocabulary, saved flat and
# read back with a few fread calls instead of being built again.
#
# Building the tables from a tiktoken file is mostly the pair table, and
# takes about four times as long as reading them back (docs/design.md).
# qtok/table_cache.py decides where the files live and when one is used.
#
# Layout, all little-endian: a 192-byte header -- magic, format version,
# counts and sizes, a checksum(), then the 32-byte digest of what the tables
# were built from (the vocabulary file's bytes and the special tokens) and the
# 64-character id of the qtok build that wrote them -- then the payload, the
# parts table_file_parts() lists, in its order.  The checksum covers the
# digest, the build id and the payload, and a file is used only when its
# digest and build id are the reader's own: a valid file of another
# vocabulary, or of a build whose tables differ, is never loaded.  Engine
# code: the binding opens the file and words the errors.

cdef enum:
    TABLE_FILE_HEADER = 192
    TABLE_FILE_HEADER_WORDS = 24  # TABLE_FILE_HEADER / 8
    TABLE_FILE_COUNTS = 96        # the counts and sizes; then the digest and the build id
    TABLE_FILE_DIGEST = 32
    TABLE_FILE_BUILD = 64
    TABLE_FILE_FORMAT = 6
    TABLE_FILE_PARTS = 10

cdef const char* TABLE_FILE_MAGIC = b"QTOKTBL\x01"


cdef enum TableFileStatus:
    TABLE_FILE_OK = 0
    TABLE_FILE_NOT_OURS       # no magic: not a qtok table file
    TABLE_FILE_UNSUPPORTED    # another format version, or sizes out of range
    TABLE_FILE_DAMAGED        # short, too long, or the checksum differs
    TABLE_FILE_OTHER_SOURCE   # built from another vocabulary or other special tokens
    TABLE_FILE_OTHER_BUILD    # written by another qtok build
    TABLE_FILE_NO_MEMORY


cdef struct TableCounts:
    # What the header records beside the tables themselves.
    uint32_t n_regular        # regular (mergeable) tokens
    uint32_t max_regular_rank
    uint32_t n_pairs          # entries of the pair table


cdef uint64_t tables_blob_size(const Tables* t) noexcept nogil:
    """Bytes of the blob in use: the end of the last token in it."""
    cdef uint64_t end = 0
    cdef uint32_t r
    for r in range(t.n_ids):
        if t.tok_len[r] and t.tok_start[r] + t.tok_len[r] > end:
            end = t.tok_start[r] + t.tok_len[r]
    return end


cdef void table_file_parts(const Tables* t, uint64_t blob_size, uint64_t slot_cap,
                           uint64_t pair_cap, void** parts, size_t* sizes) noexcept nogil:
    """The payload, in order: where each part lives and its size.  The writer
    and the reader both walk this one list."""
    parts[0] = <void*>t.byte_rank
    sizes[0] = 256 * sizeof(uint32_t)
    parts[1] = t.blob
    sizes[1] = blob_size
    parts[2] = t.tok_start
    sizes[2] = t.n_ids * sizeof(uint64_t)
    parts[3] = t.tok_len
    sizes[3] = t.n_ids * sizeof(uint32_t)
    parts[4] = t.slots
    sizes[4] = slot_cap * sizeof(Slot)
    parts[5] = t.pairs
    sizes[5] = pair_cap * sizeof(uint64_t)
    parts[6] = t.byte_pair
    sizes[6] = 65536 * sizeof(uint32_t)
    parts[7] = t.pair_filter
    sizes[7] = PAIR_FILTER_WORDS * sizeof(uint64_t)
    parts[8] = t.span_rank
    sizes[8] = 65536 * sizeof(uint32_t)
    parts[9] = t.char_unit
    sizes[9] = 65536 * sizeof(uint64_t)


cdef size_t table_file_size(const Tables* t) noexcept nogil:
    """The size of the file table_file_write makes of t."""
    cdef void* parts[TABLE_FILE_PARTS]
    cdef size_t sizes[TABLE_FILE_PARTS]
    cdef size_t total = TABLE_FILE_HEADER
    cdef int k
    table_file_parts(t, tables_blob_size(t), t.slot_mask + 1, t.pair_mask + 1, parts, sizes)
    for k in range(TABLE_FILE_PARTS):
        total += sizes[k]
    return total


cdef void table_file_write(const Tables* t, const TableCounts* counts, const uint8_t* digest,
                           uint8_t* o) noexcept nogil:
    """The file's bytes into o, which holds table_file_size(t) bytes; digest
    is the TABLE_FILE_DIGEST bytes of what t was built from."""
    cdef uint64_t blob_size = tables_blob_size(t)
    cdef uint64_t slot_cap = t.slot_mask + 1, pair_cap = t.pair_mask + 1
    cdef void* parts[TABLE_FILE_PARTS]
    cdef size_t sizes[TABLE_FILE_PARTS]
    cdef uint64_t h = TABLE_FILE_FORMAT
    cdef uint64_t* hdr = <uint64_t*>o
    cdef uint8_t* q = o + TABLE_FILE_HEADER
    cdef int k
    table_file_parts(t, blob_size, slot_cap, pair_cap, parts, sizes)
    memset(o, 0, TABLE_FILE_HEADER)
    memcpy(o, TABLE_FILE_MAGIC, 8)
    hdr[1] = TABLE_FILE_FORMAT
    hdr[2] = t.n_ids
    hdr[3] = t.max_token_len
    hdr[4] = counts.n_regular
    hdr[5] = counts.max_regular_rank
    hdr[6] = counts.n_pairs
    hdr[7] = blob_size
    hdr[8] = slot_cap
    hdr[9] = pair_cap
    memcpy(o + TABLE_FILE_COUNTS, digest, TABLE_FILE_DIGEST)
    memcpy(o + TABLE_FILE_COUNTS + TABLE_FILE_DIGEST, BUILD_ID, TABLE_FILE_BUILD)
    h = checksum(h, o + TABLE_FILE_COUNTS, TABLE_FILE_HEADER - TABLE_FILE_COUNTS)
    for k in range(TABLE_FILE_PARTS):
        memcpy(q, parts[k], sizes[k])
        h = checksum(h, q, sizes[k])
        q += sizes[k]
    hdr[10] = h


cdef uint64_t read_part(FILE* f, void* dest, size_t n, uint64_t h) noexcept nogil:
    """Read n bytes into dest and chain their checksum onto h (a short read
    leaves a mismatching checksum behind)."""
    if fread(dest, 1, n, f) != n:
        return h ^ 0xBADBADBADULL
    return checksum(h, <const uint8_t*>dest, n)


cdef int table_file_read(FILE* f, Tables* t, TableCounts* counts,
                         const uint8_t* digest) noexcept nogil:
    """Read a table file into t (empty; tables_free it after an error too),
    if it was built from what digest names and by this build.  The tables
    tables_finish derives are not in the file."""
    cdef uint64_t hdr[TABLE_FILE_HEADER_WORDS]
    cdef const uint8_t* bound = <const uint8_t*>hdr + TABLE_FILE_COUNTS
    cdef uint64_t n_ids, blob_size, slot_cap, pair_cap, h = TABLE_FILE_FORMAT
    cdef uint8_t extra
    cdef void* parts[TABLE_FILE_PARTS]
    cdef size_t sizes[TABLE_FILE_PARTS]
    cdef BuildError err
    cdef int k
    if fread(hdr, 1, TABLE_FILE_HEADER, f) != TABLE_FILE_HEADER or memcmp(hdr, TABLE_FILE_MAGIC, 8) != 0:
        return TABLE_FILE_NOT_OURS
    if memcmp(bound, digest, TABLE_FILE_DIGEST) != 0:
        return TABLE_FILE_OTHER_SOURCE
    if memcmp(bound + TABLE_FILE_DIGEST, BUILD_ID, TABLE_FILE_BUILD) != 0:
        return TABLE_FILE_OTHER_BUILD
    h = checksum(h, bound, TABLE_FILE_HEADER - TABLE_FILE_COUNTS)
    n_ids, blob_size, slot_cap, pair_cap = hdr[2], hdr[7], hdr[8], hdr[9]
    if (hdr[1] != TABLE_FILE_FORMAT or n_ids == 0 or n_ids >= ID_MASK or blob_size >= 0xFFFFFFFFULL
            or hdr[3] > MAX_TOKEN_BYTES
            or slot_cap == 0 or slot_cap & (slot_cap - 1) or slot_cap > (1ULL << 32)
            or pair_cap == 0 or pair_cap & (pair_cap - 1) or pair_cap > (1ULL << 32)):
        return TABLE_FILE_UNSUPPORTED
    if tables_allocate(t, <uint32_t>n_ids, blob_size, &err) < 0:
        return TABLE_FILE_NO_MEMORY
    t.slots = <Slot*>table_alloc(slot_cap * sizeof(Slot), False)
    t.pairs = <uint64_t*>table_alloc(pair_cap * 8, False)
    t.byte_pair = <uint32_t*>malloc(65536 * 4)
    t.pair_filter = <uint64_t*>malloc(PAIR_FILTER_WORDS * sizeof(uint64_t))
    t.span_rank = <uint32_t*>malloc(65536 * sizeof(uint32_t))
    t.char_unit = <uint64_t*>malloc(65536 * sizeof(uint64_t))
    if (t.slots == NULL or t.pairs == NULL or t.byte_pair == NULL or t.pair_filter == NULL
            or t.span_rank == NULL or t.char_unit == NULL):
        return TABLE_FILE_NO_MEMORY
    table_file_parts(t, blob_size, slot_cap, pair_cap, parts, sizes)
    for k in range(TABLE_FILE_PARTS):
        h = read_part(f, parts[k], sizes[k], h)
    if h != hdr[10] or fread(&extra, 1, 1, f) != 0:
        return TABLE_FILE_DAMAGED
    t.max_token_len = <uint32_t>hdr[3]
    t.slot_mask = slot_cap - 1
    t.pair_mask = pair_cap - 1
    counts.n_regular = <uint32_t>hdr[4]
    counts.max_regular_rank = <uint32_t>hdr[5]
    counts.n_pairs = <uint32_t>hdr[6]
    return TABLE_FILE_OK
