# merge_periodic: BPE on a long piece that repeats a short stretch of bytes.
#
# "\r\n  \r\n  \r\n...", " \n \n \n...", "\n\t\n\t...": the pattern's
# whitespace branches take such a text whole, as one piece that can be a
# megabyte long.  Its bytes have a period q (p[i] == p[i + q] for every i),
# so every stretch of q bytes in it is the same, and so is everything that
# happens around every q-th position:
#
#   * Call a phase f (0 <= f < q) spanned if some token of the vocabulary
#     occurs in the piece across a position b = f (mod q) -- starting before b
#     and ending after it.  By periodicity every substring of the piece equals
#     one that starts in its first q bytes, so the spanned phases come from
#     q * (max_token_len - 1) lookups, one per start and length; a token longer
#     than q spans every phase.
#   * If some phase is not spanned, no join ever crosses a position of that
#     phase (every part is a token), and each stretch between two such
#     positions merges exactly as it would alone -- the argument of merge_any's
#     cuts at byte pairs that no token holds.  Those stretches are all the same
#     q bytes: one is merged and its ids are copied.  Only the bytes before the
#     first cut and after the last one (fewer than q each) are merged apart.
#
# The whole piece then costs the period check (one memcmp), the lookups, and
# writing the ids.  A piece where every phase is spanned goes to the general
# loops.

cdef enum:
    PERIOD_MAX = 16       # the longest period looked for
    PERIODIC_NO = 1       # merge_periodic's "not this piece"


cdef inline size_t piece_period(const uint8_t* p, size_t n) noexcept nogil:
    """The smallest q in 2..PERIOD_MAX with p[i] == p[i + q] for every i
    (the piece at least twice that long), or 0.  On a piece that is not
    periodic each memcmp stops at its first difference, near the start."""
    cdef size_t q
    for q in range(2, PERIOD_MAX + 1):
        if 2 * q <= n and memcmp(p, p + q, n - q) == 0:
            return q
    return 0


cdef inline int merge_span_copies(const Tables* t, uint64_t* pc, const uint8_t* p, size_t n,
                                  size_t copies, TokenVec* out) noexcept nogil:
    """The merges of p[:n] alone, written copies times over (the copies
    doubling: a few long memcpys rather than one per copy)."""
    cdef size_t first = out.len, total, done, step
    if copies == 0:
        return 0
    if merge_span(t, pc, p, n, out) < 0:
        return -1
    total = (out.len - first) * copies
    done = out.len - first
    if total - done > out.cap - out.len and vec_grow(out, total - done) < 0:
        return -1
    while done < total:
        step = done if done < total - done else total - done
        memcpy(out.data + first + done, out.data + first, step * sizeof(uint32_t))
        done += step
    out.len = first + total
    return 0


cdef size_t unspanned_phase(const Tables* t, const uint8_t* p, size_t n, size_t q) noexcept nogil:
    """The first phase of the period q that no token spans, or q if every
    phase is spanned."""
    cdef uint32_t spanned = 0            # bit f: phase f is spanned
    cdef size_t length, start, k, phase = 0, longest = t.max_token_len
    if longest > n:
        longest = n
    for length in range(2, longest + 1):
        for start in range(q):
            if start + length > n:
                break
            if lookup(t, p + start, length) != NOT_FOUND:
                if length > q:
                    return q
                for k in range(start + 1, start + length):
                    spanned |= <uint32_t>1 << (k % q)
    while phase < q and (spanned >> phase) & 1:
        phase += 1
    return phase


cdef int merge_periodic(const Tables* t, uint64_t* pc, const uint8_t* p, size_t n, size_t q,
                        TokenVec* out) noexcept nogil:
    """BPE of a piece with period q (see piece_period) by the stretches
    between the positions of a phase no token spans.  Returns 0, -1 (out of
    memory) or PERIODIC_NO, in which case out is untouched."""
    cdef size_t phase = unspanned_phase(t, p, n, q), copies, tail
    if phase == q:
        return PERIODIC_NO
    # Cuts at phase, phase + q, ...: the bytes before the first cut, the
    # stretches of q bytes, the bytes after the last cut.
    copies = (n - phase) // q
    tail = phase + copies * q
    if phase > 0 and merge_span(t, pc, p, phase, out) < 0:
        return -1
    if merge_span_copies(t, pc, p + phase, q, copies, out) < 0:
        return -1
    if tail < n and merge_span(t, pc, p + tail, n - tail, out) < 0:
        return -1
    return 0
