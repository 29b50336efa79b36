# The piece caches: the ids of pieces seen before.
#
# Words repeat, so the ids of a piece are remembered in a table keyed by the
# piece's hash: the short cache for pieces of 2..16 bytes (tokens too, see
# encode_short), the big cache for longer ones that needed merging.  An
# entry holds the piece's bytes, which are compared in full, so a hit is
# exact.  Each thread that is encoding holds its own tables (cache_pool.pxi),
# so no locks.

cdef inline int push_short(TokenVec* out, const ShortEntry* e) noexcept nogil:
    """Append the ids of a short-cache entry: all SHORT_MAX_IDS of its slots
    are copied, whatever its count, and the length moves by the count; a
    copy loop of 1, 2 or 3 turns was a branch the CPU mispredicted often."""
    if out.cap - out.len < SHORT_MAX_IDS and vec_grow(out, SHORT_MAX_IDS) < 0:
        return -1
    memcpy(out.data + out.len, e.ids, SHORT_MAX_IDS * sizeof(uint32_t))
    out.len += e.n_ids
    return 0


cdef inline int push_cached(TokenVec* out, const uint32_t* ids, size_t k) noexcept nogil:
    cdef size_t j
    for j in range(k):
        if push(out, ids[j]) < 0:
            return -1
    return 0


# The big cache: an open-addressing index of BigSlot over an arena holding
# each piece's bytes and ids.  Entries are never removed one by one; when the
# arena or the index fills up, the whole cache is emptied at once (cheap, and
# it keeps memory bounded).

cdef inline const BigSlot* big_find(const PieceCache* c, const uint8_t* p, size_t n,
                                    uint64_t h) noexcept nogil:
    cdef size_t i = h & (BIG_SLOTS - 1)
    cdef const BigSlot* e
    h |= 1                                # never 0, the empty mark
    while c.big[i].hash != 0:
        e = &c.big[i]
        if e.hash == h and e.len == n and memcmp(c.arena + e.off, p, n) == 0:
            return e
        i = (i + 1) & (BIG_SLOTS - 1)
    return NULL


cdef inline const uint32_t* big_ids(const PieceCache* c, const BigSlot* e) noexcept nogil:
    return <const uint32_t*>(c.arena + e.off + ((e.len + 3) & ~(<size_t>3)))


cdef void big_store(PieceCache* c, const uint8_t* p, size_t n, uint64_t h,
                    const uint32_t* ids, size_t k) noexcept nogil:
    cdef size_t need = ((n + 3) & ~(<size_t>3)) + k * sizeof(uint32_t), i
    cdef BigSlot* e
    cdef uint8_t* a
    if need > BIG_ARENA:
        return
    if c.arena_used + need > BIG_ARENA or 10 * (c.big_entries + 1) > 7 * BIG_SLOTS:
        memset(c.big, 0, big_index_bytes())                 # full: start afresh
        c.arena_used = 0
        c.big_entries = 0
    i = h & (BIG_SLOTS - 1)
    while c.big[i].hash != 0:
        i = (i + 1) & (BIG_SLOTS - 1)
    e = &c.big[i]
    e.hash = h | 1
    e.off = <uint32_t>c.arena_used
    e.len = <uint32_t>n
    e.n_ids = <uint32_t>k
    a = c.arena + c.arena_used
    memcpy(a, p, n)
    memcpy(a + ((n + 3) & ~(<size_t>3)), ids, k * sizeof(uint32_t))
    c.arena_used += need
    c.big_entries += 1


cdef inline size_t short_pair(uint64_t h) noexcept nogil:
    """The first entry of the pair of the short cache that the piece whose
    hash16 is h belongs to (its index bits are clear of the filters')."""
    return (h >> 17) & (SHORT_SLOTS - 2)


cdef inline void short_fill(ShortEntry* x, uint64_t w0, uint64_t w1, size_t n,
                            const uint32_t* ids, size_t k, bint is_token) noexcept nogil:
    x.w0 = w0
    x.w1 = w1
    x.len = <uint8_t>n
    x.n_ids = <uint8_t>k
    x.is_token = <uint8_t>is_token
    memcpy(x.ids, ids, k * sizeof(uint32_t))


