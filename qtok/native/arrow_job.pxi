# Encoding the rows of an Arrow column on native threads (ArrowRows in,
# one flat buffer of ids and its offsets out).
#
# The rows are cut into units of about UNIT_BYTES; threads take the next
# unit from a shared counter and append the ids of its rows to the unit's
# own vector, writing each row's count.  A row the native path must not
# decide alone -- one that may spell a special token, is not valid UTF-8, or
# that the NFC check does not pass -- is marked ROW_DEFERRED and left to the
# calling thread, which encodes it through Python afterwards (its error, for
# invalid UTF-8, names the row).  Then the units are copied, in order, into
# one buffer of exactly the ids' size: the array handed to pyarrow.

cdef enum:
    UNIT_BYTES = 65536
    ROW_DEFERRED = -2


cdef struct RowsJob:
    const Tables* t
    const RowSpan* rows
    int64_t n_rows
    int64_t* unit_starts      # n_units + 1 row indices
    int64_t n_units
    size_t next_unit          # shared; advanced with an atomic fetch-and-add
    TokenVec* unit_ids        # one per unit; NULL when only counting
    int64_t* counts           # per row: its ids, ROW_NULL or ROW_DEFERRED
    bint check_nfc
    const uint8_t* special_first   # 256 flags: bytes a special token may start with; NULL: none
    PieceCache** caches       # one per thread
    size_t next_worker
    int status


cdef inline size_t first_non_ascii(const uint8_t* s, size_t n) noexcept nogil:
    cdef size_t i = 0
    cdef uint64_t w
    while i + 8 <= n:
        memcpy(&w, s + i, 8)
        if w & 0x8080808080808080ULL:
            break
        i += 8
    while i < n and s[i] < 0x80:
        i += 1
    return i


