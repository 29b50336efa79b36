/* qtok/classify_vector.h: the vector classifier of qtok/classify.h, written
 * once for any vector width.  classify.h includes it once per width (no
 * include guard), having defined:
 *
 *   QTOK_V_NAME            the function's name
 *   QTOK_V_TARGET          an attribute for the function (empty, or the
 *                          instruction set it is compiled for)
 *   QTOK_V, QTOK_V_BYTES   the vector type and its width in bytes (16, 32)
 *   QTOK_V_LOAD(p)         an unaligned load of QTOK_V_BYTES bytes
 *   QTOK_V_OR/AND(a, b), QTOK_V_ANDNOT(a, b) (~a & b)
 *   QTOK_V_SET1(c)         c in every byte
 *   QTOK_V_GT(a, b)        a > b per byte, as signed chars
 *   QTOK_V_EQ(a, b)        a == b per byte
 *   QTOK_V_MASK(m)         the top bit of every byte, as an int
 *
 * ASCII ranges are compared as signed bytes, so bytes from 0x80 up
 * (negative) fall in none of them; lo <= v <= hi is v > lo - 1 and
 * hi + 1 > v, which needs no "less than".
 */
#define QTOK_V_IN(v, lo, hi) QTOK_V_AND(QTOK_V_GT(v, QTOK_V_SET1((char)((lo) - 1))), \
                                        QTOK_V_GT(QTOK_V_SET1((char)((hi) + 1)), v))
#define QTOK_V_IS(v, c) QTOK_V_EQ(v, QTOK_V_SET1((char)(c)))
#define QTOK_V_BITS(m, k) ((unsigned long long)(unsigned)QTOK_V_MASK(m) << (QTOK_V_BYTES * (k)))

QTOK_V_TARGET
static void QTOK_V_NAME(const unsigned char* p, qtok_block* b) {
    unsigned long long letter = 0, digit = 0, space = 0, newline = 0, blank = 0,
                       quotes = 0, high = 0, lead2 = 0, lead3 = 0;
    int k;
    for (k = 0; k < 64 / QTOK_V_BYTES; k++) {
        QTOK_V v = QTOK_V_LOAD(p + QTOK_V_BYTES * k);
        QTOK_V folded = QTOK_V_OR(v, QTOK_V_SET1(0x20));
        QTOK_V is_blank = QTOK_V_IS(v, ' ');
        letter |= QTOK_V_BITS(QTOK_V_IN(folded, 'a', 'z'), k);
        digit |= QTOK_V_BITS(QTOK_V_IN(v, '0', '9'), k);
        space |= QTOK_V_BITS(QTOK_V_OR(is_blank, QTOK_V_IN(v, 9, 13)), k);
        newline |= QTOK_V_BITS(QTOK_V_OR(QTOK_V_IS(v, '\n'), QTOK_V_IS(v, '\r')), k);
        blank |= QTOK_V_BITS(is_blank, k);
        quotes |= QTOK_V_BITS(QTOK_V_IS(v, '\''), k);
        if (QTOK_V_MASK(v)) {              /* not all ASCII: look for letters */
            QTOK_V next = QTOK_V_LOAD(p + QTOK_V_BYTES * k + 1);
            QTOK_V two = QTOK_V_OR(QTOK_V_IN(v, 0xC4, 0xCA), QTOK_V_IN(v, 0xD0, 0xD3));
            QTOK_V not_letter = QTOK_V_OR(
                QTOK_V_AND(QTOK_V_IS(v, 0xC3), QTOK_V_OR(QTOK_V_IS(next, 0x97), QTOK_V_IS(next, 0xB7))),
                QTOK_V_AND(QTOK_V_IS(v, 0xD2), QTOK_V_IN(next, 0x82, 0x89)));
            two = QTOK_V_ANDNOT(not_letter, QTOK_V_OR(two, QTOK_V_IS(v, 0xC3)));
            high |= QTOK_V_BITS(v, k);
            lead2 |= QTOK_V_BITS(two, k);
            lead3 |= QTOK_V_BITS(QTOK_V_AND(QTOK_V_IS(v, 0xE1), QTOK_V_IN(next, 0xB8, 0xBB)), k);
        }
    }
    b->letter = letter; b->digit = digit; b->space = space; b->newline = newline;
    b->blank = blank; b->quote = quotes; b->high = high;
    qtok_multibyte_letters(b, lead2, lead3);
}

#undef QTOK_V_IN
#undef QTOK_V_IS
#undef QTOK_V_BITS
#undef QTOK_V_NAME
#undef QTOK_V_TARGET
#undef QTOK_V
#undef QTOK_V_BYTES
#undef QTOK_V_LOAD
#undef QTOK_V_OR
#undef QTOK_V_AND
#undef QTOK_V_ANDNOT
#undef QTOK_V_SET1
#undef QTOK_V_GT
#undef QTOK_V_EQ
#undef QTOK_V_MASK
