# Code point classes: which characters are letters (\p{L}), numbers (\p{N})
# and whitespace (\s), as the Qwen pattern's regex engine sees them.
#
# The ranges come from tools/gen_unicode_classes.py (out of tiktoken's regex
# engine); at import they are spread into one byte of class bits per code
# point, so the scanner pays a single load per character.

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
