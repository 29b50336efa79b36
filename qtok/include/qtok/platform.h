/* qtok/platform.h: what the native core asks of the compiler and the CPU.
 *
 * The core is built with GCC or Clang on a POSIX system with a little-endian
 * CPU: it reads text eight bytes at a time as little-endian words, uses the
 * compilers' __builtin and __atomic functions, and runs batches on pthreads.
 * Anything else stops the build here with a message saying so.
 */
#ifndef QTOK_PLATFORM_H
#define QTOK_PLATFORM_H

#include <stddef.h>

#if !defined(__GNUC__)
#error "qtok's native core needs GCC or Clang (it uses their __builtin and __atomic functions)"
#endif
#if defined(_WIN32)
#error "qtok's native core needs a POSIX system (pthreads, mmap); Windows is not supported"
#endif
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "qtok's native core assumes a little-endian CPU"
#endif

#include <sched.h>
#include <stdint.h>

/* Bit scans of a nonzero 64-bit word. */
static inline int qtok_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
static inline int qtok_clz64(unsigned long long x) { return __builtin_clzll(x); }

/* a + b + carry_in, and whether it carried out (the bulk scanner's runs
   that cross a 64-bit word). */
static inline unsigned long long qtok_add_carry(unsigned long long a, unsigned long long b,
                                                int* carry) {
    unsigned long long s1, s2;
    int c1 = __builtin_add_overflow(a, b, &s1);
    int c2 = __builtin_add_overflow(s1, (unsigned long long)*carry, &s2);
    *carry = c1 | c2;
    return s2;
}

/* The few atomic operations the thread pool and the piece caches need. */
static inline size_t qtok_fetch_add(size_t* p, size_t v) {
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline void qtok_store_int(int* p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
static inline int qtok_try_acquire(int* flag) {
    int expected = 0;
    return __atomic_compare_exchange_n(flag, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}
static inline void qtok_release(int* flag) { __atomic_store_n(flag, 0, __ATOMIC_RELEASE); }
static inline void qtok_set(int* flag) { __atomic_store_n(flag, 1, __ATOMIC_RELEASE); }
static inline int qtok_is_set(int* flag) { return __atomic_load_n(flag, __ATOMIC_ACQUIRE); }

/* A run of work items [front, back) in one 64-bit word (front in the low
   half, back in the high half): its owner takes items from the front, other
   threads take them from the back, each with a compare-and-swap, so the
   owner keeps the items it has always had and a helper takes those its owner
   would have come to last.  1 and the item's index when one was taken. */
static inline uint64_t qtok_run_make(size_t front, size_t back) {
    return (uint64_t)front | ((uint64_t)back << 32);
}
static inline int qtok_run_take_front(uint64_t* run, size_t* item) {
    uint64_t w = __atomic_load_n(run, __ATOMIC_RELAXED);
    while ((uint32_t)w < (uint32_t)(w >> 32)) {
        if (__atomic_compare_exchange_n(run, &w, w + 1, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
            *item = (uint32_t)w;
            return 1;
        }
    }
    return 0;
}
static inline int qtok_run_take_back(uint64_t* run, size_t* item) {
    uint64_t w = __atomic_load_n(run, __ATOMIC_RELAXED);
    while ((uint32_t)w < (uint32_t)(w >> 32)) {
        if (__atomic_compare_exchange_n(run, &w, w - ((uint64_t)1 << 32), 1, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
            *item = (uint32_t)(w >> 32) - 1;
            return 1;
        }
    }
    return 0;
}

/* A prefetch the compiler keeps.  GCC drops __builtin_prefetch of an address
   that the same function goes on to load (it counts the load as the
   prefetch), which defeats a prefetch issued early so that several misses
   overlap; an asm statement it may not remove or move. */
static inline void qtok_prefetch_early(const void* p) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __asm__ volatile("prefetcht0 %0" : : "m"(*(const char*)p));
#else
    __builtin_prefetch(p);
#endif
}

#endif