cdef Py_ssize_t utf8_code_points(const uint8_t* s, size_t n, uint32_t* out) noexcept nogil:
    """Decode strict UTF-8 (no overlong forms, surrogates or values past
    U+10FFFF) into out (room for n), or only check it when out is NULL: the
    number of code points, or -1 if s is not UTF-8."""
    cdef size_t i = 0
    cdef Py_ssize_t k = 0
    cdef uint32_t c, b1, b2, b3
    cdef uint8_t b
    while i < n:
        b = s[i]
        if b < 0x80:
            c = b
            i += 1
        elif 0xC2 <= b <= 0xDF:
            if i + 1 >= n or (s[i + 1] & 0xC0) != 0x80:
                return -1
            c = ((b & 0x1F) << 6) | (s[i + 1] & 0x3F)
            i += 2
        elif 0xE0 <= b <= 0xEF:
            if i + 2 >= n:
                return -1
            b1, b2 = s[i + 1], s[i + 2]
            if (b1 & 0xC0) != 0x80 or (b2 & 0xC0) != 0x80:
                return -1
            if (b == 0xE0 and b1 < 0xA0) or (b == 0xED and b1 > 0x9F):
                return -1                       # overlong, or a surrogate
            c = ((b & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F)
            i += 3
        elif 0xF0 <= b <= 0xF4:
            if i + 3 >= n:
                return -1
            b1, b2, b3 = s[i + 1], s[i + 2], s[i + 3]
            if (b1 & 0xC0) != 0x80 or (b2 & 0xC0) != 0x80 or (b3 & 0xC0) != 0x80:
                return -1
            if (b == 0xF0 and b1 < 0x90) or (b == 0xF4 and b1 > 0x8F):
                return -1                       # overlong, or past U+10FFFF
            c = ((b & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6) | (b3 & 0x3F)
            i += 4
        else:
            return -1
        if out != NULL:
            out[k] = c
        k += 1
    return k


cdef bint may_hold_special(const uint8_t* first, const uint8_t* s, size_t n) noexcept nogil:
    cdef size_t i
    for i in range(n):
        if first[s[i]]:
            return True
    return False


cdef int row_is_plain(RowsJob* job, const uint8_t* s, size_t n, uint32_t** scratch,
                      size_t* scratch_cap) noexcept nogil:
    """1 if the native path may encode the row as it is: no special token
    can be in it, it is UTF-8, and (when normalizing) certainly NFC.  0 to
    defer it; -1 when out of memory."""
    cdef size_t i
    cdef Py_ssize_t m
    cdef uint32_t* grown
    if job.special_first != NULL and may_hold_special(job.special_first, s, n):
        return 0
    i = first_non_ascii(s, n)
    if i == n:
        return 1                                # ASCII: UTF-8 and NFC
    if not job.check_nfc:
        return utf8_code_points(s + i, n - i, NULL) >= 0
    # The ASCII prefix is inert: the check starts at its last character,
    # the starter a mark after it would join.
    if i > 0:
        i -= 1
    if n - i > scratch_cap[0]:
        grown = <uint32_t*>realloc(scratch[0], (n - i) * sizeof(uint32_t))
        if grown == NULL:
            return -1
        scratch[0] = grown
        scratch_cap[0] = n - i
    m = utf8_code_points(s + i, n - i, scratch[0])
    if m < 0:
        return 0
    return is_nfc_data(4, scratch[0], m, True)


cdef void* rows_worker(void* arg) noexcept nogil:
    cdef RowsJob* job = <RowsJob*>arg
    cdef PieceCache* cache = job.caches[atomic_fetch_add(&job.next_worker, 1)]
    cdef TokenVec counting = TokenVec(NULL, 0, 0)
    cdef TokenVec* out
    cdef uint32_t* scratch = NULL
    cdef size_t scratch_cap = 0, before, u
    cdef int64_t r
    cdef int plain
    while job.status == 0:
        u = atomic_fetch_add(&job.next_unit, 1)
        if u >= <size_t>job.n_units:
            break
        out = &job.unit_ids[u] if job.unit_ids != NULL else &counting
        for r in range(job.unit_starts[u], job.unit_starts[u + 1]):
            if job.rows[r].n < 0:
                job.counts[r] = ROW_NULL
                continue
            plain = row_is_plain(job, job.rows[r].data, job.rows[r].n, &scratch, &scratch_cap)
            if plain == 0:
                job.counts[r] = ROW_DEFERRED
                continue
            before = out.len
            if plain < 0 or encode_utf8(job.t, cache, job.rows[r].data, job.rows[r].n, out) < 0:
                atomic_store_int(&job.status, -1)
                break
            job.counts[r] = out.len - before
            if job.unit_ids == NULL:
                out.len = 0
    free(scratch)
    free(counting.data)
    return NULL


cdef int64_t rows_units(RowsJob* job) noexcept nogil:
    """Cut the rows into units of about UNIT_BYTES (at least one row each);
    the number of units, or -1 when out of memory."""
    cdef int64_t r, n = 0, size = 0
    job.unit_starts = <int64_t*>malloc((job.n_rows + 2) * sizeof(int64_t))
    if job.unit_starts == NULL:
        return -1
    job.unit_starts[0] = 0
    for r in range(job.n_rows):
        if job.rows[r].n > 0:
            size += job.rows[r].n
        if size >= UNIT_BYTES:
            n += 1
            job.unit_starts[n] = r + 1
            size = 0
    if job.unit_starts[n] < job.n_rows:
        n += 1
        job.unit_starts[n] = job.n_rows
    job.n_units = n
    return n


cdef int rows_run(RowsJob* job, CachePool* pool, int n_threads) noexcept nogil:
    """Run the job on n_threads (the calling thread one of them); -1 when out of memory."""
    cdef BatchThreads th
    cdef int k
    memset(&th, 0, sizeof(BatchThreads))
    th.n = n_threads
    th.threads = <pthread_t*>calloc(n_threads, sizeof(pthread_t))
    th.started = <int*>calloc(n_threads, sizeof(int))
    th.slots = <int*>calloc(n_threads, sizeof(int))
    job.caches = <PieceCache**>calloc(n_threads, sizeof(PieceCache*))
    if th.threads == NULL or th.started == NULL or th.slots == NULL or job.caches == NULL:
        free(job.caches)
        job.caches = NULL
        batch_threads_free(&th, pool)
        return -1
    for k in range(n_threads):
        th.slots[k] = -1
    for k in range(n_threads):
        job.caches[k] = pool_acquire(pool, &th.slots[k], job.caches[0] if k > 0 else NULL)
    job.next_unit = 0
    job.next_worker = 0
    for k in range(1, n_threads):
        th.started[k] = thread_create(&th.threads[k], rows_worker, job) == 0
    rows_worker(job)
    batch_join(&th)
    batch_threads_free(&th, pool)
    free(job.caches)
    job.caches = NULL
    return job.status


cdef void rows_job_free(RowsJob* job) noexcept nogil:
    cdef int64_t u
    if job.unit_ids != NULL:
        for u in range(job.n_units):
            free(job.unit_ids[u].data)
    free(job.unit_ids)
    free(job.unit_starts)
    free(job.counts)
    memset(job, 0, sizeof(RowsJob))


cdef struct DeferredIds:
    int64_t row
    const uint32_t* ids
    int64_t n


cdef int rows_assemble(RowsJob* job, const DeferredIds* deferred, int64_t n_deferred,
                       bint large, void* offsets, uint32_t* values) noexcept nogil:
    """Copy every row's ids, in order, into values, and their offsets
    (int32, or int64 when large) into offsets; each unit's vector is freed
    once copied, so the ids are not held twice for long."""
    cdef int64_t u, r, pos = 0, d = 0, n
    cdef size_t taken
    cdef const uint32_t* src
    for u in range(job.n_units):
        taken = 0
        for r in range(job.unit_starts[u], job.unit_starts[u + 1]):
            if large:
                (<int64_t*>offsets)[r] = pos
            else:
                (<int32_t*>offsets)[r] = <int32_t>pos
            n = job.counts[r]
            if n == ROW_NULL:
                continue
            if n == ROW_DEFERRED:
                if d >= n_deferred or deferred[d].row != r:
                    return -1
                src = deferred[d].ids
                n = deferred[d].n
                d += 1
            else:
                src = job.unit_ids[u].data + taken
                taken += n
            if n:
                memcpy(values + pos, src, n * sizeof(uint32_t))
            pos += n
        free(job.unit_ids[u].data)
        job.unit_ids[u].data = NULL
    if large:
        (<int64_t*>offsets)[job.n_rows] = pos
    else:
        (<int32_t*>offsets)[job.n_rows] = <int32_t>pos
    return 0


cdef uint8_t* validity_bitmap(const RowSpan* rows, int64_t n) noexcept nogil:
    """Arrow's validity bitmap of the rows (bit i set for a row that is not
    null); NULL when out of memory."""
    cdef uint8_t* bitmap = <uint8_t*>calloc((n + 7) // 8 + 1, 1)
    cdef int64_t i
    if bitmap == NULL:
        return NULL
    for i in range(n):
        if rows[i].n >= 0:
            bitmap[i >> 3] |= 1 << (i & 7)
    return bitmap
