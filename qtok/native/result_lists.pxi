# Result lists: ids as a Python list of int objects, without an allocation
# or (where possible) a reference count per id.
#
# Making an int per id per call (PyLong_FromLong) costs an allocation each.
# So the ints 0..n-1 are made once per process, in one list that every
# vocabulary shares (an int is the same for all) and that only grows, and
# they are made everlasting (qtok/pyint.h): putting one in a result list is
# then a pointer store, where an INCREF would write to a random place in
# megabytes of int objects for every id.  The objects are never freed, as
# CPython's own small ints.

cdef enum:
    LIST_AHEAD = 8       # how far ahead building a result list prefetches

cdef list SHARED_INTS = []


cdef list shared_ints(Py_ssize_t n):
    """The list of the shared int objects, holding at least 0..n-1."""
    cdef Py_ssize_t k, have = len(SHARED_INTS)
    cdef PyObject** items
    if have < n:
        SHARED_INTS.extend(range(have, n))
        items = list_items(SHARED_INTS)
        for k in range(have, n):
            make_everlasting(items[k])
    return SHARED_INTS


cdef enum:
    # From this many ids a result list is filled on several threads (the
    # text's threads, set_text_threads): with everlasting ints a list item is
    # a pointer store, nobody else sees the new list yet, and filling one of
    # 2.5M ids (a 10 MB text) took 5-7 ms on the calling thread alone while
    # encoding the text on 2 threads took 30.
    LIST_THREADS_MIN_IDS = 1 << 18
    LIST_MAX_THREADS = 64


cdef struct ListFill:
    PyObject** items          # the new list's item array
    PyObject** objects        # the shared int objects
    const uint32_t* ids
    size_t lo, hi             # this thread's share of the ids


cdef void list_fill(ListFill* f) noexcept nogil:
    cdef size_t i
    for i in range(f.lo, f.hi):
        if i + LIST_AHEAD < f.hi:
            prefetch(&f.objects[f.ids[i + LIST_AHEAD]])
        f.items[i] = f.objects[f.ids[i]]


cdef void* list_fill_worker(void* arg) noexcept nogil:
    list_fill(<ListFill*>arg)
    return NULL


cdef void list_fill_threads(PyObject** items, PyObject** objects, const uint32_t* ids,
                            size_t n, int n_threads) noexcept nogil:
    """items[i] = objects[ids[i]] for i < n, on n_threads threads (the
    caller's among them); a share whose thread cannot start is filled here."""
    cdef ListFill shares[LIST_MAX_THREADS]
    cdef pthread_t threads[LIST_MAX_THREADS]
    cdef bint started[LIST_MAX_THREADS]
    cdef int k
    if n_threads < 1:
        n_threads = 1
    for k in range(n_threads):
        shares[k].items = items
        shares[k].objects = objects
        shares[k].ids = ids
        shares[k].lo = n * <size_t>k // <size_t>n_threads
        shares[k].hi = n * <size_t>(k + 1) // <size_t>n_threads
    for k in range(1, n_threads):
        started[k] = pthread_create(&threads[k], NULL, list_fill_worker, &shares[k]) == 0
    list_fill(&shares[0])
    for k in range(1, n_threads):
        if started[k]:
            pthread_join(threads[k], NULL)
        else:
            list_fill(&shares[k])


cdef inline object ids_as_list(const TokenVec* v, list id_objects, int n_threads=1):
    """The ids as a list of the shared int objects: building it reads only
    the table of their addresses (fetched a few ids ahead).  A long list is
    filled on up to n_threads threads."""
    cdef object result = PyList_New(v.len)
    cdef size_t i, n = v.len
    cdef PyObject* item
    cdef PyObject** objects = list_items(id_objects)
    cdef PyObject** items
    if EVERLASTING_INTS:
        if n_threads > 1 and n >= LIST_THREADS_MIN_IDS:
            if <size_t>n_threads > n // (LIST_THREADS_MIN_IDS // 2):
                n_threads = <int>(n // (LIST_THREADS_MIN_IDS // 2))
            if n_threads > LIST_MAX_THREADS:
                n_threads = LIST_MAX_THREADS
            items = list_items(result)
            with nogil:
                list_fill_threads(items, objects, v.data, n, n_threads)
            return result
        for i in range(n):
            if i + LIST_AHEAD < n:
                prefetch(&objects[v.data[i + LIST_AHEAD]])
            list_set_item(result, i, objects[v.data[i]])
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
