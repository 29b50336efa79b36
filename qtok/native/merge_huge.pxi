# merge_huge: BPE on pieces longer than 4 KiB, O(1) per join.
#
# The same loop as merge_heap with a bucket queue in place of the heap: one
# bucket of positions per rank, and a two-level bitmap of the non-empty
# buckets.  The lowest rank is found with two count-trailing-zeros; within a
# bucket, positions come out in increasing order (the leftmost on ties).
# Joining two parts never creates a pair of the rank being joined (the new
# pairs spell longer tokens), so the order is exactly the heap's.

# The same loop with a bucket queue in place of the heap: one bucket of
# positions per rank, and a two-level bitmap of the non-empty buckets.  The
# lowest rank is found with two count-trailing-zeros; within a bucket,
# positions come out in increasing order (the leftmost on ties).  Joining two parts never creates a pair of the rank
# being joined (the new pairs spell longer tokens), so the order is exactly
# the heap's.

cdef struct Bucket:
    # Positions queued under one rank.  Most arrive in increasing order and
    # are appended to pos (consumed from head); the few that arrive out of
    # order go to a small min-heap, late.  A pop takes the smaller of the
    # two fronts, so every operation is O(1) or O(log late), never a sort.
    uint32_t* pos
    uint32_t len
    uint32_t cap
    uint32_t head        # pos[head:len] are still queued, in increasing order
    uint32_t* late
    uint32_t late_len
    uint32_t late_cap


cdef struct BucketQueue:
    uint32_t* bucket_of  # rank -> index into buckets, NOT_FOUND if none yet
    Bucket* buckets
    uint32_t n_buckets
    uint32_t cap_buckets
    uint64_t* bits       # bit r: bucket of rank r is non-empty
    uint64_t* summary    # bit w: bits[w] != 0
    uint32_t n_words
    uint32_t lowest      # no non-empty bucket has a lower rank


cdef inline int grow_u32(uint32_t** data, uint32_t* cap) noexcept nogil:
    cdef uint32_t* grown = <uint32_t*>realloc(data[0], (2 * <size_t>cap[0] + 16) * sizeof(uint32_t))
    if grown == NULL:
        return -1
    data[0] = grown
    cap[0] = 2 * cap[0] + 16
    return 0


cdef int bq_push(BucketQueue* q, uint32_t r, uint32_t pos) noexcept nogil:
    cdef uint32_t bi = q.bucket_of[r], w, k, parent
    cdef Bucket* b
    cdef void* grown
    if bi == NOT_FOUND:
        if q.n_buckets == q.cap_buckets:
            grown = realloc(q.buckets, 2 * q.cap_buckets * sizeof(Bucket))
            if grown == NULL:
                return -1
            q.buckets = <Bucket*>grown
            q.cap_buckets *= 2
        bi = q.n_buckets
        q.n_buckets += 1
        memset(&q.buckets[bi], 0, sizeof(Bucket))
        q.bucket_of[r] = bi
    b = &q.buckets[bi]
    if b.len == b.head and b.late_len == 0:    # was empty: mark it in the bitmaps
        b.len = 0
        b.head = 0
        w = r >> 6
        q.bits[w] |= 1ULL << (r & 63)
        q.summary[w >> 6] |= 1ULL << (w & 63)
    if b.len == b.head or pos >= b.pos[b.len - 1]:
        if b.len == b.cap and grow_u32(&b.pos, &b.cap) < 0:
            return -1
        b.pos[b.len] = pos
        b.len += 1
    else:                                     # out of order: into the heap
        if b.late_len == b.late_cap and grow_u32(&b.late, &b.late_cap) < 0:
            return -1
        k = b.late_len
        b.late_len += 1
        while k > 0:
            parent = (k - 1) >> 1
            if b.late[parent] <= pos:
                break
            b.late[k] = b.late[parent]
            k = parent
        b.late[k] = pos
    if r < q.lowest:
        q.lowest = r
    return 0


