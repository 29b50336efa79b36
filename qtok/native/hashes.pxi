# Hashing: the mixers and byte hashes every table of the core is keyed by,
# and the checksum of the compiled-table file.

cdef inline uint64_t mix(uint64_t h) noexcept nogil:
    h ^= h >> 33
    h *= 0xFF51AFD7ED558CCDULL
    h ^= h >> 33
    return h


cdef uint64_t checksum(uint64_t seed, const uint8_t* p, size_t n) noexcept nogil:
    """A 64-bit checksum of a large buffer: four independent lanes, so it
    runs at memory speed rather than at one multiply per word."""
    cdef uint64_t a = seed ^ 0x243F6A8885A308D3ULL, b = seed ^ 0x13198A2E03707344ULL
    cdef uint64_t c = seed ^ 0xA4093822299F31D0ULL, d = seed ^ 0x082EFA98EC4E6C89ULL
    cdef uint64_t w[4]
    while n >= 32:
        memcpy(w, p, 32)
        a = (a ^ w[0]) * 0x9E3779B97F4A7C15ULL
        b = (b ^ w[1]) * 0xC2B2AE3D27D4EB4FULL
        c = (c ^ w[2]) * 0x165667B19E3779F9ULL
        d = (d ^ w[3]) * 0xD6E8FEB86659FD93ULL
        a ^= a >> 31
        b ^= b >> 29
        c ^= c >> 32
        d ^= d >> 27
        p += 32
        n -= 32
    return mix(a ^ mix(b ^ mix(c ^ mix(d ^ hash_bytes(p, n)))))


cdef inline uint64_t hash_step(uint64_t h, uint64_t w) noexcept nogil:
    h = (h ^ w) * 0x100000001B3ULL + 0x2545F4914F6CDD1DULL
    return h ^ (h >> 29)


cdef inline uint64_t hash_seed(size_t n) noexcept nogil:
    return 0x9E3779B97F4A7C15ULL ^ (n * 0xC2B2AE3D27D4EB4FULL)


# Most pieces are 2..16 bytes long, and their lengths follow no pattern the
# CPU can predict: a branch on "under 8 bytes?" is mispredicted for a good
# share of them.  So a piece of up to 16 bytes is always read as two words,
# masked by its length from these tables, and hashed in the same two steps
# whatever its length.
cdef uint64_t WORD0_MASK[17]      # bytes 0..7 of a piece of n bytes
cdef uint64_t WORD1_MASK[17]      # bytes 8..15
cdef size_t _n
for _n in range(17):
    WORD0_MASK[_n] = ~0ULL if _n >= 8 else (1ULL << (8 * _n)) - 1
    WORD1_MASK[_n] = ~0ULL if _n >= 16 else (0 if _n <= 8 else (1ULL << (8 * (_n - 8))) - 1)


cdef inline uint64_t hash16(uint64_t w0, uint64_t w1, size_t n) noexcept nogil:
    """The hash of a piece of n <= 16 bytes given as two zero-padded
    little-endian words (load16)."""
    return mix(hash_step(hash_step(hash_seed(n), w0), w1))


cdef inline void load16(const uint8_t* p, size_t n, size_t avail,
                        uint64_t* w0, uint64_t* w1) noexcept nogil:
    """The first min(n, 16) bytes of p as two zero-padded words.  avail is
    how many bytes may be read from p, so the fast path never reads past the
    end of the text."""
    cdef size_t k
    if avail >= 16:
        memcpy(w0, p, 8)
        memcpy(w1, p + 8, 8)
        w0[0] &= WORD0_MASK[n if n < 16 else 16]
        w1[0] &= WORD1_MASK[n if n < 16 else 16]
        return
    w0[0] = 0
    w1[0] = 0
    for k in range(n if n < 8 else 8):
        w0[0] |= (<uint64_t>p[k]) << (8 * k)
    for k in range(8, n if n < 16 else 16):
        w1[0] |= (<uint64_t>p[k]) << (8 * (k - 8))


cdef inline uint64_t hash_bytes(const uint8_t* p, size_t n) noexcept nogil:
    """The hash of p[:n]: hash16 for up to 16 bytes, else every whole word
    stepped in, then the zero-padded rest."""
    cdef uint64_t h, w, w1
    cdef size_t k
    if n <= 16:
        load16(p, n, n, &w, &w1)
        return hash16(w, w1, n)
    h = hash_seed(n)
    while n >= 8:
        memcpy(&w, p, 8)
        h = hash_step(h, w)
        p += 8
        n -= 8
    w = 0
    for k in range(n):
        w |= (<uint64_t>p[k]) << (8 * k)
    return mix(h ^ w)
