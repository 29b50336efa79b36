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
# Batches never come here: their threads call encode_utf8 themselves, so a
# batch is never split a second time (no oversubscription).

cdef enum:
    # Shorter texts are encoded on the calling thread alone.  From 64 KiB a
    # second thread pays for its start (about 50 us) several times over:
    # whole Leipzig files (100-240 KB) on 2 threads, unpinned, ran 1.28x
    # faster on the first pass and 1.25x warm than with a 256 KiB threshold.
    LONG_TEXT_MIN_BYTES = 1 << 16
    LONG_PART_MIN_BYTES = 1 << 14    # no part shorter than this (a part pays a thread's start)
    SCRATCH_KEEP_IDS = 1 << 22       # a worker keeps up to 16 MB of part ids between calls
    PARTS_PER_THREAD = 8             # parts interleave over the threads: more parts balance better

#: The size (UTF-8 bytes) from which a text is split, for Python's eyes.
long_text_min_bytes = LONG_TEXT_MIN_BYTES

#: Threads for one long text (set_text_threads); 1 turns the splitting off.
cdef int LONG_TEXT_THREADS = 1


cdef size_t next_cut(const uint8_t* s, size_t n, size_t i) noexcept nogil:
    """The first cut after byte i: a position right after a letter that a
    non-letter follows; n when there is none."""
    cdef size_t width
    cdef uint32_t cp
    cdef bint prev_letter
    while i < n and (s[i] & 0xC0) == 0x80:     # to the start of a character
        i += 1
    if i >= n:
        return n
    cp = next_cp(s, i, &width)
    prev_letter = (CLASS_OF[cp] & IS_LETTER) != 0
    i += width
    while i < n:
        cp = next_cp(s, i, &width)
        if CLASS_OF[cp] & IS_LETTER:
            prev_letter = True
        elif prev_letter:
            return i
        i += width
    return n


