# Building the tables from a vocabulary: tokens laid out by rank, the token
# hash, the pair table, the filters and the decode words.
#
# Engine code: no Python objects, no GIL.  A step that fails says why in a
# BuildError, and the binding (core_bpe.pxi) turns that into the exception a
# user reads.  The input is a list of (start, length, rank) over one blob of
# token bytes, which the tiktoken parser (parse_tiktoken.pxi) and the
# binding's from_ranks both produce.

cdef enum BuildStatus:
    BUILD_OK = 0
    BUILD_NO_MEMORY
    BUILD_TOO_BIG             # the tokens add up to 4 GB or more
    BUILD_RANK_TWICE          # rank: given to two tokens
    BUILD_TOKEN_TOO_LONG      # rank, value: its length
    BUILD_DUPLICATE           # rank: a token that already has rank `value`
    BUILD_MISSING_BYTE        # value: a byte that is not a token
    BUILD_HUGE_TOKEN          # rank: 2 GB long or longer


cdef inline int build_failed(BuildError* err, int status, uint64_t rank,
                             uint64_t value) noexcept nogil:
    err.status = status
    err.rank = rank
    err.value = value
    return -1


cdef void tables_free(Tables* t) noexcept nogil:
    free(t.blob)
    free(t.tok_start)
    free(t.tok_len)
    free(t.slots)
    free(t.pairs)
    free(t.byte_pair)
    free(t.dec)
    free(t.pair_filter)
    free(t.token_filter)
    free(t.span_rank)
    free(t.char_unit)
    memset(t, 0, sizeof(Tables))


cdef int tables_allocate(Tables* t, uint32_t n_ids, size_t blob_size,
                         BuildError* err) noexcept nogil:
    """The per-id arrays and the blob of token bytes."""
    t.n_ids = n_ids
    if blob_size >= 0xFFFFFFFFULL:
        return build_failed(err, BUILD_TOO_BIG, 0, blob_size)
    # BLOB_PAD zero bytes after the last token: lookup_hashed reads a whole
    # word of a token's bytes 8..15 however short its tail.
    t.blob = <uint8_t*>malloc(blob_size + BLOB_PAD)
    t.tok_start = <uint64_t*>calloc(n_ids, sizeof(uint64_t))
    t.tok_len = <uint32_t*>calloc(n_ids, sizeof(uint32_t))
    if t.blob == NULL or t.tok_start == NULL or t.tok_len == NULL:
        return build_failed(err, BUILD_NO_MEMORY, 0, 0)
    memset(t.blob + blob_size, 0, BLOB_PAD)
    return 0


cdef int tables_place(Tables* t, uint32_t count, const uint64_t* starts, const uint32_t* lens,
                      const uint64_t* ranks, const uint8_t* blob, uint64_t blob_used,
                      BuildError* err) noexcept nogil:
    """Copy the regular tokens' bytes in and index them by rank."""
    cdef uint32_t i
    memcpy(t.blob, blob, blob_used)
    for i in range(count):
        if t.tok_len[ranks[i]] != 0:
            return build_failed(err, BUILD_RANK_TWICE, ranks[i], 0)
        t.tok_start[ranks[i]] = starts[i]
        t.tok_len[ranks[i]] = lens[i]
    return 0


cdef int tables_build_hash(Tables* t, uint32_t n_regular, uint32_t max_rank,
                           BuildError* err) noexcept nogil:
    """Hash every regular token, refusing duplicates, and check that the 256
    single bytes are all tokens (byte-level BPE starts from them)."""
    cdef uint64_t cap = 1024, i
    cdef uint32_t r, n, other
    cdef const uint8_t* tok
    # Load factor at most 0.6: linear probes stay within a cache line or two.
    while cap * 6 < 10 * <uint64_t>n_regular:
        cap *= 2
    t.slots = <Slot*>table_alloc(cap * sizeof(Slot), True)
    if t.slots == NULL:
        return build_failed(err, BUILD_NO_MEMORY, 0, 0)
    t.slot_mask = cap - 1
    for i in range(256):
        t.byte_rank[i] = NOT_FOUND
    t.max_token_len = 0
    for r in range(max_rank + 1):
        n = t.tok_len[r]
        if n == 0:
            continue
        tok = t.blob + t.tok_start[r]
        if n > MAX_TOKEN_BYTES:
            return build_failed(err, BUILD_TOKEN_TOO_LONG, r, n)
        if n == 1:
            t.byte_rank[tok[0]] = r
        if n > t.max_token_len:
            t.max_token_len = n
        if lookup_bytes(t, tok, n) != NOT_FOUND:
            other = lookup(t, tok, n)
            return build_failed(err, BUILD_DUPLICATE, r, other)
        i = hash_bytes(tok, n) & t.slot_mask
        while t.slots[i].meta != 0:
            i = (i + 1) & t.slot_mask
        t.slots[i].prefix = prefix8(tok, n)
        t.slots[i].meta = ((<uint64_t>r + 1) << 40) | (<uint64_t>n << 32) | t.tok_start[r]
    for i in range(256):
        if t.byte_rank[i] == NOT_FOUND:
            return build_failed(err, BUILD_MISSING_BYTE, 0, i)
    return 0


