/* Counts heap allocations made while counting is on. Loaded with LD_PRELOAD in front of libc; the test program
 * switches counting on and off through alloc_counter_start / alloc_counter_stop (found with dlsym). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdatomic.h>

static atomic_long allocations;
static atomic_int counting;

void alloc_counter_start(void) { atomic_store(&allocations, 0); atomic_store(&counting, 1); }
long alloc_counter_stop(void) { atomic_store(&counting, 0); return atomic_load(&allocations); }

static void note(void) { if (atomic_load_explicit(&counting, memory_order_relaxed)) atomic_fetch_add(&allocations, 1); }

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n) { note(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { note(); return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    note();
    void *p = __libc_memalign(a, n);
    if (!p) return 12; /* ENOMEM */
    *out = p;
    return 0;
}
