/* swiftcnn.h: the C ABI of the swiftcnn engine.
 *
 * Conventions
 * - Every function returns an int32_t status: SCNN_OK (0) or one of the SCNN_E_* codes below, and writes
 *   results through out-pointers. scnn_last_error() returns the message of the calling thread's last failure.
 * - Objects are opaque handles created and freed by the library.
 * - Arrays are float32, row-major, NHWC for images, with explicit element counts; the library checks every
 *   count against the shape it expects before touching memory and never keeps a pointer past the call.
 * - Shapes of model nodes are per sample (no batch dimension), at most SCNN_MAX_DIMS dimensions.
 * - Training, evaluation and prediction run without any Python involvement: callers may release the GIL.
 *   One model is used by one call at a time (calls on the same model from two threads wait for each other).
 */
#ifndef SWIFTCNN_H
#define SWIFTCNN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SCNN_OK 0
#define SCNN_E_INVALID 1   /* an argument has a wrong value or shape   (Python ValueError)   */
#define SCNN_E_KEY 2       /* unknown name: layer type, loss, node     (Python KeyError)     */
#define SCNN_E_STATE 3     /* wrong state, e.g. training before compile (Python RuntimeError) */
#define SCNN_E_IO 4        /* file could not be read or written        (Python OSError)      */
#define SCNN_E_NULL 5      /* a required pointer was NULL              (Python ValueError)   */
#define SCNN_E_MEMORY 6    /* memory could not be allocated; the message gives the size (Python MemoryError) */

#define SCNN_MAX_DIMS 8

typedef struct scnn_model scnn_model;

/* ---- library ---- */
const char *scnn_version(void);                 /* e.g. "0.1.0"; static string */
const char *scnn_last_error(void);              /* message of this thread's last failure; "" if none */
int32_t scnn_set_num_threads(int32_t n);        /* n >= 1 */
int32_t scnn_get_num_threads(int32_t *out);
const char *scnn_instruction_set(void);         /* GEMM kernels in use: "avx512" or "avx2" (chosen from the CPU
                                                   flags at load; SWIFTCNN_ISA=avx2 forces AVX2); static string */
/* A seeded permutation of 0..n-1 (the engine's RNG; used for shuffling). */
int32_t scnn_permutation(uint64_t seed, uint64_t stream, int64_t n, int64_t *out);

/* ---- kernels ---- */
/* Row-major single-precision GEMM with the engine's kernel and threads: C[m x n] = alpha * op(A) * op(B) + beta * C,
 * op(X) = X, or X transposed when trans != 0. lda/ldb/ldc are the row strides of the arrays as stored (A is m x k,
 * or k x m when transposed; B is k x n, or n x k); each must be >= the row length it covers. beta == 0 overwrites C
 * without reading it. */
