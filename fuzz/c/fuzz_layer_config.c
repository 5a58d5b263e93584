/* libFuzzer target: the C ABI's text parsers. The first byte picks a layer type (or, with its top bit set, a
 * compile call), the next three an input shape, and the rest is the `key=value;...` configuration text (or
 * "loss\noptimizer\nmetric" for compile). Every call must return a status; a crash, trap, leak or sanitizer report
 * is a finding. After a successful build the node is inspected (shape, receptive field, FLOPs) and, when small,
 * run forward once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "swiftcnn.h"

static const char *const types[] = {
    "Conv2D", "Dense", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "Flatten", "Dropout", "Activation", "ReLU", "Softmax", "BatchNormalization", "ZeroPadding2D", "Rescaling",
    "Add", "Concatenate", "Bogus",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    char *text = malloc(size - 4 + 1);
    memcpy(text, data + 4, size - 4);
    text[size - 4] = 0;
    scnn_model *m = NULL;
    if (scnn_model_create(&m) != SCNN_OK) abort();
    int64_t shape[3] = {1 + data[1] % 12, 1 + data[2] % 12, 1 + data[3] % 4};
    int32_t input, node;
    int ndim = (data[0] & 0x40) ? 1 : 3;
    if (scnn_model_add_input(m, "input", shape, ndim, &input) != SCNN_OK) abort();
    if (data[0] & 0x80) {
        /* compile: "loss\noptimizer\nmetric" */
        int32_t dense;
        scnn_model_add_layer(m, "Dense", "dense", "units=3", &input, 1, &dense);
        scnn_model_build(m, 1);
        char *loss = text, *optimizer = strchr(loss, '\n'), *metric = NULL;
        if (optimizer) { *optimizer++ = 0; metric = strchr(optimizer, '\n'); if (metric) *metric++ = 0; }
        scnn_model_compile(m, loss, optimizer ? optimizer : "sgd", metric ? metric : "");
        double lr;
        scnn_model_get_learning_rate(m, &lr);
    } else {
        const char *type = types[(data[0] & 0x3f) % (sizeof types / sizeof *types)];
        int32_t inputs[2] = {input, input};
        int32_t n = (strcmp(type, "Add") == 0 || strcmp(type, "Concatenate") == 0) ? 2 : 1;
        if (scnn_model_add_layer(m, type, "layer", text, inputs, n, &node) == SCNN_OK &&
            scnn_model_build(m, 7) == SCNN_OK) {
            int64_t out[SCNN_MAX_DIMS];
            int32_t outdim, has;
            double field[6];
            int64_t flops = -1;
            scnn_model_node_shape(m, node, out, &outdim);
            scnn_model_receptive_field(m, node, field, &has);
            scnn_model_node_flops(m, node, &flops);
            int64_t in_count = shape[0] * (ndim == 3 ? shape[1] * shape[2] : 1), out_count = 1;
            for (int i = 0; i < outdim; i++) out_count *= out[i];
            /* Run it only when the work is small: a 583x583 kernel is legal and slow, not a finding. */
            if (out_count <= 100000 && flops >= 0 && flops <= 20000000) {
                float *x = calloc((size_t)in_count, sizeof(float)), *y = calloc((size_t)out_count, sizeof(float));
                for (int64_t i = 0; i < in_count; i++) x[i] = (float)(i % 7) - 3.0f;
                if (scnn_model_predict(m, x, in_count, 1, y, out_count) == SCNN_OK) {
                    scnn_model_forward(m, x, in_count, 1, 1);
                    scnn_model_backward_from(m, node, y, out_count);
                }
                free(x);
                free(y);
            }
        }
    }
    scnn_model_free(m);
    free(text);
    return 0;
}
