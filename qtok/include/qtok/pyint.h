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
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

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

/* The id objects in one block, in id order.
 *
 * A result list holds the object of each id.  Found through a table of
 * their addresses, building a list read a random place in 1.2 MB for
 * every id.  So the objects of ids 0..n-1 are laid out one every
 * QTOK_INT_STRIDE bytes (32 on 64-bit CPython 3.10-3.13: a one-digit
 * int is 28) in one block of address space reserved for
 * QTOK_INT_MAX ids, and the object of id k is at qtok_int_block + k *
 * QTOK_INT_STRIDE: no memory is read to find it.  Each is a copy of the
 * bytes of the int CPython makes for k (PyLong_FromSsize_t; the original
 * is released), made everlasting, so CPython never frees it -- nor could
 * it, since the memory is not CPython's.  Only where ints are everlasting,
 * and not in builds that link every object into a list (Py_TRACE_REFS),
 * whose copies would carry the original's links. */
#define QTOK_INT_STRIDE (sizeof(PyLongObject) <= 32 ? (size_t)32 : (size_t)64)
/* The bytes of an int of at most one digit, which every id is: its header
   and that digit (CPython allocates no more, so no more is copied). */
#if PY_VERSION_HEX >= 0x030C0000
#define QTOK_INT_BYTES (offsetof(PyLongObject, long_value.ob_digit) + sizeof(digit))
#else
#define QTOK_INT_BYTES (offsetof(PyLongObject, ob_digit) + sizeof(digit))
#endif
#define QTOK_INT_MAX ((Py_ssize_t)1 << 21)
#if QTOK_EVERLASTING_INTS && !defined(Py_TRACE_REFS)
#define QTOK_INT_BLOCK 1
#else
#define QTOK_INT_BLOCK 0
#endif

static char* qtok_int_block = NULL;
static Py_ssize_t qtok_int_count = 0;

/* Make the objects of ids 0..n-1 (n <= QTOK_INT_MAX): 0, or -1 with a
   Python error.  Needs the GIL. */
static int qtok_ints_make(Py_ssize_t n) {
#if QTOK_INT_BLOCK
    Py_ssize_t k;
    PyObject* o;
    char* at;
    if (n > QTOK_INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "qtok: too many ids for the id objects");
        return -1;
    }
    if (qtok_int_block == NULL) {
        void* p = mmap(NULL, (size_t)QTOK_INT_MAX * QTOK_INT_STRIDE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            PyErr_NoMemory();
            return -1;
        }
        qtok_int_block = (char*)p;
    }
    for (k = qtok_int_count; k < n; k++) {
        o = PyLong_FromSsize_t(k);
        if (o == NULL) return -1;
        at = qtok_int_block + (size_t)k * QTOK_INT_STRIDE;
        memcpy(at, o, QTOK_INT_BYTES);
        Py_DECREF(o);
        qtok_make_everlasting((PyObject*)at);
        qtok_int_count = k + 1;
    }
    return 0;
#else
    (void)n;
    return 0;
#endif
}

/* The object of id k, made by qtok_ints_make. */
static inline PyObject* qtok_id_object(uint32_t k) {
    return (PyObject*)(qtok_int_block + (size_t)k * QTOK_INT_STRIDE);
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
