# The thread pool for batches: native threads encoding many texts at once,
# without the GIL.
#
# Each thread owns a run of adjacent texts and takes them in order; a thread
# whose run is done takes the last texts left in the others' runs, so a
# thread that drew long texts does not hold the others up.  Runs, not one
# shared counter: a thread's piece cache then meets the same texts (the same
# words) on every call with the same batch, and texts close together in a
# corpus (one language, one topic) mostly meet one cache instead of every
# thread's.  Every thread's piece cache
# is taken before any thread starts, so that a new cache starts as a copy of
# the calling thread's (pool_acquire).  A thread writes the ids of its texts
# one after another into its cache's scratch vector, which stays allocated
# from batch to batch, rather than into a vector per text.  The binding
# (CoreBPE.encode_ordinary_batch) fills in the texts, runs the job and turns
# the results into Python objects.

cdef enum:
    BATCH_MIN_THREAD_BYTES = 32768   # a batch smaller than this runs on one thread
    # Room a text needs in a scratch vector beyond one id per byte (no token
    # is shorter than a byte; push_short copies SHORT_MAX_IDS slots at once).
    BATCH_TEXT_ROOM = 16


cdef int batch_alloc(BatchJob* job, size_t n, bint check_nfc) noexcept nogil:
    """The job's per-text arrays, zeroed.  -1 when out of memory (then
    batch_free still frees what was allocated)."""
    memset(job, 0, sizeof(BatchJob))
    job.n = n
    job.check_nfc = check_nfc
    job.keep_ids = True
    job.texts = <const uint8_t**>calloc(n + 1, sizeof(uint8_t*))
    job.lens = <size_t*>calloc(n + 1, sizeof(size_t))
    job.outs = <TokenVec*>calloc(n + 1, sizeof(TokenVec))
    job.done = <int*>calloc(n + 1, sizeof(int))
    job.not_nfc = <int*>calloc(n + 1, sizeof(int))
    job.ready = <int*>calloc(n + 1, sizeof(int))
    if job.texts == NULL or job.lens == NULL or job.outs == NULL or job.done == NULL \
            or job.not_nfc == NULL or job.ready == NULL:
        return -1
    if check_nfc:
        job.kinds = <int*>calloc(n + 1, sizeof(int))
        job.chars = <void**>calloc(n + 1, sizeof(void*))
        job.n_chars = <Py_ssize_t*>calloc(n + 1, sizeof(Py_ssize_t))
        if job.kinds == NULL or job.chars == NULL or job.n_chars == NULL:
            return -1
    return 0


cdef void batch_free(BatchJob* job) noexcept nogil:
    cdef size_t i
    if job.outs != NULL:
        for i in range(job.n):
            if job.outs[i].cap != 0:     # 0: ids in a thread's scratch vector
                free(job.outs[i].data)
    free(<void*>job.texts)
    free(job.lens)
    free(job.outs)
    free(job.done)
    free(job.not_nfc)
    free(job.ready)
    free(job.kinds)
    free(job.chars)
    free(job.n_chars)
    free(job.caches)
    free(job.part_at)
    free(job.part_worker)
    free(job.runs)
    memset(job, 0, sizeof(BatchJob))


cdef int batch_threads_for(int asked, size_t n_texts, size_t total_bytes) noexcept nogil:
    """How many threads a batch runs on: what was asked, at most one per
    text and one per BATCH_MIN_THREAD_BYTES of text (less work than that
    does not pay for starting a thread)."""
    cdef size_t n = <size_t>asked if asked > 0 else 1
    if n > n_texts:
        n = n_texts
    if n > total_bytes // BATCH_MIN_THREAD_BYTES:
        n = total_bytes // BATCH_MIN_THREAD_BYTES
    return <int>n if n > 1 else 1


cdef int batch_take_caches(BatchJob* job, CachePool* pool, BatchThreads* th,
                           int n_threads) noexcept nogil:
    """Allocate the thread arrays and take a piece cache for every thread
    (NULL where the pool has none free: that thread encodes uncached)."""
    cdef int k
    th.n = n_threads
    th.threads = <pthread_t*>calloc(n_threads, sizeof(pthread_t))
    th.started = <int*>calloc(n_threads, sizeof(int))
    th.slots = <int*>calloc(n_threads, sizeof(int))
    job.caches = <PieceCache**>calloc(n_threads, sizeof(PieceCache*))
    job.runs = <uint64_t*>calloc(n_threads, sizeof(uint64_t))
    if th.threads == NULL or th.started == NULL or th.slots == NULL or job.caches == NULL \
            or job.runs == NULL:
        return -1
    for k in range(n_threads):
        th.slots[k] = -1
    for k in range(n_threads):
        job.caches[k] = pool_acquire(pool, &th.slots[k], job.caches[0] if k > 0 else NULL)
    return 0


