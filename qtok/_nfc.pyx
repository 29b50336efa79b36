# cython: boundscheck=False, wraparound=False, cdivision=True
"""NFC as Hugging Face ``tokenizers`` does it, the same on every Python.

Qwen normalizes text to NFC before tokenizing, so qtok does too.  Which NFC
is a matter of Unicode version: Qwen2 and later normalize with ``tokenizers``,
whose tables are Unicode 9.0's, while each Python's ``unicodedata`` is newer
(14.0 on 3.11, 15.x on 3.12 and 3.13) and treats the marks added since as
marks.  qtok's table (``_nfc_table.h``) is generated once from ``tokenizers``
itself by tools/gen_nfc_table.py and checked in: every build, on every
Python, normalizes as ``tokenizers`` does (tests/test_nfc.py holds it to that
on every code point).

Two parts:

``is_nfc(text)``, one-sided and fast: True only when text is certainly NFC.
Almost all text is, and the check confirms it at memory speed even for
Bengali, Devanagari or Arabic-script text, whose vowel signs and marks may
compose with the letter before them (Unicode's "NFC_Quick_Check = Maybe").
It applies the quick check -- no character that cannot occur in NFC,
combining marks in canonical order -- and settles each "Maybe" character
itself: it is fine unless it would compose with the starter before it, which
needs that pair to be a composing pair and nothing between them to block it.
To keep that reasoning simple it gives up (answers False) on one rare shape:
a precomposed character followed by a combining mark.  False means "not
known".

``to_nfc(text)``: the text itself when the check passes, else the full
normalization -- decompose each character, put each run of marks in
canonical order, compose -- in native code on the pinned table.
"""
from cpython.unicode cimport PyUnicode_FromKindAndData
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy

from qtok.native.find_units cimport unit_at

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    int PyUnicode_4BYTE_KIND

cdef extern from "_nfc_table.h":
    const char* QTOK_NFC_UNICODE_VERSION
    uint16_t QTOK_NFC_NO
    uint16_t QTOK_NFC_MAYBE
    uint16_t QTOK_NFC_DECOMP
    const uint16_t QTOK_NFC_INDEX[]
    const uint16_t QTOK_NFC_BLOCKS[][256]
    const int QTOK_NFC_DECOMPOSED_COUNT
    const uint32_t QTOK_NFC_DECOMPOSED[]
    const uint16_t QTOK_NFC_DECOMP_START[]
    const uint32_t QTOK_NFC_DECOMP_DATA[]
    const int QTOK_NFC_PAIRS_COUNT
    const uint64_t QTOK_NFC_PAIRS[]
    const uint32_t QTOK_NFC_COMPOSITES[]

#: The Unicode version of the table: that of Hugging Face tokenizers' NFC.
UNICODE_VERSION = QTOK_NFC_UNICODE_VERSION.decode("ascii")

cdef enum:
    CCC_MASK = 0xFF
    # Hangul, composed and decomposed by arithmetic (Unicode 3.12).
    HANGUL_S_FIRST = 0xAC00
    HANGUL_L_FIRST = 0x1100
    HANGUL_V_FIRST = 0x1161
    HANGUL_T_FIRST = 0x11A7       # one before the first trailing consonant
    HANGUL_L_COUNT = 19
    HANGUL_V_COUNT = 21
    HANGUL_T_COUNT = 28
    HANGUL_N_COUNT = 588          # V_COUNT * T_COUNT
    HANGUL_S_COUNT = 11172        # L_COUNT * N_COUNT
    HANGUL_T_LAST = 0x11C2


cdef inline uint16_t props(uint32_t c) noexcept nogil:
    return QTOK_NFC_BLOCKS[QTOK_NFC_INDEX[c >> 8]][c & 0xFF]


