/* qtok/utf8.h: decoding one code point of UTF-8, and writing the UTF-8 of
 * a str's characters.
 *
 * Text reaches the core from PyUnicode_AsUTF8AndSize, from qtok_utf8_write
 * below (which refuses lone surrogates, as CPython does), or from an
 * already validated buffer: always valid UTF-8, so the decoder checks
 * nothing.
 */
#ifndef QTOK_UTF8_H
#define QTOK_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* The UTF-8 of n characters of a str's storage (kind 1, 2 or 4 bytes a
   character, as PyUnicode_KIND), written to out, which has room for
   qtok_utf8_room(kind, n) bytes.  Returns the bytes written, or
   (size_t)-1 if the characters hold a lone surrogate (U+D800..U+DFFF),
   which has no UTF-8: the caller then lets CPython raise its
   UnicodeEncodeError.

   The threads of a long text write the UTF-8 of their own parts with it,
   at once, instead of the calling thread getting the whole text's from
   CPython before they start.  Text mixes ASCII and other letters from word
   to word, so a branch on a character's length would be mispredicted
   often: each character's bytes are computed for every length, the right
   ones chosen without a branch and stored as one 32-bit word (hence the
   room past the end), and the pointer moves by the length.  Surrogates
   are only noted on the way and refused at the end.  A run of 8 (kind 1),
   4 (kind 2) or 2 (kind 4) ASCII characters is copied at once.  A str of
   two bytes a character is written four characters at a time where the
   CPU allows (qtok_utf8_write_ucs2_ssse3, below). */
static inline size_t qtok_utf8_room(int kind, size_t n) {
    /* The widest UTF-8 of a character of this kind, and 16 bytes for the
       stores past the last byte written: a character's 32-bit store, and
       the 16-byte store of four characters (qtok_utf8_put4). */
    return n * (kind == 1 ? 2u : kind == 2 ? 3u : 4u) + 16u;
}

static inline __attribute__((always_inline)) unsigned char*
qtok_utf8_put(unsigned char* o, uint32_t c) {
    uint32_t two = (0xC0u | (c >> 6)) | ((0x80u | (c & 0x3Fu)) << 8);
    uint32_t three = (0xE0u | (c >> 12)) | ((0x80u | ((c >> 6) & 0x3Fu)) << 8)
                     | ((0x80u | (c & 0x3Fu)) << 16);
    uint32_t four = (0xF0u | (c >> 18)) | ((0x80u | ((c >> 12) & 0x3Fu)) << 8)
                    | ((0x80u | ((c >> 6) & 0x3Fu)) << 16) | ((0x80u | (c & 0x3Fu)) << 24);
    uint32_t word = c < 0x80 ? c : c < 0x800 ? two : c < 0x10000 ? three : four;
    memcpy(o, &word, 4);
    return o + 1 + (c >= 0x80) + (c >= 0x800) + (c >= 0x10000);
}

