/* Trains the textbook MNIST convnet for a few steps through the C ABI and reports how many heap allocations the
 * steady-state steps made (run under LD_PRELOAD=alloc_counter.so). Prints "allocations: N" and exits 0 when
 * N == 0, 1 otherwise, 2 on an API error or when the counter does not work. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include "swiftcnn.h"

#define CHECK(call) do { if ((call) != SCNN_OK) { fprintf(stderr, "%s: %s\n", #call, scnn_last_error()); return 2; } } while (0)

int main(void) {
    void (*start)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "alloc_counter_start");
    long (*stop)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "alloc_counter_stop");
    if (!start || !stop) { fprintf(stderr, "run with LD_PRELOAD=alloc_counter.so\n"); return 2; }

    scnn_model *m;
    int32_t node, prev;
    int64_t shape[3] = {28, 28, 1};
    CHECK(scnn_model_create(&m));
    CHECK(scnn_model_add_input(m, "input", shape, 3, &node));
    const char *types[] = {"Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dropout", "Dense"};
    const char *configs[] = {"filters=32;kernel_size=3;activation=relu", "", "filters=64;kernel_size=3;activation=relu", "",
                             "filters=64;kernel_size=3;activation=relu", "", "units=64;activation=relu", "rate=0.5",
                             "units=10;activation=softmax"};
    for (int i = 0; i < 9; i++) {
        char name[16];
        snprintf(name, sizeof name, "layer%d", i);
        prev = node;
        CHECK(scnn_model_add_layer(m, types[i], name, configs[i], &prev, 1, &node));
    }
    CHECK(scnn_model_build(m, 1));
    /* Compiling allocates the optimizer state: proves the counter sees the engine's allocations. */
    start();
    CHECK(scnn_model_compile(m, "sparse_categorical_crossentropy", "adam", "accuracy"));
    long compile_allocations = stop();
    if (compile_allocations == 0) { fprintf(stderr, "the allocation counter saw nothing\n"); return 2; }

    enum { B = 32 };
    float *x = malloc(sizeof(float) * B * 784), y[B];
    for (int i = 0; i < B * 784; i++) x[i] = (float)((i * 7919) % 256) / 255.0f;
    for (int i = 0; i < B; i++) y[i] = (float)(i % 10);
    double loss, acc;
    for (int i = 0; i < 3; i++) CHECK(scnn_model_train_step(m, x, B * 784, y, B, B, &loss, &acc));
    start();
    for (int i = 0; i < 5; i++) scnn_model_train_step(m, x, B * 784, y, B, B, &loss, &acc);
    long n = stop();
    printf("allocations: %ld (loss %.4f)\n", n, loss);
    scnn_model_free(m);
    free(x);
    return n == 0 ? 0 : 1;
}