cdef void short_insert(PieceCache* cache, ShortEntry* e, uint64_t w0, uint64_t w1, size_t n,
                       const uint32_t* ids, size_t k, bint is_token) noexcept nogil:
    """Put a piece into its pair e of the short cache.

    A token takes only a free entry or one that holds a token: it is found
    again in the vocabulary at the cost of a cache miss, and must never push
    out a merged piece, which costs a merge.  (Letting it, tokens and merged
    pieces take turns in the pairs that overflow, each turn sending a merged
    piece to the big cache, which fills up and is emptied again and again;
    docs/design.md has the figures.)  A
    merged piece goes in front, and pushes out a token if the pair holds
    one, else the entry behind, which is kept in the big cache (a short piece
    is looked up there next, so an evicted piece is not merged again)."""
    cdef uint8_t victim[16]
    cdef uint8_t spilled = e[0].spilled
    if is_token:
        if e[0].len == 0 or e[0].is_token:
            short_fill(&e[0], w0, w1, n, ids, k, True)
        elif e[1].len == 0 or e[1].is_token:
            short_fill(&e[1], w0, w1, n, ids, k, True)
    elif e[0].is_token and e[1].len != 0:
        short_fill(&e[0], w0, w1, n, ids, k, False)
    else:
        if e[1].len != 0 and not e[1].is_token:
            memcpy(&victim[0], &e[1].w0, 8)
            memcpy(&victim[8], &e[1].w1, 8)
            big_store(cache, victim, e[1].len, hash16(e[1].w0, e[1].w1, e[1].len),
                      e[1].ids, e[1].n_ids)
            spilled = 1
        e[1] = e[0]
        short_fill(&e[0], w0, w1, n, ids, k, False)
    e[0].spilled = spilled


cdef int encode_short(const Tables* t, PieceCache* cache, const uint8_t* p, size_t n,
                      uint64_t w0, uint64_t w1, uint64_t h, TokenVec* out) noexcept nogil:
    """A piece of 2..16 bytes (w0, w1: its bytes; h: hash16 of them): the
    short cache, then the vocabulary, then the big cache, then BPE.

    The short cache is two-way set-associative: a piece may sit in either
    entry of its pair (one 64-byte line).  It holds whole tokens as well as
    merged pieces, so that a piece seen before costs one line, which the
    scanner has prefetched, instead of the token filter's word and the
    token's slot.  Pieces that
    merge into more than SHORT_MAX_IDS tokens go to the big cache instead."""
    cdef size_t before, k
    cdef ShortEntry* e = NULL
    cdef const BigSlot* b
    cdef uint32_t r = NOT_FOUND
    if cache != NULL:
        e = &cache.short[short_pair(h)]
        if e[0].len == n and e[0].w0 == w0 and e[0].w1 == w1:
            return push_short(out, &e[0])
        if e[1].len == n and e[1].w0 == w0 and e[1].w1 == w1:
            return push_short(out, &e[1])
    # tiktoken's first rule: a piece that is a token is emitted whole.
    if n <= t.max_token_len and token_maybe(t, h):
        r = lookup_hashed(t, p, n, h, w0, w1)
    if r != NOT_FOUND:
        if cache != NULL:
            short_insert(cache, e, w0, w1, n, &r, 1, True)
        return push(out, r)
    if cache == NULL:
        return merge_any(t, cache, p, n, out)
    # A piece that merges into more than SHORT_MAX_IDS ids is stored in
    # the big cache after its merge: its slot is fetched now, to arrive
    # while the merge runs (about a quarter of the short pieces a first
    # pass merges; the read missed the cache for nearly every one).
    prefetch(&cache.big[h & (BIG_SLOTS - 1)])
    # The big cache holds short pieces only if their pair ever spilled:
    # on unseen text most pairs have not, and that read would miss.
    if e[0].spilled:
        b = big_find(cache, p, n, h)
        if b != NULL:
            return push_cached(out, big_ids(cache, b), b.n_ids)
    before = out.len
    if merge_any(t, cache, p, n, out) < 0:
        return -1
    k = out.len - before
    if k <= SHORT_MAX_IDS:
        short_insert(cache, e, w0, w1, n, out.data + before, k, False)
    else:
        big_store(cache, p, n, h, out.data + before, k)
        e[0].spilled = 1
    return 0


cdef int encode_long(const Tables* t, PieceCache* cache, const uint8_t* p, size_t n,
                     uint64_t h, TokenVec* out) noexcept nogil:
    """A piece of more than 16 bytes that is not a token (h: hash_bytes of
    it): the big cache, then BPE."""
    cdef size_t before
    cdef const BigSlot* b
    if cache == NULL or n > BIG_MAX_PIECE:
        return merge_any(t, cache, p, n, out)
    b = big_find(cache, p, n, h)
    if b != NULL:
        return push_cached(out, big_ids(cache, b), b.n_ids)
    before = out.len
    if merge_any(t, cache, p, n, out) < 0:
        return -1
    big_store(cache, p, n, h, out.data + before, out.len - before)
    return 0
