# The encode driver: UTF-8 text in, ids out.
#
# The scanner runs a block of pieces ahead of the encoder, hashing each piece
# and prefetching its cache entry; each piece then goes to the short cache,
# the token hash, the big cache or a merge, in that order.

cdef struct Pending:
    # A piece found by the scanner, waiting to be encoded; or a run of ASCII
    # digits, each of them a piece (then n has digit_run() set, and w0, w1
    # and h are unused).
    size_t start
    size_t n
    uint64_t w0, w1      # its first 16 bytes, zero-padded
    uint64_t h           # its hash


cdef inline size_t digit_run() noexcept nogil:
    """The bit that marks the length of a run of digits: such an entry then
    fails every test of a piece's length, and is told apart without reading
    its text."""
    return (<size_t>1) << 62


cdef inline bint ascii_digit(uint8_t c) noexcept nogil:
    return <uint8_t>(c - 48) < 10


cdef inline size_t digits_end(const uint8_t* s, size_t n, size_t i) noexcept nogil:
    """The end of the run of ASCII digits from i."""
    while i < n and ascii_digit(s[i]):
        i += 1
    return i


cdef inline int push_digits(const Tables* t, const uint8_t* p, size_t n,
                            TokenVec* out) noexcept nogil:
    """The ids of n ASCII digits: one piece each, so each digit's own id."""
    cdef size_t k
    if out.cap - out.len < n and vec_grow(out, n) < 0:
        return -1
    for k in range(n):
        out.data[out.len + k] = t.byte_rank[p[k]]
    out.len += n
    return 0


cdef enum:
    # Pieces are scanned a block at a time, and a block is encoded after
    # the next one is scanned: a piece's short-cache line is asked for while
    # the rest of its block and all of the next are scanned.  16: with 8,
    # warm English 1.04x, Russian, Thai and Korean 0.96-0.98x and Chinese
    # 0.94-0.96x; 32 level with 16.
    BLOCK = 16


cdef inline size_t scan_block(const Tables* t, const ShortEntry* short_cache,
                              const PieceCache* cache, BulkScan* scan, const uint8_t* s,
                              size_t n, size_t i, Pending* block, size_t* count) noexcept nogil:
    """Find up to BLOCK pieces from byte i into block, hash each and
    prefetch its cache entry; count gets how many.  Returns where the
    scan stopped."""
    cdef size_t k = 0, end
    cdef Pending* q
    while k < BLOCK and i < n:
        end = next_piece_end(scan, s, n, i)
        q = &block[k]
        q.start = i
        q.n = end - i
        if q.n == 1 and ascii_digit(s[i]):
            # \p{N} takes one digit and no other alternative takes one,
            # so every digit is a piece: a run of them (numbers, tables,
            # ids) is passed on whole, one entry and one loop.
            end = digits_end(s, n, i + 1)
            if end - i > 1:
                q.n = (end - i) | digit_run()
                bulk_skip_to(scan, end)
        elif 2 <= q.n <= 16:
            load16(s + i, q.n, n - i, &q.w0, &q.w1)
            q.h = hash16(q.w0, q.w1, q.n)
            if short_cache != NULL:
                prefetch(&short_cache[short_pair(q.h)])
                # A piece the short cache misses asks the token filter
                # next: its word is fetched now too, for that case.
                prefetch_early(&t.token_filter[q.h >> (64 - TOKEN_FILTER_BITS)])
            elif q.n <= t.max_token_len and token_maybe(t, q.h):
                prefetch(&t.slots[q.h & t.slot_mask])
        elif q.n > 16:
            memcpy(&q.w0, s + i, 8)
            q.h = hash_bytes(s + i, q.n)
            if cache != NULL and q.n <= BIG_MAX_PIECE:
                prefetch(&cache.big[q.h & (BIG_SLOTS - 1)])
            if q.n <= t.max_token_len:
                prefetch(&t.slots[q.h & t.slot_mask])
        k += 1
        i = end
    count[0] = k
    return i


cdef inline int encode_pending(const Tables* t, PieceCache* cache, const uint8_t* s,
                               const Pending* q, TokenVec* out) noexcept nogil:
    """The ids of one scanned piece (or run of digits), appended to out."""
    cdef uint32_t r
    if q.n - 2 <= 14:                                  # 2..16 bytes: most pieces
        return encode_short(t, cache, s + q.start, q.n, q.w0, q.w1, q.h, out)
    if q.n == 1:
        return push(out, t.byte_rank[s[q.start]])
    if q.n & digit_run():
        return push_digits(t, s + q.start, q.n & ~digit_run(), out)
    # tiktoken's first rule: a piece that is a token is emitted whole.
    r = NOT_FOUND
    if q.n <= t.max_token_len:
        r = lookup_hashed(t, s + q.start, q.n, q.h, q.w0, 0)
    if r != NOT_FOUND:
        return push(out, r)
    return encode_long(t, cache, s + q.start, q.n, q.h, out)


cdef int encode_utf8(const Tables* t, PieceCache* cache, const uint8_t* s, size_t n,
                     TokenVec* out) noexcept nogil:
    """Append the ids of UTF-8 text s[:n] to out.  -1 when out of memory.
    cache may be NULL (then nothing is remembered).

    Most of the time goes in waiting for memory: a piece's entry in the
    short cache (or, for a longer piece, in the big cache and the token
    hash) is a random place in a table of megabytes.  So the text is
    scanned a block of BLOCK pieces ahead of the one being encoded,
    hashing each piece and prefetching its entry; by the time a piece is
    encoded, its memory is usually on its way.  Two loops, one that scans
    a block and one that encodes the block before it, run fewer
    instructions than one loop that scans a piece and encodes another in
    turn (docs/design.md).
    """
    cdef Pending blocks[2 * BLOCK]
    cdef Pending* ready
    cdef Pending* ahead
    cdef Pending* swap
    cdef Pending* q
    cdef Pending* last
    cdef size_t i, n_ready, n_ahead
    cdef const ShortEntry* short_cache = cache.short if cache != NULL else NULL
    cdef BulkScan scan
    bulk_start(&scan, 0)
    ready = &blocks[0]
    ahead = &blocks[BLOCK]
    i = scan_block(t, short_cache, cache, &scan, s, n, 0, ready, &n_ready)
    while n_ready:
        i = scan_block(t, short_cache, cache, &scan, s, n, i, ahead, &n_ahead)
        q = ready
        last = ready + n_ready
        while q != last:
            if encode_pending(t, cache, s, q, out) < 0:
                return -1
            q += 1
        swap = ready
        ready = ahead
        ahead = swap
        n_ready = n_ahead
    return 0
