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

#endif
