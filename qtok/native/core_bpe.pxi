# The binding: CoreBPE, the Python face of the engine.
#
# Everything that touches Python objects lives here and in result_lists.pxi:
# reading str and lists, raising exceptions with their messages, building
# the result objects.  Each method takes its arguments apart, calls engine
# functions (with the GIL released where the work is long), and puts the
# answer together.  The Python Encoding (qtok/core.py) wraps a CoreBPE.

cdef enum:
    NOGIL_MIN_BYTES = 2048   # encode releases the GIL for texts this long or longer
    # A str of this many characters or more that is not ASCII, and whose
    # UTF-8 CPython has not made, is written to UTF-8 by qtok itself
    # (own_utf8_wanted); a shorter one takes CPython's.
    OWN_UTF8_MIN_CHARS = 4096
    OWN_UTF8_SETS = 256      # strs written so, known again by own_utf8_wanted: 2^8 sets
    OWN_UTF8_WAYS = 4        # ... of 4, the newest first

#: The length (characters) from which a new str that is not ASCII has its
#: UTF-8 written by qtok rather than by CPython, for Python's eyes.
own_utf8_min_chars = OWN_UTF8_MIN_CHARS

#: The layout version of the compiled-table files; part of their names.
TABLE_CACHE_FORMAT = TABLE_FILE_FORMAT
#: The build's id (a digest of the native core's sources), which every
#: compiled-table file carries.
NATIVE_BUILD_ID = BUILD_ID.decode("ascii")


cdef inline const uint8_t* utf8_of(str text, size_t* n) except NULL:
    # Raises UnicodeEncodeError on lone surrogates; the Python layer handles it.
    cdef Py_ssize_t size
    cdef const char* s = PyUnicode_AsUTF8AndSize(text, &size)
    n[0] = <size_t>size
    return <const uint8_t*>s


# One text on one thread: the UTF-8 of a long str that is not ASCII is
# written by qtok_utf8_write into the piece cache's buffer (kept from call to
# call), where CPython's PyUnicode_AsUTF8AndSize would make a new block for
# it and keep it in the str: on the benchmark corpus, new str objects of its
# files that are not ASCII, 1.9 ms against CPython's 4.7 (best of 7, one
# core), and no fresh memory.  But CPython's UTF-8 costs nothing the next
# time, and qtok's would be written again at every call: a str met again
# takes CPython's, as a long text on threads does (CoreBPE._encode_in_parts).
# A str written so is noted, without a reference, by its address, length and
# a sample of its characters, in a set of four chosen by its address; one
# pushed out of its set by four newer ones is forgotten, and written by qtok
# again.  Whichever way a text goes, its ids are the same.
cdef StrSeen OWN_UTF8_SEEN[OWN_UTF8_SETS][OWN_UTF8_WAYS]


cdef inline bint own_utf8_wanted(str text) except -1:
    """Whether text's UTF-8 is to be written by qtok (above), and if so,
    remember it.  Called with the GIL, which guards OWN_UTF8_SEEN."""
    cdef size_t n_chars, h
    cdef int way
    cdef StrSeen seen
    cdef StrSeen* ways
    if PyUnicode_GET_LENGTH(text) < OWN_UTF8_MIN_CHARS:
        return False
    str_ready(text)                   # its characters, for a str of the legacy API
    if PyUnicode_IS_ASCII(text) or str_has_utf8(text):
        return False                  # ASCII: its UTF-8 is its storage
    n_chars = <size_t>PyUnicode_GET_LENGTH(text)
    seen = str_seen(<PyObject*>text, PyUnicode_DATA(text), PyUnicode_KIND(text), n_chars)
    # A multiplicative hash of the address: a long str's block is often
    # page-aligned (its own mapping), so its low bits tell little.
    h = <size_t>((<uint64_t>seen.address * <uint64_t>0x9E3779B97F4A7C15) >> 56)
    ways = OWN_UTF8_SEEN[h]
    for way in range(OWN_UTF8_WAYS):
        if ways[way].address == seen.address and ways[way].n_chars == n_chars \
                and ways[way].sample == seen.sample:
            return False              # met again: CPython's, kept in the str from now on
    memmove(&ways[1], &ways[0], (OWN_UTF8_WAYS - 1) * sizeof(StrSeen))
    ways[0] = seen
    return True


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


#: qtok._nfc.to_nfc, which the Python layer passes as normalize: a C
#: global, so that telling it apart costs a comparison on every call.
cdef object TO_NFC = _to_nfc


cdef inline bint nfc_on_threads(object text, object normalize):
    """Whether text is to be normalized (NFC) by the threads that encode it
    (CoreBPE._normalized_in_parts): a long str, with threads for it (a
    subclass takes prepared_text's way, which reads it as a plain str).
    Tested in the order that costs a short text least.  (A str's length is
    read from its header: for a str of CPython's legacy API not made ready
    yet, the guess only chooses between two ways that give the same ids.)"""
    return normalize is TO_NFC and LONG_TEXT_THREADS >= 2 and PyUnicode_CheckExact(text) \
        and PyUnicode_GET_LENGTH(text) >= LONG_TEXT_MIN_BYTES // 4


cdef inline str prepared_in_parts(CoreBPE core, object text, object normalize, LongText* lt,
                                  bint* held):
    """text prepared (prepared_text with normalize) and, when it is long,
    encoded in parts on the text's threads into lt: held[0] True, and lt
    must then be released.  A long text to be normalized is checked by those
    threads (CoreBPE._normalized_in_parts).  Inline: a short text, nearly
    every call, pays a few comparisons for it."""
    if nfc_on_threads(text, normalize):
        return core._normalized_in_parts(<str>text, lt, held)
    text = prepared_text(text, normalize)
    held[0] = core._encode_in_parts(<str>text, lt) == 1
    return <str>text


