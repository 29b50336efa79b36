# BPE on one piece, with tiktoken's rule: start from the piece's bytes; while
# some adjacent pair of parts joins into a token, join the pair with the
# lowest rank (the leftmost one on ties).
#
# Five implementations of that one rule, in this file and the next four:
#   merge_small  (<= 64 bytes): arrays on the stack, a branch-free minimum
#                               over groups of eight pairs per join;
#   merge_heap   (<= 4 KiB):    a linked list of parts and a binary heap;
#   merge_huge   (longer):      a linked list and a bucket queue over ranks,
#                               O(1) per join, for megabyte-long pieces;
#   merge_run    (a run of one repeated character): a replay of the loop on
#                the run-length form of the parts;
#   merge_periodic (a long piece that repeats 2-16 bytes): one period merged,
#                its ids copied, where no token spans one phase of the period.
# merge_any.pxi chooses among them.  All five are checked against tiktoken
# by the tests.

cdef enum:
    SMALL_PIECE = 64      # up to this many bytes: merge_small
    SMALL_GROUPS = 8      # SMALL_PIECE / 8
    STACK_PIECE = 256     # up to this many bytes merge_heap works on the stack
    HUGE_PIECE = 4096     # from this many bytes: merge_huge


cdef inline uint32_t pair_rank_hashed(const Tables* t, uint64_t* cache, uint64_t key,
                                      uint64_t h) noexcept nogil:
    """The rank for a pair packed as key = a << 21 | b, whose mix() is h,
    through a small direct-mapped cache of recent answers (found or not).
    The pair table is megabytes with one useful word per cache line; the
    pairs one text keeps asking about fit in a few hundred kilobytes when
    packed, so most questions are answered from L2.  An entry is
    1 << 63 | (a << 42 | b << 21) | (rank + 1, or 0 for none)."""
    cdef uint64_t e, i
    cdef uint32_t r
    if not pair_maybe(t, h):                        # the filter first: one read
        return NOT_FOUND
    if cache == NULL:
        return pair_probe(t, key, h)
    i = (key * 0x9E3779B97F4A7C15ULL) >> (64 - 15)
    e = cache[i]
    if (e >> ID_BITS) == ((1ULL << 42) | key):
        return <uint32_t>(e & ID_MASK) - 1          # NOT_FOUND comes back as 0 - 1
    r = pair_probe(t, key, h)
    cache[i] = (((1ULL << 42) | key) << ID_BITS) | (<uint64_t>r + 1 if r != NOT_FOUND else 0)
    return r


cdef inline uint32_t pair_rank_cached(const Tables* t, uint64_t* cache, uint32_t a,
                                      uint32_t b) noexcept nogil:
    """Rank of the token spelled by token a then token b, or NOT_FOUND
    (pair_rank_hashed: the filter, the pair cache if any, the table)."""
    cdef uint64_t key = (<uint64_t>a << ID_BITS) | b
    return pair_rank_hashed(t, cache, key, mix(key))


cdef inline void pair_prefetch(const Tables* t, const uint64_t* cache, uint64_t key,
                               uint64_t h) noexcept nogil:
    """Ask for every line pair_rank_hashed(key, h) may read: the filter word,
    the cache entry and the table slot, so that the three misses overlap."""
    prefetch_early(&t.pair_filter[h >> (64 - PAIR_FILTER_BITS)])
    if cache != NULL:
        prefetch_early(&cache[(key * 0x9E3779B97F4A7C15ULL) >> (64 - 15)])
    prefetch_early(&t.pairs[h & t.pair_mask])


# A pair of parts is kept as one packed key: its rank << 6 | the number of
# its first part.  Parts are numbered in text order, so the smallest key is the
# lowest rank and, on a tie, the leftmost pair -- tiktoken's choice -- and
# finding it is a plain minimum, with no branch on the ranks (those branches
# follow the text and are mispredicted about half the time).  A pair that
# spells no token packs NOT_FOUND, giving a key of at least NO_PAIR.
cdef enum:
    NO_PAIR = 0xFFFFFFC0     # (NOT_FOUND << 6) & 0xFFFFFFFF: every key from here up


cdef inline uint32_t pair_key(uint32_t rank, size_t at) noexcept nogil:
    return (rank << 6) | <uint32_t>at


cdef inline uint32_t umin(uint32_t a, uint32_t b) noexcept nogil:
    return a if a < b else b


