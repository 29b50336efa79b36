# The bulk scanner: the scanner's cuts for up to 1024 bytes at once, for text
# in ASCII and the Latin and Cyrillic letters.
#
# The byte classes of 64 bytes come from qtok/classify.h (AVX2 or SSE2); this file
# turns them into the bitmap of piece starts with whole-word operations and
# reads pieces off it.  piece_end (scanner.pxi) handles everything else.

# piece_end above decides one piece at a time, and on prose each decision is
# a few bytes long: which alternative applies, how long the letter run is --
# branches the CPU mispredicts every few bytes.  For most text the same decisions can
# be taken for 64 bytes at once: classify the bytes into one bitmap per class
# (bit j: byte j), and derive from the bitmaps which bytes start a piece,
# with whole-word operations.  Pieces are then read off the start bitmap with
# count-trailing-zeros.
#
# The classes are those of ASCII, plus "letter" for every byte of the
# letters whose lead byte alone says they are letters: the Latin letters of
# U+00C0-02AF and the Cyrillic of U+0400-04FF (two bytes; the few symbols
# and marks among them are told apart by the byte after the lead), and
# U+1E00-1EFF (three bytes; Vietnamese).  A letter of several bytes is a run
# of letter bytes, which is all the rules below look at.  Any other byte
# from 0x80 up ends the window before it.
#
# Where a piece starts, following the pattern's alternatives from a known
# piece start:
#   - a digit always starts a piece (\p{N} takes one digit; nothing absorbs one);
#   - punctuation (ASCII, not letter, digit or whitespace) starts a piece
#     unless the byte before is punctuation (same run) or a space (` ?` prefix);
#   - a letter starts one after a digit or CR/LF, or after punctuation that
#     did not itself start a piece; after punctuation that did, that byte is
#     its prefix (or the apostrophe of a contraction);
#   - whitespace: CR/LF right after punctuation join its piece ([\r\n]*); the
#     rest of a whitespace run starts a piece; so does the stretch after its
#     last CR/LF, and, before a non-space, the run's last character when the
#     stretch is two or more long (\s+(?!\S) leaves it to the next piece, and
#     ` word` or ` .` take it as their prefix);
#   - contractions ('s 't 're 've 'm 'll 'd, any case) are found afterwards:
#     an apostrophe that starts a piece and is followed by one ends its piece
#     after it.
# One case is left to piece_end: a stretch of spaces or tabs between two
# CR/LF of one whitespace run (which of them is the run's last newline is
# not known from the left); the window falls back when it sees one.
#
# A window ends at a cut: a space followed by a letter and preceded by a
# byte of the classes that is not whitespace (` word`), or a digit.  A piece
# always starts there, and the pieces before it do not depend on anything
# after it: the pattern has no look-behind, and its one look-ahead,
# \s+(?!\S), only asks whether the byte after a whitespace run is a space --
# the byte before a ` word` cut is not whitespace, and a digit is not a space.
# So a window from a piece start to a cut is scanned on its own and gives
# exactly the pieces piece_end gives.  (Digits as cuts let text without
# spaces, such as base64, be scanned in bulk too.)


# Which classifier this CPU runs (AVX2 or SSE2), decided once.
classify_init()


cdef enum:
    BULK_WORDS = 16        # a window: up to 1024 bytes
    BULK_MIN_BYTES = 64    # a window needs at least one word of bytes with a class


cdef struct BulkScan:
    # The start bitmap of the current window and where reading it stands.
    uint64_t starts[BULK_WORDS]   # bit j of word k: a piece starts at base + 64k + j
    size_t base                   # the window's first byte (a piece start)
    size_t limit                  # its cut: every piece in it ends there or before
    size_t retry_at               # no window is tried before this byte
    size_t backoff                # added to retry_at after each failure in a row
    uint64_t bits                 # starts of word `word` not yet read
    int word
    int last_word                 # the word holding limit - 1


