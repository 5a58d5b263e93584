/* Uses the engine through swiftcnn.h only: builds a tiny model, trains, predicts, reads weights, and checks that
 * wrong calls return errors (never crash). Prints "C ABI checks passed" and exits 0 on success. */
#include <stdio.h>
#include <string.h>
#include "swiftcnn.h"

static int failures = 0;
#define EXPECT(cond, what) do { if (!(cond)) { printf("FAILED: %s (%s)\n", what, scnn_last_error()); failures++; } } while (0)

int main(void) {
    printf("swiftcnn %s\n", scnn_version());
    scnn_model *m = NULL;
    int32_t in, conv, flat, out;
    int64_t shape[3] = {6, 6, 1};
    EXPECT(scnn_model_create(&m) == SCNN_OK, "create");
    EXPECT(scnn_model_add_input(m, "input", shape, 3, &in) == SCNN_OK, "add_input");
    EXPECT(scnn_model_add_layer(m, "Conv2D", "conv", "filters=2;kernel_size=3;activation=relu", &in, 1, &conv) == SCNN_OK, "conv");
    EXPECT(scnn_model_add_layer(m, "Flatten", "flatten", "", &conv, 1, &flat) == SCNN_OK, "flatten");
    EXPECT(scnn_model_add_layer(m, "Dense", "dense", "units=2;activation=softmax", &flat, 1, &out) == SCNN_OK, "dense");
    EXPECT(scnn_model_build(m, 7) == SCNN_OK, "build");

    int64_t dims[8];
    int32_t ndim;
    EXPECT(scnn_model_node_shape(m, conv, dims, &ndim) == SCNN_OK && ndim == 3 && dims[0] == 4 && dims[2] == 2, "shape");
    EXPECT(scnn_model_compile(m, "sparse_categorical_crossentropy", "adam;learning_rate=0.05", "accuracy") == SCNN_OK, "compile");

    float x[8 * 36], y[8];
    for (int i = 0; i < 8; i++) {
        y[i] = (float)(i % 2);
        for (int p = 0; p < 36; p++) x[i * 36 + p] = (i % 2) ? (p < 18 ? 1.0f : 0.0f) : (p < 18 ? 0.0f : 1.0f);
    }
    double loss = 0, acc = 0, first = 0;
    for (int step = 0; step < 30; step++) {
        EXPECT(scnn_model_train_step(m, x, 8 * 36, y, 8, 8, &loss, &acc) == SCNN_OK, "train_step");
        if (step == 0) first = loss;
    }
    EXPECT(loss < first, "loss falls");
    float probs[16];
    EXPECT(scnn_model_predict(m, x, 8 * 36, 8, probs, 16) == SCNN_OK, "predict");
    EXPECT(probs[0] + probs[1] > 0.99f && probs[0] + probs[1] < 1.01f, "softmax sums to 1");
    float kernel[18];
    EXPECT(scnn_model_get_param(m, conv, 0, kernel, 18) == SCNN_OK, "get_param");

    /* Wrong calls: each returns an error status with a message. */
    EXPECT(scnn_model_add_layer(m, "Dense", "late", "units=1", &out, 1, &out) == SCNN_E_STATE, "add after build");
    EXPECT(scnn_model_train_step(m, x, 35, y, 8, 8, &loss, &acc) == SCNN_E_INVALID, "wrong x count");
    EXPECT(strstr(scnn_last_error(), "values") != NULL, "message names the counts");
    EXPECT(scnn_model_train_step(m, NULL, 0, y, 8, 8, &loss, &acc) == SCNN_E_NULL, "NULL x");
    EXPECT(scnn_model_train_step(NULL, x, 8 * 36, y, 8, 8, &loss, &acc) == SCNN_E_NULL, "NULL model");
    y[0] = 5;
    EXPECT(scnn_model_train_step(m, x, 8 * 36, y, 8, 8, &loss, &acc) == SCNN_E_INVALID, "label out of range");
    EXPECT(scnn_model_get_param(m, conv, 9, kernel, 18) == SCNN_E_INVALID, "param index");
    EXPECT(scnn_model_get_param(m, 99, 0, kernel, 18) == SCNN_E_INVALID, "node index");
    EXPECT(scnn_model_get_param(m, conv, 0, kernel, 17) == SCNN_E_INVALID, "param count");
    EXPECT(scnn_model_read_gradient(m, conv, kernel, 18) != SCNN_OK, "gradient before backward");
    scnn_model *other = NULL;
    scnn_model_create(&other);
    EXPECT(scnn_model_add_layer(other, "NoSuchLayer", "x", "", &in, 1, &out) != SCNN_OK, "layer before input");
    EXPECT(scnn_model_add_input(other, "input", shape, 3, &in) == SCNN_OK, "input 2");
    EXPECT(scnn_model_add_layer(other, "NoSuchLayer", "x", "", &in, 1, &out) == SCNN_E_KEY, "unknown type");
    EXPECT(scnn_model_compile(other, "mse", "sgd", "") == SCNN_E_STATE, "compile before build");
    EXPECT(scnn_set_num_threads(0) == SCNN_E_INVALID, "threads 0");
    EXPECT(scnn_model_free(other) == SCNN_OK, "free");
    EXPECT(scnn_model_free(other) == SCNN_E_INVALID, "double free is reported");
    EXPECT(scnn_model_free(m) == SCNN_OK, "free m");
    EXPECT(scnn_model_free(NULL) == SCNN_OK, "free NULL");

    if (failures) { printf("%d failures\n", failures); return 1; }
    printf("C ABI checks passed\n");
    return 0;
}
