# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""qtok's native core: Qwen pre-tokenization and byte-level BPE.

Read top to bottom:

1. Code point classes (letter / number / whitespace), from a table generated
   out of tiktoken's regex engine (tools/gen_unicode_classes.py).
2. The scanner: one hand-written function that finds where the next piece of
   the Qwen pattern ends.  It replaces the regex
     (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}
     | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
   and follows its alternatives in order.
   2b. The bulk scanner: for text in ASCII and the Latin and Cyrillic
   letters, the same cuts for up to 1024 bytes at once, from per-class
   bitmaps of 64 bytes (SSE2) and whole-word operations; piece_end handles
   everything else.
3. The vocabulary hash: token bytes -> rank.
4. BPE on one piece, with tiktoken's rule: a piece that is a token is emitted
   whole; otherwise merge the adjacent pair whose concatenation has the lowest
   rank (leftmost on ties) until nothing merges.  Short pieces use a plain
   array scan; long ones a heap, so a 1M-byte piece is not quadratic.
5. CoreBPE: building the tables, and the entry points called from Python.
   Encoding runs with the GIL released; batches run on native threads.

Input text reaches the core as UTF-8 from PyUnicode_AsUTF8AndSize, which is
always valid UTF-8, so the decoder below does not re-validate it.
"""

from cpython.object cimport PyObject
from cpython.list cimport PyList_New
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.unicode cimport PyUnicode_AsUTF8, PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8
from cpython.long cimport PyLong_CheckExact, PyLong_AsLongLongAndOverflow
from operator import index as operator_index
from libc.stdint cimport int8_t, uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memcmp, memmove, memset
from libc.stdio cimport FILE, fopen, fread, fclose
import os

cdef extern from "Python.h":
    # Borrowed-reference list access, for filling result lists with the
    # cached int objects without touching reference counts twice.
    PyObject* qtok_list_get "PyList_GET_ITEM"(object lst, Py_ssize_t i)
    void qtok_list_set "PyList_SET_ITEM"(object lst, Py_ssize_t i, PyObject* item)
    void qtok_incref "Py_INCREF"(PyObject* o)
    PyObject** list_items "PySequence_Fast_ITEMS"(object lst)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)

from qtok._nfc cimport is_nfc_data


cdef extern from *:
    """
    /* Everlasting int objects (see "result lists" in _bpe.pyx): a reference
       count no program can bring to zero, so lists may hold them without a
       Py_INCREF.  CPython 3.12+ has immortal objects for this: a count whose
       low 32 bits read as a negative int32, which Py_DECREF leaves alone
       (3.12's Py_INCREF still counts it up, to 2**32 - 1 at most; checked:
       3,221,225,482 after 20,000 lists).  Before 3.12 the count is 2**60: every list
       that held one without an INCREF takes one off when it is freed, and
       2**60 of those would take a machine decades.  Free-threaded and 32-bit
       builds keep the INCREF. */
    #if SIZEOF_VOID_P == 8 && !defined(Py_GIL_DISABLED)
    #define QTOK_EVERLASTING_INTS 1
    #if PY_VERSION_HEX >= 0x030C0000
    #define QTOK_EVERLASTING_COUNT ((Py_ssize_t)3 << 30)
    #else
    #define QTOK_EVERLASTING_COUNT ((Py_ssize_t)1 << 60)
    #endif
    #else
    #define QTOK_EVERLASTING_INTS 0
    #define QTOK_EVERLASTING_COUNT 0
    #endif
    static inline void qtok_make_everlasting(PyObject* o) {
    #if QTOK_EVERLASTING_INTS
        Py_SET_REFCNT(o, QTOK_EVERLASTING_COUNT);
    #else
        (void)o;
    #endif
    }
    """
    bint EVERLASTING_INTS "QTOK_EVERLASTING_INTS"
    void make_everlasting "qtok_make_everlasting"(PyObject* o)

cdef extern from "_unicode_classes.h":
    const uint32_t QTOK_LETTER_RANGES[][2]
    const uint32_t QTOK_NUMBER_RANGES[][2]
    const uint32_t QTOK_SPACE_RANGES[][2]
    int QTOK_LETTER_RANGES_COUNT
    int QTOK_NUMBER_RANGES_COUNT
    int QTOK_SPACE_RANGES_COUNT

cdef extern from *:
    """
    /* Compiler builtins (GCC and Clang) for the few atomic operations the
       thread pool and the piece caches need, and count-trailing-zeros. */
    static inline int qtok_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    /* Bytes are read eight at a time as little-endian words (load16, the
       scanner's letter runs): refuse to build where that would be wrong. */
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    #error "qtok's native core assumes a little-endian CPU"
    #endif
    static inline size_t qtok_fetch_add(size_t* p, size_t v) {
        return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
    static inline void qtok_store_int(int* p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
    static inline int qtok_try_acquire(int* flag) {
        int expected = 0;
        return __atomic_compare_exchange_n(flag, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED); }
    static inline void qtok_release(int* flag) { __atomic_store_n(flag, 0, __ATOMIC_RELEASE); }
    static inline void qtok_set(int* flag) { __atomic_store_n(flag, 1, __ATOMIC_RELEASE); }
    static inline int qtok_is_set(int* flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE); }
    #include <sched.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/mman.h>
    /* Memory for the big tables (token hash, pair table, decode entries).
       Each is read at random places, a few megabytes wide: in 4 KiB pages
       nearly every read also misses the TLB, and on a virtual machine a
       page walk is two-dimensional and slow.  So tables of 2 MiB or more
       are aligned to 2 MiB and offered to the kernel as transparent huge
       pages (it may decline; nothing else changes).  Smaller ones are
       aligned to a cache line.  Freed with free(); zero: cleared.  (The
       piece caches have qtok_cache_alloc below; mapped memory is
       page-aligned, so a two-entry set of the short cache is one line.) */
    static void* qtok_table_alloc(size_t n, int zero) {
        const size_t huge = (size_t)1 << 21;
        size_t align = n >= huge ? huge : 64;
        size_t whole = n >= huge ? (n + huge - 1) & ~(huge - 1) : (n ? n : 1);
        void* p = NULL;
        if (whole < n || posix_memalign(&p, align, whole) != 0) return NULL;
    #ifdef MADV_HUGEPAGE
        if (align == huge) madvise(p, whole, MADV_HUGEPAGE);
    #endif
        if (zero) memset(p, 0, n);
        return p;
    }
    /* Memory for a thread's piece caches (~26 MB): mapped fresh, so that the
       kernel hands it out zeroed as it is first touched.  Cleared with
       memset instead, all of it was written at the first encode of even one
       word (5-15 ms).  Tables of 2 MiB or more are 2 MiB-aligned and offered
       as huge pages, as above.  Freed with qtok_cache_free(p, n). */
    #define QTOK_HUGE ((size_t)1 << 21)
    /* How much is mapped for a table of n bytes: what alloc keeps and free
       gives back. */
    static inline size_t qtok_cache_mapped(size_t n) {
        return n < QTOK_HUGE ? n : (n + QTOK_HUGE - 1) & ~(QTOK_HUGE - 1);
    }
    static void* qtok_cache_alloc(size_t n) {
        const size_t huge = QTOK_HUGE, whole = qtok_cache_mapped(n);
        size_t lead;
        unsigned char* p;
        if (n < huge) {
            p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            return p == MAP_FAILED ? NULL : p;
        }
        p = mmap(NULL, whole + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        /* Keep the 2 MiB-aligned part; give back what is before and after it. */
        lead = (huge - ((uintptr_t)p & (huge - 1))) & (huge - 1);
        if (lead) munmap(p, lead);
        munmap(p + lead + whole, huge - lead);
        p += lead;
    #ifdef MADV_HUGEPAGE
        madvise(p, whole, MADV_HUGEPAGE);
    #endif
        return p;
    }
    static void qtok_cache_free(void* p, size_t n) {
        if (p != NULL) munmap(p, qtok_cache_mapped(n));
    }
    /* The last byte of an int object of one digit: a 32-byte block may
       straddle two cache lines, and the digit then lies in the second. */
    #define qtok_int_tail(o) ((const char*)(o) + sizeof(PyLongObject) - 1)
    /* The code point starting at s[i] and its length in bytes (valid UTF-8).
       In C only to be always inlined: GCC otherwise leaves some of the
       scanner's calls out of line, a call per character. */
    static inline __attribute__((always_inline)) unsigned int
    qtok_next_cp(const unsigned char* s, size_t i, size_t* width) {
        unsigned char b = s[i];
        if (b < 0x80) { *width = 1; return b; }
        if (b < 0xE0) { *width = 2; return ((b & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu); }
        if (b < 0xF0) {
            *width = 3;
            return ((b & 0x0Fu) << 12) | ((s[i + 1] & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu);
        }
        *width = 4;
        return ((b & 0x07u) << 18) | ((s[i + 1] & 0x3Fu) << 12) | ((s[i + 2] & 0x3Fu) << 6)
               | (s[i + 3] & 0x3Fu);
    }
    /* The value of an exact int that fits one internal digit (every token
       id does), read in place; 0 for anything else, which the caller then
       converts the general way. */
    static inline int qtok_small_int_value(PyObject* o, long long* v) {
    #if PY_VERSION_HEX >= 0x030C0000
        if (!_PyLong_IsCompact((PyLongObject*)o)) return 0;
        *v = (long long)_PyLong_CompactValue((PyLongObject*)o);
        return 1;
    #else
        Py_ssize_t size = Py_SIZE(o);
        if (size != 0 && size != 1) return 0;
        *v = size ? (long long)((PyLongObject*)o)->ob_digit[0] : 0;
        return 1;
    #endif
    }
    """
    int ctz64 "qtok_ctz64"(uint64_t x) nogil
    void* table_alloc "qtok_table_alloc"(size_t n, bint zero) nogil
    void* cache_alloc "qtok_cache_alloc"(size_t n) nogil
    void cache_free "qtok_cache_free"(void* p, size_t n) nogil
    bint small_int_value "qtok_small_int_value"(PyObject* o, long long* v)
    void prefetch "__builtin_prefetch"(const void* p) nogil
    uint32_t next_cp "qtok_next_cp"(const uint8_t* s, size_t i, size_t* width) nogil
    const void* int_tail "qtok_int_tail"(PyObject* o) nogil
    size_t atomic_fetch_add "qtok_fetch_add"(size_t* p, size_t v) nogil
    void atomic_store_int "qtok_store_int"(int* p, int v) nogil
    bint atomic_try_acquire "qtok_try_acquire"(int* flag) nogil
    void atomic_release "qtok_release"(int* flag) nogil
    void atomic_set "qtok_set"(int* flag) nogil
    bint atomic_is_set "qtok_is_set"(int* flag) nogil
    void cpu_yield "sched_yield"() nogil

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_create(pthread_t* thread, void* attr, void* (*start)(void*) noexcept nogil, void* arg)
    int pthread_join(pthread_t thread, void** retval)


# ---------------------------------------------------------------------------
# 1. Code point classes
# ---------------------------------------------------------------------------

cdef enum:
    IS_LETTER = 1    # \p{L}
    IS_NUMBER = 2    # \p{N}
    IS_SPACE = 4     # \s
    MAX_CODE_POINT = 0x110000
    NOT_FOUND = 0xFFFFFFFF   # "no such token": larger than every rank
    MAX_TOKEN_BYTES = 255    # the longest regular token: a slot keeps the length in 8 bits

# One byte of class bits per code point (1.1 MB, built once at import).  A
# flat table costs a single load per character, which matters more here than
# the memory a two-level table would save.
cdef uint8_t* CLASS_OF = <uint8_t*>calloc(MAX_CODE_POINT, 1)
if CLASS_OF == NULL:
    raise MemoryError("qtok: cannot allocate the code point class table")


cdef void _mark(const uint32_t (*ranges)[2], int count, uint8_t bit) noexcept:
    cdef int i
    cdef uint32_t cp
    for i in range(count):
        for cp in range(ranges[i][0], ranges[i][1] + 1):
            CLASS_OF[cp] |= bit

_mark(QTOK_LETTER_RANGES, QTOK_LETTER_RANGES_COUNT, IS_LETTER)
_mark(QTOK_NUMBER_RANGES, QTOK_NUMBER_RANGES_COUNT, IS_NUMBER)
_mark(QTOK_SPACE_RANGES, QTOK_SPACE_RANGES_COUNT, IS_SPACE)


def code_point_class(uint32_t cp):
    """Class bits of one code point (1 letter, 2 number, 4 whitespace), for tests."""
    if cp >= MAX_CODE_POINT:
        raise ValueError(f"not a code point: {cp}")
    return CLASS_OF[cp]


# ---------------------------------------------------------------------------
# 2. The scanner
# ---------------------------------------------------------------------------
# next_cp(s, i, &width), the code point at s[i], is in the C block at the top.

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


# ---------------------------------------------------------------------------
# 2b. The bulk scanner, for ASCII text and Latin and Cyrillic letters
# ---------------------------------------------------------------------------
# piece_end above decides one piece at a time, and on prose each decision is
# a few bytes long: which alternative applies, how long the letter run is --
# branches the CPU mispredicts every few bytes.  On English text the scanner
# took 15 of the 40 ns spent per piece.  For most text the same decisions can
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

cdef extern from *:
    """
    /* Classes of 64 bytes of text, one bit per byte (bit j: byte j), read
       from p[0..64] (65 bytes: the byte after the last one tells whether a
       lead byte at the end is a letter).

       letter: ASCII letters, and every byte of the letters of Latin-1,
       Latin Extended-A/B, IPA, Cyrillic and Latin Extended Additional whose
       lead byte alone decides (U+00C0-02AF but for U+00D7 and U+00F7,
       U+0400-04FF but for U+0482-0489, U+1E00-1EFF): the letters of the
       Latin and Cyrillic scripts Qwen's languages are written in.
       spill: the bytes of the next 64 that belong to a letter whose lead
       byte is among these (bit 0, or bits 0 and 1).
       high: every other byte from 0x80 up: the window stops there.

       With SSE2 (every x86-64 CPU), 16 bytes per comparison; elsewhere
       qtok_classify64_bytes, which is also built everywhere so that tests
       can check one against the other. */
    typedef struct {
        unsigned long long letter, digit, space, newline, blank, quote, high, spill;
    } qtok_block;

    /* The letters with a multi-byte encoding, from their lead bytes. */
    static inline void qtok_multibyte_letters(qtok_block* b, unsigned long long lead2,
                                              unsigned long long lead3) {
        unsigned long long bytes = lead2 | (lead2 << 1) | lead3 | (lead3 << 1) | (lead3 << 2);
        b->letter |= bytes;
        b->high &= ~bytes;
        b->spill = (lead2 >> 63) | (((lead3 >> 62) | (lead3 >> 63)) & 3);
    }

    static inline int qtok_lead2_letter(unsigned char c, unsigned char next) {
        if (c == 0xC3) return next != 0x97 && next != 0xB7;
        if (c == 0xD2) return next < 0x82 || next > 0x89;
        return (c >= 0xC4 && c <= 0xCA) || (c >= 0xD0 && c <= 0xD3);
    }

    static void qtok_classify64_bytes(const unsigned char* p, qtok_block* b) {
        unsigned long long bit, lead2 = 0, lead3 = 0;
        int j;
        b->letter = b->digit = b->space = b->newline = b->blank = b->quote = b->high = 0;
        for (j = 0; j < 64; j++) {
            unsigned char c = p[j], f = c | 0x20;
            bit = 1ULL << j;
            if (c >= 0x80) {
                b->high |= bit;
                if (qtok_lead2_letter(c, p[j + 1])) lead2 |= bit;
                if (c == 0xE1 && p[j + 1] >= 0xB8 && p[j + 1] <= 0xBB) lead3 |= bit;
                continue;
            }
            if (f >= 'a' && f <= 'z') b->letter |= bit;
            if (c >= '0' && c <= '9') b->digit |= bit;
            if (c == ' ' || (c >= 9 && c <= 13)) b->space |= bit;
            if (c == '\\n' || c == '\\r') b->newline |= bit;
            if (c == ' ') b->blank |= bit;
            if (c == '\\'') b->quote |= bit;
        }
        qtok_multibyte_letters(b, lead2, lead3);
    }

    #if defined(__SSE2__)
    #include <emmintrin.h>
    /* lo <= v <= hi for bytes as signed chars (0x80..0xFF are -128..-1). */
    #define QTOK_IN(v, lo, hi) _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)((lo) - 1))), \\
                                             _mm_cmplt_epi8(v, _mm_set1_epi8((char)((hi) + 1))))
    #define QTOK_EQ(v, c) _mm_cmpeq_epi8(v, _mm_set1_epi8((char)(c)))
    #define QTOK_BITS(m, k) ((unsigned long long)(unsigned)_mm_movemask_epi8(m) << (16 * (k)))
    static inline void qtok_classify64(const unsigned char* p, qtok_block* b) {
        unsigned long long letter = 0, digit = 0, space = 0, newline = 0, blank = 0,
                           quotes = 0, high = 0, lead2 = 0, lead3 = 0;
        int k;
        for (k = 0; k < 4; k++) {
            /* ASCII ranges are compared as signed bytes, so bytes from
               0x80 up (negative) fall in none of them. */
            __m128i v = _mm_loadu_si128((const __m128i*)(p + 16 * k));
            __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            __m128i is_blank = QTOK_EQ(v, ' ');
            letter |= QTOK_BITS(QTOK_IN(folded, 'a', 'z'), k);
            digit |= QTOK_BITS(QTOK_IN(v, '0', '9'), k);
            space |= QTOK_BITS(_mm_or_si128(is_blank, QTOK_IN(v, 9, 13)), k);
            newline |= QTOK_BITS(_mm_or_si128(QTOK_EQ(v, '\\n'), QTOK_EQ(v, '\\r')), k);
            blank |= QTOK_BITS(is_blank, k);
            quotes |= QTOK_BITS(QTOK_EQ(v, '\\''), k);
            if (_mm_movemask_epi8(v)) {       /* not all ASCII: look for letters */
                __m128i next = _mm_loadu_si128((const __m128i*)(p + 16 * k + 1));
                __m128i two = _mm_or_si128(QTOK_IN(v, 0xC4, 0xCA), QTOK_IN(v, 0xD0, 0xD3));
                __m128i not_letter = _mm_or_si128(
                    _mm_and_si128(QTOK_EQ(v, 0xC3), _mm_or_si128(QTOK_EQ(next, 0x97), QTOK_EQ(next, 0xB7))),
                    _mm_and_si128(QTOK_EQ(v, 0xD2), QTOK_IN(next, 0x82, 0x89)));
                two = _mm_andnot_si128(not_letter, _mm_or_si128(two, QTOK_EQ(v, 0xC3)));
                high |= QTOK_BITS(v, k);
                lead2 |= QTOK_BITS(two, k);
                lead3 |= QTOK_BITS(_mm_and_si128(QTOK_EQ(v, 0xE1), QTOK_IN(next, 0xB8, 0xBB)), k);
            }
        }
        b->letter = letter; b->digit = digit; b->space = space; b->newline = newline;
        b->blank = blank; b->quote = quotes; b->high = high;
        qtok_multibyte_letters(b, lead2, lead3);
    }
    #else
    #define qtok_classify64 qtok_classify64_bytes
    #endif
    static inline int qtok_clz64(unsigned long long x) { return __builtin_clzll(x); }
    /* a + b + carry_in, and whether it carried out. */
    static inline unsigned long long qtok_add_carry(unsigned long long a, unsigned long long b,
                                                    int* carry) {
        unsigned long long s1, s2;
        int c1 = __builtin_add_overflow(a, b, &s1);
        int c2 = __builtin_add_overflow(s1, (unsigned long long)*carry, &s2);
        *carry = c1 | c2;
        return s2;
    }
    """
    ctypedef struct Block "qtok_block":
        uint64_t letter, digit, space, newline, blank, quote, high, spill
    void classify64 "qtok_classify64"(const uint8_t* p, Block* b) nogil
    void classify64_bytes "qtok_classify64_bytes"(const uint8_t* p, Block* b) nogil
    int clz64 "qtok_clz64"(uint64_t x) nogil
    uint64_t add_carry "qtok_add_carry"(uint64_t a, uint64_t b, int* carry) nogil


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



def split_pieces(str text not None, bint bulk=True):
    """The pieces the scanner cuts text into -- the matches of the Qwen
    pattern, in order, as regex.findall(pattern, text) gives them.  For
    tests, and for seeing what BPE is applied to.  bulk=False: piece_end
    alone, without the bulk scanner's windows."""
    cdef Py_ssize_t size
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &size)
    cdef size_t n = <size_t>size, i = 0, end
    cdef list pieces = []
    cdef BulkScan scan
    bulk_start(&scan, 0 if bulk else n)
    while i < n:
        end = next_piece_end(&scan, s, n, i)
        pieces.append(PyUnicode_DecodeUTF8(<const char*>s + i, end - i, NULL))
        i = end
    return pieces


def bulk_coverage(str text not None):
    """How many bytes of text's UTF-8 the bulk scanner's windows cover, and
    how many windows there are: (bytes, windows).  For tests and for seeing
    which text the bulk scanner helps; the rest goes through piece_end."""
    cdef Py_ssize_t size
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_AsUTF8AndSize(text, &size)
    cdef size_t n = <size_t>size, i = 0, limit = 0, covered = 0, windows = 0
    cdef BulkScan scan
    bulk_start(&scan, 0)
    while i < n:
        i = next_piece_end(&scan, s, n, i)
        if scan.limit != limit:              # a window began at the piece just read
            covered += scan.limit - scan.base
            windows += 1
            limit = scan.limit
    return covered, windows


def classify_block(bytes block not None, bint simd=True):
    """The class bitmaps of a 65-byte block, as classify64 computes them
    (simd=True: SSE2 where the build has it) or as the byte loop does
    (simd=False): a dict of name -> int.  For tests."""
    cdef Block b
    if len(block) != 65:
        raise ValueError("classify_block wants 65 bytes")
    if simd:
        classify64(<const uint8_t*><const char*>block, &b)
    else:
        classify64_bytes(<const uint8_t*><const char*>block, &b)
    return {"letter": b.letter, "digit": b.digit, "space": b.space, "newline": b.newline,
            "blank": b.blank, "quote": b.quote, "high": b.high, "spill": b.spill}


# ---------------------------------------------------------------------------
# 3. The vocabulary hashes
# ---------------------------------------------------------------------------
# Two read-only open-addressing tables, built once per vocabulary:
#   slots: token bytes -> rank, for whole pieces (most pieces are one token);
#   pairs: (rank a, rank b) -> rank of a's bytes followed by b's.
# During a merge every part is a token, so "is the concatenation of these two
# parts a token, and which" is one probe of `pairs` on two integers -- no
# hashing of bytes and no comparison against the token blob.

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
# whatever its length (warm count per Leipzig file: English 180 -> 187 MB/s,
# German 147 -> 156, Hindi 97 -> 100).
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
    BLOB_PAD = 16
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
    reads the token hash only if it may be there (on Leipzig, 55% of such
    pieces are not tokens).  Tokens of 2..16 bytes in 2^15 words (256 KB)."""
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


cdef inline uint32_t pair_rank(const Tables* t, uint32_t a, uint32_t b) noexcept nogil:
    """Rank of the token spelled by token a then token b, or NOT_FOUND."""
    cdef uint64_t key = (<uint64_t>a << ID_BITS) | b
    cdef uint64_t h = mix(key)
    if not pair_maybe(t, h):
        return NOT_FOUND
    return pair_probe(t, key, h)


# ---------------------------------------------------------------------------
# 4. BPE on one piece
# ---------------------------------------------------------------------------
# tiktoken's rule: start from the piece's bytes; while some adjacent pair of
# parts joins into a token, join the pair with the lowest rank (the leftmost
# one on ties).  Three implementations of that one rule, by piece length:
#   merge_small  (<= 64 bytes): arrays on the stack, a linear scan per join;
#   merge_heap   (<= 4 KiB):    a linked list of parts and a binary heap;
#   merge_huge   (longer):      a linked list and a bucket queue over ranks,
#                               O(1) per join, for megabyte-long pieces.
# All three are checked against tiktoken by the tests.

cdef inline int push(TokenVec* v, uint32_t x) noexcept nogil:
    cdef size_t cap
    cdef uint32_t* grown
    if v.len == v.cap:
        cap = v.cap * 2 if v.cap else 64
        grown = <uint32_t*>realloc(v.data, cap * sizeof(uint32_t))
        if grown == NULL:
            return -1
        v.data = grown
        v.cap = cap
    v.data[v.len] = x
    v.len += 1
    return 0


cdef enum:
    SMALL_PIECE = 64      # up to this many bytes: merge_small
    SMALL_GROUPS = 8      # SMALL_PIECE / 8
    STACK_PIECE = 256     # up to this many bytes merge_heap works on the stack
    HUGE_PIECE = 4096     # from this many bytes: merge_huge


cdef inline uint32_t pair_rank_cached(const Tables* t, uint64_t* cache, uint32_t a,
                                      uint32_t b) noexcept nogil:
    """pair_rank() through a small direct-mapped cache of recent answers
    (found or not).  The pair table is megabytes with one useful word per
    cache line; the pairs one text keeps asking about fit in a few hundred
    kilobytes when packed, so most questions are answered from L2.
    An entry is 1 << 63 | (a << 42 | b << 21) | (rank + 1, or 0 for none)."""
    cdef uint64_t key, e, i, h
    cdef uint32_t r
    if cache == NULL:
        return pair_rank(t, a, b)
    key = (<uint64_t>a << ID_BITS) | b
    h = mix(key)
    if not pair_maybe(t, h):                        # the filter first: one read
        return NOT_FOUND
    i = (key * 0x9E3779B97F4A7C15ULL) >> (64 - 15)
    e = cache[i]
    if (e >> ID_BITS) == ((1ULL << 42) | key):
        return <uint32_t>(e & ID_MASK) - 1          # NOT_FOUND comes back as 0 - 1
    r = pair_probe(t, key, h)
    cache[i] = (((1ULL << 42) | key) << ID_BITS) | (<uint64_t>r + 1 if r != NOT_FOUND else 0)
    return r


cdef inline void group_min(const uint32_t* pair, size_t n, size_t g,
                           uint32_t* gmin, uint8_t* gpos) noexcept nogil:
    """The lowest pair rank in positions 8g .. 8g+7 (the leftmost on ties)."""
    cdef size_t i, end = 8 * g + 8
    cdef uint32_t best = NOT_FOUND
    cdef uint8_t at = 0
    if end > n:
        end = n
    for i in range(8 * g, end):
        if pair[i] < best:
            best = pair[i]
            at = <uint8_t>i
    gmin[g] = best
    gpos[g] = at


cdef int merge_small(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                     TokenVec* out) noexcept nogil:
    """BPE on a piece of at most 64 bytes, on the stack.

    Parts stay at the position of their first byte (a linked list: nxt/prv);
    pair[i] is the rank of part i joined with the next part (NOT_FOUND for
    none or for a position that is no longer a part).  Positions are grouped
    by eight, each group remembering its lowest pair, so finding the lowest
    pair reads eight group minima and a join rescans only the groups it
    touched -- the leftmost lowest pair, as tiktoken picks it, since positions
    are in text order."""
    cdef uint32_t tok[SMALL_PIECE]
    cdef uint32_t pair[SMALL_PIECE]
    cdef uint8_t nxt[SMALL_PIECE]
    cdef uint8_t prv[SMALL_PIECE]
    cdef uint32_t gmin[SMALL_GROUPS]
    cdef uint8_t gpos[SMALL_GROUPS]
    cdef size_t i, j, k, g, bg, ng = (n + 7) >> 3
    cdef uint32_t best
    for i in range(n):
        tok[i] = t.byte_rank[p[i]]
        nxt[i] = <uint8_t>(i + 1)
        prv[i] = <uint8_t>(i - 1)
        pair[i] = t.byte_pair[(<uint32_t>p[i] << 8) | p[i + 1]] if i + 1 < n else NOT_FOUND
    for g in range(ng):
        group_min(pair, n, g, gmin, gpos)
    while True:
        best = NOT_FOUND
        bg = 0
        for g in range(ng):
            if gmin[g] < best:            # strict: the leftmost group wins a tie
                best = gmin[g]
                bg = g
        if best == NOT_FOUND:
            break
        i = gpos[bg]
        j = nxt[i]                        # part j joins part i
        tok[i] = best
        pair[j] = NOT_FOUND
        k = nxt[j]
        nxt[i] = <uint8_t>k
        if k < n:
            prv[k] = <uint8_t>i
            pair[i] = pair_rank_cached(t, pair_cache, best, tok[k])
        else:
            pair[i] = NOT_FOUND
        if i > 0:
            k = prv[i]
            pair[k] = pair_rank_cached(t, pair_cache, tok[k], best)
            if (k >> 3) != (i >> 3):
                group_min(pair, n, k >> 3, gmin, gpos)
        # Rescan the groups only after every pair above has its new rank.
        group_min(pair, n, i >> 3, gmin, gpos)
        if (j >> 3) != (i >> 3):
            group_min(pair, n, j >> 3, gmin, gpos)
    i = 0
    while i < n:
        if push(out, tok[i]) < 0:
            return -1
        i = nxt[i]
    return 0


# --- merge_heap --------------------------------------------------------------
# Parts form a doubly linked list over byte positions (a part is named by its
# first byte).  A min-heap holds (pair rank << 32 | position) keys, so the
# smallest key is the lowest rank, leftmost.  Entries go stale when a part
# changes; an entry counts only while pair[position] still equals its rank.

cdef inline void heap_sift_down(uint64_t* h, size_t n, size_t i) noexcept nogil:
    cdef uint64_t x = h[i]
    cdef size_t c
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and h[c + 1] < h[c]:
            c += 1
        if h[c] >= x:
            break
        h[i] = h[c]
        i = c
    h[i] = x


cdef inline void heap_sift_up(uint64_t* h, size_t i) noexcept nogil:
    cdef uint64_t x = h[i]
    cdef size_t parent
    while i > 0:
        parent = (i - 1) >> 1
        if h[parent] <= x:
            break
        h[i] = h[parent]
        i = parent
    h[i] = x


cdef struct Part:
    # One part of a piece being merged, named by the position of its first
    # byte; the four fields sit together so a join touches one cache line.
    uint32_t nxt         # first byte of the next part (n: none)
    uint32_t prv         # first byte of the previous part (NOT_FOUND: none)
    uint32_t tok         # rank of this part
    uint32_t pair        # rank of this part joined with the next, or NOT_FOUND


cdef struct Parts:
    # The linked list of parts shared by merge_heap and merge_huge.
    Part* at
    bint owned           # at was malloc'ed here (not a caller's stack buffer)
    uint64_t* pair_cache # see pair_rank_cached; may be NULL


cdef int parts_init(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                    Parts* w, Part* buf) noexcept nogil:
    cdef size_t i
    w.pair_cache = pair_cache
    w.owned = buf == NULL
    if n >= 0xFFFFFFFFULL:               # positions are 32-bit: refuse a piece of 4 GB or more
        w.owned = False
        w.at = NULL
        return -1
    w.at = <Part*>malloc((n + 1) * sizeof(Part)) if buf == NULL else buf
    if w.at == NULL:
        return -1
    for i in range(n):
        w.at[i].nxt = i + 1
        w.at[i].prv = i - 1 if i else <uint32_t>NOT_FOUND
        w.at[i].tok = t.byte_rank[p[i]]
        w.at[i].pair = t.byte_pair[(<uint32_t>p[i] << 8) | p[i + 1]] if i + 1 < n else NOT_FOUND
    return 0


cdef void parts_free(Parts* w) noexcept nogil:
    if w.owned:
        free(w.at)
    w.at = NULL


cdef inline void parts_join(const Tables* t, Parts* w, size_t n, size_t i, uint32_t r) noexcept nogil:
    """Join part i with the next one into token r and re-rank the pairs
    (i, next) and (previous, i).  The caller queues the new pairs."""
    cdef Part* a = w.at
    cdef size_t j = a[i].nxt, k
    a[i].tok = r
    a[j].pair = NOT_FOUND                 # j is gone; its stale entries never match
    a[i].nxt = a[j].nxt
    k = a[i].nxt
    if k < n:
        a[k].prv = i
        a[i].pair = pair_rank_cached(t, w.pair_cache, r, a[k].tok)
    else:
        a[i].pair = NOT_FOUND
    if i > 0:
        k = a[i].prv
        a[k].pair = pair_rank_cached(t, w.pair_cache, a[k].tok, r)


cdef int parts_emit(Parts* w, size_t n, TokenVec* out) noexcept nogil:
    cdef size_t i = 0
    while i < n:
        if push(out, w.at[i].tok) < 0:
            return -1
        i = w.at[i].nxt
    return 0


cdef int merge_heap(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                    TokenVec* out) noexcept nogil:
    cdef Parts w
    cdef Part part_buf[STACK_PIECE + 1]
    cdef uint64_t heap_buf[3 * STACK_PIECE + 16]
    cdef bint on_stack = n <= STACK_PIECE
    cdef uint64_t* heap
    cdef Part* parts_at = NULL
    if on_stack:
        heap = &heap_buf[0]
        parts_at = &part_buf[0]
    else:
        heap = <uint64_t*>malloc((3 * n + 16) * sizeof(uint64_t))
    cdef size_t heap_len = 0, i, k
    cdef uint64_t key
    cdef uint32_t r
    cdef int status = -1
    memset(&w, 0, sizeof(Parts))
    if heap == NULL or parts_init(t, pair_cache, p, n, &w, parts_at) < 0:
        parts_free(&w)
        if not on_stack:
            free(heap)
        return -1
    for i in range(n):
        if w.at[i].pair != NOT_FOUND:
            heap[heap_len] = (<uint64_t>w.at[i].pair << 32) | i
            heap_len += 1
    i = heap_len // 2
    while i > 0:
        i -= 1
        heap_sift_down(heap, heap_len, i)
    # Each join pushes at most two keys and pops one, so 3n slots suffice.
    while heap_len:
        key = heap[0]
        heap_len -= 1
        if heap_len:
            heap[0] = heap[heap_len]
            heap_sift_down(heap, heap_len, 0)
        r = <uint32_t>(key >> 32)
        i = key & 0xFFFFFFFFULL
        if w.at[i].pair != r:
            continue                      # stale entry
        parts_join(t, &w, n, i, r)
        if w.at[i].pair != NOT_FOUND:
            heap[heap_len] = (<uint64_t>w.at[i].pair << 32) | i
            heap_sift_up(heap, heap_len)
            heap_len += 1
        if i > 0:
            k = w.at[i].prv
            if w.at[k].pair != NOT_FOUND:
                heap[heap_len] = (<uint64_t>w.at[k].pair << 32) | k
                heap_sift_up(heap, heap_len)
                heap_len += 1
    status = parts_emit(&w, n, out)
    parts_free(&w)
    if not on_stack:
        free(heap)
    return status


# --- merge_huge ----------------------------------------------------------------
# The same loop with a bucket queue in place of the heap: one bucket of
# positions per rank, and a two-level bitmap of the non-empty buckets.  The
# lowest rank is found with two count-trailing-zeros; within a bucket,
# positions come out in increasing order (the leftmost on ties).  Joining two parts never creates a pair of the rank
# being joined (the new pairs spell longer tokens), so the order is exactly
# the heap's.

cdef struct Bucket:
    # Positions queued under one rank.  Most arrive in increasing order and
    # are appended to pos (consumed from head); the few that arrive out of
    # order go to a small min-heap, late.  A pop takes the smaller of the
    # two fronts, so every operation is O(1) or O(log late), never a sort.
    uint32_t* pos
    uint32_t len
    uint32_t cap
    uint32_t head        # pos[head:len] are still queued, in increasing order
    uint32_t* late
    uint32_t late_len
    uint32_t late_cap


cdef struct BucketQueue:
    uint32_t* bucket_of  # rank -> index into buckets, NOT_FOUND if none yet
    Bucket* buckets
    uint32_t n_buckets
    uint32_t cap_buckets
    uint64_t* bits       # bit r: bucket of rank r is non-empty
    uint64_t* summary    # bit w: bits[w] != 0
    uint32_t n_words
    uint32_t lowest      # no non-empty bucket has a lower rank


cdef inline int grow_u32(uint32_t** data, uint32_t* cap) noexcept nogil:
    cdef uint32_t* grown = <uint32_t*>realloc(data[0], (2 * <size_t>cap[0] + 16) * sizeof(uint32_t))
    if grown == NULL:
        return -1
    data[0] = grown
    cap[0] = 2 * cap[0] + 16
    return 0


cdef int bq_push(BucketQueue* q, uint32_t r, uint32_t pos) noexcept nogil:
    cdef uint32_t bi = q.bucket_of[r], w, k, parent
    cdef Bucket* b
    cdef void* grown
    if bi == NOT_FOUND:
        if q.n_buckets == q.cap_buckets:
            grown = realloc(q.buckets, 2 * q.cap_buckets * sizeof(Bucket))
            if grown == NULL:
                return -1
            q.buckets = <Bucket*>grown
            q.cap_buckets *= 2
        bi = q.n_buckets
        q.n_buckets += 1
        memset(&q.buckets[bi], 0, sizeof(Bucket))
        q.bucket_of[r] = bi
    b = &q.buckets[bi]
    if b.len == b.head and b.late_len == 0:    # was empty: mark it in the bitmaps
        b.len = 0
        b.head = 0
        w = r >> 6
        q.bits[w] |= 1ULL << (r & 63)
        q.summary[w >> 6] |= 1ULL << (w & 63)
    if b.len == b.head or pos >= b.pos[b.len - 1]:
        if b.len == b.cap and grow_u32(&b.pos, &b.cap) < 0:
            return -1
        b.pos[b.len] = pos
        b.len += 1
    else:                                     # out of order: into the heap
        if b.late_len == b.late_cap and grow_u32(&b.late, &b.late_cap) < 0:
            return -1
        k = b.late_len
        b.late_len += 1
        while k > 0:
            parent = (k - 1) >> 1
            if b.late[parent] <= pos:
                break
            b.late[k] = b.late[parent]
            k = parent
        b.late[k] = pos
    if r < q.lowest:
        q.lowest = r
    return 0


cdef inline uint32_t bq_min_rank(BucketQueue* q) noexcept nogil:
    """The lowest rank with a non-empty bucket, or NOT_FOUND."""
    cdef uint32_t w = q.lowest >> 6, sw
    cdef uint64_t x, s
    if w >= q.n_words:
        return NOT_FOUND
    x = q.bits[w] & (~0ULL << (q.lowest & 63))
    if x:
        return (w << 6) + <uint32_t>ctz64(x)
    w += 1
    sw = w >> 6
    if w < q.n_words:
        s = q.summary[sw] & (~0ULL << (w & 63))
        while True:
            if s:
                w = (sw << 6) + <uint32_t>ctz64(s)
                return (w << 6) + <uint32_t>ctz64(q.bits[w])
            sw += 1
            if (sw << 6) >= q.n_words:
                break
            s = q.summary[sw]
    return NOT_FOUND


cdef inline bint bq_has(BucketQueue* q, uint32_t r) noexcept nogil:
    """Whether rank r's bucket has a position queued."""
    return (q.bits[r >> 6] >> (r & 63)) & 1


cdef inline uint32_t bq_pop(BucketQueue* q, uint32_t r, uint32_t bi) noexcept nogil:
    """Remove and return the leftmost position queued under rank r, whose
    bucket is q.buckets[bi]."""
    cdef Bucket* b = &q.buckets[bi]
    cdef uint32_t pos, w, x, k, c, n
    if b.late_len and (b.head == b.len or b.late[0] < b.pos[b.head]):
        pos = b.late[0]
        b.late_len -= 1
        n = b.late_len
        if n:                                 # sift the last element down from the root
            x = b.late[n]
            k = 0
            while True:
                c = 2 * k + 1
                if c >= n:
                    break
                if c + 1 < n and b.late[c + 1] < b.late[c]:
                    c += 1
                if b.late[c] >= x:
                    break
                b.late[k] = b.late[c]
                k = c
            b.late[k] = x
    else:
        pos = b.pos[b.head]
        b.head += 1
    if b.head == b.len and b.late_len == 0:
        w = r >> 6
        q.bits[w] &= ~(1ULL << (r & 63))
        if q.bits[w] == 0:
            q.summary[w >> 6] &= ~(1ULL << (w & 63))
    q.lowest = r
    return pos


cdef int merge_huge(const Tables* t, uint64_t* pair_cache, const uint8_t* p, size_t n,
                    TokenVec* out) noexcept nogil:
    cdef Parts w
    cdef BucketQueue q
    cdef size_t i, k
    cdef uint32_t r, bi
    cdef int status = -1
    memset(&q, 0, sizeof(BucketQueue))
    q.n_words = (t.n_ids + 63) >> 6
    q.bucket_of = <uint32_t*>malloc(t.n_ids * sizeof(uint32_t))
    q.bits = <uint64_t*>calloc(q.n_words, sizeof(uint64_t))
    q.summary = <uint64_t*>calloc((q.n_words >> 6) + 1, sizeof(uint64_t))
    q.cap_buckets = 64
    q.buckets = <Bucket*>malloc(q.cap_buckets * sizeof(Bucket))
    memset(&w, 0, sizeof(Parts))
    if (parts_init(t, pair_cache, p, n, &w, NULL) == 0 and q.bucket_of != NULL and q.bits != NULL
            and q.summary != NULL and q.buckets != NULL):
        memset(q.bucket_of, 0xFF, t.n_ids * sizeof(uint32_t))
        status = 0
        for i in range(n):
            if w.at[i].pair != NOT_FOUND and bq_push(&q, w.at[i].pair, i) < 0:
                status = -1
                break
        q.lowest = 0
        while status == 0:
            r = bq_min_rank(&q)
            if r == NOT_FOUND:
                break
            # Drain bucket r while it is still the lowest: a join that queues
            # a lower rank (q.lowest drops below r) hands back to the search.
            bi = q.bucket_of[r]
            while status == 0:
                i = bq_pop(&q, r, bi)
                if w.at[i].pair == r:     # else a stale entry
                    parts_join(t, &w, n, i, r)
                    if w.at[i].pair != NOT_FOUND and bq_push(&q, w.at[i].pair, i) < 0:
                        status = -1
                    if i > 0:
                        k = w.at[i].prv
                        if w.at[k].pair != NOT_FOUND and bq_push(&q, w.at[k].pair, k) < 0:
                            status = -1
                if q.lowest < r or not bq_has(&q, r):
                    break
        if status == 0:
            status = parts_emit(&w, n, out)
    parts_free(&w)
    if q.buckets != NULL:
        for i in range(q.n_buckets):
            free(q.buckets[i].pos)
            free(q.buckets[i].late)
    free(q.buckets)
    free(q.bucket_of)
    free(q.bits)
    free(q.summary)
    return status


# --- merge_run -----------------------------------------------------------------
# A long piece of one repeated byte ("aaaa...", a run of spaces, of newlines,
# of dashes) is common in real text and is the worst case of the loops above:
# every pair has the same rank, so they touch every position many times.
# Its parts are all copies of that byte, so the state of the merge is fully
# described by the lengths of the parts, and those come in runs: "m parts of
# k bytes".  merge_run replays tiktoken's loop on that run-length form:
#
#   * each step finds the leftmost pair of lowest rank, as the loop does --
#     inside a run of k-byte parts (rank of 2k bytes) or where two runs meet;
#   * a pair where two runs meet is joined alone, as the loop would;
#   * inside a run of m parts the loop would join parts 1+2, then 3+4, ...
#     left to right, provided nothing it creates on the way outranks them:
#     the pairs (2k, k), (2k, 2k) and (left neighbour, 2k).  When their ranks
#     (of 3k, 4k and a+2k bytes) are all higher, the whole run becomes m//2
#     parts of 2k bytes (and one of k if m is odd) in one step; otherwise
#     only parts 1+2 are joined, and the search starts again.
#
# Every step is thus one step, or a provably uninterrupted sequence of
# steps, of the exact loop.  The work is bounded by the piece's length; a
# piece whose run list keeps growing is handed back to the general loops.
#
# The same replay serves a run of one repeated character of 2-4 bytes ("中中中",
# "——", "……"), counting lengths in characters, when units_join_first() shows
# that BPE turns every copy into one token before it joins anything across
# copies: from then on the piece is a run of that one token.

cdef enum:
    RUN_MAX_RUNS = 256    # a longer run list: give up (the general loop takes over)
    RUN_GAVE_UP = 1


cdef struct Run:
    uint32_t len         # bytes in each part of this run
    uint32_t count       # parts in this run


cdef inline size_t char_run_unit(const uint8_t* p, size_t n) noexcept nogil:
    """The length of p[:n]'s first character (1-4 bytes) if p[:n] is that
    character repeated, else 0.  (Pieces start on a character.)"""
    cdef size_t unit
    if 0x80 <= p[0] < 0xC2:               # not the first byte of a character
        return 0
    unit = 1 if p[0] < 0x80 else (2 if p[0] < 0xE0 else (3 if p[0] < 0xF0 else 4))
    # p has period unit exactly when it equals itself shifted by unit.
    if n < unit or n % unit or memcmp(p, p + unit, n - unit) != 0:
        return 0
    return unit


cdef inline uint32_t run_rank(const Tables* t, const uint8_t* p, size_t n, size_t unit,
                              uint64_t* memo, size_t k) noexcept nogil:
    """Rank of the token of k units (the first unit bytes of p, repeated),
    memoised, or NOT_FOUND."""
    if k * unit > n or k * unit > t.max_token_len:
        return NOT_FOUND
    if memo[k] == 0:
        # Stored + 1 in 64 bits: 0 means "not looked up yet", and NOT_FOUND
        # is remembered too.
        memo[k] = <uint64_t>lookup(t, p, k * unit) + 1
    return <uint32_t>(memo[k] - 1)


cdef bint units_join_first(const Tables* t, const uint8_t* p, size_t unit) noexcept nogil:
    """For a piece of one repeated character of unit (2..4) bytes, at least
    two long: whether BPE first makes every copy of the character one token,
    before joining anything across copies -- so that what follows is a run of
    one token, which merge_run can replay on lengths counted in characters.

    That holds when the character alone merges into one token, and every
    pair that could form across a boundary -- a part that ends a copy, in
    any state of that merge, then a part that starts the next -- outranks
    every join made inside a copy (or spells no token)."""
    cdef uint8_t start[4]                 # the parts of one copy: start[i] .. start[i+1]
    cdef size_t n_parts = unit, i, best_i = 0, e, s
    cdef uint32_t r, best, r_max = 0
    cdef uint32_t ends_at_start = 1 << 1  # bit e: some part spans [0, e)
    cdef uint32_t starts_at_end = 1 << (unit - 1)   # bit s: some part spans [s, unit)
    for i in range(unit):
        start[i] = <uint8_t>i
    while n_parts > 1:
        best = NOT_FOUND
        for i in range(n_parts - 1):
            e = start[i + 2] if i + 2 < n_parts else unit
            r = lookup(t, p + start[i], e - start[i])
            if r < best:
                best, best_i = r, i
        if best == NOT_FOUND:
            return False                  # the character stays in pieces
        if best > r_max:
            r_max = best
        for i in range(best_i + 1, n_parts - 1):
            start[i] = start[i + 1]
        n_parts -= 1
        e = start[best_i + 1] if best_i + 1 < n_parts else unit
        if start[best_i] == 0:
            ends_at_start |= 1 << e
        if e == unit:
            starts_at_end |= 1 << start[best_i]
    for s in range(unit):
        if starts_at_end & (1 << s):
            for e in range(1, unit + 1):
                if ends_at_start & (1 << e):
                    # the suffix p[s:unit] then the prefix p[0:e] of the next copy
                    r = lookup(t, p + s, unit - s + e)
                    if r != NOT_FOUND and r <= r_max:
                        return False
    return True


cdef int merge_run(const Tables* t, const uint8_t* p, size_t n, size_t unit,
                   TokenVec* out) noexcept nogil:
    """BPE of a piece of one repeated unit -- a byte, or a character that
    units_join_first() has shown becomes one token first -- on run lengths
    counted in units.  Returns 0, -1 (out of memory) or RUN_GAVE_UP, in
    which case out is untouched."""
    cdef Run runs[RUN_MAX_RUNS + 2]
    cdef uint64_t memo[MAX_TOKEN_BYTES + 1]   # see run_rank; k <= max_token_len
    cdef size_t nr = 1, i, j, at, work = 0, budget = n / unit + 4096
    cdef uint32_t best, r, k, m, tok
    cdef bint inside
    if n >= 0xFFFFFFFFULL:
        return RUN_GAVE_UP
    memset(memo, 0, sizeof(memo))
    runs[0].len = 1
    runs[0].count = <uint32_t>(n / unit)
    while True:
        # The leftmost pair of lowest rank: where runs i-1 and i meet, then
        # inside run i, in that order along the piece.
        best = NOT_FOUND
        at = 0
        inside = False
        for i in range(nr):
            if i > 0:
                r = run_rank(t, p, n, unit, memo, runs[i - 1].len + runs[i].len)
                if r < best:
                    best, at, inside = r, i, False
            if runs[i].count >= 2:
                r = run_rank(t, p, n, unit, memo, 2 * <size_t>runs[i].len)
                if r < best:
                    best, at, inside = r, i, True
        if best == NOT_FOUND:
            break
        work += nr
        if work > budget or nr + 2 > RUN_MAX_RUNS:
            return RUN_GAVE_UP
        if inside:
            # Run at becomes two: parts of 2k bytes, then what is left of k.
            k = runs[at].len
            m = runs[at].count
            memmove(&runs[at + 2], &runs[at + 1], (nr - at - 1) * sizeof(Run))
            if ((m < 3 or run_rank(t, p, n, unit, memo, 3 * <size_t>k) > best)
                    and (m < 4 or run_rank(t, p, n, unit, memo, 4 * <size_t>k) > best)
                    and (at == 0 or run_rank(t, p, n, unit, memo, runs[at - 1].len + 2 * <size_t>k) > best)):
                # All pairs of the run, left to right, uninterrupted.
                runs[at].len, runs[at].count = 2 * k, m // 2
                runs[at + 1].len, runs[at + 1].count = k, m % 2
            else:
                # Its first pair only.
                runs[at].len, runs[at].count = 2 * k, 1
                runs[at + 1].len, runs[at + 1].count = k, m - 2
            nr += 1
        else:
            # The last part of run at-1 with the first of run at.
            memmove(&runs[at + 1], &runs[at], (nr - at) * sizeof(Run))
            runs[at].len = runs[at - 1].len + runs[at + 1].len   # run at moved to at+1
            runs[at].count = 1
            runs[at - 1].count -= 1
            runs[at + 1].count -= 1
            nr += 1
        # Drop empty runs and join neighbours of equal length.
        j = 0
        for i in range(nr):
            if runs[i].count == 0:
                continue
            if j > 0 and runs[j - 1].len == runs[i].len:
                runs[j - 1].count += runs[i].count
            else:
                runs[j] = runs[i]
                j += 1
        nr = j
    for i in range(nr):
        tok = run_rank(t, p, n, unit, memo, runs[i].len)
        for j in range(runs[i].count):
            if push(out, tok) < 0:
                return -1
    return 0


# --- the piece cache -----------------------------------------------------------
# Words repeat, so the ids of a piece are remembered in a table keyed by the
# piece's hash: the short cache for pieces of 2..16 bytes (tokens too, see
# encode_short), the big cache for longer ones that needed merging.  An
# entry holds the piece's bytes, which are compared in full, so a hit is
# exact.  Each thread that is encoding holds its own tables (see the pool
# below), so no locks.

cdef inline int push_cached(TokenVec* out, const uint32_t* ids, size_t k) noexcept nogil:
    cdef size_t j
    for j in range(k):
        if push(out, ids[j]) < 0:
            return -1
    return 0


# The big cache: an open-addressing index of BigSlot over an arena holding
# each piece's bytes and ids.  Entries are never removed one by one; when the
# arena or the index fills up, the whole cache is emptied at once (cheap, and
# it keeps memory bounded).

cdef inline const BigSlot* big_find(const PieceCache* c, const uint8_t* p, size_t n,
                                    uint64_t h) noexcept nogil:
    cdef size_t i = h & (BIG_SLOTS - 1)
    cdef const BigSlot* e
    h |= 1                                # never 0, the empty mark
    while c.big[i].hash != 0:
        e = &c.big[i]
        if e.hash == h and e.len == n and memcmp(c.arena + e.off, p, n) == 0:
            return e
        i = (i + 1) & (BIG_SLOTS - 1)
    return NULL


cdef inline const uint32_t* big_ids(const PieceCache* c, const BigSlot* e) noexcept nogil:
    return <const uint32_t*>(c.arena + e.off + ((e.len + 3) & ~(<size_t>3)))


cdef void big_store(PieceCache* c, const uint8_t* p, size_t n, uint64_t h,
                    const uint32_t* ids, size_t k) noexcept nogil:
    cdef size_t need = ((n + 3) & ~(<size_t>3)) + k * sizeof(uint32_t), i
    cdef BigSlot* e
    cdef uint8_t* a
    if need > BIG_ARENA:
        return
    if c.arena_used + need > BIG_ARENA or 10 * (c.big_entries + 1) > 7 * BIG_SLOTS:
        memset(c.big, 0, BIG_SLOTS * sizeof(BigSlot))       # full: start afresh
        c.arena_used = 0
        c.big_entries = 0
    i = h & (BIG_SLOTS - 1)
    while c.big[i].hash != 0:
        i = (i + 1) & (BIG_SLOTS - 1)
    e = &c.big[i]
    e.hash = h | 1
    e.off = <uint32_t>c.arena_used
    e.len = <uint32_t>n
    e.n_ids = <uint32_t>k
    a = c.arena + c.arena_used
    memcpy(a, p, n)
    memcpy(a + ((n + 3) & ~(<size_t>3)), ids, k * sizeof(uint32_t))
    c.arena_used += need
    c.big_entries += 1


cdef inline int merge_span(const Tables* t, uint64_t* pc, const uint8_t* p, size_t n,
                           TokenVec* out) noexcept nogil:
    if n == 1:
        return push(out, t.byte_rank[p[0]])
    if n <= SMALL_PIECE:
        return merge_small(t, pc, p, n, out)
    return merge_heap(t, pc, p, n, out) if n < HUGE_PIECE else merge_huge(t, pc, p, n, out)


cdef inline bint is_barrier(const Tables* t, uint8_t x, uint8_t y) noexcept nogil:
    cdef uint32_t k = (<uint32_t>x << 8) | y
    return (t.bigram[k >> 6] >> (k & 63)) & 1 == 0


cdef int merge_any(const Tables* t, PieceCache* c, const uint8_t* p, size_t n,
                   TokenVec* out) noexcept nogil:
    """The merges of a piece that is not itself a token.

    A long piece is first cut wherever two adjacent bytes x, y appear
    together in no token at all: no part can ever span such a cut (every part
    is a token), so no join crosses it, and each side merges exactly as it
    would alone -- tiktoken's result is the concatenation of the sides'.
    (The sides are merged, never looked up whole: the whole-token shortcut
    applies to the piece, not to its sides.)"""
    cdef uint64_t* pc = c.pair_cache if c != NULL else NULL
    cdef size_t start = 0, i, unit
    cdef int status
    if n <= SMALL_PIECE:
        return merge_small(t, pc, p, n, out)
    unit = char_run_unit(p, n)
    if unit == 1 or (unit > 1 and units_join_first(t, p, unit)):
        status = merge_run(t, p, n, unit, out)
        if status != RUN_GAVE_UP:
            return status
    for i in range(1, n):
        if is_barrier(t, p[i - 1], p[i]):
            if merge_span(t, pc, p + start, i - start, out) < 0:
                return -1
            start = i
    return merge_span(t, pc, p + start, n - start, out)


cdef inline size_t short_pair(uint64_t h) noexcept nogil:
    """The first entry of the pair of the short cache that the piece whose
    hash16 is h belongs to (its index bits are clear of the filters')."""
    return (h >> 17) & (SHORT_SLOTS - 2)


cdef inline void short_fill(ShortEntry* x, uint64_t w0, uint64_t w1, size_t n,
                            const uint32_t* ids, size_t k, bint is_token) noexcept nogil:
    x.w0 = w0
    x.w1 = w1
    x.len = <uint8_t>n
    x.n_ids = <uint8_t>k
    x.is_token = <uint8_t>is_token
    memcpy(x.ids, ids, k * sizeof(uint32_t))


cdef void short_insert(PieceCache* cache, ShortEntry* e, uint64_t w0, uint64_t w1, size_t n,
                       const uint32_t* ids, size_t k, bint is_token) noexcept nogil:
    """Put a piece into its pair e of the short cache.

    A token takes only a free entry or one that holds a token: it is found
    again in the vocabulary at the cost of a cache miss, and must never push
    out a merged piece, which costs a merge.  (Letting it, warm whole-corpus
    Leipzig ran at 37 MB/s instead of 65: tokens and merged pieces took
    turns in the pairs that overflow, each turn sending a merged piece to
    the big cache, which filled up and was emptied again and again.)  A
    merged piece goes in front, and pushes out a token if the pair holds
    one, else the entry behind, which is kept in the big cache (a short piece
    is looked up there next: on Leipzig ~12,000 of 112,000 merged short
    pieces were evicted and merged again on every pass before it was)."""
    cdef uint8_t victim[16]
    cdef uint8_t spilled = e[0].spilled
    if is_token:
        if e[0].len == 0 or e[0].is_token:
            short_fill(&e[0], w0, w1, n, ids, k, True)
        elif e[1].len == 0 or e[1].is_token:
            short_fill(&e[1], w0, w1, n, ids, k, True)
    elif e[0].is_token and e[1].len != 0:
        short_fill(&e[0], w0, w1, n, ids, k, False)
    else:
        if e[1].len != 0 and not e[1].is_token:
            memcpy(&victim[0], &e[1].w0, 8)
            memcpy(&victim[8], &e[1].w1, 8)
            big_store(cache, victim, e[1].len, hash16(e[1].w0, e[1].w1, e[1].len),
                      e[1].ids, e[1].n_ids)
            spilled = 1
        e[1] = e[0]
        short_fill(&e[0], w0, w1, n, ids, k, False)
    e[0].spilled = spilled


cdef int encode_short(const Tables* t, PieceCache* cache, const uint8_t* p, size_t n,
                      uint64_t w0, uint64_t w1, uint64_t h, TokenVec* out) noexcept nogil:
    """A piece of 2..16 bytes (w0, w1: its bytes; h: hash16 of them): the
    short cache, then the vocabulary, then the big cache, then BPE.

    The short cache is two-way set-associative: a piece may sit in either
    entry of its pair (one 64-byte line).  It holds whole tokens as well as
    merged pieces, so that a piece seen before costs one line, which the
    scanner has prefetched, instead of the token filter's word and the
    token's slot (warm count of each Leipzig file on its own: English 157
    -> 185 MB/s, German 125 -> 146, Vietnamese 104 -> 141).  Pieces that
    merge into more than SHORT_MAX_IDS tokens go to the big cache instead."""
    cdef size_t before, k
    cdef ShortEntry* e
    cdef const BigSlot* b
    cdef uint32_t r = NOT_FOUND
    if cache != NULL:
        e = &cache.short[short_pair(h)]
        if e[0].len == n and e[0].w0 == w0 and e[0].w1 == w1:
            return push_cached(out, e[0].ids, e[0].n_ids)
        if e[1].len == n and e[1].w0 == w0 and e[1].w1 == w1:
            return push_cached(out, e[1].ids, e[1].n_ids)
    # tiktoken's first rule: a piece that is a token is emitted whole.
    if n <= t.max_token_len and token_maybe(t, h):
        r = lookup_hashed(t, p, n, h, w0, w1)
    if r != NOT_FOUND:
        if cache != NULL:
            short_insert(cache, e, w0, w1, n, &r, 1, True)
        return push(out, r)
    if cache == NULL:
        return merge_any(t, cache, p, n, out)
    # The big cache holds short pieces only if their pair ever spilled:
    # on unseen text most pairs have not, and that read would miss.
    if e[0].spilled:
        b = big_find(cache, p, n, h)
        if b != NULL:
            return push_cached(out, big_ids(cache, b), b.n_ids)
    before = out.len
    if merge_any(t, cache, p, n, out) < 0:
        return -1
    k = out.len - before
    if k <= SHORT_MAX_IDS:
        short_insert(cache, e, w0, w1, n, out.data + before, k, False)
    else:
        big_store(cache, p, n, h, out.data + before, k)
        e[0].spilled = 1
    return 0


cdef int encode_long(const Tables* t, PieceCache* cache, const uint8_t* p, size_t n,
                     uint64_t h, TokenVec* out) noexcept nogil:
    """A piece of more than 16 bytes that is not a token (h: hash_bytes of
    it): the big cache, then BPE."""
    cdef size_t before
    cdef const BigSlot* b
    if cache == NULL or n > BIG_MAX_PIECE:
        return merge_any(t, cache, p, n, out)
    b = big_find(cache, p, n, h)
    if b != NULL:
        return push_cached(out, big_ids(cache, b), b.n_ids)
    before = out.len
    if merge_any(t, cache, p, n, out) < 0:
        return -1
    big_store(cache, p, n, h, out.data + before, out.len - before)
    return 0


cdef struct Pending:
    # A piece found by the scanner, waiting to be encoded.
    size_t start
    size_t n
    uint64_t w0, w1      # its first 16 bytes, zero-padded
    uint64_t h           # its hash


cdef enum:
    LOOKAHEAD = 8        # pieces scanned ahead of the one being encoded


cdef int encode_utf8(const Tables* t, PieceCache* cache, const uint8_t* s, size_t n,
                     TokenVec* out) noexcept nogil:
    """Append the ids of UTF-8 text s[:n] to out.  -1 when out of memory.
    cache may be NULL (then nothing is remembered).

    Most of the time goes in waiting for memory: a piece's entry in the
    short cache (or, for a longer piece, in the big cache and the token
    hash) is a random place in a table of megabytes.  So the scanner runs
    LOOKAHEAD pieces ahead, hashing each piece and prefetching its entry; by
    the time a piece is encoded, its memory is usually on its way.
    """
    cdef Pending ring[LOOKAHEAD]
    cdef Pending* q
    cdef uint32_t r
    cdef size_t i = 0, end, head = 0, tail = 0
    cdef int status
    cdef ShortEntry* short_cache = cache.short if cache != NULL else NULL
    cdef BulkScan scan
    bulk_start(&scan, 0)
    while True:
        while tail - head < LOOKAHEAD and i < n:
            end = next_piece_end(&scan, s, n, i)
            q = &ring[tail % LOOKAHEAD]
            q.start = i
            q.n = end - i
            if 2 <= q.n <= 16:
                load16(s + i, q.n, n - i, &q.w0, &q.w1)
                q.h = hash16(q.w0, q.w1, q.n)
                if short_cache != NULL:
                    prefetch(&short_cache[short_pair(q.h)])
                elif q.n <= t.max_token_len and token_maybe(t, q.h):
                    prefetch(&t.slots[q.h & t.slot_mask])
            elif q.n > 16:
                memcpy(&q.w0, s + i, 8)
                q.h = hash_bytes(s + i, q.n)
                if cache != NULL and q.n <= BIG_MAX_PIECE:
                    prefetch(&cache.big[q.h & (BIG_SLOTS - 1)])
                if q.n <= t.max_token_len:
                    prefetch(&t.slots[q.h & t.slot_mask])
            tail += 1
            i = end
        if head == tail:
            return 0
        q = &ring[head % LOOKAHEAD]
        head += 1
        if q.n == 1:
            status = push(out, t.byte_rank[s[q.start]])
        else:
            if q.n <= 16:
                status = encode_short(t, cache, s + q.start, q.n, q.w0, q.w1, q.h, out)
            else:
                # tiktoken's first rule: a piece that is a token is emitted whole.
                r = NOT_FOUND
                if q.n <= t.max_token_len:
                    r = lookup_hashed(t, s + q.start, q.n, q.h, q.w0, 0)
                if r != NOT_FOUND:
                    status = push(out, r)
                else:
                    status = encode_long(t, cache, s + q.start, q.n, q.h, out)
        if status < 0:
            return -1


cpdef str prepared_text(object text, object normalize):
    """text as the encoder takes it: a str (a subclass becomes a plain str;
    anything else is a TypeError), passed through normalize if not None.
    Encoding._prepare is this too."""
    if type(text) is not str:
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        text = str(text)
    if normalize is not None:
        text = normalize(text)
    return <str?>text


# ---------------------------------------------------------------------------
# Batches on native threads
# ---------------------------------------------------------------------------
# The pool of piece caches: a slot is taken with an atomic compare-and-swap,
# and its table allocated by the thread that first takes it.

cdef void cache_seed(PieceCache* dst, const PieceCache* src) noexcept nogil:
    """Copy src's entries into dst, a new cache.  A cache is a memo of a pure
    function, so any copy of one is correct; neither may be in use by
    another thread meanwhile."""
    memcpy(dst.short, src.short, SHORT_SLOTS * sizeof(ShortEntry))
    memcpy(dst.big, src.big, BIG_SLOTS * sizeof(BigSlot))
    memcpy(dst.arena, src.arena, src.arena_used)
    memcpy(dst.pair_cache, src.pair_cache, PAIR_CACHE_SLOTS * sizeof(uint64_t))
    dst.arena_used = src.arena_used
    dst.big_entries = src.big_entries


cdef bint cache_tables(PieceCache* c) noexcept nogil:
    """Map the tables of a cache used for the first time (zeroed: empty).
    False, with none mapped, when out of memory."""
    c.short = <ShortEntry*>cache_alloc(SHORT_SLOTS * sizeof(ShortEntry))
    c.big = <BigSlot*>cache_alloc(BIG_SLOTS * sizeof(BigSlot))
    c.arena = <uint8_t*>cache_alloc(BIG_ARENA)
    c.pair_cache = <uint64_t*>cache_alloc(PAIR_CACHE_SLOTS * sizeof(uint64_t))
    c.arena_used = 0
    c.big_entries = 0
    if c.short == NULL or c.big == NULL or c.arena == NULL or c.pair_cache == NULL:
        cache_free_tables(c)
        return False
    return True


cdef void cache_free_tables(PieceCache* c) noexcept nogil:
    cache_free(c.short, SHORT_SLOTS * sizeof(ShortEntry))
    cache_free(c.big, BIG_SLOTS * sizeof(BigSlot))
    cache_free(c.arena, BIG_ARENA)
    cache_free(c.pair_cache, PAIR_CACHE_SLOTS * sizeof(uint64_t))
    c.short = NULL
    c.big = NULL
    c.arena = NULL
    c.pair_cache = NULL


cdef PieceCache* pool_acquire(CachePool* pool, int* slot, const PieceCache* seed) noexcept nogil:
    """Take a free cache.  One used for the first time starts as a copy of
    seed (a cache the caller holds), or else of a free cache that is in use
    already: a new thread then starts with what the others learned instead
    of merging every common word again (a batch's second thread was ~1.5x
    slower than the first until its cache filled)."""
    cdef int k, j
    cdef PieceCache* c
    for k in range(CACHE_POOL):
        if atomic_try_acquire(&pool.busy[k]):
            c = &pool.tables[k]
            if c.short == NULL:
                if not cache_tables(c):
                    atomic_release(&pool.busy[k])
                    break
                if seed != NULL:
                    cache_seed(c, seed)
                else:
                    for j in range(CACHE_POOL):
                        if j != k and atomic_try_acquire(&pool.busy[j]):
                            if pool.tables[j].short != NULL:
                                cache_seed(c, &pool.tables[j])
                                atomic_release(&pool.busy[j])
                                break
                            atomic_release(&pool.busy[j])
            slot[0] = k
            return c
    slot[0] = -1
    return NULL                           # every table in use: encode uncached


cdef void pool_release(CachePool* pool, int slot) noexcept nogil:
    if slot >= 0:
        atomic_release(&pool.busy[slot])


cdef inline int encode_pooled(const Tables* t, CachePool* pool, PieceCache* held,
                              const uint8_t* s, size_t n, TokenVec* out) noexcept nogil:
    """encode_utf8 with held, a piece cache the caller holds already, or if
    that is NULL with one taken from pool for the call."""
    cdef int slot = -1
    cdef PieceCache* cache = held if held != NULL else pool_acquire(pool, &slot, NULL)
    cdef int status = encode_utf8(t, cache, s, n, out)
    pool_release(pool, slot)
    return status


# Threads take the next text from a shared atomic counter, so a thread that
# drew long texts does not hold the others up.

cdef struct BatchJob:
    const Tables* t
    const uint8_t** texts
    size_t* lens
    # With check_nfc, a text the native NFC check does not pass is left to
    # the calling thread (not_nfc[i] = 1), which normalizes it in Python.
    bint check_nfc
    const int* kinds          # the texts' str layouts and characters
    void** chars
    const Py_ssize_t* n_chars
    int* not_nfc
    TokenVec* outs
    size_t n
    size_t next_index     # shared; advanced with an atomic fetch-and-add
    PieceCache** caches   # one per thread, taken by the calling thread beforehand
    size_t next_worker    # shared; a thread's index into caches
    int* done             # done[i] = 1 once text i is encoded (or failed)
    int status


cdef inline int encode_one(BatchJob* job, PieceCache* cache) noexcept nogil:
    """Take the next text and encode it.  0 when there was none left."""
    cdef size_t i = atomic_fetch_add(&job.next_index, 1)
    # The ids go to a vector of this thread's own, stored into outs[i] once
    # done: outs[i] and outs[i + 1] share a cache line, and the other thread,
    # encoding text i + 1, would otherwise fight over it at every id pushed.
    cdef TokenVec v = TokenVec(NULL, 0, 0)
    if i >= job.n:
        return 0
    if job.check_nfc and not is_nfc_data(job.kinds[i], job.chars[i], job.n_chars[i], True):
        job.not_nfc[i] = 1
    elif encode_utf8(job.t, cache, job.texts[i], job.lens[i], &v) < 0:
        atomic_store_int(&job.status, -1)
    job.outs[i] = v
    atomic_set(&job.done[i])
    return 1


cdef void* encode_batch_worker(void* arg) noexcept nogil:
    cdef BatchJob* job = <BatchJob*>arg
    cdef PieceCache* cache = job.caches[atomic_fetch_add(&job.next_worker, 1)]
    while encode_one(job, cache):
        pass
    return NULL




# ---------------------------------------------------------------------------
# 5. CoreBPE
# ---------------------------------------------------------------------------

cdef inline const uint8_t* utf8_of(str text, size_t* n) except NULL:
    # Raises UnicodeEncodeError on lone surrogates; the Python layer handles it.
    cdef Py_ssize_t size
    cdef const char* s = PyUnicode_AsUTF8AndSize(text, &size)
    n[0] = <size_t>size
    return <const uint8_t*>s


cdef enum:
    CACHE_HEADER = 96
    CACHE_FORMAT = 4
    CACHE_PARTS = 8


cdef void cache_parts(Tables* t, uint64_t blob_size, uint64_t slot_cap, uint64_t pair_cap,
                      void** parts, size_t* sizes) noexcept nogil:
    """The cache file's payload, in order: where each part lives and its size.
    The writer and the reader both walk this one list."""
    parts[0] = t.byte_rank
    sizes[0] = 256 * sizeof(uint32_t)
    parts[1] = t.blob
    sizes[1] = blob_size
    parts[2] = t.tok_start
    sizes[2] = t.n_ids * sizeof(uint64_t)
    parts[3] = t.tok_len
    sizes[3] = t.n_ids * sizeof(uint32_t)
    parts[4] = t.slots
    sizes[4] = slot_cap * sizeof(Slot)
    parts[5] = t.pairs
    sizes[5] = pair_cap * sizeof(uint64_t)
    parts[6] = t.byte_pair
    sizes[6] = 65536 * sizeof(uint32_t)
    parts[7] = t.pair_filter
    sizes[7] = PAIR_FILTER_WORDS * sizeof(uint64_t)


cdef uint64_t read_part(FILE* f, void* dest, size_t n, uint64_t h) noexcept nogil:
    """Read n bytes into dest and chain their checksum onto h (a short read
    leaves a mismatching checksum behind)."""
    if fread(dest, 1, n, f) != n:
        return h ^ 0xBADBADBADULL
    return checksum(h, <const uint8_t*>dest, n)

cdef const char* CACHE_MAGIC = b"QTOKTBL\x01"
#: The layout version of the table cache files; part of their names.
TABLE_CACHE_FORMAT = CACHE_FORMAT


cdef enum:
    NOGIL_MIN_BYTES = 2048   # encode releases the GIL for texts this long or longer
    LIST_AHEAD = 8       # how far ahead building a result list prefetches
    DECODE_AHEAD = 32    # how far ahead decoding prefetches int objects and entries
    DECODE_INLINE = 8    # tokens shorter than this are decoded from their entry alone


# --- result lists ------------------------------------------------------------
# A list of ids holds int objects.  Making one per id per call (PyLong_FromLong)
# costs an allocation each: warm Leipzig text as lists ran at 45 MB/s that way,
# against 66-71 with shared objects.  So the ints 0..n-1 are made once per
# process, in one list that every vocabulary shares (an int is the same for
# all) and that only grows, and they are made everlasting (above): putting
# one in a result list is then a pointer store, where an INCREF wrote to a
# random place in ~5 MB for every id (lists 68-71 -> 71-79 MB/s, same
# process pairs).  The objects are never freed, as CPython's own small ints.

cdef list SHARED_INTS = []


cdef list shared_ints(Py_ssize_t n):
    """The list of the shared int objects, holding at least 0..n-1."""
    cdef Py_ssize_t k, have = len(SHARED_INTS)
    cdef PyObject** items
    if have < n:
        SHARED_INTS.extend(range(have, n))
        items = list_items(SHARED_INTS)
        for k in range(have, n):
            make_everlasting(items[k])
    return SHARED_INTS


def everlasting_ints():
    """Whether result lists hold their int objects without an INCREF (64-bit
    CPython with a GIL); for tests."""
    return bool(EVERLASTING_INTS)


cdef class DecodeBuffer:
    """Decoded bytes in a malloc'ed buffer, freed with this object."""

    def __dealloc__(self):
        free(self.data)


cdef class CoreBPE:
    """The vocabulary in C arrays, and the encode / decode entry points.

    Build one with from_tiktoken_data() or from_ranks(); the Python Encoding
    (qtok/core.py) wraps it.  Immutable once built, so thread-safe.
    """

    def __cinit__(self):
        memset(&self.t, 0, sizeof(Tables))
        memset(&self.pool, 0, sizeof(CachePool))

    def __dealloc__(self):
        cdef int k
        free(self.t.blob)
        free(self.t.tok_start)
        free(self.t.tok_len)
        free(self.t.slots)
        free(self.t.pairs)
        free(self.t.byte_pair)
        free(self.t.dec)
        free(self.t.pair_filter)
        free(self.t.token_filter)
        for k in range(CACHE_POOL):
            cache_free_tables(&self.pool.tables[k])

    # -- building --------------------------------------------------------

    cdef int _allocate(self, uint32_t n_ids, size_t blob_size) except -1:
        self.t.n_ids = n_ids
        if blob_size >= 0xFFFFFFFF:
            raise ValueError("the vocabulary's tokens add up to more than 4 GB")
        # BLOB_PAD zero bytes after the last token: lookup_hashed reads a
        # whole word of a token's bytes 8..15 however short its tail.
        self.t.blob = <uint8_t*>malloc(blob_size + BLOB_PAD)
        self.t.tok_start = <uint64_t*>calloc(n_ids, sizeof(uint64_t))
        self.t.tok_len = <uint32_t*>calloc(n_ids, sizeof(uint32_t))
        if self.t.blob == NULL or self.t.tok_start == NULL or self.t.tok_len == NULL:
            raise MemoryError()
        memset(self.t.blob + blob_size, 0, BLOB_PAD)
        return 0

    cdef int _build_hash(self) except -1:
        """Hash every regular token, refusing duplicates, and check that the
        256 single bytes are all tokens (byte-level BPE starts from them)."""
        cdef uint64_t cap = 1024, h, i, w0, w1
        cdef uint32_t r, n
        cdef const uint8_t* tok
        # Load factor at most 0.6: linear probes stay within a cache line or two.
        while cap * 6 < 10 * <uint64_t>self.n_regular:
            cap *= 2
        self.t.slots = <Slot*>table_alloc(cap * sizeof(Slot), True)
        if self.t.slots == NULL:
            raise MemoryError()
        self.t.slot_mask = cap - 1
        for i in range(256):
            self.t.byte_rank[i] = NOT_FOUND
        self.t.max_token_len = 0
        for r in range(self.max_regular_rank + 1):
            n = self.t.tok_len[r]
            if n == 0:
                continue
            tok = self.t.blob + self.t.tok_start[r]
            if n > MAX_TOKEN_BYTES:
                raise ValueError(f"the token with rank {r} is {n} bytes long; qtok supports "
                                 f"tokens of up to {MAX_TOKEN_BYTES} bytes")
            if n == 1:
                self.t.byte_rank[tok[0]] = r
            if n > self.t.max_token_len:
                self.t.max_token_len = n
            if lookup_bytes(&self.t, tok, n) != NOT_FOUND:
                raise ValueError(f"the token {self.token_bytes(r)!r} has two ranks: "
                                 f"{lookup(&self.t, tok, n)} and {r}")
            i = hash_bytes(tok, n) & self.t.slot_mask
            while self.t.slots[i].meta != 0:
                i = (i + 1) & self.t.slot_mask
            self.t.slots[i].prefix = prefix8(tok, n)
            self.t.slots[i].meta = ((<uint64_t>r + 1) << 40) | (<uint64_t>n << 32) | self.t.tok_start[r]
        for i in range(256):
            if self.t.byte_rank[i] == NOT_FOUND:
                raise ValueError(
                    f"the vocabulary has no token for the single byte 0x{i:02x}; "
                    "byte-level BPE needs all 256")
        return 0

    cdef int _build_pairs(self) except -1:
        """The pair table: for every token T and every split T = A + B where A
        and B are tokens too, (rank A, rank B) -> rank T.  These are all the
        joins BPE can ever make, since every part is a token."""
        cdef uint32_t r, n, k, a, b, x, y, count = 0, cap_found = 1 << 16
        cdef uint64_t cap = 1024, key, i, h
        cdef const uint8_t* tok
        cdef uint64_t* found = <uint64_t*>malloc(cap_found * sizeof(uint64_t))
        cdef uint64_t* grown
        try:
            if found == NULL:
                raise MemoryError()
            with nogil:
                for r in range(self.max_regular_rank + 1):
                    n = self.t.tok_len[r]
                    if n < 2:
                        continue
                    tok = self.t.blob + self.t.tok_start[r]
                    for k in range(1, n):
                        a = lookup(&self.t, tok, k)
                        if a == NOT_FOUND:
                            continue
                        b = lookup(&self.t, tok + k, n - k)
                        if b == NOT_FOUND:
                            continue
                        if count == cap_found:
                            grown = <uint64_t*>realloc(found, 2 * cap_found * sizeof(uint64_t))
                            if grown == NULL:
                                break
                            found = grown
                            cap_found *= 2
                        found[count] = (((<uint64_t>a << ID_BITS) | b) << ID_BITS) | (r + 1)
                        count += 1
            if count == cap_found:
                raise MemoryError()
            while cap * 6 < 10 * <uint64_t>count:       # load factor at most 0.6
                cap *= 2
            self.t.pairs = <uint64_t*>table_alloc(cap * sizeof(uint64_t), True)
            self.t.byte_pair = <uint32_t*>malloc(65536 * sizeof(uint32_t))
            self.t.pair_filter = <uint64_t*>calloc(PAIR_FILTER_WORDS, sizeof(uint64_t))
            if self.t.pairs == NULL or self.t.byte_pair == NULL or self.t.pair_filter == NULL:
                raise MemoryError()
            self.t.pair_mask = cap - 1
            self.n_pairs = count
            for k in range(65536):
                self.t.byte_pair[k] = NOT_FOUND
            with nogil:
                for k in range(count):
                    key = found[k] >> ID_BITS
                    h = mix(key)
                    i = h & self.t.pair_mask
                    while self.t.pairs[i] != 0:
                        i = (i + 1) & self.t.pair_mask
                    self.t.pairs[i] = found[k]
                    filter_add(self.t.pair_filter, PAIR_FILTER_BITS, h)
                    a = <uint32_t>(key >> ID_BITS)
                    b = <uint32_t>(key & ID_MASK)
                    if self.t.tok_len[a] == 1 and self.t.tok_len[b] == 1:
                        x = self.t.blob[self.t.tok_start[a]]
                        y = self.t.blob[self.t.tok_start[b]]
                        self.t.byte_pair[(x << 8) | y] = <uint32_t>(found[k] & ID_MASK) - 1
        finally:
            free(found)
        return 0

    cdef int _add_specials(self, dict special_tokens, uint64_t blob_used) except -1:
        cdef bytes b
        self.special_ids = {}
        for text, rank in special_tokens.items():
            b = text.encode("utf-8")
            self.t.tok_start[rank] = blob_used
            self.t.tok_len[rank] = len(b)
            memcpy(self.t.blob + blob_used, <const char*>b, len(b))
            blob_used += len(b)
            self.special_ids[text] = rank
        return 0

    cdef int _finish(self) except -1:
        cdef uint32_t r, n, k, b
        cdef uint64_t i, meta
        cdef const uint8_t* tok
        self.t.dec = <uint64_t*>table_alloc(self.t.n_ids * sizeof(uint64_t), True)
        if self.t.dec == NULL:
            raise MemoryError()
        # Which byte pairs occur inside some regular token (see merge_any),
        # and the token filter (see token_maybe).  The token hash holds
        # exactly the regular tokens, so walk it.  (Built at each load, in
        # about a millisecond, rather than stored in the table cache.)
        memset(self.t.bigram, 0, sizeof(self.t.bigram))
        self.t.token_filter = <uint64_t*>table_alloc(TOKEN_FILTER_WORDS * sizeof(uint64_t), True)
        if self.t.token_filter == NULL:
            raise MemoryError()
        with nogil:
            for i in range(self.t.slot_mask + 1):
                meta = self.t.slots[i].meta
                n = (meta >> 32) & 0xFF
                if meta == 0 or n < 2:
                    continue
                tok = self.t.blob + (meta & 0xFFFFFFFFULL)
                if n <= 16:
                    filter_add(self.t.token_filter, TOKEN_FILTER_BITS, hash_bytes(tok, n))
                for k in range(1, n):
                    b = (<uint32_t>tok[k - 1] << 8) | tok[k]
                    self.t.bigram[b >> 6] |= 1ULL << (b & 63)
        for r in range(self.t.n_ids):
            n = self.t.tok_len[r]
            if n > 0x7FFFFFFF:
                raise ValueError(f"token {r} is 2 GB long or longer")
            if n >= DECODE_INLINE:
                self.t.dec[r] = (1ULL << 63) | (<uint64_t>n << 32) | self.t.tok_start[r]
            elif n:
                self.t.dec[r] = prefix8(self.t.blob + self.t.tok_start[r], n) | (<uint64_t>n << 56)
        self.id_objects = shared_ints(self.t.n_ids)
        return 0

    @staticmethod
    def from_tiktoken_data(const uint8_t[::1] data, dict special_tokens, str source):
        """Parse a tiktoken file's contents: one "base64-token rank" per line.

        Errors name the file (`source`) and the line.
        """
        cdef CoreBPE core = CoreBPE.__new__(CoreBPE)
        cdef size_t n = data.shape[0], pos = 0, line_no = 0, k, end, b64_end
        cdef uint64_t blob_used = 0, rank, max_rank = 0
        cdef int64_t v
        cdef uint32_t acc, nbits, count = 0, i
        cdef uint8_t c
        cdef int8_t[256] b64
        cdef size_t special_bytes = 0
        cdef uint32_t n_lines = 0

        if n == 0:
            raise ValueError(f"{source}: the vocabulary file is empty")
        for k in range(n):
            if data[k] == 10:
                n_lines += 1
        if data[n - 1] != 10:
            n_lines += 1
        for key in special_tokens:
            special_bytes += len(key.encode("utf-8"))
        for k in range(256):
            b64[k] = -1
        for k in range(26):
            b64[65 + k] = k
            b64[97 + k] = 26 + k
        for k in range(10):
            b64[48 + k] = 52 + k
        b64[43] = 62
        b64[47] = 63

        # Ranks are not known until parsed: collect (start, len, rank) per line.
        cdef uint64_t* starts = <uint64_t*>malloc(n_lines * sizeof(uint64_t) + 8)
        cdef uint32_t* lens = <uint32_t*>malloc(n_lines * sizeof(uint32_t) + 4)
        cdef uint64_t* ranks = <uint64_t*>malloc(n_lines * sizeof(uint64_t) + 8)
        cdef uint8_t* blob = <uint8_t*>malloc(n + special_bytes + 1)
        try:
            if starts == NULL or lens == NULL or ranks == NULL or blob == NULL:
                raise MemoryError()
            while pos < n:
                line_no += 1
                end = pos
                while end < n and data[end] != 10:
                    end += 1
                k = end
                if k > pos and data[k - 1] == 13:
                    k -= 1                               # tolerate CRLF
                if k == pos:
                    if end + 1 >= n:                     # trailing blank line
                        break
                    raise ValueError(f"{source}, line {line_no}: empty line")
                b64_end = pos
                while b64_end < k and data[b64_end] != 32:
                    b64_end += 1
                if b64_end == k or b64_end == pos:
                    raise ValueError(f"{source}, line {line_no}: expected 'base64-token rank'")
                # base64 token
                starts[count] = blob_used
                acc = 0
                nbits = 0
                for i in range(pos, b64_end):
                    c = data[i]
                    if c == 61:                          # '=' padding ends the token
                        break
                    if b64[c] < 0:
                        raise ValueError(f"{source}, line {line_no}: invalid base64 character {chr(c)!r}")
                    acc = (acc << 6) | <uint32_t>b64[c]
                    nbits += 6
                    if nbits >= 8:
                        nbits -= 8
                        blob[blob_used] = (acc >> nbits) & 0xFF
                        blob_used += 1
                lens[count] = <uint32_t>(blob_used - starts[count])
                if lens[count] == 0:
                    raise ValueError(f"{source}, line {line_no}: empty token")
                # decimal rank
                rank = 0
                if b64_end + 1 >= k:
                    raise ValueError(f"{source}, line {line_no}: missing rank")
                for i in range(b64_end + 1, k):
                    c = data[i]
                    if c < 48 or c > 57 or rank > 0xFFFFFFF:
                        raise ValueError(f"{source}, line {line_no}: invalid rank")
                    rank = rank * 10 + (c - 48)
                ranks[count] = rank
                if rank > max_rank:
                    max_rank = rank
                count += 1
                pos = end + 1
            if count == 0:
                raise ValueError(f"{source}: no tokens in the vocabulary file")
            core._fill(count, starts, lens, ranks, max_rank, blob, blob_used,
                       special_tokens, source)
        finally:
            free(starts)
            free(lens)
            free(ranks)
            free(blob)
        core._finish()
        return core

    @staticmethod
    def from_ranks(dict mergeable_ranks, dict special_tokens, str source="mergeable_ranks"):
        """Build from a {token bytes: rank} dict, as tiktoken.Encoding takes."""
        cdef CoreBPE core = CoreBPE.__new__(CoreBPE)
        cdef uint32_t count = len(mergeable_ranks), i = 0
        cdef uint64_t blob_used = 0, max_rank = 0, total = 0
        cdef size_t special_bytes = 0
        cdef bytes token
        for token in mergeable_ranks:
            total += len(token)
        for key in special_tokens:
            special_bytes += len(key.encode("utf-8"))
        cdef uint64_t* starts = <uint64_t*>malloc(count * sizeof(uint64_t) + 8)
        cdef uint32_t* lens = <uint32_t*>malloc(count * sizeof(uint32_t) + 4)
        cdef uint64_t* ranks = <uint64_t*>malloc(count * sizeof(uint64_t) + 8)
        cdef uint8_t* blob = <uint8_t*>malloc(total + special_bytes + 1)
        try:
            if starts == NULL or lens == NULL or ranks == NULL or blob == NULL:
                raise MemoryError()
            for token, rank in mergeable_ranks.items():
                if not isinstance(rank, int) or rank < 0 or rank > 0xFFFFFFF:
                    raise ValueError(f"{source}: invalid rank {rank!r} for token {token!r}")
                if len(token) == 0:
                    raise ValueError(f"{source}: empty token with rank {rank}")
                starts[i] = blob_used
                lens[i] = len(token)
                memcpy(blob + blob_used, <const char*>token, len(token))
                blob_used += len(token)
                ranks[i] = rank
                if rank > max_rank:
                    max_rank = rank
                i += 1
            if count == 0:
                raise ValueError(f"{source}: no tokens")
            core._fill(count, starts, lens, ranks, max_rank, blob, blob_used,
                       special_tokens, source)
        finally:
            free(starts)
            free(lens)
            free(ranks)
            free(blob)
        core._finish()
        return core

    cdef int _fill(self, uint32_t count, uint64_t* starts, uint32_t* lens, uint64_t* ranks,
                   uint64_t max_rank, uint8_t* blob, uint64_t blob_used,
                   dict special_tokens, str source) except -1:
        """Lay parsed tokens out by rank and append the special tokens."""
        cdef uint64_t n_ids = max_rank + 1
        cdef uint32_t i
        if max_rank >= ID_MASK:
            raise ValueError(f"{source}: rank {max_rank} is too large; qtok supports ranks "
                             f"below {ID_MASK}")
        for text, rank in special_tokens.items():
            if not isinstance(text, str) or not isinstance(rank, int) or rank < 0 or rank > 0xFFFFFFF:
                raise ValueError(f"{source}: invalid special token {text!r}: {rank!r}")
            if rank + 1 > n_ids:
                n_ids = rank + 1
        if n_ids > ID_MASK:
            raise ValueError(f"{source}: special token ids must be below {ID_MASK}")
        self._allocate(<uint32_t>n_ids, blob_used + sum(len(k.encode("utf-8")) for k in special_tokens))
        memcpy(self.t.blob, blob, blob_used)
        for i in range(count):
            if self.t.tok_len[ranks[i]] != 0:
                raise ValueError(f"{source}: rank {ranks[i]} is given to two tokens")
            self.t.tok_start[ranks[i]] = starts[i]
            self.t.tok_len[ranks[i]] = lens[i]
        self.n_regular = count
        self.max_regular_rank = <uint32_t>max_rank
        for text, rank in special_tokens.items():
            if rank <= max_rank and self.t.tok_len[rank] != 0:
                raise ValueError(f"{source}: special token {text!r} reuses regular rank {rank}")
        if len(set(special_tokens.values())) != len(special_tokens):
            raise ValueError(f"{source}: two special tokens share an id")
        self._build_hash()          # before the specials: they are never merged
        self._build_pairs()
        self._add_specials(special_tokens, blob_used)
        return 0

    # -- the compiled cache ------------------------------------------------
    # Building the tables from a tiktoken file takes ~100 ms, most of it the
    # pair table.  The finished tables are saved as one flat file (see
    # qtok/vocab.py for where) and loaded back with a few memcpy calls.
    # Layout, all little-endian: a 96-byte header -- magic, format version,
    # sizes, and a hash_bytes() checksum of the payload -- then the payload:
    # the parts cache_parts() lists, in its order.

    def to_cache_bytes(self):
        """The tables as one bytes object, for from_cache_file()."""
        cdef uint64_t blob_size = self._blob_size()
        cdef uint64_t slot_cap = self.t.slot_mask + 1, pair_cap = self.t.pair_mask + 1
        cdef void* parts[CACHE_PARTS]
        cdef size_t sizes[CACHE_PARTS]
        cdef uint64_t payload = 0, h = CACHE_FORMAT
        cdef int k
        cache_parts(&self.t, blob_size, slot_cap, pair_cap, parts, sizes)
        for k in range(CACHE_PARTS):
            payload += sizes[k]
        out = PyBytes_FromStringAndSize(NULL, CACHE_HEADER + payload)
        cdef uint8_t* o = <uint8_t*>PyBytes_AS_STRING(out)
        cdef uint8_t* q = o + CACHE_HEADER
        cdef uint64_t* hdr = <uint64_t*>o
        memset(o, 0, CACHE_HEADER)
        memcpy(o, CACHE_MAGIC, 8)
        hdr[1] = CACHE_FORMAT
        hdr[2] = self.t.n_ids
        hdr[3] = self.t.max_token_len
        hdr[4] = self.n_regular
        hdr[5] = self.max_regular_rank
        hdr[6] = self.n_pairs
        hdr[7] = blob_size
        hdr[8] = slot_cap
        hdr[9] = pair_cap
        for k in range(CACHE_PARTS):
            memcpy(q, parts[k], sizes[k])
            h = checksum(h, q, sizes[k])
            q += sizes[k]
        hdr[10] = h
        return out

    cdef uint64_t _blob_size(self):
        cdef uint64_t end = 0
        cdef uint32_t r
        for r in range(self.t.n_ids):
            if self.t.tok_len[r] and self.t.tok_start[r] + self.t.tok_len[r] > end:
                end = self.t.tok_start[r] + self.t.tok_len[r]
        return end

    @staticmethod
    def from_cache_file(str path, dict special_tokens):
        """Tables saved by to_cache_bytes(), read straight into place.
        Raises OSError if the file cannot be read and ValueError if it is not
        a complete, intact cache of this format (the caller then rebuilds)."""
        cdef CoreBPE core = CoreBPE.__new__(CoreBPE)
        cdef uint64_t hdr[12]
        cdef uint64_t n_ids, blob_size, slot_cap, pair_cap, h
        cdef uint8_t extra
        cdef void* parts[CACHE_PARTS]
        cdef size_t sizes[CACHE_PARTS]
        cdef int k
        cdef bytes fspath = os.fsencode(path)
        cdef FILE* f = fopen(fspath, "rb")
        if f == NULL:
            raise OSError(f"cannot open {path}")
        try:
            if fread(hdr, 1, CACHE_HEADER, f) != CACHE_HEADER or memcmp(hdr, CACHE_MAGIC, 8) != 0:
                raise ValueError(f"{path}: not a qtok table cache")
            n_ids, blob_size, slot_cap, pair_cap = hdr[2], hdr[7], hdr[8], hdr[9]
            if (hdr[1] != CACHE_FORMAT or n_ids == 0 or n_ids >= ID_MASK or blob_size >= 0xFFFFFFFF
                    or hdr[3] > MAX_TOKEN_BYTES
                    or slot_cap == 0 or slot_cap & (slot_cap - 1) or slot_cap > (1ULL << 32)
                    or pair_cap == 0 or pair_cap & (pair_cap - 1) or pair_cap > (1ULL << 32)):
                raise ValueError(f"{path}: unsupported or damaged qtok table cache")
            core._allocate(<uint32_t>n_ids, blob_size)
            core.t.slots = <Slot*>table_alloc(slot_cap * sizeof(Slot), False)
            core.t.pairs = <uint64_t*>table_alloc(pair_cap * 8, False)
            core.t.byte_pair = <uint32_t*>malloc(65536 * 4)
            core.t.pair_filter = <uint64_t*>malloc(PAIR_FILTER_WORDS * sizeof(uint64_t))
            if (core.t.slots == NULL or core.t.pairs == NULL or core.t.byte_pair == NULL
                    or core.t.pair_filter == NULL):
                raise MemoryError()
            cache_parts(&core.t, blob_size, slot_cap, pair_cap, parts, sizes)
            h = CACHE_FORMAT
            with nogil:
                for k in range(CACHE_PARTS):
                    h = read_part(f, parts[k], sizes[k], h)
            if h != hdr[10] or fread(&extra, 1, 1, f) != 0:
                raise ValueError(f"{path}: damaged qtok table cache (size or checksum)")
        finally:
            fclose(f)
        core.t.max_token_len = <uint32_t>hdr[3]
        core.n_regular = <uint32_t>hdr[4]
        core.max_regular_rank = <uint32_t>hdr[5]
        core.n_pairs = <uint32_t>hdr[6]
        core.t.slot_mask = slot_cap - 1
        core.t.pair_mask = pair_cap - 1
        # The specials must be the ones the cache was made with.
        core.special_ids = {}
        for text, rank in special_tokens.items():
            if not (0 <= rank < n_ids) or core.token_bytes(rank) != text.encode("utf-8"):
                raise ValueError(f"{path}: the cache was made with other special tokens")
            core.special_ids[text] = rank
        core._finish()
        return core

    # -- properties ------------------------------------------------------

    @property
    def n_ids(self):
        """One more than the largest id (regular or special)."""
        return self.t.n_ids

    @property
    def max_token_len(self):
        return self.t.max_token_len

    def token_bytes(self, Py_ssize_t rank):
        """The bytes of one id; InvalidToken-style ValueError if there is none."""
        if rank < 0 or rank >= self.t.n_ids or self.t.tok_len[rank] == 0:
            raise _invalid_token(rank)
        return PyBytes_FromStringAndSize(<const char*>self.t.blob + self.t.tok_start[rank],
                                         self.t.tok_len[rank])

    def regular_token_bytes(self):
        """[(bytes, rank)] for every regular token, in rank order."""
        cdef uint32_t r
        specials = set(self.special_ids.values())
        return [(PyBytes_FromStringAndSize(<const char*>self.t.blob + self.t.tok_start[r],
                                           self.t.tok_len[r]), r)
                for r in range(self.max_regular_rank + 1)
                if self.t.tok_len[r] and r not in specials]

    @property
    def special_tokens(self):
        """{text: id} of the special tokens."""
        return dict(self.special_ids)

    def lookup_bytes(self, bytes piece):
        """Rank of a regular token given its bytes, or None."""
        cdef uint32_t r = lookup(&self.t, <const uint8_t*><const char*>piece, len(piece))
        return None if r == NOT_FOUND else r

    def token_filter_admits(self, bytes piece):
        """Whether the token filter lets a piece of 2..16 bytes through to
        the token hash (see token_maybe), for tests: it must for every token."""
        cdef size_t n = len(piece)
        if not 2 <= n <= 16:
            raise ValueError("the token filter holds pieces of 2..16 bytes")
        return token_maybe(&self.t, hash_bytes(<const uint8_t*><const char*>piece, n))

    @staticmethod
    def short_cache_pair(bytes piece):
        """Which pair of the short cache a piece of 2..16 bytes goes to, for
        tests that make pieces compete for one pair (see encode_short)."""
        cdef size_t n = len(piece)
        if not 2 <= n <= 16:
            raise ValueError("the short cache holds pieces of 2..16 bytes")
        return short_pair(hash_bytes(<const uint8_t*><const char*>piece, n))

    # -- encoding --------------------------------------------------------

    cdef int _encode(self, str text, TokenVec* out, PieceCache* held=NULL) except -1:
        """Append the ids of text to out, with held (a piece cache the caller
        holds) or a cache from the pool."""
        cdef size_t n
        cdef const uint8_t* s = utf8_of(text, &n)
        cdef int status
        if out.cap < n // 4 + 16:
            out.data = <uint32_t*>realloc(out.data, (n // 4 + 16) * sizeof(uint32_t))
            if out.data == NULL:
                out.cap = 0
                raise MemoryError()
            out.cap = n // 4 + 16
        if n < NOGIL_MIN_BYTES:
            # Short text: done in microseconds, less than releasing and
            # taking back the GIL costs (~130 ns of a ~350 ns call on "a").
            status = encode_pooled(&self.t, &self.pool, held, s, n, out)
        else:
            with nogil:
                status = encode_pooled(&self.t, &self.pool, held, s, n, out)
        if status < 0:
            raise MemoryError("qtok: out of memory while encoding (or a single piece of 4 GB or more)")
        return 0

    cdef object _to_list(self, TokenVec* v):
        """The ids as a list of the shared int objects (see "result lists"):
        no allocation per id, and where they are everlasting no INCREF
        either, so building the list reads only the table of their
        addresses (fetched a few ids ahead)."""
        cdef object result = PyList_New(v.len)
        cdef size_t i, n = v.len
        cdef PyObject* item
        cdef PyObject** objects = list_items(self.id_objects)
        if EVERLASTING_INTS:
            for i in range(n):
                if i + LIST_AHEAD < n:
                    prefetch(&objects[v.data[i + LIST_AHEAD]])
                qtok_list_set(result, i, objects[v.data[i]])
            return result
        for i in range(n):
            if i + 2 * LIST_AHEAD < n:
                prefetch(&objects[v.data[i + 2 * LIST_AHEAD]])
            if i + LIST_AHEAD < n:
                prefetch(objects[v.data[i + LIST_AHEAD]])
            item = objects[v.data[i]]
            qtok_incref(item)
            qtok_list_set(result, i, item)
        return result

    def encode_ordinary(self, text, normalize=None):
        """Ids of text as a list, with no special-token handling.

        text must be a str (a subclass is read as a plain str);
        normalize, if given, is applied to it first (qtok.normalize.to_nfc).
        Encoding.encode_ordinary calls this directly: checking and
        normalizing here saves a Python call per text."""
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        try:
            self._encode(prepared_text(text, normalize), &v)
            return self._to_list(&v)
        finally:
            free(v.data)

    def count(self, text, normalize=None):
        """The number of ids encode_ordinary(text, normalize) would return."""
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        try:
            self._encode(prepared_text(text, normalize), &v)
            return v.len
        finally:
            free(v.data)

    def encode_ordinary_into(self, str text, object array_factory):
        """Ids as a 1-D uint32 array made by array_factory(n) (numpy.empty-like)."""
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        cdef uint32_t[::1] view
        try:
            self._encode(text, &v)
            arr = array_factory(v.len)
            if v.len:
                view = arr
                memcpy(&view[0], v.data, v.len * sizeof(uint32_t))
            return arr
        finally:
            free(v.data)

    def encode_ordinary_batch(self, list texts, int num_threads=1, bint as_count=False,
                              object nfc=None):
        """Encode many texts on num_threads native threads, without the GIL.

        Threads pull the next text from a shared counter, so the work stays
        balanced however the lengths vary.  Returns a list of id lists, or of
        counts with as_count.

        nfc, if given, is qtok._nfc.to_nfc, and the texts are to be
        normalized to NFC: the threads check each text with the native check
        first, and the few it does not pass are normalized with nfc here and
        encoded afterwards.  (Checking them all in the calling thread first
        was a serial step of ~8% of a batch: 2 threads ran 1.65-1.77x as
        fast as one, against 1.90-1.94x without NFC.)
        """
        cdef size_t n = len(texts), i, total = 0
        cdef int k, n_threads
        cdef bint check_nfc = nfc is not None
        cdef const uint8_t** ptrs = <const uint8_t**>calloc(n + 1, sizeof(uint8_t*))
        cdef size_t* lens = <size_t*>calloc(n + 1, sizeof(size_t))
        cdef TokenVec* outs = <TokenVec*>calloc(n + 1, sizeof(TokenVec))
        cdef BatchJob job
        cdef pthread_t* threads = NULL
        cdef int* started = NULL
        cdef int* done = <int*>calloc(n + 1, sizeof(int))
        cdef int* not_nfc = <int*>calloc(n + 1, sizeof(int))
        cdef int* kinds = <int*>calloc(n + 1, sizeof(int)) if check_nfc else NULL
        cdef void** chars = <void**>calloc(n + 1, sizeof(void*)) if check_nfc else NULL
        cdef Py_ssize_t* n_chars = <Py_ssize_t*>calloc(n + 1, sizeof(Py_ssize_t)) if check_nfc else NULL
        cdef PieceCache** caches = NULL
        cdef int* slots = NULL
        cdef list results
        try:
            if ptrs == NULL or lens == NULL or outs == NULL or done == NULL or not_nfc == NULL:
                raise MemoryError()
            if check_nfc and (kinds == NULL or chars == NULL or n_chars == NULL):
                raise MemoryError()
            for i in range(n):
                item = texts[i]
                if type(item) is not str:
                    raise TypeError(f"encode_batch expects a list of str, item {i} is {type(item).__name__}")
                ptrs[i] = utf8_of(<str>item, &lens[i])
                total += lens[i]
                if check_nfc:
                    kinds[i] = PyUnicode_KIND(item)
                    chars[i] = PyUnicode_DATA(item)
                    n_chars[i] = PyUnicode_GET_LENGTH(item)
            n_threads = max(1, min(num_threads, <int>n))
            if total < 32768:
                n_threads = 1          # less work than starting a thread
            threads = <pthread_t*>calloc(n_threads, sizeof(pthread_t))
            started = <int*>calloc(n_threads, sizeof(int))
            caches = <PieceCache**>calloc(n_threads, sizeof(PieceCache*))
            slots = <int*>calloc(n_threads, sizeof(int))
            if threads == NULL or started == NULL or caches == NULL or slots == NULL:
                raise MemoryError()
            # Every thread's cache is taken here, before any thread runs, so
            # a new one can start as a copy of this thread's (see pool_acquire).
            for k in range(n_threads):
                slots[k] = -1
            with nogil:
                for k in range(n_threads):
                    caches[k] = pool_acquire(&self.pool, &slots[k], caches[0] if k > 0 else NULL)
            job.t = &self.t
            job.texts = ptrs
            job.lens = lens
            job.check_nfc = check_nfc
            job.kinds = kinds
            job.chars = chars
            job.n_chars = n_chars
            job.not_nfc = not_nfc
            job.outs = outs
            job.n = n
            job.next_index = 0
            job.caches = caches
            # The calling thread builds the lists with caches[0]; with as_count,
            # or alone, it runs the worker loop and takes its index like the rest.
            job.next_worker = 0 if (as_count or n_threads == 1) else 1
            job.status = 0
            job.done = done
            with nogil:
                for k in range(1, n_threads):
                    started[k] = pthread_create(&threads[k], NULL, encode_batch_worker, &job) == 0
            if as_count or n_threads == 1:
                with nogil:
                    encode_batch_worker(&job)     # this thread works too
            else:
                # This thread turns finished results into lists, in order,
                # while the others keep encoding; when the next result is not
                # ready it encodes a text itself, so building the lists (which
                # needs the GIL) overlaps the encoding instead of following it.
                results = [None] * n
                try:
                    i = 0
                    while i < n:
                        if atomic_is_set(&done[i]):
                            if job.status == 0:
                                results[i] = self._batch_result(&outs[i], not_nfc[i], texts[i], nfc,
                                                                caches[0], False)
                            i += 1
                            continue
                        with nogil:
                            if not encode_one(&job, caches[0]):
                                while not atomic_is_set(&done[i]):
                                    cpu_yield()
                finally:
                    # Even on an error here, the workers must finish before
                    # the buffers they write to are freed.
                    with nogil:
                        for k in range(1, n_threads):
                            if started[k]:
                                pthread_join(threads[k], NULL)
                                started[k] = 0
            with nogil:
                for k in range(1, n_threads):
                    if started[k]:
                        pthread_join(threads[k], NULL)
            if job.status < 0:
                raise MemoryError("qtok: out of memory while encoding a batch")
            if as_count:
                return [self._batch_result(&outs[i], not_nfc[i], texts[i], nfc, caches[0], True)
                        for i in range(n)]
            if n_threads == 1:
                return [self._batch_result(&outs[i], not_nfc[i], texts[i], nfc, caches[0], False)
                        for i in range(n)]
            return results
        finally:
            if slots != NULL:
                for k in range(n_threads):
                    pool_release(&self.pool, slots[k])
            if outs != NULL:
                for i in range(n):
                    free(outs[i].data)
            free(ptrs)
            free(lens)
            free(outs)
            free(threads)
            free(started)
            free(done)
            free(not_nfc)
            free(kinds)
            free(chars)
            free(n_chars)
            free(caches)
            free(slots)

    cdef object _batch_result(self, TokenVec* v, bint not_nfc, str text, object nfc,
                              PieceCache* held, bint as_count):
        """Text i's result in a batch: the ids its thread put in v, as a list
        (or their number, with as_count).  For a text the native NFC check
        did not pass, its NFC form is encoded here instead, with held, the
        cache this thread holds for the batch (taking another from the pool
        would start a cold one, which the next batch's second thread then
        got)."""
        cdef TokenVec w = TokenVec(NULL, 0, 0)
        if not not_nfc:
            return v.len if as_count else self._to_list(v)
        try:
            self._encode(nfc(text), &w, held)
            return w.len if as_count else self._to_list(&w)
        finally:
            free(w.data)

    # -- decoding --------------------------------------------------------

    def decode_bytes(self, tokens):
        """Concatenated bytes of the ids in tokens (a list, tuple, uint32
        array, or any iterable of ints).

        Ids must be integers (int, numpy integers: anything with __index__);
        a float or a str raises TypeError, as in tiktoken, rather than being
        truncated into some other token."""
        cdef DecodeBuffer b = self._decode(tokens)
        return PyBytes_FromStringAndSize(<const char*>b.data, b.used)

    def decode_text(self, tokens, str errors not None="replace"):
        """decode_bytes(tokens).decode("utf-8", errors), without the
        intermediate bytes object."""
        cdef DecodeBuffer b = self._decode(tokens)
        if "\0" in errors:
            raise ValueError("embedded null character")   # as bytes.decode says
        return PyUnicode_DecodeUTF8(<const char*>b.data, b.used, PyUnicode_AsUTF8(errors))

    cdef DecodeBuffer _decode(self, tokens):
        cdef const uint32_t[::1] ids32
        cdef Py_ssize_t i, n
        cdef long long v
        cdef int overflow
        cdef uint32_t* ids
        cdef PyObject* item
        if tokens is None:                  # a memoryview would take None as empty
            raise TypeError("expected a sequence of token ids, got None")
        if not isinstance(tokens, (list, tuple)):
            try:
                ids32 = tokens
            except (TypeError, ValueError, BufferError):
                tokens = list(tokens)
            else:
                return self._decode_ids(&ids32[0] if ids32.shape[0] else NULL, ids32.shape[0])
        if type(tokens) is not list:
            tokens = list(tokens)
        n = len(tokens)
        ids = <uint32_t*>malloc(n * sizeof(uint32_t) + 4)
        if ids == NULL:
            raise MemoryError()
        try:
            # Check and convert every id first, so a bad one raises before
            # any work and names itself; exact ints take the fast path.
            for i in range(n):
                # The int objects an encode returns are shared, one per id,
                # so they lie all over memory: ask for the one DECODE_AHEAD
                # places on while this one is read.
                if i + DECODE_AHEAD < n:
                    item = qtok_list_get(tokens, i + DECODE_AHEAD)
                    prefetch(item)
                    prefetch(int_tail(item))
                item = qtok_list_get(tokens, i)
                if PyLong_CheckExact(<object>item):
                    # No try block here: Cython saves the exception state on
                    # entering one, which costs more than reading the int.
                    if not small_int_value(item, &v):
                        v = PyLong_AsLongLongAndOverflow(<object>item, &overflow)
                        if overflow:
                            raise _invalid_token(<object>item)
                else:
                    try:
                        v = operator_index(<object>item)
                    except OverflowError:
                        raise _invalid_token(<object>item) from None
                    except TypeError:
                        raise TypeError(f"token ids must be integers, got "
                                        f"{type(<object>item).__name__} {<object>item!r}") from None
                if v < 0 or v >= self.t.n_ids:
                    raise _invalid_token(<object>item)
                ids[i] = <uint32_t>v        # ids without a token: _decode_ids names them
            return self._decode_ids(ids, n)
        finally:
            free(ids)

    cdef DecodeBuffer _decode_ids(self, const uint32_t* ids, Py_ssize_t n):
        """One pass over the ids.  Each id's decode word (8 bytes, so the
        table is 1.2 MB for Qwen) holds a token of up to 7 bytes whole: it is
        copied with a single 8-byte store (the buffer keeps 8 bytes of slack,
        where the length byte lands).  Longer tokens come from the blob."""
        cdef Py_ssize_t i
        cdef uint32_t v
        cdef uint64_t w, k
        cdef DecodeBuffer out = DecodeBuffer.__new__(DecodeBuffer)
        cdef size_t cap = <size_t>n * 6 + 64, used = 0   # locals, not out's fields:
        cdef uint8_t* buf = <uint8_t*>malloc(cap)          # they stay in registers
        cdef uint8_t* grown
        cdef const uint64_t* dec = self.t.dec
        cdef uint32_t n_ids = self.t.n_ids
        cdef Py_ssize_t bad = -1
        if buf == NULL:
            raise MemoryError()
        with nogil:
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
                        bad = -2
                        break
                    buf = grown
                if (w >> 63) == 0:
                    memcpy(buf + used, &w, 8)     # the length byte lands in the slack
                else:
                    memcpy(buf + used, self.t.blob + (w & 0xFFFFFFFFULL), k)
                used += k
        out.data = buf
        out.used = used
        if bad == -2:
            raise MemoryError()
        if bad >= 0:
            raise _invalid_token(ids[bad])
        return out

    def __reduce__(self):
        raise TypeError("CoreBPE is not pickled directly; pickle the Encoding that holds it")


class InvalidToken(ValueError, KeyError):
    """An id that is not in the vocabulary.

    A ValueError, and also a KeyError because that is what tiktoken raises,
    so code written for either keeps working.
    """
    __str__ = ValueError.__str__




def _invalid_token(token):
    return InvalidToken(f"invalid token id {token!r}: not in the vocabulary")
