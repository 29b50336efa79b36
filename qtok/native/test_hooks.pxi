# Hooks for the tests and benchmarks: windows into the engine that the
# Python package itself never calls.  Each has a leading underscore; the
# tests reach them as qtok._bpe._name.


def _code_point_class(uint32_t cp):
    """Class bits of one code point (1 letter, 2 number, 4 whitespace)."""
    if cp >= MAX_CODE_POINT:
        raise ValueError(f"not a code point: {cp}")
    return CLASS_OF[cp]


def _split_pieces(str text not None, bint bulk=True):
    """split_pieces, and with bulk=False the same from piece_end alone,
    without the bulk scanner's windows."""
    return scan_pieces(text, bulk)


def _bulk_coverage(str text not None):
    """How many bytes of text's UTF-8 the bulk scanner's windows cover, and
    how many windows there are: (bytes, windows).  For tests and for seeing
    which text the bulk scanner helps; the rest goes through piece_end."""
    cdef Py_ssize_t size
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &size)
    cdef size_t n = <size_t>size, i = 0, limit = 0, covered = 0, windows = 0
    cdef BulkScan scan
    bulk_start(&scan, 0)
    while i < n:
        i = next_piece_end(&scan, s, n, i)
        if scan.limit != limit:              # a window began at the piece just read
            covered += scan.limit - scan.base
            windows += 1
            limit = scan.limit
    return covered, windows


def _classify_block(bytes block not None, str path="any"):
    """The class bitmaps of a 65-byte block, as classify64 computes them
    (path "any": AVX2 or SSE2, as this CPU runs it) or as one path does
    ("avx2", "sse2" or the byte loop, "bytes"; "avx2" raises ValueError on
    a CPU without it): a dict of name -> int.  For tests."""
    cdef Block b
    cdef const uint8_t* p = <const uint8_t*><const char*>block
    if len(block) != 65:
        raise ValueError("_classify_block wants 65 bytes")
    if path == "any":
        classify64(p, &b)
    elif path == "avx2":
        if not classify_has_avx2():
            raise ValueError("this CPU (or build) has no AVX2 path")
        classify64_avx2(p, &b)
    elif path == "sse2":
        classify64_sse2(p, &b)
    elif path == "bytes":
        classify64_bytes(p, &b)
    else:
        raise ValueError(f"unknown path {path!r}")
    return {"letter": b.letter, "digit": b.digit, "space": b.space, "newline": b.newline,
            "blank": b.blank, "quote": b.quote, "high": b.high, "spill": b.spill}


def _classify_paths():
    """The classifier paths this build and CPU can run, for tests."""
    return ["bytes", "sse2"] + (["avx2"] if classify_has_avx2() else [])


def _everlasting_ints():
    """Whether result lists hold their int objects without an INCREF (64-bit
    CPython with a GIL)."""
    return bool(EVERLASTING_INTS)


def _int_block():
    """Whether the id objects are laid out in qtok's own block, found by
    arithmetic (qtok/pyint.h), rather than through a table."""
    return bool(INT_BLOCK)


def _shared_ints():
    """The list of the shared id objects, 0..n-1 in order."""
    return SHARED_INTS


def _token_filter_admits(CoreBPE core not None, bytes piece not None):
    """Whether the token filter lets a piece of 2..16 bytes through to the
    token hash (see token_maybe): it must for every token."""
    cdef size_t n = len(piece)
    if not 2 <= n <= 16:
        raise ValueError("the token filter holds pieces of 2..16 bytes")
    return token_maybe(&core.t, hash_bytes(<const uint8_t*><const char*>piece, n))


def _short_cache_pair(bytes piece not None):
    """Which pair of the short cache a piece of 2..16 bytes goes to, for
    tests that make pieces compete for one pair (see encode_short)."""
    cdef size_t n = len(piece)
    if not 2 <= n <= 16:
        raise ValueError("the short cache holds pieces of 2..16 bytes")
    return short_pair(hash_bytes(<const uint8_t*><const char*>piece, n))


def _forget_piece_caches(CoreBPE core not None):
    """Unmap every piece cache of the pool that no thread holds, so that the
    next encode meets every piece for the first time, as a fresh process
    does (the first-pass benchmarks repeat a cold pass in one process)."""
    cdef int k
    for k in range(CACHE_POOL):
        if atomic_try_acquire(&core.pool.busy[k]):
            cache_free_tables(&core.pool.tables[k])
            atomic_release(&core.pool.busy[k])


def _long_text_workers(CoreBPE core not None, str text not None):
    """How a long text is shared out on the text's threads: a list with, for
    each part, (its first byte, or its first character when the threads
    wrote the text's UTF-8, the worker whose run it belongs to, the worker
    that encoded it).  None when the text is not split."""
    cdef LongText lt
    cdef size_t i, w
    if core._encode_in_parts(text, &lt) != 1:
        return None
    try:
        owner = []
        for w in range(lt.job.n_runs):
            for i in range(run_start(lt.job.n, lt.job.n_runs, w),
                           run_start(lt.job.n, lt.job.n_runs, w + 1)):
                owner.append(w)
        return [(lt.cuts[i], owner[i], lt.job.part_worker[i]) for i in range(lt.job.n)]
    finally:
        long_text_release(&lt, &core.pool)


