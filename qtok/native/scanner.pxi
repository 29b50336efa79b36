# The scanner: where the next piece of the Qwen pattern ends.
#
# One hand-written function, piece_end, replaces the regex
#   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
#   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
# and follows its alternatives in order.  The bulk scanner (next file) takes
# over wherever it can decide many pieces at once.

# next_cp(s, i, &width), the code point at s[i], is in qtok/include/qtok/utf8.h.

cdef inline size_t skip_class(const uint8_t* s, size_t n, size_t i,
                              uint8_t want, uint8_t mask) noexcept nogil:
    """First index >= i whose character's (class & mask) differs from want."""
    cdef size_t w
    cdef uint32_t cp
    while i < n:
        if s[i] < 0x80:   # ASCII: the common case, no decoding needed
            if (CLASS_OF[s[i]] & mask) != want:
                return i
            i += 1
        else:
            cp = next_cp(s, i, &w)
            if (CLASS_OF[cp] & mask) != want:
                return i
            i += w
    return i


cdef inline size_t skip_letters(const uint8_t* s, size_t n, size_t i) noexcept nogil:
    """First index >= i that does not start a letter.

    Runs of ASCII letters are most of the text in Latin-script languages, so
    they are skipped eight bytes at a time: one test per word instead of a
    branch per byte (whose last, mispredicted, was the scanner's largest
    cost).  In each byte's top bit, `stop` marks a byte that is not an ASCII
    letter: with the case bit set and the top bit cleared, a letter is a
    byte from 0x61 to 0x7A, so adding 0x1F sets its top bit and adding 0x05
    does not -- and neither sum carries into the next byte."""
    cdef uint64_t w, a, stop
    cdef size_t width
    cdef uint32_t cp
    while i < n:
        if s[i] >= 0x80:
            cp = next_cp(s, i, &width)
            if not (CLASS_OF[cp] & IS_LETTER):
                return i
            i += width
        elif not (CLASS_OF[s[i]] & IS_LETTER):
            return i        # (the space after a word in other scripts: no SWAR)
        elif i + 8 <= n:
            memcpy(&w, s + i, 8)
            a = (w | 0x2020202020202020ULL) & 0x7F7F7F7F7F7F7F7FULL
            stop = (~((a + 0x1F1F1F1F1F1F1F1FULL) & ~(a + 0x0505050505050505ULL)) | w) \
                & 0x8080808080808080ULL
            if stop == 0:
                i += 8
                continue
            i += <size_t>ctz64(stop) >> 3
            if s[i] < 0x80:
                return i
        else:
            i += 1
    return i


cdef inline size_t skip_other(const uint8_t* s, size_t n, size_t i) noexcept nogil:
    # [^\s\p{L}\p{N}]+ : punctuation, symbols, marks, controls...
    return skip_class(s, n, i, 0, IS_LETTER | IS_NUMBER | IS_SPACE)


cdef inline size_t skip_newlines(const uint8_t* s, size_t n, size_t i) noexcept nogil:
    # [\r\n]*
    while i < n and (s[i] == 13 or s[i] == 10):
        i += 1
    return i


cdef inline uint32_t fold(uint32_t cp) noexcept nogil:
    """Case folding as the (?i:...) contraction group sees it: ASCII letters,
    and U+017F LATIN SMALL LETTER LONG S, which folds to 's'."""
    if 65 <= cp <= 90:
        return cp + 32
    if cp == 0x17F:
        return 115
    return cp


cdef inline size_t contraction_end(const uint8_t* s, size_t n, size_t i) noexcept nogil:
    """(?i:'s|'t|'re|'ve|'m|'ll|'d) at s[i] == "'": end index, or 0 if none."""
    cdef size_t w1, w2
    cdef uint32_t a, b
    if i + 1 >= n:
        return 0
    a = fold(next_cp(s, i + 1, &w1))
    if a == 115 or a == 116 or a == 109 or a == 100:        # s t m d
        return i + 1 + w1
    if i + 1 + w1 >= n:
        return 0
    b = fold(next_cp(s, i + 1 + w1, &w2))
    if (a == 114 and b == 101) or (a == 118 and b == 101) or (a == 108 and b == 108):  # re ve ll
        return i + 1 + w1 + w2
    return 0


cdef size_t piece_end(const uint8_t* s, size_t n, size_t i) noexcept nogil:
    """End of the piece of the Qwen pattern that starts at s[i] (i < n).

    The alternatives are tried in the pattern's order; every character
    matches one of them, so the scanner never skips text.
    """
    cdef size_t w, w2, j, k, last_start, after_newline
    cdef uint32_t cp = next_cp(s, i, &w), cp2
    cdef uint8_t cls = CLASS_OF[cp], cls2
    j = i + w                                   # just after the first character

    # (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if cp == 39:
        k = contraction_end(s, n, i)
        if k:
            return k

    # [^\r\n\p{L}\p{N}]?\p{L}+
    if cls & IS_LETTER:
        return skip_letters(s, n, j)
    if cp != 13 and cp != 10 and not (cls & IS_NUMBER) and j < n:
        cp2 = next_cp(s, j, &w2)
        if CLASS_OF[cp2] & IS_LETTER:
            return skip_letters(s, n, j + w2)

    # \p{N}   (one digit at a time)
    if cls & IS_NUMBER:
        return j

    # ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    if not (cls & IS_SPACE):
        return skip_newlines(s, n, skip_other(s, n, j))
    if cp == 32 and j < n:
        cp2 = next_cp(s, j, &w2)
        cls2 = CLASS_OF[cp2]
        if not (cls2 & (IS_LETTER | IS_NUMBER | IS_SPACE)):
            return skip_newlines(s, n, skip_other(s, n, j + w2))

    # Whitespace.  Walk the whole run, noting where its last character starts
    # and where its last CR/LF ends.
    #   \s*[\r\n]+  : the run up to and including its last CR or LF
    #   \s+(?!\S)   : the whole run at the end of text, else all but its last
    #                 character (which then leads the next piece)
    #   \s+         : a single whitespace character before non-space
    after_newline = 0
    last_start = i
    k = i
    while k < n:
        cp2 = next_cp(s, k, &w2)
        if not (CLASS_OF[cp2] & IS_SPACE):
            break
        last_start = k
        k += w2
        if cp2 == 13 or cp2 == 10:
            after_newline = k
    if after_newline:
        return after_newline
    if k == n or last_start == i:
        return k
    return last_start
