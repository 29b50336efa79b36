# The vocabulary's tables, as the encoder reads them: the token hash (token
# bytes -> rank), its Bloom filter, and the pair table ((rank a, rank b) ->
# rank of a's bytes followed by b's) with its own filter.
#
# During a merge every part is a token, so "is the concatenation of these
# two parts a token, and which" is one probe of the pair table on two
# integers: no hashing of bytes and no comparison against the token blob.
# They are built in build_tables.pxi.

cdef enum:
    BLOB_PAD = 16        # zero bytes after the blob's last token (see lookup_hashed)
    DECODE_INLINE = 8    # a token shorter than this is its own decode word (decode.pxi)


cdef inline uint32_t lookup_hashed(const Tables* t, const uint8_t* p, size_t n,
                                   uint64_t h, uint64_t w0, uint64_t w1) noexcept nogil:
    """Rank of the regular token p[:n], or NOT_FOUND.  h is hash_bytes(p, n),
    w0 and w1 the piece's first 16 bytes, zero-padded (load16).

    A slot holds its token's first 8 bytes, length, rank and place in the
    blob, so tokens of up to 8 bytes are confirmed by the slot alone, those
    of up to 16 by one more word (the blob is padded so that the word can
    always be read), and longer ones by a comparison of their tail."""
    cdef uint64_t i = h & t.slot_mask
    cdef uint64_t meta, tail
    cdef const uint8_t* tok
    while True:
        meta = t.slots[i].meta
        if meta == 0:
            return NOT_FOUND
        if ((meta >> 32) & 0xFF) == n and t.slots[i].prefix == w0:
            if n <= 8:
                return <uint32_t>(meta >> 40) - 1
            tok = t.blob + (meta & 0xFFFFFFFFULL) + 8
            if n <= 16:
                memcpy(&tail, tok, 8)
                if (tail & (~0ULL >> (8 * (16 - n)))) == w1:
                    return <uint32_t>(meta >> 40) - 1
            elif memcmp(tok, p + 8, n - 8) == 0:
                return <uint32_t>(meta >> 40) - 1
        i = (i + 1) & t.slot_mask


cdef inline uint64_t prefix8(const uint8_t* p, size_t n) noexcept nogil:
    """The first min(n, 8) bytes of p as a zero-padded word."""
    cdef uint64_t w0, w1
    load16(p, n if n < 8 else 8, 0, &w0, &w1)
    return w0


cdef inline uint32_t lookup_bytes(const Tables* t, const uint8_t* p, size_t n) noexcept nogil:
    """lookup_hashed for bytes that may be read only up to p[n - 1]."""
    cdef uint64_t w0, w1
    load16(p, n, n, &w0, &w1)
    return lookup_hashed(t, p, n, hash_bytes(p, n), w0, w1)


cdef inline uint32_t lookup(const Tables* t, const uint8_t* p, size_t n) noexcept nogil:
    """Rank of the regular token whose bytes are p[:n], or NOT_FOUND."""
    if n == 1:
        return t.byte_rank[p[0]]
    if n > t.max_token_len:
        return NOT_FOUND
    return lookup_bytes(t, p, n)


# Two blocked Bloom filters, each small enough to stay in L2 while the table
# it guards does not: one 64-bit word per key, with two bits set in it.  The
# word is picked by the top bits of the key's hash, the two bits by bits
# 37..48; the tables' own indexes (and the short cache's) use bits 0..34.
# A filter may let an absent key through, never refuses a present one.
cdef enum:
    PAIR_FILTER_BITS = 15
    PAIR_FILTER_WORDS = 1 << PAIR_FILTER_BITS
    TOKEN_FILTER_BITS = 15
    TOKEN_FILTER_WORDS = 1 << TOKEN_FILTER_BITS


cdef inline uint64_t filter_bits(uint64_t h) noexcept nogil:
    return (1ULL << ((h >> 37) & 63)) | (1ULL << ((h >> 43) & 63))


cdef inline void filter_add(uint64_t* words, int bits, uint64_t h) noexcept nogil:
    """Put the key hashing to h in a filter of 2**bits words."""
    words[h >> (64 - bits)] |= filter_bits(h)


cdef inline bint filter_has(const uint64_t* words, int bits, uint64_t h) noexcept nogil:
    """False when the key hashing to h is surely not in the filter."""
    return (words[h >> (64 - bits)] & filter_bits(h)) == filter_bits(h)


cdef inline bint token_maybe(const Tables* t, uint64_t h) noexcept nogil:
    """The token filter: False when the piece of 2..16 bytes whose hash16 is
    h is surely not a token, so that a piece the short cache does not hold
    reads the token hash only if it may be there (on prose, about half of
    such pieces are not tokens).  Tokens of 2..16 bytes in 2^15 words (256 KB)."""
    return filter_has(t.token_filter, TOKEN_FILTER_BITS, h)


# The pair filter: the keys of the pair table in 2^15 words (294,166 pairs:
# about 6% of absent pairs get through to the table).
cdef inline bint pair_maybe(const Tables* t, uint64_t h) noexcept nogil:
    """The pair filter: False when the pair hashing to h is surely not in the
    table.  Most pairs asked about spell no token (78% on unseen text), and
    the table is too big for the caches: the filter (256 KB) answers those."""
    return filter_has(t.pair_filter, PAIR_FILTER_BITS, h)


cdef inline uint32_t pair_probe(const Tables* t, uint64_t key, uint64_t h) noexcept nogil:
    """The pair table itself: rank for key (a << 21 | b), whose mix() is h."""
    cdef uint64_t i = h & t.pair_mask
    cdef uint64_t e
    while True:
        e = t.pairs[i]
        if e == 0:
            return NOT_FOUND
        if (e >> ID_BITS) == key:
            return <uint32_t>(e & ID_MASK) - 1
        i = (i + 1) & t.pair_mask


# Characters that merge_small may start from whole (built in tables_build_spans).
# An entry of char_unit is (highest << 24) | (length << 21) | rank: the
# character's token, its length in bytes, and the highest rank among the
# joins that make the token from the character's bytes.

cdef inline uint32_t char_code(const uint8_t* p, size_t n) noexcept nogil:
    """The code point that the n = 2 or 3 bytes at p spell as UTF-8 (possibly
    in an overlong form), or 0 when they are not a lead byte of that length
    followed by continuation bytes."""
    if n == 2:
        if (p[0] & 0xE0) != 0xC0 or (p[1] & 0xC0) != 0x80:
            return 0
        return (<uint32_t>(p[0] & 0x1F) << 6) | (p[1] & 0x3F)
    if (p[0] & 0xF0) != 0xE0 or (p[1] & 0xC0) != 0x80 or (p[2] & 0xC0) != 0x80:
        return 0
    return (<uint32_t>(p[0] & 0x0F) << 12) | (<uint32_t>(p[1] & 0x3F) << 6) | (p[2] & 0x3F)


cdef inline uint64_t char_unit_entry(uint32_t rank, uint32_t n, uint32_t highest) noexcept nogil:
    return (<uint64_t>highest << 24) | (<uint64_t>n << 21) | rank


cdef inline uint64_t char_unit_at(const Tables* t, const uint8_t* p, size_t n) noexcept nogil:
    """The char_unit entry of the character of n bytes at p, or 0.  An entry
    records its own length, so the overlong form of a shorter character
    (whose code point it shares) finds none."""
    cdef uint64_t e = t.char_unit[char_code(p, n)]
    return e if ((e >> 21) & 7) == n else 0
