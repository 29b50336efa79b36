# What qtok._nfc shares at the C level: the native core checks the texts of a
# batch for NFC on its own threads, without the GIL (native/batch.pxi).
cdef bint is_nfc_data(int kind, void* data, Py_ssize_t n, bint skip) noexcept nogil
# And a long text split on threads is checked in slices, one per thread
# (native/long_text.pxi); where a slice is not its own NFC, the calling
# thread normalizes the text from there.
cdef Py_ssize_t nfc_slice_own_end(int kind, const void* data, Py_ssize_t start,
                                  Py_ssize_t end, Py_ssize_t n) noexcept nogil
cdef str nfc_after_check(str text, Py_ssize_t fail)
