# merge_any: which merge form a piece that is not a token goes to, after
# cutting it where no token can span two adjacent bytes.

cdef inline int merge_span(const Tables* t, uint64_t* pc, const uint8_t* p, size_t n,
                           TokenVec* out) noexcept nogil:
    if n == 1:
        return push(out, t.byte_rank[p[0]])
    if n <= SMALL_PIECE:
        return merge_small(t, pc, p, n, out)
    return merge_heap(t, pc, p, n, out) if n < HUGE_PIECE else merge_huge(t, pc, p, n, out)


cdef inline bint is_barrier(const Tables* t, uint8_t x, uint8_t y) noexcept nogil:
    cdef uint32_t k = (<uint32_t>x << 8) | y
    return (t.bigram[k >> 6] >> (k & 63)) & 1 == 0


cdef int merge_any(const Tables* t, PieceCache* c, const uint8_t* p, size_t n,
                   TokenVec* out) noexcept nogil:
    """The merges of a piece that is not itself a token.

    A long piece is first cut wherever two adjacent bytes x, y appear
    together in no token at all: no part can ever span such a cut (every part
    is a token), so no join crosses it, and each side merges exactly as it
    would alone -- tiktoken's result is the concatenation of the sides'.
    (The sides are merged, never looked up whole: the whole-token shortcut
    applies to the piece, not to its sides.)  A long piece that repeats a
    few bytes is first offered to merge_periodic, which makes the same
    argument for the positions of one phase of its period."""
    cdef uint64_t* pc = c.pair_cache if c != NULL else NULL
    cdef size_t start = 0, i, unit, period
    cdef int status
    if n <= SMALL_PIECE:
        return merge_small(t, pc, p, n, out)
    unit = char_run_unit(p, n)
    if unit == 1 or (unit > 1 and units_join_first(t, p, unit)):
        status = merge_run(t, p, n, unit, out)
        if status != RUN_GAVE_UP:
            return status
    if n >= HUGE_PIECE:
        period = piece_period(p, n)
        if period:
            status = merge_periodic(t, pc, p, n, period, out)
            if status != PERIODIC_NO:
                return status
    for i in range(1, n):
        if is_barrier(t, p[i - 1], p[i]):
            if merge_span(t, pc, p + start, i - start, out) < 0:
                return -1
            start = i
    return merge_span(t, pc, p + start, n - start, out)