int32_t scnn_gemm(int32_t transA, int32_t transB, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* ---- data augmentation ---- */
/* Resamples `count` images (count x h x w x c floats) through one affine transform each (9 floats per image:
 * rotation theta and shear in degrees, shifts tx (rows) and ty (columns) in pixels, zooms zx and zy, flip_h, flip_v,
 * brightness factor), bilinear, composed about the image centre as Keras's ImageDataGenerator does, then multiplies
 * by `rescale`. fill_mode: 0 nearest, 1 constant (cval), 2 reflect, 3 wrap. clip255 != 0 clips brightness-scaled
 * values to 0..255. Uses the engine's threads; `out` must not overlap `in`. */
int32_t scnn_augment(const float *in, int64_t count, int64_t h, int64_t w, int64_t c, const float *transforms,
                     int32_t fill_mode, float cval, double rescale, int32_t clip255, float *out);

/* ---- building a model (a DAG of nodes) ---- */
int32_t scnn_model_create(scnn_model **out);
int32_t scnn_model_free(scnn_model *model);     /* NULL is accepted */
/* Adds an input node with a per-sample shape, e.g. {28, 28, 1}. */
int32_t scnn_model_add_input(scnn_model *model, const char *name, const int64_t *shape, int32_t ndim,
                             int32_t *node_out);
/* Adds a layer node. `type` is the Keras class name ("Conv2D", "Dense", ...); `config` is "key=value;..."
 * (see README, "Layer configuration keys"); `inputs` are node indices returned earlier. The output shape is
 * computed here, so a wrong shape fails now with a message naming the layer. */
int32_t scnn_model_add_layer(scnn_model *model, const char *type, const char *name, const char *config,
                             const int32_t *inputs, int32_t ninputs, int32_t *node_out);
/* Marks the model outputs (node indices). Call before scnn_model_build. */
int32_t scnn_model_set_outputs(scnn_model *model, const int32_t *nodes, int32_t n);
/* Allocates and initialises all parameters with the engine's RNG from `seed`. */
int32_t scnn_model_build(scnn_model *model, uint64_t seed);

/* ---- inspecting ---- */
int32_t scnn_model_node_count(scnn_model *model, int32_t *out);
int32_t scnn_model_node_shape(scnn_model *model, int32_t node, int64_t *shape_out /* SCNN_MAX_DIMS */,
                              int32_t *ndim_out);
int32_t scnn_model_param_tensor_count(scnn_model *model, int32_t node, int32_t *out);
int32_t scnn_model_param_shape(scnn_model *model, int32_t node, int32_t index, int64_t *shape_out, int32_t *ndim_out);
int32_t scnn_model_get_param(scnn_model *model, int32_t node, int32_t index, float *out, int64_t count);
/* Rejects (and leaves the model unchanged) a wrong count or any non-finite value. */
int32_t scnn_model_set_param(scnn_model *model, int32_t node, int32_t index, const float *values, int64_t count);
int32_t scnn_model_set_trainable(scnn_model *model, int32_t node, int32_t trainable);
/* Receptive field of a node in input pixels (Araujo et al. 2019): out[0..1] size (h, w), out[2..3] jump (effective
 * stride), out[4..5] start (centre of the first field). *has_field = 0 for non-spatial nodes (Flatten, Dense). */
int32_t scnn_model_receptive_field(scnn_model *model, int32_t node, double *out /* 6 */, int32_t *has_field);
/* Floating-point operations of one sample's forward pass through a node (a multiply-add counts as 2). */
int32_t scnn_model_node_flops(scnn_model *model, int32_t node, int64_t *out);

/* Weights file (format version 1, shared with Python's save_weights): atomic write; load checks version, size
 * and checksum and changes nothing on error (SCNN_E_IO for unreadable files, SCNN_E_INVALID for wrong content). */
int32_t scnn_model_save_weights(scnn_model *model, const char *path);
int32_t scnn_model_load_weights(scnn_model *model, const char *path);

/* Model file (format version 2; version 1 files are read too; layout in README, "Model file format").
 * scnn_model_save writes the parameters in node order, and with include_optimizer != 0 on a compiled model the
 * optimizer's state slots and update count, under `header_json`: the caller's JSON object (e.g. {"kind": "model",
 * "model": {...}, "compile": {...}}) to which the engine sets "arrays" and "optimizer_state". Atomic: a temporary
 * file created exclusively in the target folder (mode 0666 & ~umask), fsynced, renamed, folder fsynced; stale
 * temporaries of dead processes are removed. SCNN_E_INVALID for a header that is not a JSON object. */
int32_t scnn_model_save(scnn_model *model, const char *path, const char *header_json, int32_t include_optimizer);
/* Validates a file (regular file, magic, version, every length against the real size, checksum) without loading it,
 * and copies its header JSON text, NUL-terminated, into `out` when capacity >= *needed. *needed is always set to the
 * text's length + 1; call with out = NULL, capacity = 0 to learn it. SCNN_E_IO: cannot be opened or not a regular
 * file (directory, FIFO, device); SCNN_E_INVALID: wrong content. */
int32_t scnn_file_read_header(const char *path, char *out, int64_t capacity, int64_t *needed);
/* Loads a file into the model: every weight array's count and shape is checked against the graph (by position), the
 * checksum verified, then all weights are replaced at once; on any error nothing changes. With include_optimizer != 0
 * on a compiled model and a file holding optimizer state, the slots (their number must match the optimizer's) and
 * the update count are restored too; *optimizer_restored (may be NULL) says whether they were. */
int32_t scnn_model_load(scnn_model *model, const char *path, int32_t include_optimizer, int32_t *optimizer_restored);

/* The Keras summary table as text (lines end in '\n'), copied NUL-terminated into `out` when capacity >= *needed
 * (*needed = length + 1, always set). rows_json NULL or "": one row per layer node. Otherwise a JSON array of rows
 * {"name": str, "type": str, "nodes": [node ids whose parameters the row counts], "output": node id or [ids] whose
 * shapes it shows (default: the last of "nodes"), "connected": [str] (optional; any row having it adds the
 * "Connected to" column)}; "name"/"type" default to the layer's when "nodes" has one node. Totals count each node
 * once; frozen nodes and BatchNormalization's moving statistics are non-trainable. */
int32_t scnn_model_summary(scnn_model *model, const char *title, const char *rows_json, char *out, int64_t capacity,
                           int64_t *needed);

/* ---- training ---- */
/* loss: "categorical_crossentropy" | "sparse_categorical_crossentropy" | "binary_crossentropy" | "mse".
 * optimizer: "sgd|rmsprop|adam" followed by ";key=value" settings, e.g. "adam;learning_rate=0.001;beta_1=0.9".
 * metric: "" (none) | "accuracy" (resolved from the loss as Keras does) | "categorical_accuracy" |
 * "sparse_categorical_accuracy" | "binary_accuracy". Resets the optimizer state. */
int32_t scnn_model_compile(scnn_model *model, const char *loss, const char *optimizer, const char *metric);
int32_t scnn_model_set_learning_rate(scnn_model *model, double learning_rate);
/* Optimizer state for saving and restoring: `slots` arrays of `count` floats each (count = all parameters of the
 * model), and the number of updates applied so far. */
int32_t scnn_model_optimizer_state_info(scnn_model *model, int32_t *slots, int64_t *count, int64_t *iterations);
int32_t scnn_model_get_optimizer_state(scnn_model *model, int32_t slot, float *out, int64_t count);
int32_t scnn_model_set_optimizer_state(scnn_model *model, int32_t slot, const float *values, int64_t count,
                                       int64_t iterations);
int32_t scnn_model_get_learning_rate(scnn_model *model, double *out);
/* One step on one batch: forward, loss, backward, optimizer update, metric. x: batch x input shape floats;
 * y: batch x target shape (sparse labels: batch floats holding class indices). Writes the batch's mean loss and
 * its metric value (fraction correct). Validates x, y and labels first; on any error nothing is updated. */
/* Checks the targets of a whole data set (`samples` samples, `count` floats) against the compiled loss and the output:
 * values per sample, class indices in range, binary targets in [0, 1], finiteness. Call once before the steps so
 * a bad label fails before any batch trains; the steps check their own batch too. */
int32_t scnn_model_check_targets(scnn_model *model, const float *y, int64_t count, int64_t samples);
int32_t scnn_model_train_step(scnn_model *model, const float *x, int64_t x_count, const float *y, int64_t y_count,
                              int64_t batch, double *loss_out, double *metric_out);
/* The same without backward and update (inference mode). */
int32_t scnn_model_test_step(scnn_model *model, const float *x, int64_t x_count, const float *y, int64_t y_count,
                             int64_t batch, double *loss_out, double *metric_out);
/* Inference-mode forward of `batch` samples; writes the first output (batch x output shape floats). */
int32_t scnn_model_predict(scnn_model *model, const float *x, int64_t x_count, int64_t batch, float *out,
                           int64_t out_count);

/* Models with several inputs: `xs[i]` holds `counts[i]` floats (batch x shape of input i, in input order). */
int32_t scnn_model_train_step_multi(scnn_model *model, const float *const *xs, const int64_t *counts, int32_t n,
                                    const float *y, int64_t y_count, int64_t batch, double *loss_out, double *metric_out);
int32_t scnn_model_test_step_multi(scnn_model *model, const float *const *xs, const int64_t *counts, int32_t n,
                                   const float *y, int64_t y_count, int64_t batch, double *loss_out, double *metric_out);
int32_t scnn_model_forward_multi(scnn_model *model, const float *const *xs, const int64_t *counts, int32_t n,
                                 int64_t batch, int32_t training);

/* ---- data-parallel training: a step split where the gradients are complete ---- */
/* scnn_model_compute_gradients runs forward (training mode), loss and backward on one batch and leaves the
 * gradients of loss_scale x the batch's mean loss in the model's flat gradient buffer; nothing is updated. The
 * caller may then combine the buffer with other processes' (e.g. MPI_Allreduce in place) and call
 * scnn_model_apply_gradients, which runs the optimizer on the buffer as it is then. Equal buffers applied to equal
 * models give bit-identical models. scnn_model_train_step stays the one-call step for a single process. */
int32_t scnn_model_compute_gradients(scnn_model *model, const float *x, int64_t x_count, const float *y,
                                     int64_t y_count, int64_t batch, double loss_scale, double *loss_out,
                                     double *metric_out);
int32_t scnn_model_compute_gradients_multi(scnn_model *model, const float *const *xs, const int64_t *counts,
                                           int32_t n, const float *y, int64_t y_count, int64_t batch,
                                           double loss_scale, double *loss_out, double *metric_out);
/* Multiplies the trainable gradients by `scale` (> 0), then runs the optimizer on them. Fails (SCNN_E_STATE) unless
 * scnn_model_compute_gradients ran since the last update of this model. With loss_scale = the local batch on every
 * process, a summing allreduce, and scale = 1 / the global batch, the update is the one of the global batch's mean
 * loss (Keras's loss: the mean over the whole batch), whatever the split of the batch across processes. */
int32_t scnn_model_apply_gradients(scnn_model *model, double scale);
/* The flat gradient buffer (`count` floats, one per parameter, in parameter order), owned by the model and valid
 * until scnn_model_free; the library writes into it during compute_gradients, train_step and backward_from. */
int32_t scnn_model_gradient_buffer(scnn_model *model, float **out, int64_t *count);
/* All parameters (weights and BatchNormalization statistics) as one flat array, copied out or in (checked finite). */
int32_t scnn_model_parameter_count(scnn_model *model, int64_t *count);
int32_t scnn_model_get_parameters(scnn_model *model, float *out, int64_t count);
int32_t scnn_model_set_parameters(scnn_model *model, const float *values, int64_t count);

/* ---- looking inside: activations and gradients at any node ---- */
/* Forward pass keeping every node's activation (training != 0: dropout active). */
int32_t scnn_model_forward(scnn_model *model, const float *x, int64_t x_count, int64_t batch, int32_t training);
/* Copies a node's activation from the last scnn_model_forward (batch x node shape floats). */
int32_t scnn_model_read_activation(scnn_model *model, int32_t node, float *out, int64_t count);
/* Seeds dLoss/d(node output) with `grad` (batch x node shape) after scnn_model_forward and propagates it back to
 * the inputs; parameters are not changed. */
int32_t scnn_model_backward_from(scnn_model *model, int32_t node, const float *grad, int64_t count);
/* The same, but `grad` is with respect to the node's value before its fused activation (Conv2D/Dense with
 * activation=...; e.g. a class score before softmax, as Grad-CAM needs). For other nodes it equals backward_from. */
int32_t scnn_model_backward_from_preactivation(scnn_model *model, int32_t node, const float *grad, int64_t count);
/* Copies dLoss/d(node output) from the last scnn_model_backward_from; node 0.. includes input nodes. */
int32_t scnn_model_read_gradient(scnn_model *model, int32_t node, float *out, int64_t count);

#ifdef __cplusplus
}
#endif
#endif /* SWIFTCNN_H */
