# Reading a tiktoken vocabulary file: one "base64-token rank" per line.
#
# Engine code: the file's bytes in, (start, length, rank) per token and one
# blob of token bytes out, for build_tables.pxi.  A line that does not parse
# stops it with a ParseError naming the line; the binding words the message.

cdef enum ParseStatus:
    PARSE_OK = 0
    PARSE_NO_MEMORY
    PARSE_EMPTY_FILE
    PARSE_NOT_TOKEN_RANK      # no "base64-token rank" shape
    PARSE_BAD_BASE64          # character: the offending byte
    PARSE_EMPTY_TOKEN
    PARSE_MISSING_RANK
    PARSE_BAD_RANK
    PARSE_NO_TOKENS


cdef void parsed_free(ParsedVocab* v) noexcept nogil:
    free(v.starts)
    free(v.lens)
    free(v.ranks)
    free(v.blob)
    memset(v, 0, sizeof(ParsedVocab))


cdef inline int parse_failed(ParseError* err, int status, size_t line,
                             uint8_t character) noexcept nogil:
    err.status = status
    err.line = line
    err.character = character
    return -1


cdef int parsed_alloc(ParsedVocab* v, size_t n_tokens, size_t n_bytes) noexcept nogil:
    """Room for n_tokens tokens of n_bytes bytes in all; -1 when out of memory."""
    memset(v, 0, sizeof(ParsedVocab))
    v.starts = <uint64_t*>malloc(n_tokens * sizeof(uint64_t) + 8)
    v.lens = <uint32_t*>malloc(n_tokens * sizeof(uint32_t) + 4)
    v.ranks = <uint64_t*>malloc(n_tokens * sizeof(uint64_t) + 8)
    v.blob = <uint8_t*>malloc(n_bytes + 1)
    if v.starts == NULL or v.lens == NULL or v.ranks == NULL or v.blob == NULL:
        parsed_free(v)
        return -1
    return 0


cdef inline bint is_blank(uint8_t c) noexcept nogil:
    """Space, tab, CR, vertical tab, form feed: what separates and surrounds
    the two fields (str.split's ASCII whitespace, but the line feed)."""
    return c == 32 or (9 <= c <= 13 and c != 10)


cdef int parse_tiktoken(const uint8_t* data, size_t n, ParsedVocab* v,
                        ParseError* err) noexcept nogil:
    """Parse a tiktoken file's contents into v (allocated here; the caller
    frees it with parsed_free, also after an error).  What tiktoken's loader
    takes is taken: lines ending in LF or CRLF, blank lines anywhere, and
    the token and the rank separated (and surrounded) by any spaces or tabs."""
    cdef size_t pos = 0, line_no = 0, k, end, b64_end, i, n_lines = 0
    cdef uint64_t rank
    cdef uint32_t acc, nbits
    cdef uint8_t c
    cdef int8_t[256] b64
    memset(v, 0, sizeof(ParsedVocab))
    if n == 0:
        return parse_failed(err, PARSE_EMPTY_FILE, 0, 0)
    for k in range(n):
        if data[k] == 10:
            n_lines += 1
    if data[n - 1] != 10:
        n_lines += 1
    for k in range(256):
        b64[k] = -1
    for k in range(26):
        b64[65 + k] = <int8_t>k
        b64[97 + k] = <int8_t>(26 + k)
    for k in range(10):
        b64[48 + k] = <int8_t>(52 + k)
    b64[43] = 62
    b64[47] = 63
    # Ranks are not known until parsed: collect (start, len, rank) per line.
    if parsed_alloc(v, n_lines, n) < 0:
        return parse_failed(err, PARSE_NO_MEMORY, 0, 0)
    while pos < n:
        line_no += 1
        end = pos
        while end < n and data[end] != 10:
            end += 1
        k = end
        while k > pos and is_blank(data[k - 1]):
            k -= 1                               # CR of CRLF, trailing spaces
        while pos < k and is_blank(data[pos]):
            pos += 1                             # leading spaces
        if k == pos:                             # a blank line
            pos = end + 1
            continue
        b64_end = pos
        while b64_end < k and not is_blank(data[b64_end]):
            b64_end += 1
        if b64_end == k:
            return parse_failed(err, PARSE_NOT_TOKEN_RANK, line_no, 0)
        # base64 token
        v.starts[v.count] = v.blob_used
        acc = 0
        nbits = 0
        for i in range(pos, b64_end):
            c = data[i]
            if c == 61:                          # '=' padding ends the token
                break
            if b64[c] < 0:
                return parse_failed(err, PARSE_BAD_BASE64, line_no, c)
            acc = (acc << 6) | <uint32_t>b64[c]
            nbits += 6
            if nbits >= 8:
                nbits -= 8
                v.blob[v.blob_used] = (acc >> nbits) & 0xFF
                v.blob_used += 1
        v.lens[v.count] = <uint32_t>(v.blob_used - v.starts[v.count])
        if v.lens[v.count] == 0:
            return parse_failed(err, PARSE_EMPTY_TOKEN, line_no, 0)
        # decimal rank, after the spaces that separate it
        rank = 0
        i = b64_end
        while i < k and is_blank(data[i]):
            i += 1
        if i >= k:
            return parse_failed(err, PARSE_MISSING_RANK, line_no, 0)
        for i in range(i, k):
            c = data[i]
            if c < 48 or c > 57 or rank > 0xFFFFFFF:
                return parse_failed(err, PARSE_BAD_RANK, line_no, 0)
            rank = rank * 10 + (c - 48)
        v.ranks[v.count] = rank
        if rank > v.max_rank:
            v.max_rank = rank
        v.count += 1
        pos = end + 1
    if v.count == 0:
        return parse_failed(err, PARSE_NO_TOKENS, 0, 0)
    return 0