cdef bint bulk_window_at(BulkScan* b, const uint8_t* s, size_t n, size_t i) noexcept nogil:
    """Find the pieces of the text from i (a piece start) to the last cut in
    the next 1024 bytes, as a start bitmap in b.  False, with b.retry_at
    set, when there is no such window here: fewer than 64 bytes of ASCII and
    Latin or Cyrillic letters ahead, no cut, or a case the bitmaps leave to
    piece_end."""
    cdef Block blk[BULK_WORDS]
    cdef uint8_t tail[80]
    cdef size_t avail = n - i, left, region, c
    cdef int nw, k, kc, carry_abs = 0, carry_q = 0
    cdef uint64_t cut, early = 0, spill = 0, prev_o, prev_n, prev_q, prev_wr, prev_wide, prev_ns, prev_free
    cdef uint64_t L, D, W, N, SP, O, OS, LS, Sn, NAbs, WR, Q, P, landing, B1, S, nextW
    cdef uint64_t ap, e
    cdef size_t pos
    if avail < BULK_MIN_BYTES:
        b.retry_at = n
        return False
    nw = <int>((avail + 63) >> 6)
    if nw > BULK_WORDS:
        nw = BULK_WORDS
    # Classify word by word, stopping after the first that holds a byte of
    # no class (`high`).  classify64 reads 65 bytes; near the end of the
    # text it reads a copy padded with 0x80, a byte of no class.
    region = 0
    for k in range(nw):
        left = avail - 64 * (<size_t>k)
        if left > 64:
            classify64(s + i + 64 * k, &blk[k])
        else:
            memset(tail, 0x80, sizeof(tail))
            memcpy(tail, s + i + 64 * k, left)
            classify64(tail, &blk[k])
        blk[k].letter |= spill                   # a letter begun in the word before
        blk[k].high &= ~spill
        spill = blk[k].spill
        if blk[k].high:
            region = 64 * (<size_t>k) + <size_t>ctz64(blk[k].high)
            nw = k + 1
            break
        region = 64 * (<size_t>k + 1)
    if region < BULK_MIN_BYTES:
        b.retry_at = i + region + 1
        return False
    # The last cut c with 0 < c < region: a space, a letter after it, and
    # before it a byte with a class that is not whitespace; or a digit.
    c = 0
    k = nw - 1
    while k >= 0:
        cut = blk[k].blank & (blk[k].letter >> 1)
        if k + 1 < nw:
            cut |= blk[k].blank & (blk[k + 1].letter << 63)
        prev_ns = ~(blk[k].space | blk[k].high) << 1
        if k > 0:
            prev_ns |= ~(blk[k - 1].space | blk[k - 1].high) >> 63
        cut &= prev_ns
        cut |= blk[k].digit                  # a digit: a piece of its own, whatever is around
        if 64 * (<size_t>k) + 64 > region:     # only bytes of the classes before the cut
            cut &= (1ULL << (region & 63)) - 1
        if cut:
            c = 64 * (<size_t>k) + 63 - <size_t>clz64(cut)
            break
        k -= 1
    if c == 0:
        if region >= 64 * BULK_WORDS:
            b.retry_at = i + region          # a whole window's bytes without a cut
        elif region < avail:
            b.retry_at = i + region + 1      # past the byte of no class
        else:
            b.retry_at = n                   # the text ends without a cut
        return False
    kc = <int>(c >> 6)

    # The start bitmap, word by word; prev_* carry the top bit of the word
    # before ("the byte before"), the adds carry across words.
    prev_o = prev_n = prev_q = prev_wr = prev_wide = prev_free = 0
    for k in range(kc + 1):
        L = blk[k].letter
        D = blk[k].digit
        W = blk[k].space
        N = blk[k].newline
        SP = blk[k].blank
        O = ~(L | D | W | blk[k].high)
        # punctuation starts a piece after a letter, digit or whitespace other than ' '
        OS = O & ((((L | D | (W & ~SP)) << 1) | prev_wide))
        if k == 0:
            OS |= O & 1                          # the window starts a piece
        # a letter starts one after a digit, CR/LF, or punctuation that did not
        LS = L & (((D | N | (O & ~OS)) << 1) | prev_free)
        # CR/LF right after punctuation belong to its piece
        Sn = N & ((O << 1) | prev_o)
        NAbs = (add_carry(N, Sn, &carry_abs) ^ N) & N
        WR = W & ~NAbs
        Q = WR & ~N
        P = Q & ((N << 1) | prev_n)
        landing = add_carry(Q, P, &carry_q) & ~Q
        if landing & N:
            b.retry_at = i + c                   # spaces between two CR/LF: piece_end
            return False
        nextW = W >> 1
        if k + 1 < nw:
            nextW |= blk[k + 1].space << 63
        B1 = Q & ((Q << 1) | prev_q) & ~nextW
        S = D | OS | LS | (WR & ~((WR << 1) | prev_wr)) | P | B1
        if k == 0:
            S |= 1
        # contractions: an apostrophe that starts a piece, and one follows
        S |= early
        early = 0
        ap = blk[k].quote & OS
        while ap:
            pos = 64 * (<size_t>k) + <size_t>ctz64(ap)
            ap &= ap - 1
            e = contraction_end(s, n, i + pos)
            if e and e - i < c:
                e -= i
                if <int>(e >> 6) == k:
                    S |= 1ULL << (e & 63)
                else:
                    early |= 1ULL << (e & 63)     # in the next word
        if k == kc:
            S &= (1ULL << (c & 63)) - 1
        b.starts[k] = S
        prev_o = O >> 63
        prev_n = N >> 63
        prev_q = Q >> 63
        prev_wr = WR >> 63
        prev_wide = (L | D | (W & ~SP)) >> 63
        prev_free = (D | N | (O & ~OS)) >> 63
    b.base = i
    b.limit = i + c
    b.word = 0
    b.last_word = kc
    b.bits = b.starts[0] & ~1ULL
    return True