cdef uint32_t primary_composite(uint32_t first, uint32_t second) noexcept nogil:
    """What NFC joins first and second into, or 0 if they do not join."""
    cdef uint32_t s_index
    if HANGUL_V_FIRST <= second < HANGUL_V_FIRST + HANGUL_V_COUNT:
        if HANGUL_L_FIRST <= first < HANGUL_L_FIRST + HANGUL_L_COUNT:
            return HANGUL_S_FIRST + ((first - HANGUL_L_FIRST) * HANGUL_V_COUNT
                                     + second - HANGUL_V_FIRST) * HANGUL_T_COUNT
    elif HANGUL_T_FIRST < second <= HANGUL_T_LAST:
        s_index = first - HANGUL_S_FIRST
        if first >= HANGUL_S_FIRST and s_index < HANGUL_S_COUNT and s_index % HANGUL_T_COUNT == 0:
            return first + second - HANGUL_T_FIRST
    cdef uint64_t key = (<uint64_t>first << 21) | second
    cdef int lo = 0, hi = QTOK_NFC_PAIRS_COUNT, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if QTOK_NFC_PAIRS[mid] < key:
            lo = mid + 1
        else:
            hi = mid
    if lo < QTOK_NFC_PAIRS_COUNT and QTOK_NFC_PAIRS[lo] == key:
        return QTOK_NFC_COMPOSITES[lo]
    return 0


cdef inline bint composes(uint32_t first, uint32_t second) noexcept nogil:
    """Whether NFC joins first and second into one character."""
    return primary_composite(first, second) != 0


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


cdef Py_ssize_t nfc_end(const unit_t* s, Py_ssize_t i, Py_ssize_t n, bint skip) noexcept nogil:
    """Where the check of s[i:n] first fails, or n: the characters before it
    are NFC.  It starts afresh at i, which must be 0 or a safe boundary
    (safe_boundary).  skip=False checks every character the slow way (the
    reference for tests of the fast path)."""
    cdef Py_ssize_t j, starter = -1      # position of the last starter (ccc 0)
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
            return i
        if ccc:
            if last_ccc > ccc:                # marks out of canonical order
                return i
            if prev_decomp:                   # a mark after a precomposed character
                return i
        if p & QTOK_NFC_MAYBE:
            if HANGUL_V_FIRST <= c <= HANGUL_T_LAST:
                return i
            if ccc == 0:
                # A starter joins only the character right before it, if that
                # is a starter too (anything between would block it).  That
                # one is in NFC itself, so it is what the joining would see
                # even if it is precomposed: its own marks join it first.
                if starter == i - 1 and starter >= 0:
                    if composes(s[starter], c):
                        return i
            elif starter >= 0:
                # A mark joins the last starter unless a mark between them has
                # a class at least its own.  The marks between are in
                # canonical order (checked), so the last one has the highest.
                if (starter == i - 1 or last_ccc < ccc) and composes(s[starter], c):
                    return i
        if ccc == 0:
            starter = i
        last_ccc = ccc
        prev_decomp = (p & QTOK_NFC_DECOMP) != 0
        i += 1
    return n


cdef Py_ssize_t nfc_data_end(int kind, const void* data, Py_ssize_t i, Py_ssize_t n,
                             bint skip) noexcept nogil:
    """nfc_end of data[i:n], a str's layout (kind bytes a character)."""
    if kind == 1:
        # Latin-1 only: every character is below U+0300, so inert.
        return n if skip else nfc_end(<const uint8_t*>data, i, n, False)
    if kind == 2:
        return nfc_end(<const uint16_t*>data, i, n, skip)
    return nfc_end(<const uint32_t*>data, i, n, skip)


cdef bint is_nfc_data(int kind, void* data, Py_ssize_t n, bint skip) noexcept nogil:
    return nfc_data_end(kind, data, 0, n, skip) == n


cdef enum:
    NOGIL_MIN_CHARS = 65536     # shorter texts are checked without releasing the GIL


