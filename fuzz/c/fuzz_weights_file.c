/* libFuzzer target: the engine's file reader, through the C ABI (scnn_model_load_weights and scnn_model_load with
 * the optimizer state), so it keeps working whatever the reader's internals become. Each input is written to a
 * temporary file and loaded into a fixed small compiled model; every call must return a status. A custom mutator
 * rewrites the trailing CRC-32 after most mutations, so mutants get past the checksum into the parser. Run with -malloc_limit_mb so that an allocation larger
 * than the inputs allow (a length field trusted beyond the file's size) is a finding too.
 * With SCNN_FUZZ_WRITE_SEED=<path>, writes a valid weights file of the model to <path> and exits (seed corpus). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "swiftcnn.h"

static scnn_model *model;
static char path[64];

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* zlib's CRC-32 (the format's checksum). */
static uint32_t crc32(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    size = LLVMFuzzerMutate(data, size, max_size);
    if (size >= 24 && seed % 8 != 0) {   /* one in eight keeps a wrong checksum */
        uint32_t c = crc32(data, size - 4);
        for (int i = 0; i < 4; i++) data[size - 4 + i] = (uint8_t)(c >> (8 * i));
    }
    return size;
}

static scnn_model *make_model(void) {
    scnn_model *m = NULL;
    int64_t shape[3] = {4, 4, 1};
    int32_t input, conv, flat, dense;
    if (scnn_model_create(&m) != SCNN_OK || scnn_model_add_input(m, "input", shape, 3, &input) != SCNN_OK ||
        scnn_model_add_layer(m, "Conv2D", "conv2d", "filters=2;kernel_size=3", &input, 1, &conv) != SCNN_OK ||
        scnn_model_add_layer(m, "Flatten", "flatten", "", &conv, 1, &flat) != SCNN_OK ||
        scnn_model_add_layer(m, "Dense", "dense", "units=3", &flat, 1, &dense) != SCNN_OK ||
        scnn_model_build(m, 3) != SCNN_OK ||
        scnn_model_compile(m, "sparse_categorical_crossentropy", "adam", "accuracy") != SCNN_OK) {
        fprintf(stderr, "model: %s\n", scnn_last_error());
        abort();
    }
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    model = make_model();
    const char *seed = getenv("SCNN_FUZZ_WRITE_SEED");
    if (seed) {
        if (scnn_model_save(model, seed, "{\"kind\": \"model\"}", 1) != SCNN_OK) {
            fprintf(stderr, "%s\n", scnn_last_error());
            exit(1);
        }
        exit(0);
    }
    /* tmpfs when there is one: the file is rewritten for every input. */
    snprintf(path, sizeof path, "%s/scnn-fuzz-weights-%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    int64_t needed = 0;
    if (scnn_file_read_header(path, NULL, 0, &needed) == SCNN_OK || needed > 0) {
        if (needed > (int64_t)size + 1) abort();   /* a header longer than the file itself */
        char *text = malloc((size_t)needed + 1);
        scnn_file_read_header(path, text, needed, &needed);
        free(text);
    }
    int32_t restored = 0;
    int32_t statuses[2] = {scnn_model_load_weights(model, path), scnn_model_load(model, path, 1, &restored)};
    for (int i = 0; i < 2; i++) {
        if (statuses[i] != SCNN_OK && statuses[i] != SCNN_E_IO && statuses[i] != SCNN_E_INVALID) {
            fprintf(stderr, "unexpected status %d: %s\n", statuses[i], scnn_last_error());
            abort();
        }
    }
    return 0;
}