static inline size_t qtok_utf8_write_scalar(int kind, const void* data, size_t n,
                                            unsigned char* out) {
    unsigned char* o = out;
    size_t i = 0;
    uint32_t surrogates = 0;
    uint64_t block;
    if (kind == 1) {
        const unsigned char* c = (const unsigned char*)data;
        for (; i + 8 <= n; i += 8) {
            memcpy(&block, c + i, 8);
            if ((block & 0x8080808080808080ull) == 0) {
                memcpy(o, &block, 8);
                o += 8;
                continue;
            }
            for (size_t k = 0; k < 8; k++) o = qtok_utf8_put(o, c[i + k]);
        }
        for (; i < n; i++) o = qtok_utf8_put(o, c[i]);
    } else if (kind == 2) {
        const uint16_t* c = (const uint16_t*)data;
        for (; i + 4 <= n; i += 4) {
            memcpy(&block, c + i, 8);
            if ((block & 0xFF80FF80FF80FF80ull) == 0) {
                uint32_t word = (uint32_t)(block & 0xFF) | (uint32_t)((block >> 8) & 0xFF00)
                                | (uint32_t)((block >> 16) & 0xFF0000)
                                | (uint32_t)((block >> 24) & 0xFF000000);
                memcpy(o, &word, 4);
                o += 4;
                continue;
            }
            for (size_t k = 0; k < 4; k++) {
                surrogates |= (uint32_t)(c[i + k] - 0xD800u) < 0x800u;
                o = qtok_utf8_put(o, c[i + k]);
            }
        }
        for (; i < n; i++) {
            surrogates |= (uint32_t)(c[i] - 0xD800u) < 0x800u;
            o = qtok_utf8_put(o, c[i]);
        }
    } else {
        const uint32_t* c = (const uint32_t*)data;
        for (; i + 2 <= n; i += 2) {
            memcpy(&block, c + i, 8);
            if ((block & 0xFFFFFF80FFFFFF80ull) == 0) {
                o[0] = (unsigned char)block;
                o[1] = (unsigned char)(block >> 32);
                o += 2;
                continue;
            }
            for (size_t k = 0; k < 2; k++) {
                surrogates |= (c[i + k] - 0xD800u) < 0x800u;
                o = qtok_utf8_put(o, c[i + k]);
            }
        }
        for (; i < n; i++) {
            surrogates |= (c[i] - 0xD800u) < 0x800u;
            o = qtok_utf8_put(o, c[i]);
        }
    }
    return surrogates ? (size_t)-1 : (size_t)(o - out);
}

/* Four characters at once, where the CPU has SSSE3 (its byte shuffle): a
   str of two bytes a character that is not all ASCII (Arabic, Cyrillic,
   Hindi, Chinese...) is written 3-4 times as fast as one character at a
   time (in C, best of 15, over the first 1 MB of the benchmark corpus:
   4,171-4,201 against 1,102-1,105 MB/s; over its 10 MB, 2,931-2,947
   against 1,060-1,063).  Each character becomes
   a 32-bit lane holding its 1, 2 or 3 bytes, computed for every length and
   chosen by masks; the lengths of the four, 3^4 = 81 cases, pick a shuffle
   that packs the bytes together.  Runs of eight ASCII characters are
   packed at once.  The tables are made once, when the module loads
   (qtok_utf8_init). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
static unsigned char qtok_utf8_packs[81][16];   /* a shuffle for each case of lengths */
static unsigned char qtok_utf8_digits[16];      /* 4-bit mask -> its bits as base-3 digits */
static unsigned char qtok_utf8_ones[16];        /* 4-bit mask -> how many bits it has */
static int qtok_utf8_ssse3;

static void qtok_utf8_init(void) {
    int m, key, lane, b, at, rest, len;
    for (m = 0; m < 16; m++) {
        qtok_utf8_digits[m] = (unsigned char)((m & 1) + 3 * ((m >> 1) & 1) + 9 * ((m >> 2) & 1)
                                              + 27 * ((m >> 3) & 1));
        qtok_utf8_ones[m] = (unsigned char)((m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1) + ((m >> 3) & 1));
    }
    for (key = 0; key < 81; key++) {
        at = 0;
        rest = key;
        for (lane = 0; lane < 4; lane++) {
            len = 1 + rest % 3;                 /* the lane's digit: its bytes beyond one */
            rest /= 3;
            for (b = 0; b < len; b++) qtok_utf8_packs[key][at++] = (unsigned char)(4 * lane + b);
        }
        while (at < 16) qtok_utf8_packs[key][at++] = 0x80;       /* a zero byte */
    }
    __builtin_cpu_init();
    qtok_utf8_ssse3 = __builtin_cpu_supports("ssse3") ? 1 : 0;
}

/* The UTF-8 of four characters below U+10000, one in each 32-bit lane of
   c, stored at o (16 bytes written); o moved past the 4-12 that count. */
