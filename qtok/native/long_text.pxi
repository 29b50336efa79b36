# One long text on several native threads.
#
# The pattern is matched from where the last piece ended and none of its
# alternatives looks behind, so the pieces after a piece boundary depend
# only on the text from there on; BPE then encodes each piece alone.  A
# text cut at piece boundaries therefore encodes, part by part, to exactly
# the ids of the whole, and the parts can go to different threads.
#
# The boundaries are found without scanning from the start: right after a
# letter (\p{L}) that a non-letter follows.  Only two alternatives match a
# letter: `[^\r\n\p{L}\p{N}]?\p{L}+`, which runs to the last letter of a
# run, and the contractions ('s, 't, 're, 've, 'm, 'll, 'd), which end with
# a letter; so the piece holding that letter ends right after it.  Cut
# there, the part before it ends with the same piece too: the only
# alternative that looks at what follows, `\s+(?!\S)`, ends before the
# letter and sees it in both.  A text with no such place (a megabyte of
# spaces, or of one letter) stays in one part.
#
# The text comes as UTF-8, or, for a str whose UTF-8 CPython has not made
# yet, as the str's characters: then the cuts are found among the
# characters, and each part's thread writes that part's UTF-8 itself
# (qtok_utf8_write) just before encoding it, instead of the calling thread
# getting the whole text's from CPython while the others wait (a serial
# 1.3 ms for a 1 MB text of the benchmark corpus).
#
# Batches never come here: their threads call encode_utf8 themselves, so a
# batch is never split a second time (no oversubscription).

cdef enum:
    # Shorter texts are encoded on the calling thread alone.  From 64 KiB a
    # second thread pays for its start (about 50 us) several times over:
    # whole Leipzig files (100-240 KB) on 2 threads, unpinned, ran 1.28x
    # faster on the first pass and 1.25x warm than with a 256 KiB threshold.
    LONG_TEXT_MIN_BYTES = 1 << 16
    LONG_PART_MIN_BYTES = 1 << 14    # no part shorter than this (a part pays a thread's start)
    PARTS_PER_THREAD = 8             # parts a worker's run holds: what a worker done early can take over
    # From this many ids (a text of about 2 MB) the parts are emitted
    # (copied, or put in a list) on threads too; below, the threads' start
    # costs about what they save (1 MB texts measured level either way).
    EMIT_THREADS_MIN_IDS = 1 << 19
    EMIT_MAX_THREADS = 64
    # A cache's UTF-8 buffer is kept between calls up to this size (a long
    # text's parts are written into it one after another, and one text on
    # one thread whole: CoreBPE._encode_own_utf8).
    UTF8_KEEP_BYTES = 1 << 24

# The UTF-8 writer's tables, and whether this CPU runs its four-at-a-time
# form (qtok/utf8.h), decided once.
utf8_init()

#: The size (UTF-8 bytes) from which a text is split, for Python's eyes.
long_text_min_bytes = LONG_TEXT_MIN_BYTES

#: Threads for one long text (set_text_threads); 1 turns the splitting off.
cdef int LONG_TEXT_THREADS = 1

# The last str whose UTF-8 a long text's threads wrote
# (CoreBPE._encode_in_parts), as its address, length and a sample of its
# characters: no reference is kept, and a new str the allocator put at the
# same address (the next document of a corpus, read after the last was let
# go) must not pass for it.
cdef struct StrSeen:
    size_t address
    size_t n_chars
    uint64_t sample

cdef StrSeen LAST_STR_WRITTEN


