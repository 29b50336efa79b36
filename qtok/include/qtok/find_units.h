/* Searching a Python str's own code units (1, 2 or 4 bytes each, as
 * PyUnicode_KIND says) for a character followed by one of a few others:
 * does a text hold the start of a special token ("<|")?
 *
 * Python's `"<|" in text` walks a str of 2- or 4-byte units one unit at a
 * time: 6 ms for a 10 MB mixed-language text, a serial step before every
 * encode, count and encode_to_numpy of text that holds a "<".  Converting
 * the text to UTF-8 first would cost as much for text the encoder never
 * sees in that form (it normalizes raw text first).  So the units are read
 * where they are: memchr for 1-byte units, 16 bytes at a time with SSE2 for
 * the wider ones, each hit of the first character checked for a second.
 */
#ifndef QTOK_FIND_UNITS_H
#define QTOK_FIND_UNITS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline uint32_t qtok_unit_at(int kind, const void* data, size_t i) {
    if (kind == 1) return ((const uint8_t*)data)[i];
    if (kind == 2) return ((const uint16_t*)data)[i];
    return ((const uint32_t*)data)[i];
}

/* Unit i holds the first character: does unit i + 1 hold one of seconds
 * (k of them; none given: the first character is enough)? */
static inline int qtok_second_follows(int kind, const void* data, size_t n, size_t i,
                                      const uint32_t* seconds, size_t k) {
    size_t j;
    uint32_t next;
    if (k == 0) return 1;
    if (i + 1 >= n) return 0;
    next = qtok_unit_at(kind, data, i + 1);
    for (j = 0; j < k; j++)
        if (seconds[j] == next) return 1;
    return 0;
}

/* Whether the n units of kind `kind` at data hold `first` followed by one
 * of the k characters in seconds (k == 0: `first` anywhere). */
static inline int qtok_holds_pair(int kind, const void* data, size_t n, uint32_t first,
                                  const uint32_t* seconds, size_t k) {
    size_t i = 0;
    if (kind == 1) {
        const uint8_t* s = (const uint8_t*)data;
        const uint8_t* p;
        if (first > 0xFF) return 0;
        while (i < n && (p = (const uint8_t*)memchr(s + i, (int)first, n - i)) != NULL) {
            i = (size_t)(p - s);
            if (qtok_second_follows(kind, data, n, i, seconds, k)) return 1;
            i++;
        }
        return 0;
    }
    if (kind == 2 && first > 0xFFFF) return 0;
#if defined(__SSE2__)
    {
        const size_t per_block = 16 / (size_t)kind;
        const __m128i want = kind == 2 ? _mm_set1_epi16((short)first) : _mm_set1_epi32((int)first);
        for (; i + per_block <= n; i += per_block) {
            __m128i block = _mm_loadu_si128((const __m128i*)((const uint8_t*)data + i * kind));
            __m128i same = kind == 2 ? _mm_cmpeq_epi16(block, want) : _mm_cmpeq_epi32(block, want);
            unsigned bits = (unsigned)_mm_movemask_epi8(same);
            while (bits) {
                /* The lowest set bit is the first byte of a matching unit. */
                size_t at = i + (size_t)__builtin_ctz(bits) / (size_t)kind;
                if (qtok_second_follows(kind, data, n, at, seconds, k)) return 1;
                bits &= ~((kind == 2 ? 0x3u : 0xFu) << ((at - i) * kind));
            }
        }
    }
#endif
    for (; i < n; i++)
        if (qtok_unit_at(kind, data, i) == first && qtok_second_follows(kind, data, n, i, seconds, k))
            return 1;
    return 0;
}

#endif
