# merge_heap: BPE on a piece of up to 4 KiB.
#
# Parts form a doubly linked list over byte positions (a part is named by its
# first byte).  A min-heap holds (pair rank << 32 | position) keys, so the
# smallest key is the lowest rank, leftmost.  Entries go stale when a part
# changes; an entry counts only while pair[position] still equals its rank.

cdef inline void heap_sift_down(uint64_t* h, size_t n, size_t i) noexcept nogil:
    cdef uint64_t x = h[i]
    cdef size_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and h[c + 1] < h[c]:
            c += 1
        if h[c] >= x:
            break
        h[i] = h[c]
        i = c
    h[i] = x


cdef inline void heap_sift_up(uint64_t* h, size_t i) noexcept nogil:
    cdef uint64_t x = h[i]
    cdef size_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if h[parent] <= x:
            break
        h[i] = h[parent]
        i = parent
    h[i] = x


cdef struct Part:
    # One part of a piece being merged, named by the position of its first
    # byte; the four fields sit together so a join touches one cache line.
    uint32_t nxt         # first byte of the next part (n: none)
    uint32_t prv         # first byte of the previous part (NOT_FOUND: none)
    uint32_t tok         # rank of this part
    uint32_t pair        # rank of this part joined with the next, or NOT_FOUND


cdef struct Parts:
    # The linked list of parts shared by merge_heap and merge_huge.
    Part* at
    bint owned           # at was malloc'ed here (not a caller's stack buffer)
    uint64_t* pair_cache # see pair_rank_cached; may be NULL


cdef int parts_init(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                    Parts* w, Part* buf) noexcept nogil:
    """The first parts of a piece, as start_from_units makes them for
    merge_small: a unit that whole_unit_at allows is one part, every other
    byte its own.  Positions inside a unit have no pair."""
    cdef Part* a
    cdef size_t i = 0, k, width, last = 0, last_width = 0
    w.pair_cache = pair_cache
    w.owned = buf == NULL
    if n >= 0xFFFFFFFFULL:               # positions are 32-bit: refuse a piece of 4 GB or more
        w.owned = False
        w.at = NULL
        return -1
    w.at = <Part*>malloc((n + 1) * sizeof(Part)) if buf == NULL else buf
    if w.at == NULL:
        return -1
    a = w.at
    while i < n:
        a[i].tok = t.byte_rank[p[i]]
        width = whole_unit_at(t, p, n, i, &a[i].tok)
        for k in range(i + 1, i + width):
            a[k].pair = NOT_FOUND
        a[i].prv = <uint32_t>last if i > 0 else <uint32_t>NOT_FOUND
        if i > 0:
            a[last].nxt = <uint32_t>i
            if width == 1 and last_width == 1:
                a[last].pair = t.byte_pair[(<uint32_t>p[last] << 8) | p[i]]
            else:
                a[last].pair = pair_rank_cached(t, w.pair_cache, a[last].tok, a[i].tok)
        last = i
        last_width = width
        i += width
    a[last].nxt = <uint32_t>n
    a[last].pair = NOT_FOUND
    return 0


cdef void parts_free(Parts* w) noexcept nogil:
    if w.owned:
        free(w.at)
    w.at = NULL


cdef inline void parts_join(const Tables* t, Parts* w, size_t n, size_t i, uint32_t r) noexcept nogil:
    """Join part i with the next one into token r and re-rank the pairs
    (i, next) and (previous, i).  The caller queues the new pairs."""
    cdef Part* a = w.at
    cdef size_t j = a[i].nxt, k
    a[i].tok = r
    a[j].pair = NOT_FOUND                 # j is gone; its stale entries never match
    a[i].nxt = a[j].nxt
    k = a[i].nxt
    if k < n:
        a[k].prv = i
        a[i].pair = pair_rank_cached(t, w.pair_cache, r, a[k].tok)
    else:
        a[i].pair = NOT_FOUND
    if i > 0:
        k = a[i].prv
        a[k].pair = pair_rank_cached(t, w.pair_cache, a[k].tok, r)


cdef int parts_emit(Parts* w, size_t n, TokenVec* out) noexcept nogil:
    cdef size_t i = 0
    while i < n:
        if push(out, w.at[i].tok) < 0:
            return -1
        i = w.at[i].nxt
    return 0


cdef int merge_heap(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                    TokenVec* out) noexcept nogil:
    cdef Parts w
    cdef Part part_buf[STACK_PIECE + 1]
    cdef uint64_t heap_buf[3 * STACK_PIECE + 16]
    cdef bint on_stack = n <= STACK_PIECE
    cdef uint64_t* heap
    cdef Part* parts_at = NULL
    if on_stack:
        heap = &heap_buf[0]
        parts_at = &part_buf[0]
    else:
        heap = <uint64_t*>malloc((3 * n + 16) * sizeof(uint64_t))
    cdef size_t heap_len = 0, i, k
    cdef uint64_t key
    cdef uint32_t r
    cdef int status = -1
    memset(&w, 0, sizeof(Parts))
    if heap == NULL or parts_init(t, pair_cache, p, n, &w, parts_at) < 0:
        parts_free(&w)
        if not on_stack:
            free(heap)
        return -1
    for i in range(n):
        if w.at[i].pair != NOT_FOUND:
            heap[heap_len] = (<uint64_t>w.at[i].pair << 32) | i
            heap_len += 1
    i = heap_len // 2
    while i > 0:
        i -= 1
        heap_sift_down(heap, heap_len, i)
    # Each join pushes at most two keys and pops one, so 3n slots suffice.
    while heap_len:
        key = heap[0]
        heap_len -= 1
        if heap_len:
            heap[0] = heap[heap_len]
            heap_sift_down(heap, heap_len, 0)
        r = <uint32_t>(key >> 32)
        i = key & 0xFFFFFFFFULL
        if w.at[i].pair != r:
            continue                      # stale entry
        parts_join(t, &w, n, i, r)
        if w.at[i].pair != NOT_FOUND:
            heap[heap_len] = (<uint64_t>w.at[i].pair << 32) | i
            heap_sift_up(heap, heap_len)
            heap_len += 1
        if i > 0:
            k = w.at[i].prv
            if w.at[k].pair != NOT_FOUND:
                heap[heap_len] = (<uint64_t>w.at[k].pair << 32) | k
                heap_sift_up(heap, heap_len)
                heap_len += 1
    status = parts_emit(&w, n, out)
    parts_free(&w)
    if not on_stack:
        free(heap)
    return status
