# cython: boundscheck=False, wraparound=False, cdivision=True
"""A fast, one-sided test that a str is already in Unicode NFC.

Qwen normalizes text to NFC before tokenizing, so qtok does too.  Almost all
text is NFC already, and CPython's ``unicodedata.normalize`` confirms that
quickly for most scripts -- but not for Bengali, Devanagari or Arabic-script
text, whose vowel signs and marks may compose with the letter before them
(Unicode's "NFC_Quick_Check = Maybe"): there it rebuilds the whole string,
at 13-18 MB/s, slower than tokenizing it.

``is_nfc(text)`` answers True only when text is certainly NFC, using a table
of every code point made at build time from the same ``unicodedata``
(tools/gen_nfc_table.py).  It applies Unicode's quick check -- no character
that cannot occur in NFC, combining marks in canonical order -- and settles
each "Maybe" character itself: it is fine unless it would compose with the
starter before it, which needs that pair to be a composing pair and nothing
between them to block it.  To keep that reasoning simple it gives up (answers
False) on one rare shape: a precomposed character followed by a combining
mark (NFC would take the mark apart from its own marks and reorder them).  False means "not known":
the caller then normalizes the slow way, which is always right.
"""
import unicodedata

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

cdef extern from "_nfc_table.h":
    const char* QTOK_NFC_UNIDATA_VERSION
    uint16_t QTOK_NFC_NO
    uint16_t QTOK_NFC_MAYBE
    uint16_t QTOK_NFC_DECOMP
    const uint16_t QTOK_NFC_INDEX[]
    const uint16_t QTOK_NFC_BLOCKS[][256]
    const uint64_t QTOK_NFC_PAIRS[]
    const int QTOK_NFC_PAIRS_COUNT

#: The Unicode version the table was made from.
UNIDATA_VERSION = QTOK_NFC_UNIDATA_VERSION.decode("ascii")

cdef enum:
    CCC_MASK = 0xFF
    HANGUL_V_FIRST = 0x1161
    HANGUL_T_LAST = 0x11C2


cdef inline uint16_t props(uint32_t c) noexcept nogil:
    return QTOK_NFC_BLOCKS[QTOK_NFC_INDEX[c >> 8]][c & 0xFF]


