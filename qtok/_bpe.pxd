# Declarations of qtok's native core: the data it works on.  The algorithm
# lives in the files _bpe.pyx includes (qtok/native/*.pxi).
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from qtok.native.platform cimport pthread_t


cdef enum:
    # Ids are packed three to a 64-bit word in the pair table, so a
    # vocabulary may hold up to 2**21 - 1 ids (Qwen has 151,646).
    ID_BITS = 21
    ID_MASK = 2097151
    # The piece caches, per encoding thread (native/piece_cache.pxi).
    CACHE_POOL = 16        # caches kept per vocabulary (threads at once)
    BIG_SLOTS = 65536      # index of the cache of other pieces (24 bytes each)
    BIG_ARENA = 8388608    # its storage for their bytes and ids
    BIG_MAX_PIECE = 4096   # longer pieces are not cached
    PAIR_CACHE_SLOTS = 32768   # recent pair-table answers (8 bytes each)
    SHORT_SLOTS = 524288   # the cache of pieces of 2..16 bytes (32 bytes each)
    SHORT_MAX_IDS = 3
    SCRATCH_KEEP_IDS = 4194304   # a cache's scratch vector is kept between calls up to
                                 # this many ids (16 MB): long_text.pxi, batch.pxi


cdef struct TokenVec:
    # A growable array of token ids, filled without the GIL.
    uint32_t* data
    size_t len
    size_t cap


cdef struct Slot:
    # One entry of the token hash: the token's first 8 bytes (zero-padded),
    # and meta = (rank + 1) << 40 | length << 32 | offset in the blob.
    uint64_t prefix
    uint64_t meta           # 0: empty


cdef struct Tables:
    # Everything the encoder and decoder read.  Built once, never written
    # afterwards, so any number of threads may share it.
    uint8_t* blob            # the bytes of every token, back to back
    uint64_t* tok_start      # token r is blob[tok_start[r] : tok_start[r] + tok_len[r]]
    uint32_t* tok_len        # 0 = no token has this id
    uint32_t n_ids           # ids run from 0 to n_ids - 1 (regular and special)
    Slot* slots              # token bytes -> rank
    uint64_t slot_mask
    uint64_t* pairs          # (a, b) -> rank of a+b: (a << 42) | (b << 21) | (rank + 1)
    uint64_t pair_mask
    uint64_t* pair_filter    # PAIR_FILTER_WORDS words: a Bloom filter of the keys in pairs
    uint64_t* token_filter   # TOKEN_FILTER_WORDS words: a Bloom filter of the tokens of 2..16 bytes
    uint32_t* byte_pair      # 65,536 entries: rank of the two bytes (x, y), for first joins
    uint64_t* dec            # id -> one word: a token of 1..7 bytes is its bytes, with the
                             # length in the top byte; a longer one is bit 63, the length
                             # (bits 32-62) and the offset in the blob; 0: no such token
    uint64_t bigram[1024]    # bit (x << 8 | y): some regular token contains bytes x, y
    uint32_t* span_rank      # 65,536 entries: the lowest rank of a regular token in which
                             # byte x is followed by byte y (NOT_FOUND: none); see merge_small
    uint64_t* char_unit      # 65,536 entries, by code point: a character of 2 or 3 bytes that
                             # merges alone into one token: its rank, its length and the
                             # highest rank among those joins (char_unit_entry); 0: none
    uint32_t byte_rank[256]  # rank of each single byte
    uint32_t max_token_len   # longest regular token, in bytes


cdef struct ShortEntry:      # 32 bytes: a piece of up to 16 bytes and its ids
    uint64_t w0              # the piece's bytes as two zero-padded words
    uint64_t w1
    uint32_t ids[SHORT_MAX_IDS]
    uint8_t len              # 0: empty
    uint8_t n_ids
    uint8_t spilled          # in e[0] of a pair: some piece of this pair went to the big cache
    uint8_t is_token         # 1: the piece is a token (one id); 0: it was merged


cdef struct BigSlot:         # an entry of the cache of longer pieces
    uint64_t hash            # 0: empty
    uint32_t off             # where its bytes, then its ids, start in the arena
    uint32_t len             # bytes of the piece
    uint32_t n_ids
    uint32_t pad


cdef struct PieceCache:
    ShortEntry* short        # pieces of 2..16 bytes, tokens and merged ones
    BigSlot* big             # other merged pieces of up to BIG_MAX_PIECE bytes
    uint8_t* arena
    size_t arena_used
    size_t big_entries
    uint64_t* pair_cache     # compact copy of the pair-table answers in use
    TokenVec scratch         # the ids of a long text's parts or of a batch's texts,
                             # kept from call to call (long_text.pxi, batch.pxi)
    uint8_t* utf8            # the UTF-8 of the long text's part being encoded, when the
    size_t utf8_cap          # thread writes it itself (long_text.pxi); kept likewise
    uint8_t pad[40]          # 128 bytes in all: the fields of two threads' caches,
                             # side by side in CachePool, never share a cache line


cdef struct CachePool:
    # Piece caches, one per thread encoding at the same time; a slot is
    # taken with an atomic compare-and-swap on busy[k].
    PieceCache tables[CACHE_POOL]
    int busy[CACHE_POOL]


