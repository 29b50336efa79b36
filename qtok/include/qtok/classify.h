/* qtok/classify.h: the byte classes of 64 bytes of text at once, for the
 * bulk scanner (native/bulk_scanner.pxi).
 */
#ifndef QTOK_CLASSIFY_H
#define QTOK_CLASSIFY_H

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

   With AVX2 where the CPU has it, 32 bytes per comparison; else with SSE2
   (every x86-64 CPU), 16; elsewhere qtok_classify64_bytes, which is also
   built everywhere so that tests can check each against it. */
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
        if (c == '\n' || c == '\r') b->newline |= bit;
        if (c == ' ') b->blank |= bit;
        if (c == '\'') b->quote |= bit;
    }
    qtok_multibyte_letters(b, lead2, lead3);
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* lo <= v <= hi for bytes as signed chars (0x80..0xFF are -128..-1). */
#define QTOK_IN(v, lo, hi) _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)((lo) - 1))), \
                                         _mm_cmplt_epi8(v, _mm_set1_epi8((char)((hi) + 1))))
#define QTOK_EQ(v, c) _mm_cmpeq_epi8(v, _mm_set1_epi8((char)(c)))
#define QTOK_BITS(m, k) ((unsigned long long)(unsigned)_mm_movemask_epi8(m) << (16 * (k)))
static inline void qtok_classify64_sse2(const unsigned char* p, qtok_block* b) {
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
        newline |= QTOK_BITS(_mm_or_si128(QTOK_EQ(v, '\n'), QTOK_EQ(v, '\r')), k);
        blank |= QTOK_BITS(is_blank, k);
        quotes |= QTOK_BITS(QTOK_EQ(v, '\''), k);
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

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
/* The same with AVX2, 32 bytes per comparison, where the CPU has it (most
   x86-64 CPUs since 2013): the extension is built for every x86-64 CPU, so
   this function alone is compiled for AVX2 and chosen at run time
   (qtok_classify_init).  The ranges are compared as signed bytes as above;
   AVX2 has no "less than", so hi + 1 > v. */
#include <immintrin.h>
#define QTOK_IN32(v, lo, hi) _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8((char)((lo) - 1))), \
                                           _mm256_cmpgt_epi8(_mm256_set1_epi8((char)((hi) + 1)), v))
#define QTOK_EQ32(v, c) _mm256_cmpeq_epi8(v, _mm256_set1_epi8((char)(c)))
#define QTOK_BITS32(m, k) ((unsigned long long)(unsigned)_mm256_movemask_epi8(m) << (32 * (k)))
__attribute__((target("avx2")))
static void qtok_classify64_avx2(const unsigned char* p, qtok_block* b) {
    unsigned long long letter = 0, digit = 0, space = 0, newline = 0, blank = 0,
                       quotes = 0, high = 0, lead2 = 0, lead3 = 0;
    int k;
    for (k = 0; k < 2; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i*)(p + 32 * k));
        __m256i folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        __m256i is_blank = QTOK_EQ32(v, ' ');
        letter |= QTOK_BITS32(QTOK_IN32(folded, 'a', 'z'), k);
        digit |= QTOK_BITS32(QTOK_IN32(v, '0', '9'), k);
        space |= QTOK_BITS32(_mm256_or_si256(is_blank, QTOK_IN32(v, 9, 13)), k);
        newline |= QTOK_BITS32(_mm256_or_si256(QTOK_EQ32(v, '\n'), QTOK_EQ32(v, '\r')), k);
        blank |= QTOK_BITS32(is_blank, k);
        quotes |= QTOK_BITS32(QTOK_EQ32(v, '\''), k);
        if (_mm256_movemask_epi8(v)) {    /* not all ASCII: look for letters */
            __m256i next = _mm256_loadu_si256((const __m256i*)(p + 32 * k + 1));
            __m256i two = _mm256_or_si256(QTOK_IN32(v, 0xC4, 0xCA), QTOK_IN32(v, 0xD0, 0xD3));
            __m256i not_letter = _mm256_or_si256(
                _mm256_and_si256(QTOK_EQ32(v, 0xC3), _mm256_or_si256(QTOK_EQ32(next, 0x97), QTOK_EQ32(next, 0xB7))),
                _mm256_and_si256(QTOK_EQ32(v, 0xD2), QTOK_IN32(next, 0x82, 0x89)));
            two = _mm256_andnot_si256(not_letter, _mm256_or_si256(two, QTOK_EQ32(v, 0xC3)));
            high |= QTOK_BITS32(v, k);
            lead2 |= QTOK_BITS32(two, k);
            lead3 |= QTOK_BITS32(_mm256_and_si256(QTOK_EQ32(v, 0xE1), QTOK_IN32(next, 0xB8, 0xBB)), k);
        }
    }
    b->letter = letter; b->digit = digit; b->space = space; b->newline = newline;
    b->blank = blank; b->quote = quotes; b->high = high;
    qtok_multibyte_letters(b, lead2, lead3);
}
static int qtok_classify_avx2;          /* set once, when the module loads */
static void qtok_classify_init(void) {
    __builtin_cpu_init();
    qtok_classify_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
}
static inline int qtok_classify_has_avx2(void) { return qtok_classify_avx2; }
static inline void qtok_classify64(const unsigned char* p, qtok_block* b) {
    if (qtok_classify_avx2) qtok_classify64_avx2(p, b);
    else qtok_classify64_sse2(p, b);
}
#else
static void qtok_classify_init(void) {}
static inline int qtok_classify_has_avx2(void) { return 0; }
#define qtok_classify64_avx2 qtok_classify64_sse2
#define qtok_classify64 qtok_classify64_sse2
#endif
#else
static void qtok_classify_init(void) {}
static inline int qtok_classify_has_avx2(void) { return 0; }
#define qtok_classify64 qtok_classify64_bytes
#define qtok_classify64_sse2 qtok_classify64_bytes
#define qtok_classify64_avx2 qtok_classify64_bytes
#endif

#endif
