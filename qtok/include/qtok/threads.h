/* qtok/threads.h: starting the threads of a batch, a long text or a column.
 *
 * qtok's threads live for one call: the calling thread starts the others and
 * then takes a share of the work itself.  Linux chooses the CPU a new thread
 * starts on, and once the process has been idle for some milliseconds (a
 * program that tokenizes between reads, or a server between requests) it
 * often chooses the CPU of the thread that created it, which is busy with its
 * own share.  The new thread then waits there, up to a few milliseconds,
 * until the creator blocks or the load balancer moves it: on a call of 10 ms
 * most of the second thread's share is lost (docs/design.md, "Threads").
 *
 * So a thread is created allowed on every CPU its creator may use except the
 * one the creator is on, which makes the kernel start it elsewhere, and its
 * first act is to give itself back the creator's whole set, so that the
 * scheduler may move it freely from then on.  Where this is not Linux, where
 * the creator may use a single CPU, or where any step fails, the thread is
 * created as pthread_create does by default.
 */
#ifndef QTOK_THREADS_H
#define QTOK_THREADS_H

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

typedef void* (*qtok_thread_main)(void*);

/* CPU_SET and the *_np calls come with _GNU_SOURCE, which Python.h sets. */
#if defined(__linux__) && defined(CPU_SET) && defined(CPU_COUNT)
#define QTOK_THREAD_PLACEMENT 1

typedef struct {
    qtok_thread_main main;
    void* arg;
    int creator_cpu;          /* the one CPU the thread may not start on */
    cpu_set_t allowed;        /* the creator's CPUs, given back at the start */
} qtok_thread_start;

/* Where this thread began, for the tests: the CPU it first ran on and the
   CPU its creator was on (-1 for a thread not started away). */
static __thread int qtok_thread_first_cpu = -1;
static __thread int qtok_thread_creator_cpu = -1;

static void* qtok_thread_begin(void* p) {
    qtok_thread_start start = *(qtok_thread_start*)p;
    free(p);
    qtok_thread_first_cpu = sched_getcpu();
    qtok_thread_creator_cpu = start.creator_cpu;
    /* Should this fail, the thread only keeps its narrower set until the
       call's work is done: it cannot move onto the creator's CPU. */
    (void)pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), &start.allowed);
    return start.main(start.arg);
}

/* 0 with the thread started away from the creator's CPU; -1 when it was not
   (nothing started, the caller falls back to a plain pthread_create). */
static int qtok_thread_create_away(pthread_t* thread, qtok_thread_main main, void* arg) {
    qtok_thread_start* start = (qtok_thread_start*)malloc(sizeof(qtok_thread_start));
    cpu_set_t away;
    pthread_attr_t attr;
    int cpu = sched_getcpu(), rc = -1;
    if (start == NULL)
        return -1;
    start->main = main;
    start->arg = arg;
    start->creator_cpu = cpu;
    if (cpu >= 0 && cpu < CPU_SETSIZE
            && pthread_getaffinity_np(pthread_self(), sizeof(cpu_set_t), &start->allowed) == 0
            && CPU_ISSET(cpu, &start->allowed) && CPU_COUNT(&start->allowed) > 1
            && pthread_attr_init(&attr) == 0) {
        away = start->allowed;
        CPU_CLR(cpu, &away);
        if (pthread_attr_setaffinity_np(&attr, sizeof(cpu_set_t), &away) == 0
                && pthread_create(thread, &attr, qtok_thread_begin, start) == 0)
            rc = 0;
        pthread_attr_destroy(&attr);
    }
    if (rc != 0)
        free(start);
    return rc;
}
#endif

/* Where the calling thread began, for the tests (qtok/native/test_hooks.pxi):
   the CPU it first ran on, its creator's CPU then (both -1 for a thread not
   started away), and the CPUs it may use now, as a bitmap of the first
   64 * n_words.  -1 where the system does not say (nothing is written). */
static inline int qtok_thread_whereabouts(int* first_cpu, int* creator_cpu, uint64_t* words,
                                          size_t n_words) {
#ifdef QTOK_THREAD_PLACEMENT
    cpu_set_t allowed;
    size_t c;
    if (pthread_getaffinity_np(pthread_self(), sizeof(cpu_set_t), &allowed) != 0)
        return -1;
    for (c = 0; c < n_words; c++)
        words[c] = 0;
    for (c = 0; c < 64 * n_words && c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed))
            words[c / 64] |= (uint64_t)1 << (c % 64);
    *first_cpu = qtok_thread_first_cpu;
    *creator_cpu = qtok_thread_creator_cpu;
    return 0;
#else
    (void)first_cpu; (void)creator_cpu; (void)words; (void)n_words;
    return -1;
#endif
}

/* pthread_create(thread, NULL, main, arg), started away from the calling
   thread's CPU where that can be done (above). */
static inline int qtok_thread_create(pthread_t* thread, qtok_thread_main main, void* arg) {
#ifdef QTOK_THREAD_PLACEMENT
    if (qtok_thread_create_away(thread, main, arg) == 0)
        return 0;
#endif
    return pthread_create(thread, NULL, main, arg);
}

#endif
