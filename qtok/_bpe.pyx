# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""qtok's native core: Qwen pre-tokenization and byte-level BPE.

One extension module, assembled from the files of qtok/native/ in the order
text flows through them, so that the C compiler sees one translation unit
and inlines across all of them.  Each file holds one concern:

  the engine (no Python objects, runs without the GIL)
    classes.pxi         code point classes: letter, number, whitespace
    scanner.pxi         piece_end: where the next piece of the Qwen pattern ends
    bulk_scanner.pxi    the same cuts for up to 1024 bytes at once (SSE2 bitmaps)
    hashes.pxi          the hash functions every table is keyed by
    tables.pxi          token hash, pair table and their Bloom filters
    token_vec.pxi       the growable array of ids
    merge_small.pxi     BPE on one piece of up to 64 bytes: tiktoken's rule
    merge_heap.pxi      ... up to 4 KiB: a linked list and a binary heap
    merge_huge.pxi      ... longer: a bucket queue over ranks, O(1) per join
    merge_run.pxi       ... a run of one repeated character: run-length replay
    merge_periodic.pxi  ... a long piece that repeats a few bytes: one stretch, copied
    merge_any.pxi       which of the five a piece goes to
    piece_cache.pxi     the short and big caches of pieces seen before
    encode.pxi          the encode driver: UTF-8 in, ids out
    cache_pool.pxi      one piece cache per thread encoding at once
    batch.pxi           the thread pool for batches
    build_tables.pxi    building the tables from a vocabulary
    parse_tiktoken.pxi  reading a tiktoken file
    table_file.pxi      the compiled-table file
    decode.pxi          ids to bytes
  the binding (Python objects in and out)
    result_lists.pxi    id lists of shared, everlasting int objects
    core_bpe.pxi        CoreBPE, the class qtok.Encoding wraps
    test_hooks.pxi      windows into the engine for the tests

The structs the engine works on are declared in _bpe.pxd; the C helpers
(memory, atomics, SSE2, CPython int internals) are real headers in
qtok/include/qtok/, declared for Cython in qtok/native/*.pxd.
docs/design.md explains the design and what was measured.

Input text reaches the core as UTF-8 from PyUnicode_AsUTF8AndSize, which is
always valid UTF-8, so the engine does not re-validate it.
"""

from cpython.object cimport PyObject
from cpython.list cimport PyList_New
from cpython.ref cimport Py_DECREF
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.unicode cimport (PyUnicode_AsUTF8, PyUnicode_AsUTF8AndSize, PyUnicode_DecodeUTF8,
                              PyUnicode_KIND, PyUnicode_DATA, PyUnicode_GET_LENGTH, PyUnicode_CheckExact)
from cpython.long cimport PyLong_CheckExact, PyLong_AsLongLongAndOverflow
from libc.stdint cimport int8_t, int32_t, uint8_t, uint16_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, calloc, realloc, free
from libc.string cimport memcpy, memcmp, memmove, memset
from libc.stdio cimport FILE, fdopen, fread, fclose

from qtok.native.platform cimport (ctz64, clz64, add_carry, atomic_fetch_add, atomic_store_int,
                                   atomic_try_acquire, atomic_release, atomic_set, atomic_is_set,
                                   cpu_yield, prefetch, prefetch_early, pthread_t, thread_create, pthread_join,
                                   run_make, run_take_front, run_take_back)
from qtok.native.build_id cimport BUILD_ID
from qtok.native.memory cimport table_alloc, cache_alloc, cache_free
from qtok.native.utf8 cimport next_cp, utf8_init, utf8_room, utf8_write
from qtok.native.find_units cimport holds_pair
from qtok.native.classify cimport (Block, classify64, classify64_sse2, classify64_avx2,
                                   classify64_bytes, classify_init, classify_has_avx2)
from qtok.native.pyint cimport (EVERLASTING_INTS, make_everlasting, small_int_value, int_tail,
                                INT_BLOCK, ints_make, id_object, list_get_item, list_set_item, incref, list_items,
                                PyUnicode_KIND, PyUnicode_DATA, PyUnicode_GET_LENGTH,
                                PyUnicode_IS_ASCII, str_ready, str_has_utf8)
from qtok.native.unicode_classes cimport (QTOK_LETTER_RANGES, QTOK_NUMBER_RANGES,
                                          QTOK_SPACE_RANGES, QTOK_LETTER_RANGES_COUNT,
                                          QTOK_NUMBER_RANGES_COUNT, QTOK_SPACE_RANGES_COUNT)
from qtok._nfc cimport is_nfc_data, nfc_slice_own_end, nfc_after_check
from qtok._nfc import to_nfc as _to_nfc
from qtok.native.arrow_c cimport (ArrowSchema, ArrowArray, ArrowArrayStream, release_schema,
                                  release_array, release_stream, stream_schema, stream_next,
                                  stream_error)
from cpython.buffer cimport PyBUF_FORMAT

import os
from itertools import repeat
from operator import index as operator_index

from qtok.errors import invalid_token

# The engine, in the order text flows through it.
include "native/classes.pxi"
include "native/scanner.pxi"
include "native/bulk_scanner.pxi"
include "native/hashes.pxi"
include "native/tables.pxi"
include "native/token_vec.pxi"
include "native/merge_small.pxi"
include "native/merge_heap.pxi"
include "native/merge_huge.pxi"
include "native/merge_run.pxi"
include "native/merge_periodic.pxi"
include "native/merge_any.pxi"
include "native/piece_cache.pxi"
include "native/encode.pxi"
include "native/cache_pool.pxi"
include "native/batch.pxi"
include "native/long_text.pxi"
include "native/arrow_rows.pxi"
include "native/arrow_job.pxi"
include "native/build_tables.pxi"
include "native/parse_tiktoken.pxi"
include "native/table_file.pxi"
include "native/decode.pxi"

# The binding.
include "native/result_lists.pxi"
include "native/core_bpe.pxi"
include "native/test_hooks.pxi"
