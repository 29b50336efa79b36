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
#define QTOK_V_NAME qtok_classify64_sse2
#define QTOK_V_TARGET
#define QTOK_V __m128i
#define QTOK_V_BYTES 16
#define QTOK_V_LOAD(p) _mm_loadu_si128((const __m128i*)(p))
#define QTOK_V_OR _mm_or_si128
#define QTOK_V_AND _mm_and_si128
#define QTOK_V_ANDNOT _mm_andnot_si128
#define QTOK_V_SET1 _mm_set1_epi8
#define QTOK_V_GT _mm_cmpgt_epi8
#define QTOK_V_EQ _mm_cmpeq_epi8
#define QTOK_V_MASK _mm_movemask_epi8
#include "classify_vector.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
/* The same with AVX2, 32 bytes per comparison, where the CPU has it (most
   x86-64 CPUs since 2013): the extension is built for every x86-64 CPU, so
   this function alone is compiled for AVX2 and chosen at run time
   (qtok_classify_init). */
#include <immintrin.h>
#define QTOK_V_NAME qtok_classify64_avx2
#define QTOK_V_TARGET __attribute__((target("avx2")))
#define QTOK_V __m256i
#define QTOK_V_BYTES 32
#define QTOK_V_LOAD(p) _mm256_loadu_si256((const __m256i*)(p))
#define QTOK_V_OR _mm256_or_si256
#define QTOK_V_AND _mm256_and_si256
#define QTOK_V_ANDNOT _mm256_andnot_si256
#define QTOK_V_SET1 _mm256_set1_epi8
#define QTOK_V_GT _mm256_cmpgt_epi8
#define QTOK_V_EQ _mm256_cmpeq_epi8
#define QTOK_V_MASK _mm256_movemask_epi8
#include "classify_vector.h"
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