def holds_start(str text not None, tuple starts):
    """Whether text holds one of starts: a tuple of (first, seconds), first
    a character's code point and seconds a tuple of code points, one of
    which must follow it (empty: first alone is enough).  Encoding asks it
    whether text may hold a special token ("<" followed by "|").  The str's
    own units are searched, without converting it; the GIL is released for
    a long text."""
    cdef int kind = PyUnicode_KIND(text)
    cdef const void* data = PyUnicode_DATA(text)
    cdef size_t n = <size_t>PyUnicode_GET_LENGTH(text), k, j
    cdef uint32_t first
    cdef uint32_t seconds[16]
    cdef int found = 0
    for start in starts:
        first, following = start
        k = len(following)
        if k > 16:
            raise ValueError("at most 16 characters may follow one first character")
        for j in range(k):
            seconds[j] = following[j]
        if n < NOGIL_MIN_BYTES:
            found = holds_pair(kind, data, n, first, seconds, k)
        else:
            with nogil:
                found = holds_pair(kind, data, n, first, seconds, k)
        if found:
            return True
    return False


cdef list scan_pieces(str text, bint bulk):
    """The pieces the scanner cuts text into (bulk=False: piece_end alone)."""
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


def split_pieces(str text not None):
    """The pieces of the Qwen pattern in text, in order -- what
    regex.findall(QWEN_PATTERN, text) gives, and what BPE is applied to."""
    return scan_pieces(text, True)


cdef object parse_error(const ParseError* e, str source):
    """The exception for a tiktoken file that did not parse."""
    cdef str where = f"{source}, line {e.line}"
    if e.status == PARSE_NO_MEMORY:
        return MemoryError()
    if e.status == PARSE_EMPTY_FILE:
        return ValueError(f"{source}: the vocabulary file is empty")
    if e.status == PARSE_NO_TOKENS:
        return ValueError(f"{source}: no tokens in the vocabulary file")
    if e.status == PARSE_NOT_TOKEN_RANK:
        return ValueError(f"{where}: expected 'base64-token rank'")
    if e.status == PARSE_BAD_BASE64:
        return ValueError(f"{where}: invalid base64 character {chr(e.character)!r}")
    if e.status == PARSE_EMPTY_TOKEN:
        return ValueError(f"{where}: empty token")
    if e.status == PARSE_MISSING_RANK:
        return ValueError(f"{where}: missing rank")
    return ValueError(f"{where}: invalid rank")


cdef class DecodeBuffer:
    """Decoded bytes in a malloc'ed buffer, freed with this object."""

    def __dealloc__(self):
        free(self.data)


