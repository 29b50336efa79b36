# Result lists: ids as a Python list of int objects, without an allocation
# or (where possible) a reference count per id.
#
# Making an int per id per call (PyLong_FromLong) costs an allocation each.
# So the ints 0..n-1 are made once per process, in one list that every
# vocabulary shares (an int is the same for all) and that only grows, and
# they are made everlasting (qtok/pyint.h): putting one in a result list is
# then a pointer store, where an INCREF would write to a random place in
# megabytes of int objects for every id.  The objects are never freed, as
# CPython's own small ints.  Where it can (qtok/pyint.h), the objects are
# laid out in id order in a block of qtok's own, and the object of an id is
# found by arithmetic, without reading a table of their addresses.

cdef enum:
    LIST_AHEAD = 8       # how far ahead building a result list prefetches

cdef list SHARED_INTS = []


cdef list shared_ints(Py_ssize_t n):
    """The list of the shared int objects, holding at least 0..n-1."""
    cdef Py_ssize_t k, have = len(SHARED_INTS)
    cdef PyObject** items
    if have < n:
        if INT_BLOCK:
            # Room for the new objects at once (a repeat has a length), then
            # each None replaced in place: no list in between.
            ints_make(n)
            SHARED_INTS.extend(repeat(None, n - have))
            items = list_items(SHARED_INTS)
            for k in range(have, n):
                items[k] = id_object(<uint32_t>k)
                Py_DECREF(None)
            return SHARED_INTS
        SHARED_INTS.extend(range(have, n))
        items = list_items(SHARED_INTS)
        for k in range(have, n):
            make_everlasting(items[k])
    return SHARED_INTS


cdef inline void put_id_objects(PyObject** items, const uint32_t* ids, size_t n,
                                PyObject** objects) noexcept nogil:
    """items[0..n) = the shared int objects of ids[0..n), with no INCREF
    (everlasting ints only): found by arithmetic where they lie in qtok's
    block, else read from objects, the table of their addresses (fetched a
    few ids ahead)."""
    cdef size_t i
    if INT_BLOCK:
        for i in range(n):
            items[i] = id_object(ids[i])
        return
    for i in range(n):
        if i + LIST_AHEAD < n:
            prefetch(&objects[ids[i + LIST_AHEAD]])
        items[i] = objects[ids[i]]


cdef inline object ids_as_list(const TokenVec* v, list id_objects):
    """The ids as a list of the shared int objects: with everlasting ints,
    building it is a pointer store per id (put_id_objects)."""
    cdef object result = PyList_New(v.len)
    cdef size_t i, n = v.len
    cdef PyObject* item
    cdef PyObject** objects = list_items(id_objects)
    if EVERLASTING_INTS:
        put_id_objects(list_items(result), v.data, n, objects)
        return result
    for i in range(n):
        if i + 2 * LIST_AHEAD < n:
            prefetch(&objects[v.data[i + 2 * LIST_AHEAD]])
        if i + LIST_AHEAD < n:
            prefetch(objects[v.data[i + LIST_AHEAD]])
        item = objects[v.data[i]]
        incref(item)
        list_set_item(result, i, item)
    return result
