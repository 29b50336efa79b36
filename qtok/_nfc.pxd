# What qtok._nfc shares at the C level: the native core checks the texts of a
# batch for NFC on its own threads, without the GIL (native/batch.pxi).
cdef bint is_nfc_data(int kind, void* data, Py_ssize_t n, bint skip) noexcept nogil
