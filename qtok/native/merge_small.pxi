# BPE on one piece, with tiktoken's rule: start from the piece's bytes; while
# some adjacent pair of parts joins into a token, join the pair with the
# lowest rank (the leftmost one on ties).
#
# Four implementations of that one rule, in this file and the next three:
#   merge_small  (<= 64 bytes): arrays on the stack, a linear scan per join;
#   merge_heap   (<= 4 KiB):    a linked list of parts and a binary heap;
#   merge_huge   (longer):      a linked list and a bucket queue over ranks,
#                               O(1) per join, for megabyte-long pieces;
#   merge_run    (a run of one repeated character): a replay of the loop on
#                the run-length form of the parts.
# merge_any.pxi chooses among them.  All four are checked against tiktoken
# by the tests.

# tiktoken's rule: start from the piece's bytes; while some adjacent pair of
# parts joins into a token, join the pair with the lowest rank (the leftmost
# one on ties).  Three implementations of that one rule, by piece length:
#   merge_small  (<= 64 bytes): arrays on the stack, a linear scan per join;
#   merge_heap   (<= 4 KiB):    a linked list of parts and a binary heap;
#   merge_huge   (longer):      a linked list and a bucket queue over ranks,
#                               O(1) per join, for megabyte-long pieces.
# All three are checked against tiktoken by the tests.

cdef enum:
    SMALL_PIECE = 64      # up to this many bytes: merge_small
    SMALL_GROUPS = 8      # SMALL_PIECE / 8
    STACK_PIECE = 256     # up to this many bytes merge_heap works on the stack
    HUGE_PIECE = 4096     # from this many bytes: merge_huge


cdef inline uint32_t pair_rank_cached(const Tables* t, uint64_t* cache, uint32_t a,
                                      uint32_t b) noexcept nogil:
    """pair_rank() through a small direct-mapped cache of recent answers
    (found or not).  The pair table is megabytes with one useful word per
    cache line; the pairs one text keeps asking about fit in a few hundred
    kilobytes when packed, so most questions are answered from L2.
    An entry is 1 << 63 | (a << 42 | b << 21) | (rank + 1, or 0 for none)."""
    cdef uint64_t key, e, i, h
    cdef uint32_t r
    if cache == NULL:
        return pair_rank(t, a, b)
    key = (<uint64_t>a << ID_BITS) | b
    h = mix(key)
    if not pair_maybe(t, h):                        # the filter first: one read
        return NOT_FOUND
    i = (key * 0x9E3779B97F4A7C15ULL) >> (64 - 15)
    e = cache[i]
    if (e >> ID_BITS) == ((1ULL << 42) | key):
        return <uint32_t>(e & ID_MASK) - 1          # NOT_FOUND comes back as 0 - 1
    r = pair_probe(t, key, h)
    cache[i] = (((1ULL << 42) | key) << ID_BITS) | (<uint64_t>r + 1 if r != NOT_FOUND else 0)
    return r


cdef inline void group_min(const uint32_t* pair, size_t n, size_t g,
                           uint32_t* gmin, uint8_t* gpos) noexcept nogil:
    """The lowest pair rank in positions 8g .. 8g+7 (the leftmost on ties)."""
    cdef size_t i, end = 8 * g + 8
    cdef uint32_t best = NOT_FOUND
    cdef uint8_t at = 0
    if end > n:
        end = n
    for i in range(8 * g, end):
        if pair[i] < best:
            best = pair[i]
            at = <uint8_t>i
    gmin[g] = best
    gpos[g] = at


cdef int merge_small(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                     TokenVec* out) noexcept nogil:
    """BPE on a piece of at most 64 bytes, on the stack.

    Parts stay at the position of their first byte (a linked list: nxt/prv);
    pair[i] is the rank of part i joined with the next part (NOT_FOUND for
    none or for a position that is no longer a part).  Positions are grouped
    by eight, each group remembering its lowest pair, so finding the lowest
    pair reads eight group minima and a join rescans only the groups it
    touched -- the leftmost lowest pair, as tiktoken picks it, since positions
    are in text order."""
    cdef uint32_t tok[SMALL_PIECE]
    cdef uint32_t pair[SMALL_PIECE]
    cdef uint8_t nxt[SMALL_PIECE]
    cdef uint8_t prv[SMALL_PIECE]
    cdef uint32_t gmin[SMALL_GROUPS]
    cdef uint8_t gpos[SMALL_GROUPS]
    cdef size_t i, j, k, g, bg, ng = (n + 7) >> 3
    cdef uint32_t best
    for i in range(n):
        tok[i] = t.byte_rank[p[i]]
        nxt[i] = <uint8_t>(i + 1)
        prv[i] = <uint8_t>(i - 1)
        pair[i] = t.byte_pair[(<uint32_t>p[i] << 8) | p[i + 1]] if i + 1 < n else NOT_FOUND
    for g in range(ng):
        group_min(pair, n, g, gmin, gpos)
    while True:
        best = NOT_FOUND
        bg = 0
        for g in range(ng):
            if gmin[g] < best:            # strict: the leftmost group wins a tie
                best = gmin[g]
                bg = g
        if best == NOT_FOUND:
            break
        i = gpos[bg]
        j = nxt[i]                        # part j joins part i
        tok[i] = best
        pair[j] = NOT_FOUND
        k = nxt[j]
        nxt[i] = <uint8_t>k
        if k < n:
            prv[k] = <uint8_t>i
            pair[i] = pair_rank_cached(t, pair_cache, best, tok[k])
        else:
            pair[i] = NOT_FOUND
        if i > 0:
            k = prv[i]
            pair[k] = pair_rank_cached(t, pair_cache, tok[k], best)
            if (k >> 3) != (i >> 3):
                group_min(pair, n, k >> 3, gmin, gpos)
        # Rescan the groups only after every pair above has its new rank.
        group_min(pair, n, i >> 3, gmin, gpos)
        if (j >> 3) != (i >> 3):
            group_min(pair, n, j >> 3, gmin, gpos)
    i = 0
    while i < n:
        if push(out, tok[i]) < 0:
            return -1
        i = nxt[i]
    return 0