cdef inline uint32_t group_min(const uint32_t* key, size_t g) noexcept nogil:
    """The smallest key of parts 8g .. 8g+7 (the array is padded to whole
    groups, so the eight reads need no bound)."""
    cdef const uint32_t* k = key + 8 * g
    return umin(umin(umin(k[0], k[1]), umin(k[2], k[3])),
                umin(umin(k[4], k[5]), umin(k[6], k[7])))


# Starting from whole units.  Many joins only make a character out of its
# bytes, or join two bytes that no neighbour could have taken first.  Such a
# unit can start as its own token instead, with the same result, when its
# joins provably come first:
#
#   Let U be a character of 2 or 3 bytes whose bytes, merged alone, become
#   one token, or two bytes that are a token; let h be the highest rank among
#   U's own joins (for two bytes, the rank of that token).  If every regular
#   token that holds the byte pair across U's left edge, and every one that
#   holds the pair across its right edge, has a rank above h (span_rank),
#   then in the piece U's own joins all come before any join that reaches
#   across its edges: while U is unfinished, its next join (rank <= h) is
#   always there to be made, and any join across an edge makes a token
#   holding that edge's pair (rank > h).  And every other join comes in the
#   same order as if U had been whole from the start: a join made while U is
#   unfinished has a rank below U's next one, so below h, and the pairs that
#   a whole U would have offered earlier all reach across an edge, so rank
#   above h.
#
# The rule looks only at the bytes on either side, so each unit is decided on
# its own (and two units never overlap: the pair inside one is the pair across
# the other's edge).  On a first pass over Leipzig's 25 languages, starting
# from bytes makes 1,005,413 joins; whole characters save 337,716 of them and
# byte pairs 249,883, 46-76% of each file's joins (Thai 76%, Chinese 69%,
# Russian 52%, German 48%, English 46%; docs/design.md).

cdef inline size_t whole_unit_at(const Tables* t, const uint8_t* p, size_t n, size_t i,
                                 uint32_t* token) noexcept nogil:
    """How many bytes the part starting at p[i] of a piece of n bytes spans:
    the character there (2 or 3) or the pair of bytes (2) when the rule above
    lets it start whole, its token in token[0]; else 1."""
    cdef uint8_t c = p[i]
    cdef size_t m
    cdef uint64_t e
    cdef uint32_t highest
    if c >= 0xC2 and c < 0xF0:
        m = 2 if c < 0xE0 else 3
        if i + m <= n:
            e = char_unit_at(t, p + i, m)
            highest = <uint32_t>(e >> 24)
            if (e != 0
                    and (i == 0 or highest < t.span_rank[(<uint32_t>p[i - 1] << 8) | c])
                    and (i + m == n or highest < t.span_rank[(<uint32_t>p[i + m - 1] << 8) | p[i + m]])):
                token[0] = <uint32_t>(e & ID_MASK)
                return m
    if i + 1 >= n:
        return 1
    highest = t.byte_pair[(<uint32_t>c << 8) | p[i + 1]]
    if (highest == NOT_FOUND
            or (i > 0 and highest >= t.span_rank[(<uint32_t>p[i - 1] << 8) | c])
            or (i + 2 < n and highest >= t.span_rank[(<uint32_t>p[i + 1] << 8) | p[i + 2]])):
        return 1
    token[0] = highest
    return 2


