# Declarations of qtok/include/qtok/pyint.h and qtok/pystr.h, and of the CPython
# macros the result lists, decode and batches use (borrowed references, no
# reference counting).
from cpython.object cimport PyObject
from libc.stdint cimport uint32_t

cdef extern from "qtok/pyint.h":
    bint EVERLASTING_INTS "QTOK_EVERLASTING_INTS"
    void make_everlasting "qtok_make_everlasting"(PyObject* o)
    bint small_int_value "qtok_small_int_value"(PyObject* o, long long* v)
    const void* int_tail "qtok_int_tail"(PyObject* o) nogil
    bint INT_BLOCK "QTOK_INT_BLOCK"
    int ints_make "qtok_ints_make"(Py_ssize_t n) except -1
    PyObject* id_object "qtok_id_object"(uint32_t k) nogil

cdef extern from "Python.h":
    PyObject* list_get_item "PyList_GET_ITEM"(object lst, Py_ssize_t i)
    void list_set_item "PyList_SET_ITEM"(object lst, Py_ssize_t i, PyObject* item)
    void incref "Py_INCREF"(PyObject* o)
    PyObject** list_items "PySequence_Fast_ITEMS"(object lst)
    int PyUnicode_KIND(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    bint PyUnicode_IS_ASCII(object o)

cdef extern from "qtok/pystr.h":
    int str_ready "qtok_str_ready"(object s) except -1
    bint str_has_utf8 "qtok_str_has_utf8"(object s)
