/* The machine's peak single-precision FMA rate: a register-only loop of independent FMAs (no memory traffic), for
 * each instruction set the CPU has, on 1 and on N threads at once. Prints one JSON line:
 *   {"cpu": "...", "avx2": {"1": GFLOP/s, "N": GFLOP/s}, "avx512": {...}}
 * Built by bench/run.py with the system C compiler; the instruction sets are chosen per function, so one binary runs
 * on AVX2-only CPUs (the AVX-512 loop is skipped there). */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ITERATIONS 20000000L
#define CHAINS 12 /* independent accumulators: more than FMA latency × FMA ports on any current x86 core */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Twelve named accumulators (an array would live in memory), each FMA depending only on its own previous value. */
#define CHAIN_STEP(T, FMA)                                                                                         \
    a0 = FMA(a0, x, y); a1 = FMA(a1, x, y); a2 = FMA(a2, x, y); a3 = FMA(a3, x, y);                               \
    a4 = FMA(a4, x, y); a5 = FMA(a5, x, y); a6 = FMA(a6, x, y); a7 = FMA(a7, x, y);                               \
    a8 = FMA(a8, x, y); a9 = FMA(a9, x, y); a10 = FMA(a10, x, y); a11 = FMA(a11, x, y);

__attribute__((target("avx2,fma"))) static float loop_avx2(long n) {
    __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2), a3 = _mm256_set1_ps(3);
    __m256 a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5), a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7);
    __m256 a8 = _mm256_set1_ps(8), a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long it = 0; it < n; it++) {
        CHAIN_STEP(__m256, _mm256_fmadd_ps)
        __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
                         "+x"(a8), "+x"(a9), "+x"(a10), "+x"(a11));
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                        _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))));
    return out[0] + a8[0] + a9[0] + a10[0] + a11[0];
}

__attribute__((target("avx512f"))) static float loop_avx512(long n) {
    __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3);
    __m512 a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7);
    __m512 a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    for (long it = 0; it < n; it++) {
        CHAIN_STEP(__m512, _mm512_fmadd_ps)
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7),
                         "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                              _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))))
        + _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
}

struct task { int avx512; double seconds; float sink; };

static void *run(void *arg) {
    struct task *t = arg;
    double start = now();
    t->sink = t->avx512 ? loop_avx512(ITERATIONS) : loop_avx2(ITERATIONS);
    t->seconds = now() - start;
    return NULL;
}

/* GFLOP/s of `threads` copies of the loop running at once (best of 3). */
static double measure(int avx512, int threads) {
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t ids[64];
        struct task tasks[64];
        for (int i = 0; i < threads; i++) {
            tasks[i].avx512 = avx512;
            pthread_create(&ids[i], NULL, run, &tasks[i]);
        }
        double slowest = 0;
        for (int i = 0; i < threads; i++) {
            pthread_join(ids[i], NULL);
            if (tasks[i].seconds > slowest) slowest = tasks[i].seconds;
        }
        double flops = 2.0 * (avx512 ? 16 : 8) * CHAINS * (double)ITERATIONS * threads;
        if (flops / slowest / 1e9 > best) best = flops / slowest / 1e9;
    }
    return best;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    if (threads < 1 || threads > 64) threads = 1;
    char cpu[256] = "unknown", family[32] = "?", model[32] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[4096];
    int has512 = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
            snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = 0;
        }
        if (!strncmp(line, "cpu family", 10) && strchr(line, ':')) sscanf(strchr(line, ':') + 1, "%31s", family);
        if (!strncmp(line, "model\t", 6) && strchr(line, ':')) sscanf(strchr(line, ':') + 1, "%31s", model);
        if (!strncmp(line, "flags", 5)) { has512 = strstr(line, " avx512f") != NULL; break; }
    }
    if (f) fclose(f);
    printf("{\"cpu\": \"%s (family %s, model %s)\", \"avx2\": {\"1\": %.1f, \"%d\": %.1f}", cpu, family, model,
           measure(0, 1), threads, measure(0, threads));
    if (has512) printf(", \"avx512\": {\"1\": %.1f, \"%d\": %.1f}", measure(1, 1), threads, measure(1, threads));
    printf("}\n");
    return 0;
}