cdef size_t text_cuts(const uint8_t* s, size_t n, size_t parts, size_t* cuts) noexcept nogil:
    """Fill cuts[0..k] with 0 = c0 < c1 < ... < ck = n, about n / parts
    apart; returns k (1 when the text does not split)."""
    cdef size_t k = 0, j, c
    cuts[0] = 0
    for j in range(1, parts):
        c = next_cut(s, n, j * (n // parts))
        if c >= n:
            break
        if c > cuts[k] and c - cuts[k] >= LONG_PART_MIN_BYTES:
            k += 1
            cuts[k] = c
    k += 1
    cuts[k] = n
    return k


cdef void encode_stride(BatchJob* job, size_t w) noexcept nogil:
    """Encode parts w, w + stride, ... with worker w's cache.  A fixed share
    per worker, not the next part from a counter: each thread's cache then
    meets the same parts as in the last call, so a text encoded again finds
    its pieces cached, as on one thread."""
    cdef PieceCache* cache = job.caches[w]
    cdef TokenVec* v
    cdef TokenVec own
    cdef size_t i = w
    if cache == NULL:
        # No cache was free in the pool: encode uncached, each part into a
        # vector of its own.
        while i < job.n:
            own.cap = job.lens[i] // 4 + 16
            own.len = 0
            own.data = <uint32_t*>malloc(own.cap * sizeof(uint32_t))
            if own.data == NULL:
                own.cap = 0
            if encode_utf8(job.t, NULL, job.texts[i], job.lens[i], &own) < 0:
                atomic_store_int(&job.status, -1)
            job.outs[i] = own
            i += job.stride
        return
    v = &cache.scratch
    # The worker's parts' ids go one after another into its cache's scratch
    # vector, which stays allocated from call to call: a fresh block per part
    # per call was fresh memory from the kernel each time (taken by a worker
    # thread and freed by the caller, glibc gave it back), and faulting it in
    # page by page took much of what the second core saved (docs/design.md).
    v.len = 0
    while i < job.n:
        job.part_at[i] = v.len
        if encode_utf8(job.t, cache, job.texts[i], job.lens[i], v) < 0:
            atomic_store_int(&job.status, -1)
        job.outs[i].len = v.len - job.part_at[i]
        i += job.stride


cdef void* encode_stride_worker(void* arg) noexcept nogil:
    cdef BatchJob* job = <BatchJob*>arg
    encode_stride(job, atomic_fetch_add(&job.next_worker, 1))
    return NULL


cdef int encode_long_text(const Tables* t, CachePool* pool, const uint8_t* s, size_t n,
                          int n_threads, TokenVec* out) noexcept nogil:
    """encode_utf8 of s[:n] split into parts on n_threads threads (the
    caller's among them), the ids appended to out in order.  -1 when out of
    memory, -2 when the text did not split (nothing done: encode it whole)."""
    cdef size_t parts = <size_t>n_threads * PARTS_PER_THREAD
    cdef size_t k, i, total = 0
    cdef size_t w
    cdef size_t* cuts
    cdef BatchJob job
    cdef BatchThreads th
    cdef int status = 0
    cdef uint32_t* grown
    if parts > n // LONG_PART_MIN_BYTES:
        parts = n // LONG_PART_MIN_BYTES
    if parts < 2:
        return -2
    cuts = <size_t*>malloc((parts + 1) * sizeof(size_t))
    if cuts == NULL:
        return -1
    k = text_cuts(s, n, parts, cuts)
    if k < 2:
        free(cuts)
        return -2
    memset(&th, 0, sizeof(BatchThreads))
    if batch_alloc(&job, k, False) < 0:
        status = -1
    else:
        job.part_at = <size_t*>calloc(k, sizeof(size_t))
        if job.part_at == NULL:
            status = -1
    if status == 0:
        for i in range(k):
            job.texts[i] = s + cuts[i]
            job.lens[i] = cuts[i + 1] - cuts[i]
        if batch_take_caches(&job, pool, &th, n_threads if <size_t>n_threads < k else <int>k) < 0:
            status = -1
        else:
            job.t = t
            job.stride = <size_t>th.n
            job.next_worker = 0
            job.status = 0
            for w in range(1, <size_t>th.n):
                th.started[w] = pthread_create(&th.threads[w], NULL, encode_stride_worker,
                                               &job) == 0
            encode_stride(&job, atomic_fetch_add(&job.next_worker, 1))
            batch_join(&th)
            # A thread that could not be started took no share: do its parts here.
            for w in range(job.next_worker, <size_t>th.n):
                encode_stride(&job, w)
            status = job.status
    if status == 0:
        for i in range(k):
            total += job.outs[i].len
        if out.cap < out.len + total:
            grown = <uint32_t*>realloc(out.data, (out.len + total) * sizeof(uint32_t))
            if grown == NULL:
                status = -1
            else:
                out.data = grown
                out.cap = out.len + total
        if status == 0:
            for i in range(k):
                if job.outs[i].len:
                    memcpy(out.data + out.len,
                           job.outs[i].data if job.outs[i].data != NULL
                           else job.caches[i % job.stride].scratch.data + job.part_at[i],
                           job.outs[i].len * sizeof(uint32_t))
                    out.len += job.outs[i].len
    # A scratch vector grown past SCRATCH_KEEP_IDS by one huge text is let go.
    if job.caches != NULL:
        for w in range(<size_t>th.n):
            if job.caches[w] != NULL and job.caches[w].scratch.cap > SCRATCH_KEEP_IDS:
                vec_free(&job.caches[w].scratch)
    batch_join(&th)
    batch_threads_free(&th, pool)
    batch_free(&job)
    free(cuts)
    return status


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
        k = text_cuts(s, n, parts, cuts)
        return [cuts[i] for i in range(k + 1)]
    finally:
        free(cuts)


def cut_candidates(bytes text):
    """Every place next_cut finds in a UTF-8 text, in order (for tests: each
    must be a piece boundary)."""
    cdef const uint8_t* s = <const uint8_t*><const char*>text
    cdef size_t n = len(text), i = 0
    out = []
    while True:
        i = next_cut(s, n, i)
        if i >= n:
            return out
        out.append(i)