cdef int tables_build_pairs(Tables* t, uint32_t max_rank, uint32_t* n_pairs,
                            BuildError* err) noexcept nogil:
    """The pair table: for every token T and every split T = A + B where A
    and B are tokens too, (rank A, rank B) -> rank T.  These are all the
    joins BPE can ever make, since every part is a token."""
    cdef uint32_t r, n, k, a, b, x, y, count = 0, cap_found = 1 << 16
    cdef uint64_t cap = 1024, key, i, h
    cdef const uint8_t* tok
    cdef uint64_t* found = <uint64_t*>malloc(cap_found * sizeof(uint64_t))
    cdef uint64_t* grown
    if found == NULL:
        return build_failed(err, BUILD_NO_MEMORY, 0, 0)
    for r in range(max_rank + 1):
        n = t.tok_len[r]
        if n < 2:
            continue
        tok = t.blob + t.tok_start[r]
        for k in range(1, n):
            a = lookup(t, tok, k)
            if a == NOT_FOUND:
                continue
            b = lookup(t, tok + k, n - k)
            if b == NOT_FOUND:
                continue
            if count == cap_found:
                grown = <uint64_t*>realloc(found, 2 * cap_found * sizeof(uint64_t))
                if grown == NULL:
                    free(found)
                    return build_failed(err, BUILD_NO_MEMORY, 0, 0)
                found = grown
                cap_found *= 2
            found[count] = (((<uint64_t>a << ID_BITS) | b) << ID_BITS) | (r + 1)
            count += 1
    while cap * 6 < 10 * <uint64_t>count:       # load factor at most 0.6
        cap *= 2
    t.pairs = <uint64_t*>table_alloc(cap * sizeof(uint64_t), True)
    t.byte_pair = <uint32_t*>malloc(65536 * sizeof(uint32_t))
    t.pair_filter = <uint64_t*>calloc(PAIR_FILTER_WORDS, sizeof(uint64_t))
    if t.pairs == NULL or t.byte_pair == NULL or t.pair_filter == NULL:
        free(found)
        return build_failed(err, BUILD_NO_MEMORY, 0, 0)
    t.pair_mask = cap - 1
    n_pairs[0] = count
    for k in range(65536):
        t.byte_pair[k] = NOT_FOUND
    for k in range(count):
        key = found[k] >> ID_BITS
        h = mix(key)
        i = h & t.pair_mask
        while t.pairs[i] != 0:
            i = (i + 1) & t.pair_mask
        t.pairs[i] = found[k]
        filter_add(t.pair_filter, PAIR_FILTER_BITS, h)
        a = <uint32_t>(key >> ID_BITS)
        b = <uint32_t>(key & ID_MASK)
        if t.tok_len[a] == 1 and t.tok_len[b] == 1:
            x = t.blob[t.tok_start[a]]
            y = t.blob[t.tok_start[b]]
            t.byte_pair[(x << 8) | y] = <uint32_t>(found[k] & ID_MASK) - 1
    free(found)
    return 0


cdef void tables_add_special(Tables* t, uint32_t rank, const uint8_t* p, size_t n,
                             uint64_t* blob_used) noexcept nogil:
    """Append a special token's bytes to the blob under its id.  Specials are
    added after the hashes are built: they are never merged or looked up."""
    t.tok_start[rank] = blob_used[0]
    t.tok_len[rank] = <uint32_t>n
    memcpy(t.blob + blob_used[0], p, n)
    blob_used[0] += n


