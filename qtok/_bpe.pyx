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
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int8_t, uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memcmp, memset

cdef extern from "Python.h":
    # Borrowed-reference list access, for filling result lists with the
    # cached int objects without touching reference counts twice.
    PyObject* qtok_list_get "PyList_GET_ITEM"(object lst, Py_ssize_t i)
    void qtok_list_set "PyList_SET_ITEM"(object lst, Py_ssize_t i, PyObject* item)
    void qtok_incref "Py_INCREF"(PyObject* o)

cdef extern from "_unicode_classes.h":
    const uint32_t QTOK_LETTER_RANGES[][2]
    const uint32_t QTOK_NUMBER_RANGES[][2]
    const uint32_t QTOK_SPACE_RANGES[][2]
    int QTOK_LETTER_RANGES_COUNT
    int QTOK_NUMBER_RANGES_COUNT
    int QTOK_SPACE_RANGES_COUNT

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

cdef inline uint32_t next_cp(const uint8_t* s, size_t i, size_t* width) noexcept nogil:
    """The code point starting at s[i] and its length in bytes (valid UTF-8)."""
    cdef uint8_t b = s[i]
    if b < 0x80:
        width[0] = 1
        return b
    if b < 0xE0:
        width[0] = 2
        return ((b & 0x1F) << 6) | (s[i + 1] & 0x3F)
    if b < 0xF0:
        width[0] = 3
        return ((b & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)
    width[0] = 4
    return (((b & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12)
            | ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F))


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
    return skip_class(s, n, i, IS_LETTER, IS_LETTER)


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
# 3. The vocabulary hash
# ---------------------------------------------------------------------------

cdef inline uint64_t mix(uint64_t h) noexcept nogil:
    h ^= h >> 33
    h *= 0xFF51AFD7ED558CCDULL
    h ^= h >> 33
    return h


cdef inline uint64_t hash_bytes(const uint8_t* p, size_t n) noexcept nogil:
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL ^ (n * 0xC2B2AE3D27D4EB4FULL)
    cdef uint64_t w
    cdef size_t k
    while n >= 8:
        memcpy(&w, p, 8)
        h = (h ^ w) * 0x100000001B3ULL + 0x2545F4914F6CDD1DULL
        h ^= h >> 29
        p += 8
        n -= 8
    w = 0
    for k in range(n):
        w |= (<uint64_t>p[k]) << (8 * k)
    return mix(h ^ w)


cdef inline uint32_t lookup(const Tables* t, const uint8_t* p, size_t n) noexcept nogil:
    """Rank of the regular token whose bytes are p[:n], or NOT_FOUND."""
    if n == 1:
        return t.byte_rank[p[0]]
    if n > t.max_token_len:
        return NOT_FOUND
    cdef uint64_t h = hash_bytes(p, n)
    cdef uint64_t tag = h >> 32
    cdef uint64_t i = h & t.slot_mask
    cdef uint64_t e
    cdef uint32_t r
    while True:
        e = t.slots[i]
        if e == 0:
            return NOT_FOUND
        if (e >> 32) == tag:
            r = <uint32_t>(e & 0xFFFFFFFFULL) - 1
            if t.tok_len[r] == n and memcmp(t.blob + t.tok_start[r], p, n) == 0:
                return r
        i = (i + 1) & t.slot_mask


# ---------------------------------------------------------------------------
# 4. BPE on one piece
# ---------------------------------------------------------------------------

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
    SMALL_PIECE = 64   # pieces up to this many bytes merge with a plain scan


cdef int merge_small(const Tables* t, const uint8_t* p, size_t n, TokenVec* out) noexcept nogil:
    """tiktoken's merge loop for a short piece, on stack arrays.

    start[0..m] are the part boundaries (start[m] == n); pair[i] is the rank
    of parts i and i+1 joined.  Each round finds the lowest pair (leftmost on
    ties), joins it, and re-ranks the two pairs that touch the new part.
    """
    cdef uint32_t start[SMALL_PIECE + 1]
    cdef uint32_t pair[SMALL_PIECE]
    cdef size_t m = n, i, best_i
    cdef uint32_t best
    for i in range(n + 1):
        start[i] = i
    for i in range(n - 1):
        pair[i] = lookup(t, p + i, 2)
    while m > 1:
        best = NOT_FOUND
        best_i = 0
        for i in range(m - 1):
            if pair[i] < best:
                best = pair[i]
                best_i = i
        if best == NOT_FOUND:
            break
        # Join parts best_i and best_i + 1: drop boundary best_i + 1.
        for i in range(best_i + 1, m):
            start[i] = start[i + 1]
        for i in range(best_i + 1, m - 1):
            pair[i] = pair[i + 1]
        m -= 1
        if best_i + 1 < m:
            pair[best_i] = lookup(t, p + start[best_i], start[best_i + 2] - start[best_i])
        else:
            pair[best_i] = NOT_FOUND
        if best_i > 0:
            pair[best_i - 1] = lookup(t, p + start[best_i - 1], start[best_i + 1] - start[best_i - 1])
    for i in range(m):
        if push(out, lookup(t, p + start[i], start[i + 1] - start[i])) < 0:
            return -1
    return 0


# A binary min-heap of (rank << 32 | position) keys: comparing keys compares
# ranks first and positions second, which is exactly "lowest rank, leftmost".

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


cdef struct LargeMerge:
    # Working arrays of merge_large, one slot per byte of the piece.
    uint32_t* nxt        # start of the next part (n = none)
    uint32_t* prv        # start of the previous part
    uint32_t* pair       # rank of this part joined with the next, or NOT_FOUND
    uint8_t* dead        # 1 once a part has been joined into the one before it
    uint64_t* heap
    size_t heap_cap


cdef int merge_large(const Tables* t, const uint8_t* p, size_t n, TokenVec* out) noexcept nogil:
    """The same merge rule for a long piece, in O(n log n) (see merge_heap)."""
    cdef LargeMerge w
    cdef int status = -1
    w.heap_cap = 2 * n + 16
    w.nxt = <uint32_t*>malloc((n + 1) * sizeof(uint32_t))
    w.prv = <uint32_t*>malloc((n + 1) * sizeof(uint32_t))
    w.pair = <uint32_t*>malloc((n + 1) * sizeof(uint32_t))
    w.dead = <uint8_t*>calloc(n + 1, 1)
    w.heap = <uint64_t*>malloc(w.heap_cap * sizeof(uint64_t))
    if w.nxt != NULL and w.prv != NULL and w.pair != NULL and w.dead != NULL and w.heap != NULL:
        status = merge_heap(t, p, n, &w, out)
    free(w.nxt)
    free(w.prv)
    free(w.pair)
    free(w.dead)
    free(w.heap)
    return status


cdef inline int heap_push(LargeMerge* w, size_t* heap_len, uint32_t rank, size_t pos) noexcept nogil:
    cdef uint64_t* grown
    if heap_len[0] == w.heap_cap:
        grown = <uint64_t*>realloc(w.heap, 2 * w.heap_cap * sizeof(uint64_t))
        if grown == NULL:
            return -1
        w.heap = grown
        w.heap_cap *= 2
    w.heap[heap_len[0]] = (<uint64_t>rank << 32) | pos
    heap_sift_up(w.heap, heap_len[0])
    heap_len[0] += 1
    return 0


cdef int merge_heap(const Tables* t, const uint8_t* p, size_t n, LargeMerge* w, TokenVec* out) noexcept nogil:
    """Parts form a doubly linked list over byte positions (a part is named by
    its first byte).  The heap holds (pair rank, part) keys; entries go stale
    when a part changes, and one is used only if its part is still alive and
    still has that pair rank -- so the heap always yields the lowest current
    pair, leftmost on ties, as tiktoken's loop would.
    """
    cdef uint32_t* nxt = w.nxt
    cdef uint32_t* prv = w.prv
    cdef uint32_t* pair = w.pair
    cdef uint8_t* dead = w.dead
    cdef size_t heap_len = 0, i, j, k
    cdef uint64_t key
    cdef uint32_t r

    for i in range(n):
        nxt[i] = i + 1
        prv[i] = i - 1 if i else <uint32_t>NOT_FOUND
        pair[i] = lookup(t, p + i, 2) if i + 1 < n else NOT_FOUND
        if pair[i] != NOT_FOUND:
            w.heap[heap_len] = (<uint64_t>pair[i] << 32) | i
            heap_len += 1
    i = heap_len // 2
    while i > 0:
        i -= 1
        heap_sift_down(w.heap, heap_len, i)

    while heap_len:
        key = w.heap[0]
        heap_len -= 1
        if heap_len:
            w.heap[0] = w.heap[heap_len]
            heap_sift_down(w.heap, heap_len, 0)
        r = <uint32_t>(key >> 32)
        i = key & 0xFFFFFFFFULL
        if dead[i] or pair[i] != r:
            continue                      # stale entry
        # Join part i with the part j after it.
        j = nxt[i]
        dead[j] = 1
        nxt[i] = nxt[j]
        if nxt[j] < n:
            prv[nxt[j]] = i
        # Re-rank the pair (i, next) and the pair (previous, i).
        k = nxt[i]
        pair[i] = lookup(t, p + i, nxt[k] - i) if k < n else NOT_FOUND
        if pair[i] != NOT_FOUND and heap_push(w, &heap_len, pair[i], i) < 0:
            return -1
        if i > 0:
            k = prv[i]
            pair[k] = lookup(t, p + k, nxt[i] - k)
            if pair[k] != NOT_FOUND and heap_push(w, &heap_len, pair[k], k) < 0:
                return -1

    i = 0
    while i < n:
        if push(out, lookup(t, p + i, nxt[i] - i)) < 0:
            return -1
        i = nxt[i]
    return 0


cdef inline int encode_piece(const Tables* t, const uint8_t* p, size_t n, TokenVec* out) noexcept nogil:
    cdef uint32_t r = lookup(t, p, n)
    if r != NOT_FOUND:
        return push(out, r)          # most pieces are a token already
    if n <= SMALL_PIECE:
        return merge_small(t, p, n, out)
    return merge_large(t, p, n, out)


cdef int encode_utf8(const Tables* t, const uint8_t* s, size_t n, TokenVec* out) noexcept nogil:
    """Append the ids of UTF-8 text s[:n] to out.  -1 when out of memory."""
    cdef size_t i = 0, end
    while i < n:
        end = piece_end(s, n, i)
        if encode_piece(t, s + i, end - i, out) < 0:
            return -1
        i = end
    return 0


# ---------------------------------------------------------------------------
# Batches on native threads
# ---------------------------------------------------------------------------

cdef struct BatchSlice:
    const Tables* t
    const uint8_t** texts
    size_t* lens
    TokenVec* outs
    size_t first
    size_t last
    int status


cdef void* encode_slice(void* arg) noexcept nogil:
    cdef BatchSlice* job = <BatchSlice*>arg
    cdef size_t i
    for i in range(job.first, job.last):
        if encode_utf8(job.t, job.texts[i], job.lens[i], &job.outs[i]) < 0:
            job.status = -1
            return NULL
    job.status = 0
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


cdef class CoreBPE:
    """The vocabulary in C arrays, and the encode / decode entry points.

    Build one with from_tiktoken_data() or from_ranks(); the Python Encoding
    (qtok/core.py) wraps it.  Immutable once built, so thread-safe.
    """

    def __cinit__(self):
        memset(&self.t, 0, sizeof(Tables))

    def __dealloc__(self):
        free(self.t.blob)
        free(self.t.tok_start)
        free(self.t.tok_len)
        free(self.t.slots)

    # -- building --------------------------------------------------------

    cdef int _allocate(self, uint32_t n_ids, size_t blob_size) except -1:
        self.t.n_ids = n_ids
        self.t.blob = <uint8_t*>malloc(blob_size + 1)
        self.t.tok_start = <uint64_t*>calloc(n_ids, sizeof(uint64_t))
        self.t.tok_len = <uint32_t*>calloc(n_ids, sizeof(uint32_t))
        if self.t.blob == NULL or self.t.tok_start == NULL or self.t.tok_len == NULL:
            raise MemoryError()
        return 0

    cdef int _build_hash(self) except -1:
        """Hash every regular token, refusing duplicates, and check that the
        256 single bytes are all tokens (byte-level BPE starts from them)."""
        cdef uint64_t cap = 1024, h, i, e
        cdef uint32_t r, n, other
        while cap < 2 * <uint64_t>self.n_regular:
            cap *= 2
        self.t.slots = <uint64_t*>calloc(cap, sizeof(uint64_t))
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
            if n == 1:
                self.t.byte_rank[self.t.blob[self.t.tok_start[r]]] = r
            if n > self.t.max_token_len:
                self.t.max_token_len = n
            h = hash_bytes(self.t.blob + self.t.tok_start[r], n)
            i = h & self.t.slot_mask
            while self.t.slots[i] != 0:
                e = self.t.slots[i]
                other = <uint32_t>(e & 0xFFFFFFFFULL) - 1
                if ((e >> 32) == (h >> 32) and self.t.tok_len[other] == n
                        and memcmp(self.t.blob + self.t.tok_start[other],
                                   self.t.blob + self.t.tok_start[r], n) == 0):
                    raise ValueError(f"the token {self.token_bytes(r)!r} has two ranks: {other} and {r}")
                i = (i + 1) & self.t.slot_mask
            self.t.slots[i] = ((h >> 32) << 32) | (<uint64_t>r + 1)
        for i in range(256):
            if self.t.byte_rank[i] == NOT_FOUND:
                raise ValueError(
                    f"the vocabulary has no token for the single byte 0x{i:02x}; "
                    "byte-level BPE needs all 256")
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
        self.id_objects = list(range(self.t.n_ids))
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
        for text, rank in special_tokens.items():
            if not isinstance(text, str) or not isinstance(rank, int) or rank < 0 or rank > 0xFFFFFFF:
                raise ValueError(f"{source}: invalid special token {text!r}: {rank!r}")
            if rank + 1 > n_ids:
                n_ids = rank + 1
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
        self._add_specials(special_tokens, blob_used)
        return 0

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

    # -- encoding --------------------------------------------------------

    cdef int _encode(self, str text, TokenVec* out) except -1:
        cdef size_t n
        cdef const uint8_t* s = utf8_of(text, &n)
        cdef int status
        if out.cap < n // 4 + 16:
            out.data = <uint32_t*>realloc(out.data, (n // 4 + 16) * sizeof(uint32_t))
            if out.data == NULL:
                out.cap = 0
                raise MemoryError()
            out.cap = n // 4 + 16
        with nogil:
            status = encode_utf8(&self.t, s, n, out)
        if status < 0:
            raise MemoryError("qtok: out of memory while encoding")
        return 0

    cdef object _to_list(self, TokenVec* v):
        cdef object result = PyList_New(v.len)
        cdef size_t i
        cdef PyObject* item
        for i in range(v.len):
            item = qtok_list_get(self.id_objects, v.data[i])
            qtok_incref(item)
            qtok_list_set(result, i, item)
        return result

    def encode_ordinary(self, str text):
        """Ids of text as a list (no special-token handling, no normalization)."""
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        try:
            self._encode(text, &v)
            return self._to_list(&v)
        finally:
            free(v.data)

    def count(self, str text):
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        try:
            self._encode(text, &v)
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

    def encode_ordinary_batch(self, list texts, int num_threads=1, bint as_count=False):
        """Encode many texts, spread over num_threads native threads.

        Each thread takes a contiguous slice holding about the same number of
        bytes.  Returns a list of id lists, or of counts with as_count.
        """
        cdef size_t n = len(texts), i, total = 0, acc, target
        cdef int k, n_threads, status = 0
        cdef const uint8_t** ptrs = <const uint8_t**>calloc(n + 1, sizeof(uint8_t*))
        cdef size_t* lens = <size_t*>calloc(n + 1, sizeof(size_t))
        cdef TokenVec* outs = <TokenVec*>calloc(n + 1, sizeof(TokenVec))
        cdef BatchSlice* jobs = NULL
        cdef pthread_t* threads = NULL
        cdef int* started = NULL
        try:
            if ptrs == NULL or lens == NULL or outs == NULL:
                raise MemoryError()
            for i in range(n):
                item = texts[i]
                if type(item) is not str:
                    raise TypeError(f"encode_batch expects a list of str, item {i} is {type(item).__name__}")
                ptrs[i] = utf8_of(<str>item, &lens[i])
                total += lens[i]
            n_threads = max(1, min(num_threads, <int>n))
            if total < 65536:
                n_threads = 1          # not worth a thread
            jobs = <BatchSlice*>calloc(n_threads, sizeof(BatchSlice))
            threads = <pthread_t*>calloc(n_threads, sizeof(pthread_t))
            started = <int*>calloc(n_threads, sizeof(int))
            if jobs == NULL or threads == NULL or started == NULL:
                raise MemoryError()
            # Cut the batch into n_threads slices of about equal bytes.
            i = 0
            acc = 0
            for k in range(n_threads):
                jobs[k].t = &self.t
                jobs[k].texts = ptrs
                jobs[k].lens = lens
                jobs[k].outs = outs
                jobs[k].first = i
                target = total * (k + 1) // n_threads
                while i < n and (acc < target or k == n_threads - 1):
                    acc += lens[i]
                    i += 1
                jobs[k].last = i
            with nogil:
                for k in range(1, n_threads):
                    started[k] = pthread_create(&threads[k], NULL, encode_slice, &jobs[k]) == 0
                    if not started[k]:
                        encode_slice(&jobs[k])        # could not start a thread: do it here
                encode_slice(&jobs[0])
                for k in range(1, n_threads):
                    if started[k]:
                        pthread_join(threads[k], NULL)
                for k in range(n_threads):
                    if jobs[k].status < 0:
                        status = -1
            if status < 0:
                raise MemoryError("qtok: out of memory while encoding a batch")
            if as_count:
                return [outs[i].len for i in range(n)]
            return [self._to_list(&outs[i]) for i in range(n)]
        finally:
            if outs != NULL:
                for i in range(n):
                    free(outs[i].data)
            free(ptrs)
            free(lens)
            free(outs)
            free(jobs)
            free(threads)
            free(started)

    # -- decoding --------------------------------------------------------

    def decode_bytes(self, tokens):
        """Concatenated bytes of the ids in tokens (a list, tuple, uint32
        array, or any iterable of ints)."""
        cdef const uint32_t[::1] ids32
        cdef Py_ssize_t i, n
        cdef long long v
        cdef uint64_t total = 0
        cdef char* out
        if not isinstance(tokens, (list, tuple)):
            try:
                ids32 = tokens
            except (TypeError, ValueError, BufferError):
                tokens = list(tokens)
            else:
                return self._decode_u32(ids32)
        n = len(tokens)
        # Pass 1: check every id and add up the length.
        for i in range(n):
            item = tokens[i]
            try:
                v = item
            except OverflowError:
                raise _invalid_token(item) from None
            if v < 0 or v >= self.t.n_ids or self.t.tok_len[v] == 0:
                raise _invalid_token(item)
            total += self.t.tok_len[v]
        result = PyBytes_FromStringAndSize(NULL, total)
        out = PyBytes_AS_STRING(result)
        # Pass 2: copy.
        for i in range(n):
            v = tokens[i]
            memcpy(out, self.t.blob + self.t.tok_start[v], self.t.tok_len[v])
            out += self.t.tok_len[v]
        return result

    cdef object _decode_u32(self, const uint32_t[::1] ids):
        cdef Py_ssize_t i, n = ids.shape[0]
        cdef uint32_t v
        cdef uint64_t total = 0
        cdef char* out
        for i in range(n):
            v = ids[i]
            if v >= self.t.n_ids or self.t.tok_len[v] == 0:
                raise _invalid_token(v)
            total += self.t.tok_len[v]
        result = PyBytes_FromStringAndSize(NULL, total)
        out = PyBytes_AS_STRING(result)
        with nogil:
            for i in range(n):
                v = ids[i]
                memcpy(out, self.t.blob + self.t.tok_start[v], self.t.tok_len[v])
                out += self.t.tok_len[v]
        return result

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