cdef void batch_reserve_scratch(BatchJob* job, int n_threads, size_t total_bytes) noexcept nogil:
    """Give every thread's scratch vector room for the ids of the whole
    batch (at most one per byte), up to SCRATCH_KEEP_IDS, before any thread
    starts.  A text goes to the scratch vector only if its worst case fits
    in what is left, so the vector never grows during the batch and the ids
    stay where they are while the calling thread turns them into lists.
    Counting, a thread writes every text's ids over the last one's, so any
    text that fits alone fits.  (A text that does not fit, or a thread
    without a cache or without the memory, gets a vector of its own.)

    Why: a vector per text, grown by doubling and freed after the lists
    are built, was fresh memory from the kernel at every batch: in a profile
    of a one-thread batch a quarter of the samples were in the kernel,
    faulting in pages (these vectors' and the lists') and giving the heap
    back, and two threads faulting at once contend there.  Reused, the
    pages are faulted in once."""
    cdef size_t want = total_bytes + BATCH_TEXT_ROOM
    cdef uint32_t* fresh
    cdef PieceCache* c
    cdef int k
    if want > SCRATCH_KEEP_IDS:
        want = SCRATCH_KEEP_IDS
    for k in range(n_threads):
        c = job.caches[k]
        if c == NULL:
            continue
        c.scratch.len = 0
        if c.scratch.cap < want:
            # Empty, so nothing to copy: a new block rather than realloc.
            fresh = <uint32_t*>malloc(want * sizeof(uint32_t))
            if fresh != NULL:
                free(c.scratch.data)
                c.scratch.data = fresh
                c.scratch.cap = want


cdef inline size_t run_start(size_t items, size_t workers, size_t w) noexcept nogil:
    """The first item of worker w's run (worker w's run ends where w + 1's
    starts; run_start(items, workers, workers) is items)."""
    return w * items // workers


cdef void batch_make_runs(BatchJob* job, int workers) noexcept nogil:
    """Cut the job's items into one run of adjacent items per worker."""
    cdef int k
    job.n_runs = <size_t>workers
    for k in range(workers):               # worker k's run: items run_start(k) .. run_start(k + 1)
        job.runs[k] = run_make(run_start(job.n, job.n_runs, k),
                               run_start(job.n, job.n_runs, k + 1))


cdef inline bint batch_claim(BatchJob* job, size_t w, size_t* i) noexcept nogil:
    """The next text for worker w: the next of its own run, else the last
    one left in another's (the one its owner would have come to last)."""
    cdef size_t d
    if run_take_front(&job.runs[w], i):
        return True
    for d in range(1, job.n_runs):
        if run_take_back(&job.runs[(w + d) % job.n_runs], i):
            return True
    return False


cdef inline int encode_one(BatchJob* job, PieceCache* cache, size_t w) noexcept nogil:
    """Worker w takes a text (batch_claim) and encodes it.  0 when there
    was none left."""
    cdef size_t i
    if not batch_claim(job, w, &i):
        return 0
    # The calling thread may still be getting this text's UTF-8
    # (CoreBPE._batch_texts): wait for it.  Getting it is many times faster than
    # encoding it, so only a thread's first text or two ever waits.
    while not atomic_is_set(&job.ready[i]):
        cpu_yield()
    if atomic_is_set(&job.abandoned):
        atomic_set(&job.done[i])
        return 1
    # The ids go to a vector of this thread's, stored into outs[i] once
    # done: outs[i] and outs[i + 1] share a cache line, and the other thread,
    # encoding text i + 1, would otherwise fight over it at every id pushed.
    cdef TokenVec v = TokenVec(NULL, 0, 0)
    cdef TokenVec* scratch = &cache.scratch if cache != NULL else NULL
    cdef bint in_scratch
    # The rest of this thread's scratch vector, if the text's worst case
    # fits there (batch_reserve_scratch): then v can never grow.
    in_scratch = scratch != NULL and scratch.cap - scratch.len >= job.lens[i] + BATCH_TEXT_ROOM
    if in_scratch:
        v = TokenVec(scratch.data + scratch.len, 0, scratch.cap - scratch.len)
    if job.check_nfc and not is_nfc_data(job.kinds[i], job.chars[i], job.n_chars[i], True):
        job.not_nfc[i] = 1
    elif encode_utf8(job.t, cache, job.texts[i], job.lens[i], &v) < 0:
        atomic_store_int(&job.status, -1)
    if in_scratch:
        v.cap = 0                         # borrowed: batch_free leaves it alone
        if job.keep_ids:
            scratch.len += v.len
        else:
            v.data = NULL                 # counting: the next text writes over these ids
    job.outs[i] = v
    atomic_set(&job.done[i])
    return 1


cdef void* encode_batch_worker(void* arg) noexcept nogil:
    cdef BatchJob* job = <BatchJob*>arg
    cdef size_t w = atomic_fetch_add(&job.next_worker, 1)
    while encode_one(job, job.caches[w], w):
        pass
    return NULL


cdef void batch_start(BatchJob* job, BatchThreads* th, bint caller_works_too) noexcept nogil:
    """Start threads 1 .. n-1 on the job.  With caller_works_too the calling
    thread takes a worker index like the rest (it runs encode_batch_worker
    itself); otherwise it is worker 0, with caches[0] and the first run, and
    builds the result lists as well."""
    cdef int k
    batch_make_runs(job, th.n)
    job.next_worker = 0 if caller_works_too else 1
    job.status = 0
    for k in range(1, th.n):
        th.started[k] = thread_create(&th.threads[k], encode_batch_worker, job) == 0


cdef void batch_join(BatchThreads* th) noexcept nogil:
    """Wait for every started thread; safe to call more than once."""
    cdef int k
    if th.started == NULL:
        return
    for k in range(1, th.n):
        if th.started[k]:
            pthread_join(th.threads[k], NULL)
            th.started[k] = 0


cdef void batch_threads_free(BatchThreads* th, CachePool* pool) noexcept nogil:
    """Give the caches back to the pool and free the thread arrays (after
    batch_join)."""
    cdef int k
    if th.slots != NULL:
        for k in range(th.n):
            pool_release(pool, th.slots[k])
    free(th.threads)
    free(th.started)
    free(th.slots)
    memset(th, 0, sizeof(BatchThreads))
