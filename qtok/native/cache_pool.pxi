# The pool of piece caches: one per thread encoding at the same time.
#
# A slot is taken with an atomic compare-and-swap, and its tables mapped by
# the thread that first takes it, seeded from a cache already in use.

# The big cache's index (1.5 MiB) and the pair cache (256 KiB) share one
# mapping, which qtok_cache_alloc offers as a single huge page.  In 4 KiB
# pages, each page of theirs was first read (a lookup: the kernel maps its
# shared zero page) and later written (a store: a fault that replaces it);
# with a second thread of the process running, every such fault also
# interrupts that thread's core to flush its TLB: a fifth of the samples of
# a profile of a long text's first call on two threads.
cdef inline size_t big_index_bytes() noexcept nogil:
    return BIG_SLOTS * sizeof(BigSlot)


cdef inline size_t small_tables_bytes() noexcept nogil:
    return big_index_bytes() + PAIR_CACHE_SLOTS * sizeof(uint64_t)


cdef void cache_seed(PieceCache* dst, const PieceCache* src) noexcept nogil:
    """Copy src's entries into dst, a new cache.  A cache is a memo of a pure
    function, so any copy of one is correct; neither may be in use by
    another thread meanwhile."""
    memcpy(dst.short, src.short, SHORT_SLOTS * sizeof(ShortEntry))
    memcpy(dst.big, src.big, small_tables_bytes())       # the pair cache with it
    memcpy(dst.arena, src.arena, src.arena_used)
    dst.arena_used = src.arena_used
    dst.big_entries = src.big_entries


cdef bint cache_tables(PieceCache* c) noexcept nogil:
    """Map the tables of a cache used for the first time (zeroed: empty).
    False, with none mapped, when out of memory."""
    c.short = <ShortEntry*>cache_alloc(SHORT_SLOTS * sizeof(ShortEntry))
    c.big = <BigSlot*>cache_alloc(small_tables_bytes())
    c.arena = <uint8_t*>cache_alloc(BIG_ARENA)
    c.pair_cache = NULL
    if c.big != NULL:
        c.pair_cache = <uint64_t*>(<uint8_t*>c.big + big_index_bytes())
    c.arena_used = 0
    c.big_entries = 0
    c.scratch = TokenVec(NULL, 0, 0)
    c.utf8 = NULL
    c.utf8_cap = 0
    if c.short == NULL or c.big == NULL or c.arena == NULL or c.pair_cache == NULL:
        cache_free_tables(c)
        return False
    return True


cdef void cache_free_tables(PieceCache* c) noexcept nogil:
    cache_free(c.short, SHORT_SLOTS * sizeof(ShortEntry))
    cache_free(c.big, small_tables_bytes())             # the pair cache with it
    cache_free(c.arena, BIG_ARENA)
    vec_free(&c.scratch)
    free(c.utf8)
    c.utf8 = NULL
    c.utf8_cap = 0
    c.short = NULL
    c.big = NULL
    c.arena = NULL
    c.pair_cache = NULL


cdef PieceCache* pool_acquire(CachePool* pool, int* slot, const PieceCache* seed) noexcept nogil:
    """Take a free cache.  One used for the first time starts as a copy of
    seed (a cache the caller holds), or else of a free cache that is in use
    already: a new thread then starts with what the others learned instead
    of merging every common word again (else a batch's second thread is
    slower than the first until its cache fills)."""
    cdef int k, j
    cdef PieceCache* c
    for k in range(CACHE_POOL):
        if atomic_try_acquire(&pool.busy[k]):
            c = &pool.tables[k]
            if c.short == NULL:
                if not cache_tables(c):
                    atomic_release(&pool.busy[k])
                    break
                if seed != NULL:
                    cache_seed(c, seed)
                else:
                    for j in range(CACHE_POOL):
                        if j != k and atomic_try_acquire(&pool.busy[j]):
                            if pool.tables[j].short != NULL:
                                cache_seed(c, &pool.tables[j])
                                atomic_release(&pool.busy[j])
                                break
                            atomic_release(&pool.busy[j])
            slot[0] = k
            return c
    slot[0] = -1
    return NULL                           # every table in use: encode uncached


cdef void pool_release(CachePool* pool, int slot) noexcept nogil:
    if slot >= 0:
        atomic_release(&pool.busy[slot])


cdef inline int encode_pooled(const Tables* t, CachePool* pool, PieceCache* held,
                              const uint8_t* s, size_t n, TokenVec* out) noexcept nogil:
    """encode_utf8 with held, a piece cache the caller holds already, or if
    that is NULL with one taken from pool for the call."""
    cdef int slot = -1
    cdef PieceCache* cache = held if held != NULL else pool_acquire(pool, &slot, NULL)
    cdef int status = encode_utf8(t, cache, s, n, out)
    pool_release(pool, slot)
    return status
