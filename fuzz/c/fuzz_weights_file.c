/* libFuzzer target: the engine's weights-file reader, through the C ABI (scnn_model_load_weights), so it keeps
 * working whatever the reader's internals become. Each input is written to a temporary file and loaded into a
 * fixed small model; the call must return a status. Run with -malloc_limit_mb so that an allocation larger
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

static scnn_model *make_model(void) {
    scnn_model *m = NULL;
    int64_t shape[3] = {4, 4, 1};
    int32_t input, conv, flat, dense;
    if (scnn_model_create(&m) != SCNN_OK || scnn_model_add_input(m, "input", shape, 3, &input) != SCNN_OK ||
        scnn_model_add_layer(m, "Conv2D", "conv2d", "filters=2;kernel_size=3", &input, 1, &conv) != SCNN_OK ||
        scnn_model_add_layer(m, "Flatten", "flatten", "", &conv, 1, &flat) != SCNN_OK ||
        scnn_model_add_layer(m, "Dense", "dense", "units=3", &flat, 1, &dense) != SCNN_OK ||
        scnn_model_build(m, 3) != SCNN_OK) {
        fprintf(stderr, "model: %s\n", scnn_last_error());
        abort();
    }
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    model = make_model();
    const char *seed = getenv("SCNN_FUZZ_WRITE_SEED");
    if (seed) {
        if (scnn_model_save_weights(model, seed) != SCNN_OK) { fprintf(stderr, "%s\n", scnn_last_error()); exit(1); }
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
    int32_t status = scnn_model_load_weights(model, path);
    if (status != SCNN_OK && status != SCNN_E_IO && status != SCNN_E_INVALID) {
        fprintf(stderr, "unexpected status %d: %s\n", status, scnn_last_error());
        abort();
    }
    if (status != SCNN_OK && scnn_last_error()[0] == 0) abort();   /* an error must say what was wrong */
    return 0;
}
