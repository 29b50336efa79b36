/* qtok/utf8.h: decoding one code point of UTF-8.
 *
 * Text reaches the core from PyUnicode_AsUTF8AndSize (or an already
 * validated buffer), which is always valid UTF-8, so nothing here checks it.
 */
#ifndef QTOK_UTF8_H
#define QTOK_UTF8_H

#include <stddef.h>

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

#endif