cdef Py_ssize_t text_nfc_end(str text, bint fast):
    """nfc_end of the whole text: where the check first fails, or its length."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    if fast and PyUnicode_IS_ASCII(text):
        return n
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t end
    if n < NOGIL_MIN_CHARS:
        # Releasing and taking back the GIL costs more than checking this.
        return nfc_data_end(kind, data, 0, n, fast)
    with nogil:
        end = nfc_data_end(kind, data, 0, n, fast)
    return end


cdef bint text_is_nfc(str text, bint fast):
    return text_nfc_end(text, fast) == PyUnicode_GET_LENGTH(text)


def is_nfc(str text not None, bint fast=True):
    """True if text is certainly NFC; False if it is not, or if this quick
    test cannot tell (then normalize it).  fast=False: the same test without
    skipping runs of inert characters, for tests."""
    return text_is_nfc(text, fast)


# The full normalization, into a growing buffer of code points.

cdef struct CodePoints:
    uint32_t* data
    Py_ssize_t n
    Py_ssize_t cap


cdef int grow(CodePoints* out, Py_ssize_t more) noexcept nogil:
    """Room for `more` code points past out.n; -1 when out of memory."""
    cdef Py_ssize_t cap = out.cap
    cdef uint32_t* data
    if out.n + more <= cap:
        return 0
    while cap < out.n + more:
        cap = cap * 2 + 16
    data = <uint32_t*>realloc(out.data, cap * sizeof(uint32_t))
    if data == NULL:
        return -1
    out.data = data
    out.cap = cap
    return 0


cdef inline uint32_t ccc(uint32_t c) noexcept nogil:
    return props(c) & CCC_MASK


cdef int decomposition(uint32_t c, uint32_t* parts) noexcept nogil:
    """The full canonical decomposition of c into parts (room for 4: no
    decomposition is longer), and how many there are; 1 for c itself."""
    cdef uint32_t s_index, t
    cdef int lo = 0, hi = QTOK_NFC_DECOMPOSED_COUNT, mid, k, n
    if not props(c) & QTOK_NFC_DECOMP:
        parts[0] = c
        return 1
    s_index = c - HANGUL_S_FIRST
    if c >= HANGUL_S_FIRST and s_index < HANGUL_S_COUNT:
        parts[0] = HANGUL_L_FIRST + s_index // HANGUL_N_COUNT
        parts[1] = HANGUL_V_FIRST + (s_index % HANGUL_N_COUNT) // HANGUL_T_COUNT
        t = s_index % HANGUL_T_COUNT
        if t == 0:
            return 2
        parts[2] = HANGUL_T_FIRST + t
        return 3
    while lo < hi:
        mid = (lo + hi) >> 1
        if QTOK_NFC_DECOMPOSED[mid] < c:
            lo = mid + 1
        else:
            hi = mid
    n = QTOK_NFC_DECOMP_START[lo + 1] - QTOK_NFC_DECOMP_START[lo]
    for k in range(n):
        parts[k] = QTOK_NFC_DECOMP_DATA[QTOK_NFC_DECOMP_START[lo] + k]
    return n


cdef void insertion_order(uint32_t* run, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef uint32_t c
    for i in range(1, n):
        c = run[i]
        j = i
        while j > 0 and ccc(run[j - 1]) > ccc(c):
            run[j] = run[j - 1]
            j -= 1
        run[j] = c


cdef int order_marks(uint32_t* run, Py_ssize_t n) noexcept nogil:
    """Canonical ordering of a run of n marks: a stable sort by combining
    class.  Insertion for the usual few; for a long run (adversarial text),
    a merge sort, so the cost stays n log n.  -1 when out of memory."""
    cdef Py_ssize_t width, lo, mid, hi, a, b, k
    cdef uint32_t* tmp
    cdef uint32_t* src
    cdef uint32_t* dst
    if n <= 32:
        insertion_order(run, n)
        return 0
    tmp = <uint32_t*>malloc(n * sizeof(uint32_t))
    if tmp == NULL:
        return -1
    src, dst = run, tmp
    width = 1
    while width < n:
        lo = 0
        while lo < n:
            mid = min(lo + width, n)
            hi = min(lo + 2 * width, n)
            a, b, k = lo, mid, lo
            while a < mid and b < hi:
                if ccc(src[b]) < ccc(src[a]):
                    dst[k] = src[b]
                    b += 1
                else:
                    dst[k] = src[a]
                    a += 1
                k += 1
            while a < mid:
                dst[k] = src[a]
                a += 1
                k += 1
            while b < hi:
                dst[k] = src[b]
                b += 1
                k += 1
            lo = hi
        src, dst = dst, src
        width *= 2
    if src != run:
        memcpy(run, src, n * sizeof(uint32_t))
    free(tmp)
    return 0


cdef int decompose_units(const unit_t* s, Py_ssize_t n, CodePoints* out) noexcept nogil:
    """NFD of the n characters at s, appended to out; -1 when out of memory."""
    cdef Py_ssize_t i, run_start = -1
    cdef uint32_t parts[4]
    cdef uint32_t c
    cdef int k, count
    cdef uint16_t last_class = 0, cls
    cdef bint in_order = True
    if grow(out, n + n // 8 + 4) < 0:
        return -1
    for i in range(n):
        count = decomposition(s[i], parts)
        if grow(out, count) < 0:
            return -1
        for k in range(count):
            c = parts[k]
            cls = ccc(c)
            if cls == 0:
                if not in_order and order_marks(out.data + run_start, out.n - run_start) < 0:
                    return -1
                run_start = -1
                in_order = True
            elif run_start < 0:
                run_start = out.n
            elif cls < last_class:
                in_order = False
            last_class = cls
            out.data[out.n] = c
            out.n += 1
    if not in_order:
        return order_marks(out.data + run_start, out.n - run_start)
    return 0


cdef void compose_in_place(CodePoints* cps) noexcept nogil:
    """Canonical composition of the canonically ordered cps.  A character
    joins the last starter unless something between blocks it: a starter,
    or a mark of a class at least its own (the marks between are in order,
    so the last one kept has the highest class)."""
    cdef Py_ssize_t r, w = 0, starter = -1
    cdef uint32_t c, joined
    cdef uint16_t p, cls, last_class = 0
    for r in range(cps.n):
        c = cps.data[r]
        p = props(c)
        cls = p & CCC_MASK
        if starter >= 0 and p & QTOK_NFC_MAYBE and (w == starter + 1 or last_class < cls):
            joined = primary_composite(cps.data[starter], c)
            if joined:
                cps.data[starter] = joined
                continue
        if cls == 0:
            starter = w
        last_class = cls
        cps.data[w] = c
        w += 1
    cps.n = w


cdef int normalize_data(int kind, const void* data, Py_ssize_t n, bint compose,
                        CodePoints* out) noexcept nogil:
    """NFD of the n characters at data (a str's layout: kind bytes each) into
    out, and with compose NFC; -1 when out of memory."""
    cdef int status
    if kind == 1:
        status = decompose_units(<const uint8_t*>data, n, out)
    elif kind == 2:
        status = decompose_units(<const uint16_t*>data, n, out)
    else:
        status = decompose_units(<const uint32_t*>data, n, out)
    if status == 0 and compose:
        compose_in_place(out)
    return status


# Normalizing only where the check fails.  A text the check does not pass
# is most often NFC all the same (Arabic with its vowel marks: a mark after a
# precomposed letter such as U+0625 is something the check cannot vouch for),
# or NFC but for a few places; normalizing all of it, and making a new str
# whose UTF-8 the encoder must then make again, cost a 3.6 MB text 18 ms
# where encoding it took 21.  So the text is cut at safe boundaries around
# each place the check stops at, only those stretches are normalized, and
# the text itself is returned when none of them changes.

cdef inline bint safe_boundary(uint32_t c) noexcept nogil:
    """Whether text may be cut before c for NFC: a starter (class 0) that is
    NFC itself and that nothing before it composes with.  No mark after it
    reaches past it (a starter blocks), so the NFC of the text is the NFC
    of each side, and the check may start afresh there."""
    return (props(c) & STOPS) == 0


cdef enum:
    SLICE_BACK_CHARS = 64       # how far back nfc_slice_end looks for a safe boundary


cdef Py_ssize_t nfc_slice_end(int kind, const void* data, Py_ssize_t start,
                              Py_ssize_t end) noexcept nogil:
    """The check of characters start..end-1 of a longer text, for a text
    checked in slices on several threads: where it first fails, or end.

    The check starts afresh at the last safe boundary at or before start
    (safe_boundary), found within SLICE_BACK_CHARS characters, and reads on
    from there as the check of the whole text would: no character before a
    safe boundary changes how the check reads what follows it.  So every
    slice passes exactly when the whole text does, and the least of the
    slices' results is where the check of the whole first fails (what
    nfc_after_check wants).  A slice with no safe boundary near its start
    (a long run of marks) comes back start, "cannot tell", as a place where
    the check stops: nfc_slice_own_end then normalizes the stretch around
    it, as around any other."""
    cdef Py_ssize_t b = start, lowest
    if kind == 1:
        return end                      # Latin-1: every character is inert
    lowest = start - SLICE_BACK_CHARS if start > SLICE_BACK_CHARS else 0
    while b > lowest and not safe_boundary(unit_at(kind, data, b)):
        b -= 1
    if b > 0 and not safe_boundary(unit_at(kind, data, b)):
        return start
    return nfc_data_end(kind, data, b, end, True)


cdef int nfc_stretch(int kind, const void* data, Py_ssize_t n, Py_ssize_t f, Py_ssize_t lo,
                     Py_ssize_t* a, Py_ssize_t* e, CodePoints* stretch) noexcept nogil:
    """The stretch around f, a place where the check stopped: from the safe
    boundary before it (lo at the earliest) to the one after, a[0] to
    e[0] - 1, normalized (NFC) into stretch.  1 when that leaves it as it
    is, 0 when it changes it, -1 when out of memory."""
    cdef Py_ssize_t k
    a[0] = f
    while a[0] > lo and not safe_boundary(unit_at(kind, data, a[0])):
        a[0] -= 1
    e[0] = f + 1
    while e[0] < n and not safe_boundary(unit_at(kind, data, e[0])):
        e[0] += 1
    stretch.n = 0
    if normalize_data(kind, <const char*>data + a[0] * kind, e[0] - a[0], True, stretch) < 0:
        return -1
    if stretch.n != e[0] - a[0]:
        return 0
    for k in range(stretch.n):
        if stretch.data[k] != unit_at(kind, data, a[0] + k):
            return 0
    return 1


cdef Py_ssize_t nfc_slice_own_end(int kind, const void* data, Py_ssize_t start,
                                  Py_ssize_t end, Py_ssize_t n) noexcept nogil:
    """nfc_slice_end, and then, where the check stops, the stretch around
    that place (from the safe boundary before it to the one after, as
    nfc_spans takes it) normalized and compared with the text: the check is
    one-sided, and many places it stops at are NFC after all (a vowel mark
    after an Arabic letter that decomposes).  So a thread finds most texts
    NFC by itself.  end when the slice's characters are their own NFC;
    else where the first stretch that normalization changes starts, the
    text's own NFC up to there (or start when out of memory): the text is
    then normalized from there (nfc_after_check).  n: the text's length,
    which a stretch may reach into."""
    cdef CodePoints stretch
    cdef Py_ssize_t f, a, e, lo = 0
    cdef int same
    stretch.data = NULL
    stretch.n = stretch.cap = 0
    f = nfc_slice_end(kind, data, start, end)
    while f < end:
        same = nfc_stretch(kind, data, n, f, lo, &a, &e, &stretch)
        if same < 0:
            f = start                   # out of memory: the serial way will say so
            break
        if not same:
            f = a
            break
        lo = e
        f = end if e >= end else nfc_data_end(kind, data, e, end, True)
    free(stretch.data)
    return f


cdef int append_units(CodePoints* out, int kind, const void* data, Py_ssize_t a,
                      Py_ssize_t b) noexcept nogil:
    """Append characters a..b-1 of data unchanged; -1 when out of memory."""
    cdef Py_ssize_t k
    if grow(out, b - a) < 0:
        return -1
    for k in range(a, b):
        out.data[out.n] = unit_at(kind, data, k)
        out.n += 1
    return 0


cdef int nfc_spans(int kind, const void* data, Py_ssize_t n, Py_ssize_t fail,
                   CodePoints* out) noexcept nogil:
    """NFC of the n characters at data into out, normalizing only the
    stretches around the places the check fails at, each from the safe
    boundary before to the one after; fail is where the check of the whole
    first fails (nfc_data_end from 0), so that it is not run twice.  1: out
    holds the NFC; 0: the text is NFC already (out unused); -1: out of
    memory."""
    cdef CodePoints stretch
    cdef Py_ssize_t i = 0, kept = 0, f, a, e
    cdef int same, status = 0, changed = 0
    stretch.data = NULL
    stretch.n = stretch.cap = 0
    f = fail
    while f < n:
        same = nfc_stretch(kind, data, n, f, i, &a, &e, &stretch)
        if same < 0:
            status = -1
            break
        if not same:
            if append_units(out, kind, data, kept, a) < 0 or grow(out, stretch.n) < 0:
                status = -1
                break
            memcpy(out.data + out.n, stretch.data, stretch.n * sizeof(uint32_t))
            out.n += stretch.n
            kept = e
            changed = 1
        i = e
        f = nfc_data_end(kind, data, i, n, True)
    if status == 0 and changed and append_units(out, kind, data, kept, n) < 0:
        status = -1
    free(stretch.data)
    return status if status < 0 else changed


cdef enum:
    # What normalize_text makes.
    WHOLE_NFD = 0           # canonical decomposition of the whole text
    WHOLE_NFC = 1           # NFC of the whole text, the long way
    NFC_STRETCHES = 2       # NFC where the check stops (nfc_spans)


cdef int normalize_how(int how, int kind, void* data, Py_ssize_t n, Py_ssize_t fail,
                       CodePoints* out) noexcept nogil:
    """1: out holds the result; 0: the text is its own NFC (NFC_STRETCHES
    only, with fail where the check first fails); -1: out of memory."""
    if how == NFC_STRETCHES:
        return nfc_spans(kind, data, n, fail, out)
    if normalize_data(kind, data, n, how == WHOLE_NFC, out) < 0:
        return -1
    return 1


cdef str normalize_text(str text, int how, Py_ssize_t fail=0):
    """The NFD or NFC of text (how: WHOLE_NFD, WHOLE_NFC or NFC_STRETCHES,
    the last with fail, where the check of text first fails), text itself
    when that is the same; without the GIL for a long text."""
    cdef int kind = PyUnicode_KIND(text)
    cdef void* data = PyUnicode_DATA(text)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text)
    cdef CodePoints out
    cdef int status
    out.data = NULL
    out.n = out.cap = 0
    try:
        if n < NOGIL_MIN_CHARS:
            status = normalize_how(how, kind, data, n, fail, &out)
        else:
            with nogil:
                status = normalize_how(how, kind, data, n, fail, &out)
        if status < 0:
            raise MemoryError(f"no memory to normalize a text of {n:,} characters")
        if status == 0:
            return text
        return PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out.data, out.n)
    finally:
        free(out.data)


def to_nfc(str text not None):
    """NFC of text, as Hugging Face tokenizers makes it: text itself when it
    is NFC (the native check knows it nearly always; else the places it
    stops at are normalized, see nfc_spans), else the normalized text.
    Native rather than in Python, as the encoders call it for every text:
    one Python call fewer each time (~150 ns of a ~530 ns encode of a word).
    The check runs once: the stretches start from where it failed."""
    cdef Py_ssize_t fail = text_nfc_end(text, True)
    if fail == PyUnicode_GET_LENGTH(text):
        return text
    return normalize_text(text, NFC_STRETCHES, fail)


cdef str nfc_after_check(str text, Py_ssize_t fail):
    """to_nfc of text whose check has run already (on threads, in slices:
    nfc_slice_end) and first failed at fail: the stretches from there on."""
    return normalize_text(text, NFC_STRETCHES, fail)


def _check_end(str text not None, start=None, end=None, bint own=False):
    """Where the check of text first fails, or its length (for tests); with
    start and end, the check of that slice as a long text's threads run it
    (nfc_slice_end; own: nfc_slice_own_end)."""
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(text), a, b
    if start is None:
        return text_nfc_end(text, True)
    a, b = start, end
    if not 0 <= a <= b <= n:
        raise ValueError("need 0 <= start <= end <= len(text)")
    if own:
        return nfc_slice_own_end(PyUnicode_KIND(text), PyUnicode_DATA(text), a, b, n)
    return nfc_slice_end(PyUnicode_KIND(text), PyUnicode_DATA(text), a, b)


def _nfc_after_check(str text not None, Py_ssize_t fail):
    """nfc_after_check, for tests."""
    if not 0 <= fail <= PyUnicode_GET_LENGTH(text):
        raise ValueError("need 0 <= fail <= len(text)")
    return nfc_after_check(text, fail)


def _nfc_whole(str text not None):
    """NFC of text normalized whole, the long way (for tests of to_nfc)."""
    return normalize_text(text, WHOLE_NFC)


def nfd(str text not None):
    """Canonical decomposition of text, by the same table (marks in canonical
    order, nothing composed)."""
    return normalize_text(text, WHOLE_NFD)


def combining(str ch not None):
    """The canonical combining class of the character ch, by the table."""
    if len(ch) != 1:
        raise TypeError(f"combining() expects one character, got a str of length {len(ch)}")
    return ccc(ord(ch))


def composite(str first not None, str second not None):
    """The character NFC joins the characters first and second into, or None."""
    if len(first) != 1 or len(second) != 1:
        raise TypeError("composite() expects two single characters")
    cdef uint32_t joined = primary_composite(ord(first), ord(second))
    return chr(joined) if joined else None