# Building (native/build_tables.pxi, native/parse_tiktoken.pxi): what went
# wrong, for the binding to word, and a vocabulary as parsed.

cdef struct BuildError:
    # status is a BuildStatus; rank and value say which token and what
    int status
    uint64_t rank
    uint64_t value


cdef struct ParseError:
    int status
    size_t line               # 1-based
    uint8_t character


cdef struct ParsedVocab:
    # The regular tokens in file order; free with parsed_free.
    uint64_t* starts          # token i is blob[starts[i] : starts[i] + lens[i]]
    uint32_t* lens
    uint64_t* ranks
    uint8_t* blob
    uint64_t blob_used
    uint64_t max_rank
    uint32_t count


# Batches on native threads (native/batch.pxi).

cdef struct BatchJob:
    const Tables* t
    const uint8_t** texts
    size_t* lens
    # With check_nfc, a text the native NFC check does not pass is left to
    # the calling thread (not_nfc[i] = 1), which normalizes it in Python.
    bint check_nfc
    int* kinds                # the texts' str layouts and characters
    void** chars
    Py_ssize_t* n_chars
    int* not_nfc
    int* ready                # ready[i] = 1 once texts[i] and lens[i] are in place
    int abandoned             # 1: the calling thread stopped making texts ready (an error);
                              # set and read atomically: a thread reads it while it may change
    TokenVec* outs
    bint keep_ids             # False: only the number of each text's ids is wanted
    size_t n
    uint64_t* runs            # each worker's run of texts or parts (batch_claim)
    size_t n_runs             # one per worker (batch_make_runs)
    PieceCache** caches       # one per thread, taken by the calling thread beforehand
    size_t next_worker        # shared; a thread's index into caches
    int* done                 # done[i] = 1 once text i is encoded (or failed)
    int status
    size_t* part_at           # long texts: where part i's ids start in its worker's scratch
    size_t* part_worker       # long texts: the worker that encoded part i


cdef struct BatchThreads:
    # The threads of one batch: thread 0 is the calling thread.
    int n
    pthread_t* threads
    int* started
    int* slots                # the pool slot of each thread's cache, -1 for none


cdef struct LongText:
    # One long text encoded in parts (native/long_text.pxi).  The parts' ids
    # stay where the workers put them -- mostly in their caches' scratch
    # vectors, held until long_text_release -- and the caller takes them
    # from there: counts them, copies them into an array or fills a list,
    # without first copying them all into one vector (10 MB for a 10 MB
    # text, fresh memory faulted in page by page on the calling thread alone).
    BatchJob job
    BatchThreads th
    size_t* cuts
    size_t* offsets           # part i's first id in the whole: offsets[i]
    size_t total              # ids in all the parts
    # A text to be normalized (NFC) is encoded as it is while its threads
    # check it, one slice of its str's characters each (nfc_chars not NULL;
    # nfc_slice_own_end); nfc_fail[k] is where slice k is not its own NFC, or nfc_n.
    const void* nfc_chars
    int nfc_kind
    size_t nfc_n
    size_t nfc_slices
    size_t nfc_next           # shared: the next slice to check
    Py_ssize_t* nfc_fail


cdef class DecodeBuffer:
    cdef uint8_t* data       # malloc'ed; freed with the object
    cdef size_t used


cdef class CoreBPE:
    cdef Tables t
    cdef CachePool pool
    cdef readonly uint32_t n_regular       # regular (mergeable) tokens
    cdef readonly uint32_t max_regular_rank
    cdef readonly uint32_t n_pairs         # entries of the pair table
    cdef dict special_ids                  # str -> id
    cdef list id_objects                   # id -> the int object, reused in output lists

    cdef int _raise_build_error(self, const BuildError* e, str source) except -1
    cdef int _build(self, const ParsedVocab* v, dict special_tokens, str source) except -1
    cdef int _finish(self) except -1
    cdef int _encode(self, str text, TokenVec* out, PieceCache* held=*) except -1
    cdef int _encode_own_utf8(self, str text, TokenVec* out, PieceCache* held) except -1
    cdef object _to_list(self, TokenVec* v)
    cdef int _encode_in_parts(self, str text, LongText* lt, bint check_nfc=*,
                              Py_ssize_t* nfc_fail=*) except -1
    cdef str _normalized_in_parts(self, str text, LongText* lt, bint* held)
    cdef object _parts_as_list(self, LongText* lt)
    cdef size_t _batch_read(self, list texts, BatchJob* job) except? 0
    cdef int _batch_texts(self, list texts, BatchJob* job) except -1
    cdef int _batch_check(self, BatchJob* job) except -1
    cdef list _batch_lists_while_encoding(self, BatchJob* job, BatchThreads* th, list texts,
                                          object nfc)
    cdef object _batch_result(self, TokenVec* v, bint not_nfc, str text, object nfc,
                              PieceCache* held, bint as_count)
    cdef const uint8_t* _skip_mask(self, skip) except? NULL
    cdef DecodeBuffer _decode(self, tokens, const uint8_t* skip)
    cdef DecodeBuffer _decode_ids(self, const uint32_t* ids, Py_ssize_t n, const uint8_t* skip)