def _periodic_cut(CoreBPE core not None, bytes piece not None):
    """How merge_periodic takes a piece: (its period, the phase of the cuts
    that no token spans), or None when the piece is shorter than merge_any's
    threshold, not periodic, or spanned at every phase.  The tests use it to
    know which of their pieces took the fast path."""
    cdef const uint8_t* p = <const uint8_t*><const char*>piece
    cdef size_t n = len(piece), q, phase
    if n < HUGE_PIECE:
        return None
    q = piece_period(p, n)
    if q == 0:
        return None
    phase = unspanned_phase(&core.t, p, n, q)
    return None if phase == q else (q, phase)


def _first_parts(CoreBPE core not None, bytes piece not None):
    """The parts a merge of piece starts from, as (length, token) pairs: a
    unit (a character or a pair of bytes) that whole_unit_at lets start whole
    is one part, every other byte its own.  The tests hold the rule to a
    model written from its statement in merge_small.pxi."""
    cdef const uint8_t* p = <const uint8_t*><const char*>piece
    cdef size_t n = len(piece), i = 0, w
    cdef uint32_t token
    parts = []
    while i < n:
        token = core.t.byte_rank[p[i]]
        w = whole_unit_at(&core.t, p, n, i, &token)
        parts.append((w, token))
        i += w
    return parts


def _big_cache_entries(CoreBPE core not None):
    """How many pieces the big cache of each mapped piece cache holds, in
    pool order (for tests that fill it until it is emptied)."""
    cdef int k
    return [core.pool.tables[k].big_entries for k in range(CACHE_POOL)
            if core.pool.tables[k].short != NULL]


# What a thread started with thread_create (qtok/threads.h) knows of itself.
cdef extern from "qtok/threads.h" nogil:
    int thread_whereabouts "qtok_thread_whereabouts"(int* first_cpu, int* creator_cpu,
                                                     uint64_t* words, size_t n_words)

cdef enum:
    WHEREABOUTS_WORDS = 16    # CPUs 0..1023


cdef struct ThreadSelf:
    int status                # 0, or -1 where the system does not say
    int first_cpu             # the CPU it first ran on (-1: not started away)
    int creator_cpu           # its creator's CPU then (-1: not started away)
    uint64_t allowed[WHEREABOUTS_WORDS]   # the CPUs it may use once at work


cdef void* thread_self_report(void* arg) noexcept nogil:
    cdef ThreadSelf* seen = <ThreadSelf*>arg
    seen.status = thread_whereabouts(&seen.first_cpu, &seen.creator_cpu, seen.allowed,
                                     WHEREABOUTS_WORDS)
    return NULL


def _thread_start():
    """Start one thread as batches and long texts start theirs: returns
    (its creator's CPU when it was created, the CPU it first ran on -- both
    -1 when it was started as pthread_create starts one -- and the CPUs it
    may use once at work, as a set).  NotImplementedError where the system
    does not say (not Linux)."""
    cdef ThreadSelf seen
    cdef pthread_t thread
    cdef int status
    cdef size_t c
    memset(&seen, 0, sizeof(ThreadSelf))
    with nogil:
        status = thread_create(&thread, thread_self_report, &seen)
        if status == 0:
            pthread_join(thread, NULL)
    if status != 0:
        raise OSError(status, "could not start a thread")
    if seen.status != 0:
        raise NotImplementedError("this system does not say which CPU a thread runs on")
    allowed = {c for c in range(64 * WHEREABOUTS_WORDS) if seen.allowed[c // 64] >> (c % 64) & 1}
    return seen.creator_cpu, seen.first_cpu, allowed


def _utf8_written(str text not None):
    """text's UTF-8 as the threads of a long text write it (qtok/utf8.h,
    qtok_utf8_write), from the str's own storage; None at a lone surrogate.
    The tests hold it to str.encode on every kind of str."""
    cdef int kind
    cdef size_t n, written
    cdef uint8_t* buf
    cdef const void* chars
    str_ready(text)
    kind = PyUnicode_KIND(text)
    chars = PyUnicode_DATA(text)
    n = <size_t>PyUnicode_GET_LENGTH(text)
    buf = <uint8_t*>malloc(utf8_room(kind, n))
    if buf == NULL:
        raise MemoryError()
    try:
        with nogil:
            written = utf8_write(kind, chars, n, buf)
        if written == <size_t>-1:
            return None
        return PyBytes_FromStringAndSize(<const char*>buf, written)
    finally:
        free(buf)


def _str_has_utf8(str text not None):
    """Whether CPython holds text's UTF-8 (qtok/pystr.h): the tests see with
    it which way a long text went to its threads."""
    str_ready(text)
    return str_has_utf8(text)


def _nfc_slices_checked():
    """How many slices of long texts to be normalized the threads have
    checked for NFC so far (check_nfc_slices)."""
    return NFC_SLICES_CHECKED
