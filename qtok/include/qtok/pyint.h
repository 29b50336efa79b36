/* qtok/pyint.h: CPython int objects, as the result lists and decode use them.
 *
 * Everlasting ints: a reference count no program can bring to zero, so
 * result lists may hold the shared id objects without a Py_INCREF (see
 * native/result_lists.pxi).  CPython 3.12+ has immortal objects for this: a
 * count whose low 32 bits read as a negative int32, which Py_DECREF leaves
 * alone (3.12's Py_INCREF still counts it up, to 2**32 - 1 at most).  Before
 * 3.12 the count is 2**60: every list that held one without an INCREF takes
 * one off when it is freed, and 2**60 of those would take a machine decades.
 * Free-threaded and 32-bit builds keep the INCREF.
 *
 * Reading an int in place: the value of a one-digit int without a call,
 * through the layout of each CPython version.
 */
#ifndef QTOK_PYINT_H
#define QTOK_PYINT_H

#include <Python.h>

#if SIZEOF_VOID_P == 8 && !defined(Py_GIL_DISABLED)
#define QTOK_EVERLASTING_INTS 1
#if PY_VERSION_HEX >= 0x030C0000
#define QTOK_EVERLASTING_COUNT ((Py_ssize_t)3 << 30)
#else
#define QTOK_EVERLASTING_COUNT ((Py_ssize_t)1 << 60)
#endif
#else
#define QTOK_EVERLASTING_INTS 0
#define QTOK_EVERLASTING_COUNT 0
#endif

static inline void qtok_make_everlasting(PyObject* o) {
#if QTOK_EVERLASTING_INTS
    Py_SET_REFCNT(o, QTOK_EVERLASTING_COUNT);
#else
    (void)o;
#endif
}

/* The last byte of an int object of one digit: a 32-byte block may
   straddle two cache lines, and the digit then lies in the second
   (decode prefetches both). */
#define qtok_int_tail(o) ((const char*)(o) + sizeof(PyLongObject) - 1)

/* The value of an exact int that fits one internal digit (every token
   id does), read in place; 0 for anything else, which the caller then
   converts the general way. */
static inline int qtok_small_int_value(PyObject* o, long long* v) {
#if PY_VERSION_HEX >= 0x030C0000
    if (!_PyLong_IsCompact((PyLongObject*)o)) return 0;
    *v = (long long)_PyLong_CompactValue((PyLongObject*)o);
    return 1;
#else
    Py_ssize_t size = Py_SIZE(o);
    if (size != 0 && size != 1) return 0;
    *v = size ? (long long)((PyLongObject*)o)->ob_digit[0] : 0;
    return 1;
#endif
}

#endif
