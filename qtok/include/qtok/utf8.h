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
   3 bytes of room), and the pointer moves by the length.  Surrogates are
   only noted on the way and refused at the end.  A run of 8 (kind 1), 4
   (kind 2) or 2 (kind 4) ASCII characters is copied at once. */
static inline size_t qtok_utf8_room(int kind, size_t n) {
    /* The widest UTF-8 of a character of this kind, and 3 bytes for the
       last character's 32-bit store. */
    return n * (kind == 1 ? 2u : kind == 2 ? 3u : 4u) + 3u;
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

static inline size_t qtok_utf8_write(int kind, const void* data, size_t n, unsigned char* out) {
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

#endif
