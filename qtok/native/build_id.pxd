# Declaration of qtok/include/qtok/build_id.h, which setup.py writes: a digest
# of the native core's sources, carried by every compiled-table file.

cdef extern from "qtok/build_id.h":
    const char* BUILD_ID "QTOK_BUILD_ID"
