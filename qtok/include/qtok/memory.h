/* qtok/memory.h: memory for the native core's big tables.
 *
 * Two kinds: the vocabulary's tables (qtok_table_alloc, freed with free())
 * and a thread's piece caches (qtok_cache_alloc / qtok_cache_free, mapped).
 * Both are read at random places over megabytes, so both are offered to the
 * kernel as transparent huge pages when they are 2 MiB or larger.
 */
#ifndef QTOK_MEMORY_H
#define QTOK_MEMORY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Memory for the big tables (token hash, pair table, decode entries).
   Each is read at random places, a few megabytes wide: in 4 KiB pages
   nearly every read also misses the TLB, and on a virtual machine a
   page walk is two-dimensional and slow.  So tables of 2 MiB or more
   are aligned to 2 MiB and offered to the kernel as transparent huge
   pages (it may decline; nothing else changes).  Smaller ones are
   aligned to a cache line.  Freed with free(); zero: cleared.  (The
   piece caches have qtok_cache_alloc below; mapped memory is
   page-aligned, so a two-entry set of the short cache is one line.) */
static void* qtok_table_alloc(size_t n, int zero) {
    const size_t huge = (size_t)1 << 21;
    size_t align = n >= huge ? huge : 64;
    size_t whole = n >= huge ? (n + huge - 1) & ~(huge - 1) : (n ? n : 1);
    void* p = NULL;
    if (whole < n || posix_memalign(&p, align, whole) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    if (align == huge) madvise(p, whole, MADV_HUGEPAGE);
#endif
    if (zero) memset(p, 0, n);
    return p;
}
/* Memory for a thread's piece caches (~26 MB): mapped fresh, so that the
   kernel hands it out zeroed as it is first touched.  Cleared with
   memset instead, all of it would be written at the first encode of even
   one word.  Tables of 1 MiB or more are rounded up to whole 2 MiB pages,
   2 MiB-aligned and offered as huge pages, as above: a cache's pages are
   read before they are written, and each 4 KiB page would cost a fault
   at its first store (with a flush of the other threads' TLBs when the
   process runs several).  Freed with qtok_cache_free(p, n). */
#define QTOK_HUGE ((size_t)1 << 21)
/* How much is mapped for a table of n bytes: what alloc keeps and free
   gives back. */
static inline size_t qtok_cache_mapped(size_t n) {
    return n < QTOK_HUGE / 2 ? n : (n + QTOK_HUGE - 1) & ~(QTOK_HUGE - 1);
}
static void* qtok_cache_alloc(size_t n) {
    const size_t huge = QTOK_HUGE, whole = qtok_cache_mapped(n);
    size_t lead;
    unsigned char* p;
    if (whole < huge) {                   /* under 1 MiB: 4 KiB pages */
        p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    p = mmap(NULL, whole + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    /* Keep the 2 MiB-aligned part; give back what is before and after it. */
    lead = (huge - ((uintptr_t)p & (huge - 1))) & (huge - 1);
    if (lead) munmap(p, lead);
    munmap(p + lead + whole, huge - lead);
    p += lead;
#ifdef MADV_HUGEPAGE
    madvise(p, whole, MADV_HUGEPAGE);
#endif
    return p;
}
static void qtok_cache_free(void* p, size_t n) {
    if (p != NULL) munmap(p, qtok_cache_mapped(n));
}

#endif
