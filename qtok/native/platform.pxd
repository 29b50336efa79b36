# Declarations of qtok/include/qtok/platform.h (bit scans, add with carry,
# atomics) and of the POSIX calls the threads use (qtok/include/qtok/threads.h).
from libc.stdint cimport uint64_t

cdef extern from "qtok/platform.h" nogil:
    int ctz64 "qtok_ctz64"(uint64_t x)
    int clz64 "qtok_clz64"(uint64_t x)
    uint64_t add_carry "qtok_add_carry"(uint64_t a, uint64_t b, int* carry)
    size_t atomic_fetch_add "qtok_fetch_add"(size_t* p, size_t v)
    void atomic_store_int "qtok_store_int"(int* p, int v)
    bint atomic_try_acquire "qtok_try_acquire"(int* flag)
    void atomic_release "qtok_release"(int* flag)
    void atomic_set "qtok_set"(int* flag)
    bint atomic_is_set "qtok_is_set"(int* flag)
    uint64_t run_make "qtok_run_make"(size_t front, size_t back)
    bint run_take_front "qtok_run_take_front"(uint64_t* run, size_t* item)
    bint run_take_back "qtok_run_take_back"(uint64_t* run, size_t* item)
    void cpu_yield "sched_yield"()
    void prefetch "__builtin_prefetch"(const void* p)
    void prefetch_early "qtok_prefetch_early"(const void* p)

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    int pthread_join(pthread_t thread, void** retval)

cdef extern from "qtok/threads.h" nogil:
    # pthread_create(thread, NULL, start, arg), the thread started on another
    # CPU than the caller's where Linux allows it (the header says why).
    int thread_create "qtok_thread_create"(pthread_t* thread, void* (*start)(void*) noexcept nogil,
                                           void* arg)
