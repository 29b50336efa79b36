# TokenVec: the growable array of ids that every encoder step appends to,
# without the GIL.  Its struct is declared in _bpe.pxd.

cdef int vec_grow(TokenVec* v, size_t room) noexcept nogil:
    """Make room for at least room more ids (doubling).  -1: out of memory."""
    cdef size_t cap = v.cap * 2 if v.cap else 64
    cdef uint32_t* grown
    while cap < v.len + room:
        cap *= 2
    grown = <uint32_t*>realloc(v.data, cap * sizeof(uint32_t))
    if grown == NULL:
        return -1
    v.data = grown
    v.cap = cap
    return 0


cdef inline int push(TokenVec* v, uint32_t x) noexcept nogil:
    if v.len == v.cap and vec_grow(v, 1) < 0:
        return -1
    v.data[v.len] = x
    v.len += 1
    return 0


cdef inline void vec_free(TokenVec* v) noexcept nogil:
    """Free v's ids and leave it empty."""
    free(v.data)
    v.data = NULL
    v.len = 0
    v.cap = 0