cdef inline uint64_t chars_sample(const void* chars, size_t n_bytes) noexcept nogil:
    """A digest of eight 8-byte words spread over a str's storage (n_bytes
    of 64 or more)."""
    cdef uint64_t h = n_bytes, word
    cdef size_t j
    for j in range(8):
        memcpy(&word, <const uint8_t*>chars + (n_bytes - 8) * j // 7, 8)
        h = (h ^ word) * <uint64_t>0x9E3779B97F4A7C15
    return h


cdef inline StrSeen str_seen(const void* address, const void* chars, int kind,
                             size_t n_chars) noexcept nogil:
    cdef StrSeen seen
    seen.address = <size_t>address
    seen.n_chars = n_chars
    seen.sample = chars_sample(chars, n_chars * <size_t>kind)
    return seen


cdef inline uint32_t char_at(const void* text, int kind, size_t i, size_t* width) noexcept nogil:
    """The character at position i of a text, and how many positions it
    takes: n bytes of UTF-8 (kind 0), or a str's storage (kind 1, 2 or 4,
    as PyUnicode_KIND: one position a character)."""
    if kind == 0:
        return next_cp(<const uint8_t*>text, i, width)
    width[0] = 1
    if kind == 1:
        return (<const uint8_t*>text)[i]
    if kind == 2:
        return (<const uint16_t*>text)[i]
    return (<const uint32_t*>text)[i]


cdef size_t next_cut(const void* text, int kind, size_t n, size_t i) noexcept nogil:
    """The first cut after position i (a byte of UTF-8, kind 0, or a
    character of a str's storage): a position right after a letter that a
    non-letter follows; n when there is none.  A str's cuts are the places
    its UTF-8's are."""
    cdef size_t width
    cdef uint32_t cp
    cdef bint prev_letter
    if kind == 0:
        while i < n and ((<const uint8_t*>text)[i] & 0xC0) == 0x80:   # to a character's start
            i += 1
    if i >= n:
        return n
    cp = char_at(text, kind, i, &width)
    prev_letter = (CLASS_OF[cp] & IS_LETTER) != 0
    i += width
    while i < n:
        cp = char_at(text, kind, i, &width)
        if CLASS_OF[cp] & IS_LETTER:
            prev_letter = True
        elif prev_letter:
            return i
        i += width
    return n


cdef size_t text_cuts(const void* text, int kind, size_t n, size_t parts,
                      size_t* cuts) noexcept nogil:
    """Fill cuts[0..k] with 0 = c0 < c1 < ... < ck = n, about n / parts
    apart; returns k (1 when the text does not split).  The text is n bytes
    of UTF-8 (kind 0) or n characters of a str's storage (kind 1, 2 or 4),
    and the cuts are byte or character positions accordingly."""
    cdef size_t k = 0, j, c
    cuts[0] = 0
    for j in range(1, parts):
        c = next_cut(text, kind, n, j * (n // parts))
        if c >= n:
            break
        if c > cuts[k] and c - cuts[k] >= LONG_PART_MIN_BYTES:
            k += 1
            cuts[k] = c
    k += 1
    cuts[k] = n
    return k


cdef const uint8_t* utf8_into(PieceCache* cache, int kind, const void* chars, size_t n_chars,
                              size_t* n, uint8_t** own, int* status) noexcept nogil:
    """The UTF-8 of n_chars characters of a str's storage (kind 1, 2 or 4),
    written into the cache's buffer (kept from call to call, as the scratch
    vector), or without a cache into a block of its own, given back in own
    for the caller to free; its length in n.  NULL, with status set, when
    out of memory (-1) or at a lone surrogate (-3: CPython's UTF-8 then
    raises the error)."""
    cdef size_t need = utf8_room(kind, n_chars), written
    cdef uint8_t* buf
    if cache == NULL:
        buf = <uint8_t*>malloc(need)
        own[0] = buf
    else:
        if cache.utf8_cap < need:
            free(cache.utf8)           # nothing in it to keep: a new block, not realloc
            cache.utf8 = <uint8_t*>malloc(need)
            cache.utf8_cap = need if cache.utf8 != NULL else 0
        buf = cache.utf8
    if buf == NULL:
        status[0] = -1
        return NULL
    written = utf8_write(kind, chars, n_chars, buf)
    if written == <size_t>-1:
        status[0] = -3
        return NULL
    n[0] = written
    return buf


cdef inline void utf8_trim(PieceCache* cache) noexcept nogil:
    """Let go of a UTF-8 buffer that one huge text grew past UTF8_KEEP_BYTES."""
    if cache != NULL and cache.utf8_cap > UTF8_KEEP_BYTES:
        free(cache.utf8)
        cache.utf8 = NULL
        cache.utf8_cap = 0


cdef const uint8_t* part_utf8(BatchJob* job, PieceCache* cache, size_t i, size_t* n,
                              uint8_t** own) noexcept nogil:
    """The UTF-8 of part i, and its length in n: the text's own bytes, or,
    for a part given as characters (texts[i] NULL), their UTF-8 written by
    utf8_into.  NULL, with job.status set, when out of memory (-1) or at a
    lone surrogate (-3, and the other threads stop)."""
    cdef int status = 0
    cdef const uint8_t* s
    if job.texts[i] != NULL:
        n[0] = job.lens[i]
        return job.texts[i]
    s = utf8_into(cache, job.kinds[i], job.chars[i], <size_t>job.n_chars[i], n, own, &status)
    if s == NULL:
        atomic_store_int(&job.status, status)
        if status == -3:
            atomic_set(&job.abandoned)
    return s


cdef inline void encode_part(BatchJob* job, PieceCache* cache, size_t w, size_t i) noexcept nogil:
    """Encode part i on worker w: into the worker's scratch vector (which
    stays allocated from call to call: a fresh block per part per call was
    fresh memory from the kernel each time, taken by a worker thread and
    freed by the caller, and faulting it in page by page took much of what
    the second core saved; docs/design.md), or without a cache into a vector
    of the part's own."""
    cdef TokenVec* v
    cdef uint8_t* own = NULL
    cdef size_t n
    cdef const uint8_t* s
    job.part_worker[i] = w
    if atomic_is_set(&job.abandoned):
        return
    s = part_utf8(job, cache, i, &n, &own)
    if s == NULL:
        return
    if cache == NULL:
        # (outs[i] starts empty, from batch_alloc; pushes grow it.)
        if encode_utf8(job.t, NULL, s, n, &job.outs[i]) < 0:
            atomic_store_int(&job.status, -1)
        free(own)
        return
    v = &cache.scratch
    job.part_at[i] = v.len
    if encode_utf8(job.t, cache, s, n, v) < 0:
        atomic_store_int(&job.status, -1)
    job.outs[i].len = v.len - job.part_at[i]


#: Slices of texts to be normalized checked on threads, for the tests' eyes
#: (_nfc_slices_checked); counted atomically, as threads check them at once.
cdef size_t NFC_SLICES_CHECKED = 0


cdef void check_nfc_slices(LongText* lt) noexcept nogil:
    """Check slices of a text to be normalized (nfc_slice_own_end) until
    none is left, each thread taking the next, before it encodes: the check
    of a 1 MB text is about 0.5 ms, which the calling thread made alone
    before the threads started.  A slice that is not its own NFC stops the
    encoding (abandoned): the text is then normalized and encoded again.
    nfc_fail[k] is where slice k stops being its own NFC, or the text's
    length where it is."""
    cdef size_t k, start, end
    cdef Py_ssize_t fail
    while True:
        k = atomic_fetch_add(&lt.nfc_next, 1)
        if k >= lt.nfc_slices:
            return
        start = k * lt.nfc_n // lt.nfc_slices
        end = (k + 1) * lt.nfc_n // lt.nfc_slices
        fail = nfc_slice_own_end(lt.nfc_kind, lt.nfc_chars, <Py_ssize_t>start, <Py_ssize_t>end,
                                 <Py_ssize_t>lt.nfc_n)
        atomic_fetch_add(&NFC_SLICES_CHECKED, 1)
        if fail < <Py_ssize_t>end:
            lt.nfc_fail[k] = fail
            atomic_set(&lt.job.abandoned)
        else:
            lt.nfc_fail[k] = <Py_ssize_t>lt.nfc_n       # passed


cdef void encode_share(LongText* lt, size_t w) noexcept nogil:
    """Worker w checks slices of the text for NFC if it is to be normalized
    (check_nfc_slices), then encodes its run of adjacent parts, then helps
    the others with theirs (batch_claim).

    A run, not every w-th part: text close together shares its words, so
    on a first call each thread's cache merges the pieces of its own stretch
    of text instead of every thread merging the words of the whole text.
    The same worker takes the same run on every call, with the same cache
    (the caller takes the caches in order), so a text encoded again finds
    its pieces cached.  A worker whose run is done takes the last parts left
    in the other runs, so a run of slower text (more bytes a piece, or
    pieces not yet cached) does not leave one thread working alone at the
    end, and a helper works on text away from where the run's owner is."""
    cdef BatchJob* job = &lt.job
    cdef PieceCache* cache = job.caches[w]
    cdef size_t i
    if lt.nfc_chars != NULL:
        check_nfc_slices(lt)
    if cache != NULL:
        cache.scratch.len = 0
    while batch_claim(job, w, &i):
        encode_part(job, cache, w, i)


cdef void* encode_share_worker(void* arg) noexcept nogil:
    cdef LongText* lt = <LongText*>arg
    encode_share(lt, atomic_fetch_add(&lt.job.next_worker, 1))
    return NULL


cdef int encode_long_text(const Tables* t, CachePool* pool, const void* text, int kind,
                          size_t n, int n_threads, const void* nfc_chars, int nfc_kind,
                          size_t nfc_n, Py_ssize_t* nfc_fail, LongText* lt) noexcept nogil:
    """encode_utf8 of a text split into parts on n_threads threads (the
    caller's among them), into lt.  The text is n bytes of UTF-8 (kind 0)
    or n characters of a str's storage (kind 1, 2 or 4, as PyUnicode_KIND),
    whose UTF-8 each part's thread writes (part_utf8).  0: done, the ids
    held in lt until long_text_release; -1 when out of memory, -2 when the
    text did not split (nothing done: encode it whole), -3 when the
    characters hold a lone surrogate, -4 when the text is to be normalized
    (nfc_chars: the nfc_n characters of its str, kind nfc_kind; NULL when
    not) and its check failed, first at nfc_fail[0].  On -1 to -4 nothing is
    held."""
    cdef size_t parts = <size_t>n_threads * PARTS_PER_THREAD
    cdef size_t k, i
    cdef size_t w
    cdef int status = 0
    memset(lt, 0, sizeof(LongText))
    if parts > n // LONG_PART_MIN_BYTES:
        parts = n // LONG_PART_MIN_BYTES
    if parts < 2:
        return -2
    lt.cuts = <size_t*>malloc((parts + 1) * sizeof(size_t))
    if lt.cuts == NULL:
        return -1
    k = text_cuts(text, kind, n, parts, lt.cuts)
    if k < 2:
        free(lt.cuts)
        lt.cuts = NULL
        return -2
    if batch_alloc(&lt.job, k, False) < 0:
        status = -1
    else:
        lt.job.part_at = <size_t*>calloc(k, sizeof(size_t))
        lt.job.part_worker = <size_t*>calloc(k, sizeof(size_t))
        lt.offsets = <size_t*>calloc(k + 1, sizeof(size_t))
        if lt.job.part_at == NULL or lt.job.part_worker == NULL or lt.offsets == NULL:
            status = -1
        if nfc_chars != NULL:
            lt.nfc_slices = <size_t>n_threads
            lt.nfc_fail = <Py_ssize_t*>calloc(lt.nfc_slices, sizeof(Py_ssize_t))
            if lt.nfc_fail == NULL:
                status = -1
            lt.nfc_chars = nfc_chars
            lt.nfc_kind = nfc_kind
            lt.nfc_n = nfc_n
        if kind != 0:
            # (texts[i] stays NULL: part i is given as characters.)
            lt.job.kinds = <int*>calloc(k, sizeof(int))
            lt.job.chars = <void**>calloc(k, sizeof(void*))
            lt.job.n_chars = <Py_ssize_t*>calloc(k, sizeof(Py_ssize_t))
            if lt.job.kinds == NULL or lt.job.chars == NULL or lt.job.n_chars == NULL:
                status = -1
    if status == 0:
        for i in range(k):
            if kind == 0:
                lt.job.texts[i] = <const uint8_t*>text + lt.cuts[i]
                lt.job.lens[i] = lt.cuts[i + 1] - lt.cuts[i]
            else:
                lt.job.kinds[i] = kind
                lt.job.chars[i] = <void*>(<const uint8_t*>text + lt.cuts[i] * <size_t>kind)
                lt.job.n_chars[i] = <Py_ssize_t>(lt.cuts[i + 1] - lt.cuts[i])
        if batch_take_caches(&lt.job, pool, &lt.th,
                             n_threads if <size_t>n_threads < k else <int>k) < 0:
            status = -1
        else:
            lt.job.t = t
            lt.job.next_worker = 0
            lt.job.status = 0
    if status == 0:
        batch_make_runs(&lt.job, lt.th.n)
        for w in range(1, lt.job.n_runs):
            lt.th.started[w] = thread_create(&lt.th.threads[w], encode_share_worker,
                                             lt) == 0
        encode_share(lt, atomic_fetch_add(&lt.job.next_worker, 1))
        batch_join(&lt.th)
        # (A thread that could not be started took no index: the others took its run,
        # and its slices to check.)
        status = lt.job.status
        if lt.nfc_chars != NULL:
            nfc_fail[0] = <Py_ssize_t>nfc_n
            for i in range(lt.nfc_slices):
                if lt.nfc_fail[i] < nfc_fail[0]:
                    nfc_fail[0] = lt.nfc_fail[i]
            if nfc_fail[0] < <Py_ssize_t>nfc_n:
                status = -4                 # before -3: the normalized text is what counts
    if status == 0:
        for i in range(k):
            lt.offsets[i] = lt.total
            lt.total += lt.job.outs[i].len
        lt.offsets[k] = lt.total
        return 0
    long_text_release(lt, pool)
    return status


cdef inline const uint32_t* long_text_part(const LongText* lt, size_t i) noexcept nogil:
    """The ids of part i (lt.job.outs[i].len of them)."""
    if lt.job.outs[i].data != NULL:
        return lt.job.outs[i].data          # a worker without a cache: a vector of its own
    return lt.job.caches[lt.job.part_worker[i]].scratch.data + lt.job.part_at[i]


cdef void long_text_release(LongText* lt, CachePool* pool) noexcept nogil:
    """Give back what lt holds: the caches (a scratch vector grown past
    SCRATCH_KEEP_IDS, or a UTF-8 buffer past UTF8_KEEP_BYTES, by one huge
    text is let go), threads and arrays."""
    cdef size_t w
    cdef PieceCache* c
    if lt.job.caches != NULL:
        for w in range(<size_t>lt.th.n):
            c = lt.job.caches[w]
            if c == NULL:
                continue
            if c.scratch.cap > SCRATCH_KEEP_IDS:
                vec_free(&c.scratch)
            utf8_trim(c)
    batch_join(&lt.th)
    batch_threads_free(&lt.th, pool)
    batch_free(&lt.job)
    free(lt.cuts)
    free(lt.offsets)
    free(lt.nfc_fail)
    memset(lt, 0, sizeof(LongText))


cdef struct LongTextOut:
    # Where long_text_emit puts a long text's ids: as uint32 into ids, or
    # (ids NULL) as the shared int objects into a new list's items.
    const LongText* lt
    uint32_t* ids
    PyObject** items
    PyObject** objects
    size_t first              # this thread's parts: first .. end - 1, the run
    size_t end                # its worker encoded (most of them, on its core)


cdef void long_text_emit_share(LongTextOut* o) noexcept nogil:
    cdef const LongText* lt = o.lt
    cdef size_t i, m
    cdef const uint32_t* part
    for i in range(o.first, o.end):
        m = lt.job.outs[i].len
        if m == 0:                       # (a part of 16 KiB or more always has ids)
            continue
        part = long_text_part(lt, i)
        if o.ids != NULL:
            memcpy(o.ids + lt.offsets[i], part, m * sizeof(uint32_t))
        else:
            put_id_objects(o.items + lt.offsets[i], part, m, o.objects)


cdef void* long_text_emit_worker(void* arg) noexcept nogil:
    long_text_emit_share(<LongTextOut*>arg)
    return NULL


cdef void long_text_emit(const LongText* lt, uint32_t* ids, PyObject** items,
                         PyObject** objects) noexcept nogil:
    """Put every id of lt, in order, into ids (total of them), or if ids is
    NULL the shared int objects into items (a new list's, everlasting ints:
    a pointer store each, into a list nobody else sees yet).  On the text's
    threads again, each taking the run of parts its worker encoded (all or
    most of it), whose ids are still in that core's caches; a thread that
    cannot start leaves its share to the caller."""
    cdef LongTextOut shares[EMIT_MAX_THREADS]
    cdef pthread_t threads[EMIT_MAX_THREADS]
    cdef bint started[EMIT_MAX_THREADS]
    cdef size_t n_threads = lt.job.n_runs, w
    if n_threads > EMIT_MAX_THREADS:
        n_threads = EMIT_MAX_THREADS
    if n_threads < 1 or lt.total < EMIT_THREADS_MIN_IDS:
        n_threads = 1
    for w in range(n_threads):
        shares[w].lt = lt
        shares[w].ids = ids
        shares[w].items = items
        shares[w].objects = objects
        shares[w].first = run_start(lt.job.n, n_threads, w)
        shares[w].end = run_start(lt.job.n, n_threads, w + 1)
    for w in range(1, n_threads):
        started[w] = thread_create(&threads[w], long_text_emit_worker, &shares[w]) == 0
    long_text_emit_share(&shares[0])
    for w in range(1, n_threads):
        if started[w]:
            pthread_join(threads[w], NULL)
        else:
            long_text_emit_share(&shares[w])


def set_text_threads(int n):
    """Threads that encode one long text (1: the calling thread only)."""
    global LONG_TEXT_THREADS
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, not {n}")
    LONG_TEXT_THREADS = n


def get_text_threads():
    return LONG_TEXT_THREADS


def text_cut_points(bytes text, size_t parts):
    """The cuts a UTF-8 text of len(text) bytes would be split at into about
    parts parts (for tests): [0, c1, ..., len(text)]."""
    cdef const uint8_t* s = <const uint8_t*><const char*>text
    cdef size_t n = len(text), k, i
    cdef size_t* cuts
    if parts < 1:
        raise ValueError("parts must be at least 1")
    cuts = <size_t*>malloc((parts + 1) * sizeof(size_t))
    if cuts == NULL:
        raise MemoryError()
    try:
        if n == 0:
            return [0, 0]
        k = text_cuts(s, 0, n, parts, cuts)
        return [cuts[i] for i in range(k + 1)]
    finally:
        free(cuts)


def cut_candidates(object text):
    """Every place next_cut finds in a UTF-8 text (bytes), or among a str's
    characters (a str: character positions), in order (for
    tests: each must be a piece boundary, and a str's the same places as
    its UTF-8's)."""
    cdef const void* s
    cdef size_t n, i = 0
    cdef int kind = 0
    cdef bytes data
    if isinstance(text, str):
        str_ready(text)
        kind = PyUnicode_KIND(text)
        s = PyUnicode_DATA(text)
        n = <size_t>PyUnicode_GET_LENGTH(text)
    else:
        data = text
        s = <const char*>data
        n = len(data)
    out = []
    while True:
        i = next_cut(s, kind, n, i)
        if i >= n:
            return out
        out.append(i)