cdef bint composes(uint32_t first, uint32_t second) noexcept nogil:
    """Whether NFC joins first and second into one character."""
    cdef uint64_t key = (<uint64_t>first << 21) | second
    cdef int lo = 0, hi = QTOK_NFC_PAIRS_COUNT, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if QTOK_NFC_PAIRS[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    return lo < QTOK_NFC_PAIRS_COUNT and QTOK_NFC_PAIRS[lo] == key


# The check, for each of CPython's three string layouts (1, 2 or 4 bytes per
# character): a fused type makes one copy of the loop per layout, so the
# layout is not asked again at every character.
ctypedef fused unit_t:
    uint8_t
    uint16_t
    uint32_t


# A character without these flags is "inert": in NFC on its own, of combining
# class 0, joining nothing before it -- nearly every character of real text.
# A run of them leaves the check's state as its last character alone would.
# Every character below U+0300 is inert (tests/test_nfc.py checks the table).
cdef uint16_t STOPS = QTOK_NFC_NO | QTOK_NFC_MAYBE | CCC_MASK
cdef enum:
    BMP = 0x10000

# One bit per character of the Basic Multilingual Plane: 1 for an inert one.
# 8 KB, so it stays in the L1 cache where the two-level table (two reads per
# character, from blocks of 512 bytes) would not, for some scripts.
cdef uint8_t INERT_BMP[8192]       # BMP / 8
cdef uint32_t _c
for _c in range(<uint32_t>BMP):
    if not props(_c) & STOPS:
        INERT_BMP[_c >> 3] |= 1 << (_c & 7)


cdef inline uint32_t inert_bit(uint32_t c) noexcept nogil:
    """1 if c, a character of the BMP, is inert."""
    return (INERT_BMP[c >> 3] >> (c & 7)) & 1


cdef inline bint inert(uint32_t c) noexcept nogil:
    return inert_bit(c) if c < BMP else not props(c) & STOPS


def _is_inert(uint32_t c):
    """Whether the check passes over code point c as inert (a hook for the tests)."""
    if c >= 0x110000:
        raise ValueError("not a code point")
    return inert(c)


cdef extern from *:
    """
    /* Whether the 8 UTF-16 units at s are all below U+0300 (inert, and the
       whole of text in Latin scripts); SSE2 where there is, else a loop. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline int qtok_all_below_300(const uint16_t* s) {
        __m128i over = _mm_subs_epu16(_mm_loadu_si128((const __m128i*)s), _mm_set1_epi16(0x2FF));
        return _mm_movemask_epi8(_mm_cmpeq_epi16(over, _mm_setzero_si128())) == 0xFFFF;
    }
    #else
    static inline int qtok_all_below_300(const uint16_t* s) {
        int k;
        for (k = 0; k < 8; k++) if (s[k] >= 0x300) return 0;
        return 1;
    }
    #endif
    """
    bint all_below_300 "qtok_all_below_300"(const uint16_t* s) nogil


cdef inline Py_ssize_t skip_inert(const unit_t* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """The first position from i whose character is not inert, or n.  Most
    text is inert characters all the way: this loop is most of the work.
    In UTF-16 strings (every character in the BMP) it tests eight at a time
    without a branch per character: a branch taken at every change between
    spaces or punctuation and letters of another script is mispredicted
    at nearly every word."""
    if unit_t is uint16_t:
        while i + 8 <= n:
            if all_below_300(s + i):
                i += 8
                continue
            if not (inert_bit(s[i]) & inert_bit(s[i + 1]) & inert_bit(s[i + 2])
                    & inert_bit(s[i + 3]) & inert_bit(s[i + 4]) & inert_bit(s[i + 5])
                    & inert_bit(s[i + 6]) & inert_bit(s[i + 7])):
                break
            i += 8
    while i < n and inert(s[i]):
        i += 1
    return i


cdef bint nfc_units(const unit_t* s, Py_ssize_t n, bint skip) noexcept nogil:
    """is_nfc on the n characters at s.  skip=False checks every character
    the slow way (the reference for tests of the fast path)."""
    cdef Py_ssize_t i = 0, j, starter = -1      # position of the last starter (ccc 0)
    cdef uint32_t c
    cdef uint16_t p, ccc, last_ccc = 0
    cdef bint prev_decomp = False
    while i < n:
        if skip:
            # A run of inert characters leaves the state as its last one does.
            j = skip_inert(s, i, n)
            if j > i:
                starter = j - 1
                last_ccc = 0
                prev_decomp = (props(s[j - 1]) & QTOK_NFC_DECOMP) != 0
                i = j
                if i == n:
                    break
        c = s[i]
        p = props(c)
        ccc = p & CCC_MASK
        if p & QTOK_NFC_NO:
            return False
        if ccc:
            if last_ccc > ccc:                # marks out of canonical order
                return False
            if prev_decomp:                   # a mark after a precomposed character
                return False
        if p & QTOK_NFC_MAYBE:
            if HANGUL_V_FIRST <= c <= HANGUL_T_LAST:
                return False
            if ccc == 0:
                # A starter joins only the character right before it, if that
                # is a starter too (anything between would block it).  That
                # one is in NFC itself, so it is what the joining would see
                # even if it is precomposed: its own marks join it first.
                if starter == i - 1 and starter >= 0:
                    if composes(s[starter], c):
                        return False
            elif starter >= 0:
                # A mark joins the last starter unless a mark between them has
                # a class at least its own.  The marks between are in
                # canonical order (checked), so the last one has the highest.
                if (starter == i - 1 or last_ccc < ccc) and composes(s[starter], c):
                    return False
        if ccc == 0:
            starter = i
        last_ccc = ccc
        prev_decomp = (p & QTOK_NFC_DECOMP) != 0
        i += 1
    return True


cdef bint is_nfc_data(int kind, void* data, Py_ssize_t n, bint skip) noexcept nogil:
    if kind == 1:
        # Latin-1 only: every character is below U+0300, so inert.
        return True if skip else nfc_units(<const uint8_t*>data, n, False)
    if kind == 2:
        return nfc_units(<const uint16_t*>data, n, skip)
    return nfc_units(<const uint32_t*>data, n, skip)


cdef enum:
    NOGIL_MIN_CHARS = 65536     # shorter texts are checked without releasing the GIL


cdef bint text_is_nfc(str text, bint fast):
    if fast and PyUnicode_IS_ASCII(text):
        return True
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef bint result
    if n < NOGIL_MIN_CHARS:
        # Releasing and taking back the GIL costs more than checking this.
        return is_nfc_data(kind, data, n, fast)
    with nogil:
        result = is_nfc_data(kind, data, n, fast)
    return result


def is_nfc(str text not None, bint fast=True):
    """True if text is certainly NFC; False if it is not, or if this quick
    test cannot tell (then normalize it).  fast=False: the same test without
    skipping runs of inert characters, for tests."""
    return text_is_nfc(text, fast)


#: Whether the native check describes the Unicode version unicodedata uses.
#: to_nfc reads it at every call, so a test can turn the check off.
NATIVE_CHECK = UNIDATA_VERSION == unicodedata.unidata_version


def to_nfc(str text not None):
    """``unicodedata.normalize("NFC", text)``, the same str, sooner: text
    the native check knows to be NFC is returned as it is.  Here rather than
    in Python, as the encoders call it for every text: one Python call fewer
    each time (~150 ns of a ~530 ns encode of a word)."""
    if NATIVE_CHECK and text_is_nfc(text, True):
        return text
    return unicodedata.normalize("NFC", text)