cdef inline uint32_t bq_min_rank(BucketQueue* q) noexcept nogil:
    """The lowest rank with a non-empty bucket, or NOT_FOUND."""
    cdef uint32_t w = q.lowest >> 6, sw
    cdef uint64_t x, s
    if w >= q.n_words:
        return NOT_FOUND
    x = q.bits[w] & (~0ULL << (q.lowest & 63))
    if x:
        return (w << 6) + <uint32_t>ctz64(x)
    w += 1
    sw = w >> 6
    if w < q.n_words:
        s = q.summary[sw] & (~0ULL << (w & 63))
        while True:
            if s:
                w = (sw << 6) + <uint32_t>ctz64(s)
                return (w << 6) + <uint32_t>ctz64(q.bits[w])
            sw += 1
            if (sw << 6) >= q.n_words:
                break
            s = q.summary[sw]
    return NOT_FOUND


cdef inline bint bq_has(BucketQueue* q, uint32_t r) noexcept nogil:
    """Whether rank r's bucket has a position queued."""
    return (q.bits[r >> 6] >> (r & 63)) & 1


cdef inline uint32_t bq_pop(BucketQueue* q, uint32_t r, uint32_t bi) noexcept nogil:
    """Remove and return the leftmost position queued under rank r, whose
    bucket is q.buckets[bi]."""
    cdef Bucket* b = &q.buckets[bi]
    cdef uint32_t pos, w, x, k, c, n
    if b.late_len and (b.head == b.len or b.late[0] < b.pos[b.head]):
        pos = b.late[0]
        b.late_len -= 1
        n = b.late_len
        if n:                                 # sift the last element down from the root
            x = b.late[n]
            k = 0
            while True:
                c = 2 * k + 1
                if c >= n:
                    break
                if c + 1 < n and b.late[c + 1] < b.late[c]:
                    c += 1
                if b.late[c] >= x:
                    break
                b.late[k] = b.late[c]
                k = c
            b.late[k] = x
    else:
        pos = b.pos[b.head]
        b.head += 1
    if b.head == b.len and b.late_len == 0:
        w = r >> 6
        q.bits[w] &= ~(1ULL << (r & 63))
        if q.bits[w] == 0:
            q.summary[w >> 6] &= ~(1ULL << (w & 63))
    q.lowest = r
    return pos


cdef int merge_huge(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                    TokenVec* out) noexcept nogil:
    cdef Parts w
    cdef BucketQueue q
    cdef size_t i, k
    cdef uint32_t r, bi
    cdef int status = -1
    memset(&q, 0, sizeof(BucketQueue))
    q.n_words = (t.n_ids + 63) >> 6
    q.bucket_of = <uint32_t*>malloc(t.n_ids * sizeof(uint32_t))
    q.bits = <uint64_t*>calloc(q.n_words, sizeof(uint64_t))
    q.summary = <uint64_t*>calloc((q.n_words >> 6) + 1, sizeof(uint64_t))
    q.cap_buckets = 64
    q.buckets = <Bucket*>malloc(q.cap_buckets * sizeof(Bucket))
    memset(&w, 0, sizeof(Parts))
    if (parts_init(t, pair_cache, p, n, &w, NULL) == 0 and q.bucket_of != NULL and q.bits != NULL
            and q.summary != NULL and q.buckets != NULL):
        memset(q.bucket_of, 0xFF, t.n_ids * sizeof(uint32_t))
        status = 0
        for i in range(n):
            if w.at[i].pair != NOT_FOUND and bq_push(&q, w.at[i].pair, i) < 0:
                status = -1
                break
        q.lowest = 0
        while status == 0:
            r = bq_min_rank(&q)
            if r == NOT_FOUND:
                break
            # Drain bucket r while it is still the lowest: a join that queues
            # a lower rank (q.lowest drops below r) hands back to the search.
            bi = q.bucket_of[r]
            while status == 0:
                i = bq_pop(&q, r, bi)
                if w.at[i].pair == r:     # else a stale entry
                    parts_join(t, &w, n, i, r)
                    if w.at[i].pair != NOT_FOUND and bq_push(&q, w.at[i].pair, i) < 0:
                        status = -1
                    if i > 0:
                        k = w.at[i].prv
                        if w.at[k].pair != NOT_FOUND and bq_push(&q, w.at[k].pair, k) < 0:
                            status = -1
                if q.lowest < r or not bq_has(&q, r):
                    break
        if status == 0:
            status = parts_emit(&w, n, out)
    parts_free(&w)
    if q.buckets != NULL:
        for i in range(q.n_buckets):
            free(q.buckets[i].pos)
            free(q.buckets[i].late)
    free(q.buckets)
    free(q.bucket_of)
    free(q.bits)
    free(q.summary)
    return status