cdef void char_unit_add(Tables* t, const uint8_t* tok, uint32_t n, uint32_t rank) noexcept nogil:
    """If the regular token tok[:n] (rank) is one whole character of 2 or 3
    bytes, enter it in char_unit with the highest rank among the joins that
    make it from its bytes (merge_small's start from characters)."""
    cdef uint32_t code = char_code(tok, n), first
    if (n == 2 and code < 0x80) or (n == 3 and (code < 0x800 or 0xD800 <= code < 0xE000)):
        return                                     # not one character, or not its shortest form
    if n == 2:
        t.char_unit[code] = char_unit_entry(rank, 2, rank)
        return
    # Three bytes: whichever of the two byte pairs has the lower rank joins
    # first, and then the third byte joins it (the character is a token).
    first = umin(t.byte_pair[(<uint32_t>tok[0] << 8) | tok[1]],
                 t.byte_pair[(<uint32_t>tok[1] << 8) | tok[2]])
    if first != NOT_FOUND:
        t.char_unit[code] = char_unit_entry(rank, 3, first if first > rank else rank)


cdef int tables_build_spans(Tables* t, BuildError* err) noexcept nogil:
    """For merge_small's start from whole characters: the lowest rank of a
    regular token holding each byte pair (span_rank), and the characters that
    are tokens (char_unit).  Built with the pair table (it reads byte_pair)
    and saved with it in the table file."""
    cdef uint32_t r, n, k, b
    cdef uint64_t i, meta
    cdef const uint8_t* tok
    t.span_rank = <uint32_t*>malloc(65536 * sizeof(uint32_t))
    t.char_unit = <uint64_t*>calloc(65536, sizeof(uint64_t))
    if t.span_rank == NULL or t.char_unit == NULL:
        return build_failed(err, BUILD_NO_MEMORY, 0, 0)
    memset(t.span_rank, 0xFF, 65536 * sizeof(uint32_t))      # NOT_FOUND
    # The token hash holds exactly the regular tokens, so walk it.
    for i in range(t.slot_mask + 1):
        meta = t.slots[i].meta
        n = (meta >> 32) & 0xFF
        if meta == 0 or n < 2:
            continue
        tok = t.blob + (meta & 0xFFFFFFFFULL)
        r = <uint32_t>(meta >> 40) - 1
        if n <= 3:
            char_unit_add(t, tok, n, r)
        for k in range(1, n):
            b = (<uint32_t>tok[k - 1] << 8) | tok[k]
            t.span_rank[b] = umin(t.span_rank[b], r)
    return 0


cdef int tables_finish(Tables* t, BuildError* err) noexcept nogil:
    """What is derived at every load, from tables built or read from a file:
    the byte pairs that occur inside some regular token (from span_rank; see
    merge_any), the token filter (see token_maybe) and the decode words.
    About a millisecond, so not stored in the table file."""
    cdef uint32_t r, n, b
    cdef uint64_t i, meta
    t.dec = <uint64_t*>table_alloc(t.n_ids * sizeof(uint64_t), True)
    t.token_filter = <uint64_t*>table_alloc(TOKEN_FILTER_WORDS * sizeof(uint64_t), True)
    if t.dec == NULL or t.token_filter == NULL:
        return build_failed(err, BUILD_NO_MEMORY, 0, 0)
    memset(t.bigram, 0, sizeof(t.bigram))
    for b in range(65536):
        if t.span_rank[b] != NOT_FOUND:
            t.bigram[b >> 6] |= 1ULL << (b & 63)
    for i in range(t.slot_mask + 1):
        meta = t.slots[i].meta
        n = (meta >> 32) & 0xFF
        if meta != 0 and 2 <= n <= 16:
            filter_add(t.token_filter, TOKEN_FILTER_BITS, hash_bytes(t.blob + (meta & 0xFFFFFFFFULL), n))
    for r in range(t.n_ids):
        n = t.tok_len[r]
        if n > 0x7FFFFFFF:
            return build_failed(err, BUILD_HUGE_TOKEN, r, n)
        if n >= DECODE_INLINE:
            t.dec[r] = (1ULL << 63) | (<uint64_t>n << 32) | t.tok_start[r]
        elif n:
            t.dec[r] = prefix8(t.blob + t.tok_start[r], n) | (<uint64_t>n << 56)
    return 0