cdef inline size_t start_from_units(const Tables* t, uint64_t* pair_cache,
                                    const uint8_t* p, size_t n, uint32_t* tok,
                                    uint32_t* key, uint8_t* nxt, uint8_t* prv) noexcept nogil:
    """merge_small's first parts, their links and their keys; returns how
    many parts there are.  Each unit that whole_unit_at allows is one part,
    every other byte its own, and parts are numbered in text order (part q
    is the q-th unit or byte, not a byte position), so that a piece that
    starts from fewer parts has fewer keys to scan.  A pair with a unit in
    it is asked of the pair table (all such questions fetched first, then
    answered); a pair of two single bytes is read from byte_pair.  The last
    part gets no key."""
    cdef uint64_t qkey[SMALL_PIECE]
    cdef uint64_t qhash[SMALL_PIECE]
    cdef uint8_t qat[SMALL_PIECE]
    cdef size_t i, w, q = 1, last_at = 0, last_w, nq = 0, k
    tok[0] = t.byte_rank[p[0]]
    last_w = whole_unit_at(t, p, n, 0, &tok[0])
    prv[0] = 255                          # the first part has none
    i = last_w
    while i < n:
        tok[q] = t.byte_rank[p[i]]
        w = whole_unit_at(t, p, n, i, &tok[q])
        nxt[q - 1] = <uint8_t>q
        prv[q] = <uint8_t>(q - 1)
        if w == 1 and last_w == 1:
            key[q - 1] = pair_key(t.byte_pair[(<uint32_t>p[last_at] << 8) | p[i]], q - 1)
        else:
            qkey[nq] = (<uint64_t>tok[q - 1] << ID_BITS) | tok[q]
            qhash[nq] = mix(qkey[nq])
            qat[nq] = <uint8_t>(q - 1)
            pair_prefetch(t, pair_cache, qkey[nq], qhash[nq])
            nq += 1
        last_at = i
        last_w = w
        i += w
        q += 1
    nxt[q - 1] = <uint8_t>q
    for k in range(nq):
        key[qat[k]] = pair_key(pair_rank_hashed(t, pair_cache, qkey[k], qhash[k]), qat[k])
    return q


cdef int merge_small(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                     TokenVec* out) noexcept nogil:
    """BPE on a piece of at most 64 bytes, on the stack.

    Parts stay where they started (a linked list: nxt/prv), numbered in
    text order; key[i] is the packed key of part i joined with the next part
    (NO_PAIR or more for none, or for a number that is no longer a part).
    Parts are grouped by eight, each group remembering its smallest key, so
    finding the pair to join reads the group minima and a join rescans only
    the groups it touched.  A join asks about at most two new pairs; each is
    hashed once, its lines fetched, and only then looked up."""
    cdef uint32_t tok[SMALL_PIECE]
    cdef uint32_t key[SMALL_PIECE + 8]
    cdef uint8_t nxt[SMALL_PIECE]
    cdef uint8_t prv[SMALL_PIECE]
    cdef uint32_t gmin[SMALL_GROUPS]
    cdef size_t i, j, k, g, left, parts, ng
    cdef uint32_t best, rank
    cdef uint64_t right_key = 0, right_hash = 0, left_key = 0, left_hash = 0
    if n < 2:
        return push(out, t.byte_rank[p[0]]) if n == 1 else 0
    parts = start_from_units(t, pair_cache, p, n, tok, key, nxt, prv)
    # The last part has no pair; nor do the numbers that pad its group.
    memset(&key[parts - 1], 0xFF, 8 * sizeof(uint32_t))
    ng = (parts + 7) >> 3
    for g in range(ng):
        gmin[g] = group_min(key, g)
    while True:
        best = gmin[0]
        for g in range(1, ng):
            best = umin(best, gmin[g])
        if best >= NO_PAIR:
            break
        i = best & 63
        rank = best >> 6
        j = nxt[i]                        # part j joins part i
        k = nxt[j]
        left = prv[i]
        if k < parts:
            right_key = (<uint64_t>rank << ID_BITS) | tok[k]
            right_hash = mix(right_key)
            pair_prefetch(t, pair_cache, right_key, right_hash)
        if i > 0:
            left_key = (<uint64_t>tok[left] << ID_BITS) | rank
            left_hash = mix(left_key)
            pair_prefetch(t, pair_cache, left_key, left_hash)
        tok[i] = rank
        key[j] = 0xFFFFFFFF
        nxt[i] = <uint8_t>k
        if k < parts:
            prv[k] = <uint8_t>i
            key[i] = pair_key(pair_rank_hashed(t, pair_cache, right_key, right_hash), i)
        else:
            key[i] = 0xFFFFFFFF
        if i > 0:
            key[left] = pair_key(pair_rank_hashed(t, pair_cache, left_key, left_hash), left)
            if (left >> 3) != (i >> 3):
                gmin[left >> 3] = group_min(key, left >> 3)
        # Rescan the groups only after every key above is up to date.
        gmin[i >> 3] = group_min(key, i >> 3)
        if (j >> 3) != (i >> 3):
            gmin[j >> 3] = group_min(key, j >> 3)
    i = 0
    while i < parts:
        if push(out, tok[i]) < 0:
            return -1
        i = nxt[i]
    return 0