cdef bint bulk_window(BulkScan* b, const uint8_t* s, size_t n, size_t i) noexcept nogil:
    # Failures in a row push the next try further away, so text that is
    # mostly of other scripts pays for a try now and then, not for one per piece.
    if bulk_window_at(b, s, n, i):
        b.backoff = 0
        return True
    b.retry_at += b.backoff
    b.backoff = b.backoff * 2 + 32
    if b.backoff > 4096:
        b.backoff = 4096
    return False


cdef inline size_t bulk_next_end(BulkScan* b) noexcept nogil:
    """End of the window's next piece: the next start bit, or the cut."""
    cdef size_t end
    while b.bits == 0:
        b.word += 1
        if b.word > b.last_word:
            return b.limit
        b.bits = b.starts[b.word]
    end = b.base + 64 * <size_t>b.word + <size_t>ctz64(b.bits)
    b.bits &= b.bits - 1
    return end


cdef inline void bulk_skip_to(BulkScan* b, size_t j) noexcept nogil:
    """Go on from j, a piece start the caller reached past the pieces it
    read by itself since the last call: in the window, the start bits up to
    j are dropped; past the window's cut, the next call looks for a new
    window from j."""
    cdef size_t off
    if j >= b.limit:
        return
    off = j - b.base
    b.word = <int>(off >> 6)
    # The starts after j: j's own bit is the end of the piece before it.
    b.bits = b.starts[b.word] & ~((2ULL << (off & 63)) - 1) if (off & 63) != 63 else 0


cdef inline void bulk_start(BulkScan* b, size_t retry_at) noexcept nogil:
    """Ready b for a walk from the text's first byte; no window is tried
    before retry_at (the text's length: piece_end alone)."""
    b.limit = 0
    b.retry_at = retry_at
    b.backoff = 0


cdef inline size_t next_piece_end(BulkScan* b, const uint8_t* s, size_t n, size_t i) noexcept nogil:
    """piece_end(s, n, i) for a caller walking the pieces in order, with b
    readied by bulk_start: from the window's bitmap where there is one, else
    from piece_end."""
    if i < b.limit:
        return bulk_next_end(b)
    if i >= b.retry_at and bulk_window(b, s, n, i):
        return bulk_next_end(b)
    return piece_end(s, n, i)
