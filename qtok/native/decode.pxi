# Turning ids back into bytes, through one 8-byte decode word per id.
#
# A token of up to 7 bytes is its decode word (built in tables_finish), copied
# with a single 8-byte store; longer ones come from the blob.  Engine code:
# the binding (CoreBPE._decode) turns Python sequences of ints into ids.

cdef enum:
    DECODE_AHEAD = 32    # how far ahead decoding prefetches int objects and entries
    DECODE_NO_MEMORY = -2


cdef Py_ssize_t decode_ids(const Tables* t, const uint32_t* ids, Py_ssize_t n,
                           uint8_t** out, size_t* out_used) noexcept nogil:
    """The bytes of ids[:n] into a malloc'ed buffer (*out, *out_used bytes;
    the caller frees it, also after a failure).  Returns -1 when every id
    decoded, the index of the first id that has no token, or
    DECODE_NO_MEMORY.  The buffer keeps 8 bytes of slack, where the length
    byte of a short token's word lands."""
    cdef Py_ssize_t i
    cdef uint32_t v
    cdef uint64_t w, k
    cdef size_t cap = <size_t>n * 6 + 64, used = 0   # locals, kept in registers
    cdef uint8_t* buf = <uint8_t*>malloc(cap)
    cdef uint8_t* grown
    cdef const uint64_t* dec = t.dec
    cdef uint32_t n_ids = t.n_ids
    cdef Py_ssize_t bad = -1
    if buf == NULL:
        out[0] = NULL
        out_used[0] = 0
        return DECODE_NO_MEMORY
    for i in range(n):
        if i + DECODE_AHEAD < n and ids[i + DECODE_AHEAD] < n_ids:
            prefetch(&dec[ids[i + DECODE_AHEAD]])
        v = ids[i]
        w = dec[v] if v < n_ids else 0
        if w == 0:
            bad = i
            break
        k = w >> 56 if (w >> 63) == 0 else (w >> 32) & 0x7FFFFFFF
        if used + k + 8 > cap:
            cap = 2 * cap + k + 8
            grown = <uint8_t*>realloc(buf, cap)
            if grown == NULL:
                bad = DECODE_NO_MEMORY
                break
            buf = grown
        if (w >> 63) == 0:
            memcpy(buf + used, &w, 8)     # the length byte lands in the slack
        else:
            memcpy(buf + used, t.blob + (w & 0xFFFFFFFFULL), k)
        used += k
    out[0] = buf
    out_used[0] = used
    return bad


cdef Py_ssize_t skipping(const uint32_t* ids, Py_ssize_t n, const uint8_t* skip, uint32_t n_ids,
                         uint32_t* out) noexcept nogil:
    """ids[:n] without those whose skip byte is set, into out; how many are left."""
    cdef Py_ssize_t i, k = 0
    cdef uint32_t v
    for i in range(n):
        v = ids[i]
        if v < n_ids and skip[v]:
            continue
        out[k] = v
        k += 1
    return k
