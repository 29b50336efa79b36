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
from libc.stdint cimport uint16_t, uint32_t, uint64_t

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    uint32_t PyUnicode_READ(int kind, void* data, Py_ssize_t i) nogil

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


cdef bint is_nfc_data(int kind, void* data, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, starter = -1      # position of the last starter (ccc 0)
    cdef uint32_t c
    cdef uint16_t p, ccc, last_ccc = 0
    cdef bint prev_decomp = False
    for i in range(n):
        c = PyUnicode_READ(kind, data, i)
        if c < 0x300:                         # nothing below U+0300 composes, decomposes
            last_ccc = 0                      # into marks, or is a mark
            starter = i
            prev_decomp = c >= 0xC0 and props(c) & QTOK_NFC_DECOMP
            continue
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
                    if composes(PyUnicode_READ(kind, data, starter), c):
                        return False
            elif starter >= 0:
                # A mark joins the last starter unless a mark between them has
                # a class at least its own.  The marks between are in
                # canonical order (checked), so the last one has the highest.
                if (starter == i - 1 or last_ccc < ccc) and composes(PyUnicode_READ(kind, data, starter), c):
                    return False
        if ccc == 0:
            starter = i
        last_ccc = ccc
        prev_decomp = (p & QTOK_NFC_DECOMP) != 0
    return True


def is_nfc(str text not None):
    """True if text is certainly NFC; False if it is not, or if this quick
    test cannot tell (then normalize it)."""
    if PyUnicode_IS_ASCII(text):
        return True
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef bint result
    with nogil:
        result = is_nfc_data(kind, data, n)
    return result
