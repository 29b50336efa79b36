# Declarations of qtok's native core.  The algorithm lives in _bpe.pyx; this
# file says what data it works on.
from libc.stdint cimport uint8_t, uint32_t, uint64_t


cdef struct TokenVec:
    # A growable array of token ids, filled without the GIL.
    uint32_t* data
    size_t len
    size_t cap


cdef struct Tables:
    # Everything the encoder and decoder read.  Built once, never written
    # afterwards, so any number of threads may share it.
    uint8_t* blob            # the bytes of every token, back to back
    uint64_t* tok_start      # token r is blob[tok_start[r] : tok_start[r] + tok_len[r]]
    uint32_t* tok_len        # 0 = no token has this id
    uint32_t n_ids           # ids run from 0 to n_ids - 1 (regular and special)
    uint64_t* slots          # open-addressing hash of regular tokens: (tag << 32) | (rank + 1)
    uint64_t slot_mask
    uint32_t byte_rank[256]  # rank of each single byte
    uint32_t max_token_len   # longest regular token, in bytes


cdef class CoreBPE:
    cdef Tables t
    cdef readonly uint32_t n_regular       # regular (mergeable) tokens
    cdef readonly uint32_t max_regular_rank
    cdef dict special_ids                  # str -> id
    cdef list id_objects                   # id -> the int object, reused in output lists

    cdef int _allocate(self, uint32_t n_ids, size_t blob_size) except -1
    cdef int _fill(self, uint32_t count, uint64_t* starts, uint32_t* lens, uint64_t* ranks,
                   uint64_t max_rank, uint8_t* blob, uint64_t blob_used,
                   dict special_tokens, str source) except -1
    cdef int _build_hash(self) except -1
    cdef int _add_specials(self, dict special_tokens, uint64_t blob_used) except -1
    cdef int _finish(self) except -1
    cdef int _encode(self, str text, TokenVec* out) except -1
    cdef object _to_list(self, TokenVec* v)
    cdef object _decode_u32(self, const uint32_t[::1] ids)