__attribute__((target("ssse3"))) static inline unsigned char*
qtok_utf8_put4(unsigned char* o, __m128i c) {
    const __m128i ge80 = _mm_cmpgt_epi32(c, _mm_set1_epi32(0x7F));
    const __m128i ge800 = _mm_cmpgt_epi32(c, _mm_set1_epi32(0x7FF));
    const __m128i low6 = _mm_and_si128(c, _mm_set1_epi32(0x3F));
    const __m128i mid6 = _mm_and_si128(_mm_srli_epi32(c, 6), _mm_set1_epi32(0x3F));
    const __m128i lead2 = _mm_or_si128(_mm_srli_epi32(c, 6), _mm_set1_epi32(0xC0));
    const __m128i lead3 = _mm_or_si128(_mm_srli_epi32(c, 12), _mm_set1_epi32(0xE0));
    __m128i b0, b1, b2, lanes, packed;
    int m80, m800;
    /* The first byte: the character itself (ASCII), or the lead of two or three. */
    b0 = _mm_or_si128(_mm_and_si128(ge80, lead2), _mm_andnot_si128(ge80, c));
    b0 = _mm_or_si128(_mm_and_si128(ge800, lead3), _mm_andnot_si128(ge800, b0));
    b1 = _mm_or_si128(_mm_set1_epi32(0x80),
                      _mm_or_si128(_mm_and_si128(ge800, mid6), _mm_andnot_si128(ge800, low6)));
    b2 = _mm_or_si128(_mm_set1_epi32(0x80), low6);
    lanes = _mm_or_si128(b0, _mm_or_si128(_mm_slli_epi32(b1, 8), _mm_slli_epi32(b2, 16)));
    m80 = _mm_movemask_ps(_mm_castsi128_ps(ge80));
    m800 = _mm_movemask_ps(_mm_castsi128_ps(ge800));
    packed = _mm_shuffle_epi8(lanes, _mm_loadu_si128(
        (const __m128i*)qtok_utf8_packs[qtok_utf8_digits[m80] + qtok_utf8_digits[m800]]));
    _mm_storeu_si128((__m128i*)o, packed);
    return o + 4 + qtok_utf8_ones[m80] + qtok_utf8_ones[m800];
}

/* qtok_utf8_write of a str of two bytes a character, eight at a time. */
__attribute__((target("ssse3"))) static size_t
qtok_utf8_write_ucs2_ssse3(const uint16_t* c, size_t n, unsigned char* out) {
    const __m128i zero = _mm_setzero_si128();
    __m128i surrogates = zero, v;
    unsigned char* o = out;
    size_t i = 0;
    uint32_t tail_surrogates = 0;
    for (; i + 8 <= n; i += 8) {
        v = _mm_loadu_si128((const __m128i*)(c + i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(v, _mm_set1_epi16((short)0xFF80)),
                                              zero)) == 0xFFFF) {
            _mm_storel_epi64((__m128i*)o, _mm_packus_epi16(v, v));
            o += 8;
            continue;
        }
        /* U+D800..U+DFFF: v - 0xD800 is below 0x800. */
        surrogates = _mm_or_si128(surrogates, _mm_cmpeq_epi16(
            _mm_and_si128(_mm_sub_epi16(v, _mm_set1_epi16((short)0xD800)),
                          _mm_set1_epi16((short)0xF800)), zero));
        o = qtok_utf8_put4(o, _mm_unpacklo_epi16(v, zero));
        o = qtok_utf8_put4(o, _mm_unpackhi_epi16(v, zero));
    }
    for (; i < n; i++) {
        tail_surrogates |= (uint32_t)(c[i] - 0xD800u) < 0x800u;
        o = qtok_utf8_put(o, c[i]);
    }
    return (tail_surrogates || _mm_movemask_epi8(surrogates)) ? (size_t)-1 : (size_t)(o - out);
}

static inline size_t qtok_utf8_write(int kind, const void* data, size_t n, unsigned char* out) {
    if (kind == 2 && qtok_utf8_ssse3)
        return qtok_utf8_write_ucs2_ssse3((const uint16_t*)data, n, out);
    return qtok_utf8_write_scalar(kind, data, n, out);
}
#else
static void qtok_utf8_init(void) {}
#define qtok_utf8_write qtok_utf8_write_scalar
#endif

#endif
