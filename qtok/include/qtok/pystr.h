/* qtok/pystr.h: reading a str's characters without the GIL.
 *
 * A batch's threads check each text for NFC on its characters as CPython
 * stores them (PyUnicode_KIND and PyUnicode_DATA).  On 3.10 and 3.11 a str
 * made through the legacy wchar_t API may not have them yet until it is
 * "readied"; from 3.12 on every str has them, and PyUnicode_READY is gone
 * or does nothing.
 */
#ifndef QTOK_PYSTR_H
#define QTOK_PYSTR_H

#include <Python.h>

/* 0, or -1 with a Python error set (out of memory). */
static inline int qtok_str_ready(PyObject* s) {
#if PY_VERSION_HEX < 0x030C0000
    return PyUnicode_READY(s);
#else
    (void)s;
    return 0;
#endif
}

/* Whether CPython already holds the UTF-8 of s (an ASCII str is its own;
   another keeps it once PyUnicode_AsUTF8AndSize has been asked for it), so
   that asking for it costs nothing.  A long text whose UTF-8 is not there
   yet is written part by part by its threads (qtok_utf8_write) instead.
   Reads the str's utf8 field, part of the compact layout declared in
   CPython's headers since 3.3; with the GIL held, as every caller is.
   Without a GIL another thread may be filling that field in, so there
   every str is taken to have it: its UTF-8 comes from CPython, as before
   the threads wrote it. */
static inline int qtok_str_has_utf8(PyObject* s) {
#ifdef Py_GIL_DISABLED
    (void)s;
    return 1;
#else
    if (PyUnicode_IS_COMPACT_ASCII(s)) return 1;
    return ((PyCompactUnicodeObject*)s)->utf8 != NULL;
#endif
}

#endif