cdef class CoreBPE:
    """The vocabulary in C arrays, and the encode / decode entry points.

    Build one with from_tiktoken_data(), from_ranks() or from_cache_file();
    the Python Encoding (qtok/core.py) wraps it.  Immutable once built, so
    thread-safe.
    """

    def __cinit__(self):
        memset(&self.t, 0, sizeof(Tables))
        memset(&self.pool, 0, sizeof(CachePool))

    def __dealloc__(self):
        cdef int k
        tables_free(&self.t)
        for k in range(CACHE_POOL):
            cache_free_tables(&self.pool.tables[k])

    # -- building --------------------------------------------------------

    cdef int _raise_build_error(self, const BuildError* e, str source) except -1:
        if e.status == BUILD_NO_MEMORY:
            raise MemoryError()
        if e.status == BUILD_TOO_BIG:
            raise ValueError("the vocabulary's tokens add up to more than 4 GB")
        if e.status == BUILD_RANK_TWICE:
            raise ValueError(f"{source}: rank {e.rank} is given to two tokens")
        if e.status == BUILD_TOKEN_TOO_LONG:
            raise ValueError(f"the token with rank {e.rank} is {e.value} bytes long; qtok "
                             f"supports tokens of up to {MAX_TOKEN_BYTES} bytes")
        if e.status == BUILD_DUPLICATE:
            raise ValueError(f"the token {self.token_bytes(e.rank)!r} has two ranks: "
                             f"{e.value} and {e.rank}")
        if e.status == BUILD_MISSING_BYTE:
            raise ValueError(f"the vocabulary has no token for the single byte 0x{e.value:02x}; "
                             "byte-level BPE needs all 256")
        raise ValueError(f"token {e.rank} is 2 GB long or longer")

    cdef int _build(self, const ParsedVocab* v, dict special_tokens, str source) except -1:
        """Lay the parsed tokens out by rank, build the tables, and append the
        special tokens (checked against the regular ones first)."""
        cdef uint64_t n_ids = v.max_rank + 1, blob_used = v.blob_used
        cdef BuildError err
        cdef int status
        cdef bytes b
        if v.max_rank >= ID_MASK:
            raise ValueError(f"{source}: rank {v.max_rank} is too large; qtok supports ranks "
                             f"below {ID_MASK}")
        for text, rank in special_tokens.items():
            if not isinstance(text, str) or not isinstance(rank, int) or rank < 0 or rank > 0xFFFFFFF:
                raise ValueError(f"{source}: invalid special token {text!r}: {rank!r}")
            if rank + 1 > n_ids:
                n_ids = rank + 1
        if n_ids > ID_MASK:
            raise ValueError(f"{source}: special token ids must be below {ID_MASK}")
        special_bytes = sum(len(k.encode("utf-8")) for k in special_tokens)
        if tables_allocate(&self.t, <uint32_t>n_ids, blob_used + special_bytes, &err) < 0:
            self._raise_build_error(&err, source)
        if tables_place(&self.t, v.count, v.starts, v.lens, v.ranks, v.blob, blob_used, &err) < 0:
            self._raise_build_error(&err, source)
        self.n_regular = v.count
        self.max_regular_rank = <uint32_t>v.max_rank
        for text, rank in special_tokens.items():
            if rank <= v.max_rank and self.t.tok_len[rank] != 0:
                raise ValueError(f"{source}: special token {text!r} reuses regular rank {rank}")
        if len(set(special_tokens.values())) != len(special_tokens):
            raise ValueError(f"{source}: two special tokens share an id")
        # The hashes hold the regular tokens only: specials are never merged.
        with nogil:
            status = tables_build_hash(&self.t, self.n_regular, self.max_regular_rank, &err)
            if status == 0:
                status = tables_build_pairs(&self.t, self.max_regular_rank, &self.n_pairs, &err)
            if status == 0:
                status = tables_build_spans(&self.t, &err)
        if status < 0:
            self._raise_build_error(&err, source)
        self.special_ids = {}
        for text, rank in special_tokens.items():
            b = text.encode("utf-8")
            tables_add_special(&self.t, rank, <const uint8_t*><const char*>b, len(b), &blob_used)
            self.special_ids[text] = rank
        return 0

    cdef int _finish(self) except -1:
        cdef BuildError err
        cdef int status
        with nogil:
            status = tables_finish(&self.t, &err)
        if status < 0:
            self._raise_build_error(&err, "")
        self.id_objects = shared_ints(self.t.n_ids)
        return 0

    @staticmethod
    def from_tiktoken_data(const uint8_t[::1] data, dict special_tokens, str source):
        """Parse a tiktoken file's contents: one "base64-token rank" per line.

        Errors name the file (`source`) and the line.
        """
        cdef CoreBPE core = CoreBPE.__new__(CoreBPE)
        cdef ParsedVocab v
        cdef ParseError err
        cdef int status
        cdef const uint8_t* p = &data[0] if data.shape[0] else NULL
        cdef size_t n = data.shape[0]
        with nogil:
            status = parse_tiktoken(p, n, &v, &err)
        try:
            if status < 0:
                raise parse_error(&err, source)
            core._build(&v, special_tokens, source)
        finally:
            parsed_free(&v)
        core._finish()
        return core

    @staticmethod
    def from_ranks(dict mergeable_ranks, dict special_tokens, str source="mergeable_ranks"):
        """Build from a {token bytes: rank} dict, as tiktoken.Encoding takes."""
        cdef CoreBPE core = CoreBPE.__new__(CoreBPE)
        cdef ParsedVocab v
        cdef size_t total = 0
        cdef bytes token
        for token in mergeable_ranks:
            total += len(token)
        if parsed_alloc(&v, len(mergeable_ranks), total) < 0:
            raise MemoryError()
        try:
            for token, rank in mergeable_ranks.items():
                if not isinstance(rank, int) or rank < 0 or rank > 0xFFFFFFF:
                    raise ValueError(f"{source}: invalid rank {rank!r} for token {token!r}")
                if len(token) == 0:
                    raise ValueError(f"{source}: empty token with rank {rank}")
                v.starts[v.count] = v.blob_used
                v.lens[v.count] = len(token)
                memcpy(v.blob + v.blob_used, <const char*>token, len(token))
                v.blob_used += len(token)
                v.ranks[v.count] = rank
                if rank > v.max_rank:
                    v.max_rank = rank
                v.count += 1
            if v.count == 0:
                raise ValueError(f"{source}: no tokens")
            core._build(&v, special_tokens, source)
        finally:
            parsed_free(&v)
        core._finish()
        return core

    # -- the compiled-table file (table_file.pxi) ------------------------

    def to_cache_bytes(self, bytes digest not None):
        """The tables as one bytes object, for from_cache_file(); digest is
        the 32-byte digest of the vocabulary and special tokens they were
        built from."""
        cdef TableCounts counts = TableCounts(self.n_regular, self.max_regular_rank, self.n_pairs)
        if len(digest) != TABLE_FILE_DIGEST:
            raise ValueError(f"the digest must be {TABLE_FILE_DIGEST} bytes, not {len(digest)}")
        out = PyBytes_FromStringAndSize(NULL, table_file_size(&self.t))
        table_file_write(&self.t, &counts, <const uint8_t*><const char*>digest,
                         <uint8_t*>PyBytes_AS_STRING(out))
        return out

    @staticmethod
    def from_cache_file(int fd, str path, dict special_tokens, bytes digest not None):
        """Tables saved by to_cache_bytes(digest), read straight into place
        from fd, an open descriptor of path (the caller keeps and closes it;
        path only names it in errors).  Raises OSError if the file cannot be
        read and ValueError if it is not a complete, intact table file of
        this format, built from what digest names by this build (the caller
        then rebuilds)."""
        cdef CoreBPE core = CoreBPE.__new__(CoreBPE)
        cdef TableCounts counts
        cdef int status
        cdef const uint8_t* wanted = <const uint8_t*><const char*>digest
        cdef int own = os.dup(fd)
        cdef FILE* f = fdopen(own, "rb")
        if len(digest) != TABLE_FILE_DIGEST:
            os.close(own)
            raise ValueError(f"the digest must be {TABLE_FILE_DIGEST} bytes, not {len(digest)}")
        if f == NULL:
            os.close(own)
            raise OSError(f"cannot read {path}")
        try:
            with nogil:
                status = table_file_read(f, &core.t, &counts, wanted)
        finally:
            fclose(f)
        if status == TABLE_FILE_NOT_OURS:
            raise ValueError(f"{path}: not a qtok table cache")
        if status == TABLE_FILE_UNSUPPORTED:
            raise ValueError(f"{path}: unsupported or damaged qtok table cache")
        if status == TABLE_FILE_DAMAGED:
            raise ValueError(f"{path}: damaged qtok table cache (size or checksum)")
        if status == TABLE_FILE_OTHER_SOURCE:
            raise ValueError(f"{path}: a qtok table cache of another vocabulary")
        if status == TABLE_FILE_OTHER_BUILD:
            raise ValueError(f"{path}: a qtok table cache written by another qtok build")
        if status == TABLE_FILE_NO_MEMORY:
            raise MemoryError()
        core.n_regular = counts.n_regular
        core.max_regular_rank = counts.max_regular_rank
        core.n_pairs = counts.n_pairs
        # The specials must be the ones the file was made with.
        core.special_ids = {}
        for text, rank in special_tokens.items():
            if not (0 <= rank < core.t.n_ids) or core.token_bytes(rank) != text.encode("utf-8"):
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
            raise invalid_token(rank)
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

    def encode_single_piece(self, piece):
        """tiktoken's rule on bytes taken as one piece, with no pattern
        split: the piece's token if it is one, else its BPE merges."""
        cdef const uint8_t[::1] view = piece
        cdef size_t n = view.shape[0]
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        cdef uint32_t r
        cdef int status
        if n == 0:
            return []
        r = lookup(&self.t, &view[0], n)
        if r != NOT_FOUND:
            return [r]
        try:
            with nogil:
                status = merge_any(&self.t, NULL, &view[0], n, &v)
            if status < 0:
                raise MemoryError()
            return self._to_list(&v)
        finally:
            free(v.data)

    def token_lengths(self):
        """Every id's length in bytes (0 where no token), as n_ids native
        uint32 values in one bytes object."""
        return PyBytes_FromStringAndSize(<const char*>self.t.tok_len,
                                         self.t.n_ids * sizeof(uint32_t))

    def lookup_bytes(self, bytes piece):
        """Rank of a regular token given its bytes, or None."""
        cdef uint32_t r = lookup(&self.t, <const uint8_t*><const char*>piece, len(piece))
        return None if r == NOT_FOUND else r

    # -- encoding --------------------------------------------------------

    cdef int _encode(self, str text, TokenVec* out, PieceCache* held=NULL) except -1:
        """Append the ids of text to out, with held (a piece cache the caller
        holds) or a cache from the pool."""
        cdef size_t n
        cdef const uint8_t* s = NULL
        cdef int status
        cdef bint own_utf8 = own_utf8_wanted(text)
        if own_utf8:
            n = <size_t>PyUnicode_GET_LENGTH(text)      # its UTF-8 has as many bytes or more
        else:
            s = utf8_of(text, &n)
        if out.cap < n // 4 + 16:
            out.data = <uint32_t*>realloc(out.data, (n // 4 + 16) * sizeof(uint32_t))
            if out.data == NULL:
                out.cap = 0
                raise MemoryError()
            out.cap = n // 4 + 16
        if own_utf8:
            return self._encode_own_utf8(text, out, held)
        if n < NOGIL_MIN_BYTES:
            # Short text: done in less time than releasing and taking back
            # the GIL costs.
            status = encode_pooled(&self.t, &self.pool, held, s, n, out)
        else:
            with nogil:
                status = encode_pooled(&self.t, &self.pool, held, s, n, out)
        if status < 0:
            raise MemoryError("qtok: out of memory while encoding (or a single piece of 4 GB or more)")
        return 0

    cdef int _encode_own_utf8(self, str text, TokenVec* out, PieceCache* held) except -1:
        """The rest of _encode for a long str that is not ASCII, whose UTF-8
        qtok writes itself (own_utf8_wanted) into the piece cache's buffer."""
        cdef int kind = PyUnicode_KIND(text), status = 0, slot = -1
        cdef const void* chars = PyUnicode_DATA(text)
        cdef size_t n_chars = <size_t>PyUnicode_GET_LENGTH(text), n = 0
        cdef PieceCache* cache = held
        cdef uint8_t* own = NULL
        cdef const uint8_t* s
        with nogil:
            if cache == NULL:
                cache = pool_acquire(&self.pool, &slot, NULL)
            s = utf8_into(cache, kind, chars, n_chars, &n, &own, &status)
            if s != NULL:
                status = encode_utf8(&self.t, cache, s, n, out)
            utf8_trim(cache)
            pool_release(&self.pool, slot)
            free(own)
        if status == -3:
            utf8_of(text, &n)             # a lone surrogate: CPython raises its error
        if status < 0:
            raise MemoryError("qtok: out of memory while encoding (or a single piece of 4 GB or more)")
        return 0

    cdef int _encode_in_parts(self, str text, LongText* lt, bint check_nfc=False,
                              Py_ssize_t* nfc_fail=NULL) except -1:
        """A long text, one call's alone (never a batch's: its threads are
        busy already), encoded in parts on the text's threads into lt: True,
        and lt must then be released; False when it is not for threads
        (short, one thread set, or no place to cut it), and nothing is held.

        A str whose UTF-8 CPython does not hold yet, of LONG_TEXT_MIN_BYTES
        characters or more, is given to the threads as its characters, and
        each writes its parts' UTF-8 (long_text.pxi); asking CPython for it
        would be a serial step before the threads start.  A text with a
        lone surrogate then comes back False, for the caller's
        PyUnicode_AsUTF8AndSize to raise the error.

        The same str met again in the next such call is given as CPython's
        UTF-8 instead, which CPython then keeps in the str: a text encoded
        again and again (count, then encode; a benchmark's rounds) pays the
        serial step once and then finds its UTF-8 made, where the threads
        would write it at every call.  The str is known again by its
        address, length and a sample of its characters (StrSeen), without a
        reference to it; whichever way a text goes, its ids are the same.

        check_nfc: text is to be normalized (NFC) and has not been; its
        threads check it while they encode it (check_nfc_slices).  Then 2
        comes back, nothing held, when the check failed, first at
        nfc_fail[0]; nfc_fail[0] is the text's length when it passed
        (Latin-1 at once), and -1 when the check did not run (a text not
        split): the caller normalizes a text that failed or went unchecked."""
        global LAST_STR_WRITTEN
        cdef size_t n
        cdef const void* s
        cdef int status, kind = 0
        cdef StrSeen seen, seen_before
        cdef const void* nfc_chars = NULL
        cdef int nfc_kind = 0
        cdef size_t n_chars
        if check_nfc:
            nfc_fail[0] = -1
        if LONG_TEXT_THREADS < 2:
            return False
        str_ready(text)                   # its characters, for a str of the legacy API
        n = n_chars = <size_t>PyUnicode_GET_LENGTH(text)
        if check_nfc:
            if PyUnicode_KIND(text) == 1:
                nfc_fail[0] = <Py_ssize_t>n_chars     # checked: Latin-1 and ASCII are NFC
            else:
                nfc_kind = PyUnicode_KIND(text)
                nfc_chars = PyUnicode_DATA(text)
        if not str_has_utf8(text) and n >= LONG_TEXT_MIN_BYTES:
            kind = PyUnicode_KIND(text)
            s = PyUnicode_DATA(text)
            seen = str_seen(<PyObject*>text, s, kind, n)
            if seen.address == LAST_STR_WRITTEN.address and seen.n_chars == LAST_STR_WRITTEN.n_chars \
                    and seen.sample == LAST_STR_WRITTEN.sample:
                kind = 0                  # met again: CPython's UTF-8, kept from now on
            else:
                seen_before = LAST_STR_WRITTEN
                LAST_STR_WRITTEN = seen
        if kind == 0:
            s = utf8_of(text, &n)
            if n < LONG_TEXT_MIN_BYTES:
                return False
        with nogil:
            status = encode_long_text(&self.t, &self.pool, s, kind, n, LONG_TEXT_THREADS,
                                      nfc_chars, nfc_kind, n_chars, nfc_fail, lt)
        if status == -4:
            # Not encoded: the str normalized next, often this same one (NFC
            # after all), is a new str to the threads, not one met again.
            if kind != 0:
                LAST_STR_WRITTEN = seen_before
            return 2
        if status == -2 or status == -3:
            return False
        if status < 0:
            raise MemoryError("qtok: out of memory while encoding (or a single piece of 4 GB or more)")
        return True

    cdef str _normalized_in_parts(self, str text, LongText* lt, bint* held):
        """text, a long str to be normalized (NFC: nfc_on_threads), encoded in
        parts on its threads into lt (held[0] True, and lt must then be
        released), or normalized if that could not be done; returned
        normalized either way.

        Its threads check it for NFC, a slice each, while they encode it as
        it is, instead of the calling thread checking it alone before they
        start (0.5 ms of a 1 MB text's 2 ms on 2 threads).  Nearly all text
        is its own NFC (nfc_slice_own_end).  Where a slice is not, the text
        is normalized here from there (nfc_after_check) and encoded again;
        where it was not split, it is normalized as any other."""
        cdef Py_ssize_t fail = -1
        cdef str normalized
        held[0] = self._encode_in_parts(text, lt, True, &fail) == 1
        if held[0]:
            return text
        if fail < 0:
            normalized = TO_NFC(text)                 # not checked: not split
        elif fail < PyUnicode_GET_LENGTH(text):
            normalized = nfc_after_check(text, fail)
        else:
            return text         # its own NFC, not split (Latin-1) or a lone surrogate's error to come
        if normalized is text and fail < 0:
            return text                               # the same text would not split again
        held[0] = self._encode_in_parts(normalized, lt) == 1
        return normalized

    cdef object _parts_as_list(self, LongText* lt):
        """The ids of a text encoded in parts, as a list of the shared ints."""
        cdef object result = PyList_New(lt.total)
        cdef PyObject** items = list_items(result)
        cdef PyObject** objects = list_items(self.id_objects)
        cdef PyObject* item
        cdef const uint32_t* part
        cdef size_t i, j, at = 0
        if EVERLASTING_INTS:
            with nogil:
                long_text_emit(lt, NULL, items, objects)
            return result
        for i in range(lt.job.n):
            part = long_text_part(lt, i)
            for j in range(lt.job.outs[i].len):
                item = objects[part[j]]
                incref(item)
                items[at] = item
                at += 1
        return result

    cdef object _to_list(self, TokenVec* v):
        return ids_as_list(v, self.id_objects)

    def encode_ordinary(self, text, normalize=None):
        """Ids of text as a list, with no special-token handling.

        text must be a str (a subclass is read as a plain str);
        normalize, if given, is applied to it first (qtok.normalize.to_nfc).
        Encoding.encode_ordinary calls this directly: checking and
        normalizing here saves a Python call per text."""
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        cdef LongText lt
        cdef bint held
        text = prepared_in_parts(self, text, normalize, &lt, &held)
        if held:
            try:
                return self._parts_as_list(&lt)
            finally:
                long_text_release(&lt, &self.pool)
        try:
            self._encode(text, &v)
            return self._to_list(&v)
        finally:
            free(v.data)

    def count(self, text, normalize=None):
        """The number of ids encode_ordinary(text, normalize) would return."""
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        cdef LongText lt
        cdef size_t total
        cdef bint held
        text = prepared_in_parts(self, text, normalize, &lt, &held)
        if held:
            total = lt.total
            long_text_release(&lt, &self.pool)
            return total
        try:
            self._encode(text, &v)
            return v.len
        finally:
            free(v.data)

    def encode_ordinary_buffer(self, str text not None, normalize=None):
        """Ids as native uint32 values in a NativeBuffer that owns them: the
        vector the encoder wrote, handed over without a copy (numpy's
        frombuffer wraps it, and frees it with the array).  normalize as
        for encode_ordinary."""
        cdef TokenVec v = TokenVec(NULL, 0, 0)
        cdef NativeBuffer out = NativeBuffer()    # made first: nothing to leak if it fails
        cdef uint32_t* shrunk
        cdef LongText lt
        cdef bint held
        text = prepared_in_parts(self, text, normalize, &lt, &held)
        if held:
            try:
                out.data = malloc(lt.total * sizeof(uint32_t) + 1)
                if out.data == NULL:
                    raise MemoryError()
                with nogil:
                    long_text_emit(&lt, <uint32_t*>out.data, NULL, NULL)
                out.size = lt.total * sizeof(uint32_t)
                return out
            finally:
                long_text_release(&lt, &self.pool)
        try:
            self._encode(text, &v)
            if v.cap > v.len + v.len // 4 + 64:
                # Give back what the doubling left over; the array may live long.
                shrunk = <uint32_t*>realloc(v.data, v.len * sizeof(uint32_t) + 1)
                if shrunk != NULL:
                    v.data = shrunk
            out.data, out.size = v.data, v.len * sizeof(uint32_t)
            v.data = NULL
            return out
        finally:
            free(v.data)

    # -- batches (batch.pxi) ---------------------------------------------

    def encode_ordinary_batch(self, list texts, int num_threads=1, bint as_count=False,
                              object nfc=None):
        """Encode many texts on num_threads native threads, without the GIL.

        Each thread takes the texts of its own run in order, then helps with
        the others' runs, so the work stays balanced however the lengths vary
        and a thread's cache meets the same texts on every call (batch.pxi).
        Returns a list of id lists, or of counts with as_count.

        nfc, if given, is qtok._nfc.to_nfc, and the texts are to be
        normalized to NFC: the threads check each text with the native check
        first, and the few it does not pass are normalized with nfc here and
        encoded afterwards.  (Checking them all in the calling thread first
        would be a serial step before the threads start.)
        """
        cdef BatchJob job
        cdef BatchThreads th
        cdef size_t total
        cdef int n_threads, status
        cdef bint caller_works_too
        memset(&th, 0, sizeof(BatchThreads))
        if len(texts) > 0xFFFFFFFF:       # a run's bounds are 32-bit (platform.h)
            raise ValueError(f"qtok: a batch holds at most {0xFFFFFFFF:,} texts, "
                             f"this one {len(texts):,}; split it")
        status = batch_alloc(&job, len(texts), nfc is not None)
        try:
            if status < 0:
                raise MemoryError()
            job.keep_ids = not as_count
            total = self._batch_read(texts, &job)
            n_threads = batch_threads_for(num_threads, job.n, total)
            with nogil:
                status = batch_take_caches(&job, &self.pool, &th, n_threads)
                if status == 0:
                    batch_reserve_scratch(&job, n_threads, total)
            if status < 0:
                raise MemoryError()
            job.t = &self.t
            # Alone, or counting, the calling thread works like the others;
            # otherwise it builds the lists while they encode.
            caller_works_too = as_count or n_threads == 1
            with nogil:
                batch_start(&job, &th, caller_works_too)
            self._batch_texts(texts, &job)
            if caller_works_too:
                with nogil:
                    encode_batch_worker(&job)
                    batch_join(&th)
                self._batch_check(&job)
                return [self._batch_result(&job.outs[i], job.not_nfc[i], texts[i], nfc,
                                           job.caches[0], as_count)
                        for i in range(job.n)]
            return self._batch_lists_while_encoding(&job, &th, texts, nfc)
        finally:
            # Even on an error, the workers must finish before the buffers
            # they write to are freed.
            with nogil:
                batch_join(&th)
                batch_threads_free(&th, &self.pool)
                batch_free(&job)

    cdef size_t _batch_read(self, list texts, BatchJob* job) except? 0:
        """Check that every text is a str, point the job at the UTF-8 of the
        ASCII ones (their own bytes) and, to check NFC, at every text's
        characters.  Returns the total of their bytes, counting for a text
        that is not ASCII the most its UTF-8 can take (two, three or four
        bytes a character): its UTF-8 is got once the threads run
        (_batch_texts)."""
        cdef size_t i, total = 0
        cdef int kind
        cdef Py_ssize_t n_chars
        for i in range(job.n):
            item = texts[i]
            if type(item) is not str:
                raise TypeError(f"encode_batch expects a list of str, item {i} is {type(item).__name__}")
            str_ready(item)               # its characters, for a str of the legacy API (pystr.h)
            kind = PyUnicode_KIND(item)
            n_chars = PyUnicode_GET_LENGTH(item)
            if PyUnicode_IS_ASCII(item):
                job.texts[i] = utf8_of(<str>item, &job.lens[i])
                job.ready[i] = 1
            else:
                job.lens[i] = <size_t>n_chars * (2 if kind == 1 else 3 if kind == 2 else 4)
            total += job.lens[i]
            if job.check_nfc:
                job.kinds[i] = kind
                job.chars[i] = PyUnicode_DATA(item)
                job.n_chars[i] = n_chars
        return total

    cdef int _batch_texts(self, list texts, BatchJob* job) except -1:
        """Get the UTF-8 of the texts _batch_read left (CPython's
        PyUnicode_AsUTF8AndSize, which needs the GIL and keeps the UTF-8 in
        the str, so that the next call with the same str finds it), while
        the other threads already encode: the first text of every thread's
        run, then the second of each, and so on, each published with
        ready[i].  Done before the threads started, it was a serial step: on
        a batch of new str objects, a sixth of a one-thread batch's time.
        On an error (a lone surrogate), the threads are told to skip what
        is left, and the error is raised."""
        cdef size_t step, r, i
        cdef size_t longest = (job.n + job.n_runs - 1) // job.n_runs   # runs differ by one at most
        try:
            for step in range(longest):
                for r in range(job.n_runs):
                    i = run_start(job.n, job.n_runs, r) + step
                    if i < run_start(job.n, job.n_runs, r + 1) and not job.ready[i]:
                        job.texts[i] = utf8_of(<str>texts[i], &job.lens[i])
                        atomic_set(&job.ready[i])
        except BaseException:
            atomic_set(&job.abandoned)    # read by threads that saw ready[i] set before
            for i in range(job.n):
                atomic_set(&job.ready[i])
            raise
        return 0

    cdef int _batch_check(self, BatchJob* job) except -1:
        if job.status < 0:
            raise MemoryError("qtok: out of memory while encoding a batch")
        return 0

    cdef list _batch_lists_while_encoding(self, BatchJob* job, BatchThreads* th, list texts,
                                          object nfc):
        """Turn finished results into lists while the other threads keep
        encoding; when none is ready this thread, worker 0, encodes a text
        itself (the next of its own run, or the last left of another's), so
        building the lists (which needs the GIL) overlaps the encoding
        instead of following it.  Each run's results are taken in order
        from a cursor of its own, as soon as they are done."""
        cdef list results = [None] * <Py_ssize_t>job.n
        cdef size_t r, i, end, left = job.n
        cdef bint took
        cdef size_t* cursor = <size_t*>malloc(job.n_runs * sizeof(size_t))
        if cursor == NULL:
            raise MemoryError()
        try:
            for r in range(job.n_runs):
                cursor[r] = run_start(job.n, job.n_runs, r)
            while left:
                took = False
                for r in range(job.n_runs):
                    i = cursor[r]
                    end = run_start(job.n, job.n_runs, r + 1)
                    while i < end and atomic_is_set(&job.done[i]):
                        if job.status == 0:
                            results[i] = self._batch_result(&job.outs[i], job.not_nfc[i], texts[i],
                                                            nfc, job.caches[0], False)
                        i += 1
                        left -= 1
                        took = True
                    cursor[r] = i
                if not took:
                    with nogil:
                        if not encode_one(job, job.caches[0], 0):
                            cpu_yield()       # every text is taken: wait for the others
        finally:
            free(cursor)
        with nogil:
            batch_join(th)
        self._batch_check(job)
        return results

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

    # -- Arrow columns (arrow_rows.pxi, arrow_job.pxi) ------------------

    def encode_rows(self, ArrowRows rows not None, int num_threads=1, bint as_count=False,
                    bint check_nfc=False, bytes special_first=None, object fallback=None,
                    bint large_list=False):
        """Encode every row of an Arrow string column on num_threads native
        threads, without the GIL and without a str per row.

        check_nfc: rows must be NFC to be encoded natively; special_first:
        256 bytes, nonzero for each byte a special token may start with (a
        row holding one is left to fallback).  fallback(row, utf8) encodes
        a deferred row through Python (a list of ids, or a count).
        Returns (offsets, values, validity, large) with as_count False:
        NativeBuffers of int32 (int64 when large) offsets and uint32 ids, and
        the validity bitmap or None; with as_count, (counts, validity), the
        counts as int64 (0 for a null row)."""
        cdef RowsJob job
        cdef int status, n_threads
        cdef int64_t r, n_deferred = 0, total = 0
        cdef DeferredIds* deferred = NULL
        cdef uint32_t[::1] ids_view
        cdef void* offsets = NULL
        cdef uint32_t* values = NULL
        cdef uint8_t* bitmap = NULL
        cdef bint large
        memset(&job, 0, sizeof(RowsJob))
        job.t = &self.t
        job.rows = rows.rows
        job.n_rows = rows.n_rows
        job.check_nfc = check_nfc
        if special_first is not None:
            if len(special_first) != 256:
                raise ValueError("special_first must hold 256 bytes")
            job.special_first = <const uint8_t*>PyBytes_AS_STRING(special_first)
        if (job.special_first != NULL or check_nfc) and fallback is None:
            raise TypeError("encode_rows needs a fallback for the rows it defers")
        try:
            job.counts = <int64_t*>calloc(rows.n_rows + 1, sizeof(int64_t))
            if job.counts == NULL or rows_units(&job) < 0:
                raise MemoryError(f"no memory for a column of {rows.n_rows:,} rows")
            if not as_count:
                job.unit_ids = <TokenVec*>calloc(job.n_units + 1, sizeof(TokenVec))
                if job.unit_ids == NULL:
                    raise MemoryError()
            n_threads = batch_threads_for(num_threads, <size_t>rows.n_rows, <size_t>rows.total_bytes)
            with nogil:
                status = rows_run(&job, &self.pool, n_threads)
            if status < 0:
                raise MemoryError("qtok: out of memory while encoding an Arrow column")

            # The deferred rows, through Python.
            kept = []
            for r in range(rows.n_rows):
                if job.counts[r] == ROW_DEFERRED:
                    n_deferred += 1
            if n_deferred:
                if not as_count:
                    deferred = <DeferredIds*>malloc(n_deferred * sizeof(DeferredIds))
                    if deferred == NULL:
                        raise MemoryError()
                n_deferred = 0
                for r in range(rows.n_rows):
                    if job.counts[r] != ROW_DEFERRED:
                        continue
                    result = fallback(r, rows.row_bytes(r))
                    if as_count:
                        job.counts[r] = result
                        continue
                    array = _uint32_array(result)
                    kept.append(array)
                    deferred[n_deferred].row = r
                    deferred[n_deferred].n = len(array)
                    if len(array):
                        ids_view = array
                        deferred[n_deferred].ids = &ids_view[0]
                    else:
                        deferred[n_deferred].ids = NULL
                    n_deferred += 1

            validity = None
            if rows.n_nulls:
                bitmap = validity_bitmap(rows.rows, rows.n_rows)
                if bitmap == NULL:
                    raise MemoryError()
                validity = native_buffer(bitmap, (rows.n_rows + 7) // 8)
            if as_count:
                for r in range(rows.n_rows):
                    if job.counts[r] == ROW_NULL:
                        job.counts[r] = 0
                counts = native_buffer(job.counts, rows.n_rows * sizeof(int64_t))
                job.counts = NULL                   # owned by the buffer now
                return counts, validity

            for r in range(rows.n_rows):
                if job.counts[r] > 0:
                    total += job.counts[r]
            for r in range(n_deferred):
                total += deferred[r].n
            large = large_list or total > 0x7FFFFFFF
            offsets = malloc((rows.n_rows + 1) * (8 if large else 4))
            values = <uint32_t*>malloc(total * sizeof(uint32_t) + 4)
            if offsets == NULL or values == NULL:
                free(offsets)
                free(values)
                raise MemoryError(f"no memory for {total:,} ids")
            with nogil:
                status = rows_assemble(&job, deferred, n_deferred, large, offsets, values)
            offsets_buffer = native_buffer(offsets, (rows.n_rows + 1) * (8 if large else 4))
            values_buffer = native_buffer(values, total * sizeof(uint32_t))
            if status < 0:
                raise RuntimeError("qtok: the deferred rows of an Arrow column went out of step")
            return offsets_buffer, values_buffer, validity, large
        finally:
            free(deferred)
            rows_job_free(&job)

    # -- decoding (decode.pxi) -------------------------------------------

    def decode_bytes(self, tokens, skip=None):
        """Concatenated bytes of the ids in tokens (a list, tuple, uint32
        array, or any iterable of ints).

        Ids must be integers (int, numpy integers: anything with __index__);
        a float or a str raises TypeError, as in tiktoken, rather than being
        truncated into some other token.  skip, if given, is a bytes-like
        mask of n_ids bytes: the ids whose byte is nonzero are left out."""
        cdef DecodeBuffer b = self._decode(tokens, self._skip_mask(skip))
        return PyBytes_FromStringAndSize(<const char*>b.data, b.used)

    def decode_text(self, tokens, str errors not None="replace", skip=None):
        """decode_bytes(tokens, skip).decode("utf-8", errors), without the
        intermediate bytes object."""
        cdef DecodeBuffer b = self._decode(tokens, self._skip_mask(skip))
        if "\0" in errors:
            raise ValueError("embedded null character")   # as bytes.decode says
        return PyUnicode_DecodeUTF8(<const char*>b.data, b.used, PyUnicode_AsUTF8(errors))

    cdef const uint8_t* _skip_mask(self, skip) except? NULL:
        """The mask's bytes (kept alive by the caller's reference), or NULL."""
        cdef const uint8_t[::1] view
        if skip is None:
            return NULL
        view = skip
        if view.shape[0] != self.t.n_ids:
            raise ValueError(f"the skip mask has {view.shape[0]} bytes, the vocabulary "
                             f"{self.t.n_ids} ids")
        return &view[0]

    cdef DecodeBuffer _decode(self, tokens, const uint8_t* skip):
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
                return self._decode_ids(&ids32[0] if ids32.shape[0] else NULL, ids32.shape[0],
                                        skip)
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
                    item = list_get_item(tokens, i + DECODE_AHEAD)
                    prefetch(item)
                    prefetch(int_tail(item))
                item = list_get_item(tokens, i)
                if PyLong_CheckExact(<object>item):
                    # No try block here: Cython saves the exception state on
                    # entering one, which costs more than reading the int.
                    if not small_int_value(item, &v):
                        v = PyLong_AsLongLongAndOverflow(<object>item, &overflow)
                        if overflow:
                            raise invalid_token(<object>item)
                else:
                    try:
                        v = operator_index(<object>item)
                    except OverflowError:
                        raise invalid_token(<object>item) from None
                    except TypeError:
                        raise TypeError(f"token ids must be integers, got "
                                        f"{type(<object>item).__name__} {<object>item!r}") from None
                if v < 0 or v >= self.t.n_ids:
                    raise invalid_token(<object>item)
                ids[i] = <uint32_t>v        # ids without a token: _decode_ids names them
            return self._decode_ids(ids, n, skip)
        finally:
            free(ids)

    cdef DecodeBuffer _decode_ids(self, const uint32_t* ids, Py_ssize_t n, const uint8_t* skip):
        cdef DecodeBuffer out = DecodeBuffer.__new__(DecodeBuffer)
        cdef Py_ssize_t bad, kept
        cdef uint32_t* left = NULL
        if skip != NULL:
            # The ids to decode, without the skipped ones (ids out of range
            # stay, for decode_ids to name).
            left = <uint32_t*>malloc(n * sizeof(uint32_t) + 4)
            if left == NULL:
                raise MemoryError()
            with nogil:
                kept = skipping(ids, n, skip, self.t.n_ids, left)
            ids, n = left, kept
        try:
            with nogil:
                bad = decode_ids(&self.t, ids, n, &out.data, &out.used)
            if bad == DECODE_NO_MEMORY:
                raise MemoryError()
            if bad >= 0:
                raise invalid_token(ids[bad])
            return out
        finally:
            free(left)

    def __reduce__(self):
        raise TypeError("CoreBPE is not pickled directly; pickle the Encoding that holds it")
