/* _native: the thin CPython shim over swiftcnn.h. It converts NumPy arrays to contiguous float32 pointers,
 * owns model handles, turns status codes into Python exceptions, and releases the GIL around engine work.
 * No arithmetic happens here. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include "swiftcnn.h"

/* Raises the exception matching a status code, with the engine's message. Returns NULL for convenience. */
static PyObject *raise_status(int32_t status) {
    PyObject *type;
    switch (status) {
    case SCNN_E_KEY: type = PyExc_KeyError; break;
    case SCNN_E_STATE: type = PyExc_RuntimeError; break;
    case SCNN_E_IO: type = PyExc_OSError; break;
    case SCNN_E_MEMORY: type = PyExc_MemoryError; break;
    default: type = PyExc_ValueError; break;
    }
    PyErr_SetString(type, scnn_last_error());
    return NULL;
}

#define CHECK(call) do { int32_t status_ = (call); if (status_ != SCNN_OK) return raise_status(status_); } while (0)

/* Any array-like → new reference to a C-contiguous float32 array (converted once). */
static PyArrayObject *as_float32(PyObject *obj) {
    return (PyArrayObject *)PyArray_FROM_OTF(obj, NPY_FLOAT32, NPY_ARRAY_IN_ARRAY | NPY_ARRAY_FORCECAST);
}

/* A caller-provided output array must be writable, C-contiguous float32. */
static int check_output(PyArrayObject *out) {
    if (!PyArray_Check(out) || PyArray_TYPE(out) != NPY_FLOAT32 || !PyArray_IS_C_CONTIGUOUS(out) ||
        !PyArray_ISWRITEABLE(out)) {
        PyErr_SetString(PyExc_TypeError, "output must be a writable C-contiguous float32 NumPy array");
        return 0;
    }
    return 1;
}

/* ---- Model ---- */
typedef struct {
    PyObject_HEAD
    scnn_model *model;
} ModelObject;

static void Model_dealloc(ModelObject *self) {
    if (self->model) scnn_model_free(self->model);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Model_init(ModelObject *self, PyObject *args, PyObject *kwds) {
    if (!PyArg_ParseTuple(args, "")) return -1;
    if (self->model) { scnn_model_free(self->model); self->model = NULL; }
    int32_t status = scnn_model_create(&self->model);
    if (status != SCNN_OK) { raise_status(status); return -1; }
    return 0;
}

static PyObject *Model_add_input(ModelObject *self, PyObject *args) {
    const char *name;
    PyObject *shape_obj;
    if (!PyArg_ParseTuple(args, "sO", &name, &shape_obj)) return NULL;
    PyObject *seq = PySequence_Fast(shape_obj, "shape must be a sequence of integers");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > SCNN_MAX_DIMS) { Py_DECREF(seq); PyErr_SetString(PyExc_ValueError, "shape must have 1 to 7 dimensions"); return NULL; }
    int64_t shape[SCNN_MAX_DIMS];
    for (Py_ssize_t i = 0; i < n; i++) {
        shape[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, i));
        if (shape[i] == -1 && PyErr_Occurred()) { Py_DECREF(seq); return NULL; }
    }
    Py_DECREF(seq);
    int32_t node;
    CHECK(scnn_model_add_input(self->model, name, shape, (int32_t)n, &node));
    return PyLong_FromLong(node);
}

/* Reads a list of node indices into `out` (at most `cap`); returns the count or -1 with an exception set. */
static Py_ssize_t read_nodes(PyObject *obj, int32_t *out, Py_ssize_t cap) {
    PyObject *seq = PySequence_Fast(obj, "nodes must be a sequence of integers");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > cap) { Py_DECREF(seq); PyErr_SetString(PyExc_ValueError, "too many nodes"); return -1; }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1 && PyErr_Occurred()) { Py_DECREF(seq); return -1; }
        out[i] = (int32_t)v;
    }
    Py_DECREF(seq);
    return n;
}

static PyObject *Model_add_layer(ModelObject *self, PyObject *args) {
    const char *type, *name, *config;
    PyObject *inputs_obj;
    if (!PyArg_ParseTuple(args, "sssO", &type, &name, &config, &inputs_obj)) return NULL;
    int32_t inputs[1024];
    Py_ssize_t n = read_nodes(inputs_obj, inputs, 1024);
    if (n < 0) return NULL;
    int32_t node;
    CHECK(scnn_model_add_layer(self->model, type, name, config, inputs, (int32_t)n, &node));
    return PyLong_FromLong(node);
}

static PyObject *Model_set_outputs(ModelObject *self, PyObject *args) {
    PyObject *nodes_obj;
    if (!PyArg_ParseTuple(args, "O", &nodes_obj)) return NULL;
    int32_t nodes[1024];
    Py_ssize_t n = read_nodes(nodes_obj, nodes, 1024);
    if (n < 0) return NULL;
    CHECK(scnn_model_set_outputs(self->model, nodes, (int32_t)n));
    Py_RETURN_NONE;
}

static PyObject *Model_build(ModelObject *self, PyObject *args) {
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "K", &seed)) return NULL;
    CHECK(scnn_model_build(self->model, (uint64_t)seed));
    Py_RETURN_NONE;
}

static PyObject *shape_tuple(const int64_t *shape, int32_t ndim) {
    PyObject *t = PyTuple_New(ndim);
    if (!t) return NULL;
    for (int32_t i = 0; i < ndim; i++) PyTuple_SET_ITEM(t, i, PyLong_FromLongLong(shape[i]));
    return t;
}

static PyObject *Model_node_shape(ModelObject *self, PyObject *args) {
    int node;
    if (!PyArg_ParseTuple(args, "i", &node)) return NULL;
    int64_t shape[SCNN_MAX_DIMS];
    int32_t ndim;
    CHECK(scnn_model_node_shape(self->model, node, shape, &ndim));
    return shape_tuple(shape, ndim);
}

static PyObject *Model_param_shapes(ModelObject *self, PyObject *args) {
    int node;
    if (!PyArg_ParseTuple(args, "i", &node)) return NULL;
    int32_t count;
    CHECK(scnn_model_param_tensor_count(self->model, node, &count));
    PyObject *list = PyList_New(count);
    if (!list) return NULL;
    for (int32_t i = 0; i < count; i++) {
        int64_t shape[SCNN_MAX_DIMS];
        int32_t ndim;
        int32_t status = scnn_model_param_shape(self->model, node, i, shape, &ndim);
        if (status != SCNN_OK) { Py_DECREF(list); return raise_status(status); }
        PyList_SET_ITEM(list, i, shape_tuple(shape, ndim));
    }
    return list;
}

static PyObject *Model_get_param(ModelObject *self, PyObject *args) {
    int node, index;
    PyArrayObject *out;
    if (!PyArg_ParseTuple(args, "iiO", &node, &index, &out) || !check_output(out)) return NULL;
    CHECK(scnn_model_get_param(self->model, node, index, PyArray_DATA(out), PyArray_SIZE(out)));
    Py_RETURN_NONE;
}

static PyObject *Model_set_param(ModelObject *self, PyObject *args) {
    int node, index;
    PyObject *values_obj;
    if (!PyArg_ParseTuple(args, "iiO", &node, &index, &values_obj)) return NULL;
    PyArrayObject *values = as_float32(values_obj);
    if (!values) return NULL;
    int32_t status = scnn_model_set_param(self->model, node, index, PyArray_DATA(values), PyArray_SIZE(values));
    Py_DECREF(values);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_set_trainable(ModelObject *self, PyObject *args) {
    int node, trainable;
    if (!PyArg_ParseTuple(args, "ip", &node, &trainable)) return NULL;
    CHECK(scnn_model_set_trainable(self->model, node, trainable));
    Py_RETURN_NONE;
}

static PyObject *Model_receptive_field(ModelObject *self, PyObject *args) {
    int node;
    if (!PyArg_ParseTuple(args, "i", &node)) return NULL;
    double v[6];
    int32_t has;
    CHECK(scnn_model_receptive_field(self->model, node, v, &has));
    if (!has) Py_RETURN_NONE;
    return Py_BuildValue("((ii)(ii)(dd))", (int)v[0], (int)v[1], (int)v[2], (int)v[3], v[4], v[5]);
}

static PyObject *Model_node_flops(ModelObject *self, PyObject *args) {
    int node;
    if (!PyArg_ParseTuple(args, "i", &node)) return NULL;
    int64_t flops;
    CHECK(scnn_model_node_flops(self->model, node, &flops));
    return PyLong_FromLongLong(flops);
}

static PyObject *Model_save_weights(ModelObject *self, PyObject *args) {
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path)) return NULL;
    CHECK(scnn_model_save_weights(self->model, path));
    Py_RETURN_NONE;
}

static PyObject *Model_load_weights(ModelObject *self, PyObject *args) {
    const char *path;
    if (!PyArg_ParseTuple(args, "s", &path)) return NULL;
    CHECK(scnn_model_load_weights(self->model, path));
    Py_RETURN_NONE;
}

/* save(path, header_json, include_optimizer): the engine's model file, written atomically (GIL released). */
static PyObject *Model_save(ModelObject *self, PyObject *args) {
    PyObject *path = NULL;
    const char *header;
    int include_optimizer;
    if (!PyArg_ParseTuple(args, "O&sp", PyUnicode_FSConverter, &path, &header, &include_optimizer)) return NULL;
    int32_t status;
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    status = scnn_model_save(self->model, p, header, include_optimizer);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

/* load(path, include_optimizer) -> bool (whether optimizer state was restored); all-or-nothing (GIL released). */
static PyObject *Model_load(ModelObject *self, PyObject *args) {
    PyObject *path = NULL;
    int include_optimizer;
    if (!PyArg_ParseTuple(args, "O&p", PyUnicode_FSConverter, &path, &include_optimizer)) return NULL;
    int32_t status, restored = 0;
    const char *p = PyBytes_AS_STRING(path);
    Py_BEGIN_ALLOW_THREADS
    status = scnn_model_load(self->model, p, include_optimizer, &restored);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    if (status != SCNN_OK) return raise_status(status);
    return PyBool_FromLong(restored);
}

/* summary(title, rows_json) -> str: the engine's Keras table ("" rows_json: one row per layer node). */
static PyObject *Model_summary(ModelObject *self, PyObject *args) {
    const char *title, *rows;
    if (!PyArg_ParseTuple(args, "ss", &title, &rows)) return NULL;
    int64_t needed = 0;
    CHECK(scnn_model_summary(self->model, title, rows, NULL, 0, &needed));
    char *text = PyMem_Malloc((size_t)needed);
    if (!text) return PyErr_NoMemory();
    int32_t status = scnn_model_summary(self->model, title, rows, text, needed, &needed);
    PyObject *result = status == SCNN_OK ? PyUnicode_DecodeUTF8(text, (Py_ssize_t)needed - 1, "strict") : raise_status(status);
    PyMem_Free(text);
    return result;
}

static PyObject *Model_compile(ModelObject *self, PyObject *args) {
    const char *loss, *optimizer, *metric;
    if (!PyArg_ParseTuple(args, "sss", &loss, &optimizer, &metric)) return NULL;
    CHECK(scnn_model_compile(self->model, loss, optimizer, metric));
    Py_RETURN_NONE;
}

static PyObject *Model_set_learning_rate(ModelObject *self, PyObject *args) {
    double rate;
    if (!PyArg_ParseTuple(args, "d", &rate)) return NULL;
    CHECK(scnn_model_set_learning_rate(self->model, rate));
    Py_RETURN_NONE;
}

static PyObject *Model_get_learning_rate(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    double rate;
    CHECK(scnn_model_get_learning_rate(self->model, &rate));
    return PyFloat_FromDouble(rate);
}

/* train_step / test_step: (x, y, batch) -> (loss, metric); the GIL is released while the engine works. */
static PyObject *run_step(ModelObject *self, PyObject *args, int train) {
    PyObject *x_obj, *y_obj;
    long long batch;
    if (!PyArg_ParseTuple(args, "OOL", &x_obj, &y_obj, &batch)) return NULL;
    PyArrayObject *x = as_float32(x_obj);
    if (!x) return NULL;
    PyArrayObject *y = as_float32(y_obj);
    if (!y) { Py_DECREF(x); return NULL; }
    double loss = 0, metric = 0;
    int32_t status;
    const float *xp = PyArray_DATA(x), *yp = PyArray_DATA(y);
    int64_t xn = PyArray_SIZE(x), yn = PyArray_SIZE(y);
    Py_BEGIN_ALLOW_THREADS
    status = train ? scnn_model_train_step(self->model, xp, xn, yp, yn, batch, &loss, &metric)
                   : scnn_model_test_step(self->model, xp, xn, yp, yn, batch, &loss, &metric);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    Py_DECREF(y);
    if (status != SCNN_OK) return raise_status(status);
    return Py_BuildValue("(dd)", loss, metric);
}

/* Converts a list of array-likes to float32 arrays; fills pointers and counts. Returns the count or -1. */
static Py_ssize_t convert_inputs(PyObject *list, PyArrayObject **arrays, const float **pointers, int64_t *counts,
                                 Py_ssize_t cap) {
    PyObject *seq = PySequence_Fast(list, "inputs must be a list of arrays");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > cap) { Py_DECREF(seq); PyErr_SetString(PyExc_ValueError, "between 1 and 64 input arrays expected"); return -1; }
    for (Py_ssize_t i = 0; i < n; i++) {
        arrays[i] = as_float32(PySequence_Fast_GET_ITEM(seq, i));
        if (!arrays[i]) { for (Py_ssize_t j = 0; j < i; j++) Py_DECREF(arrays[j]); Py_DECREF(seq); return -1; }
        pointers[i] = PyArray_DATA(arrays[i]);
        counts[i] = PyArray_SIZE(arrays[i]);
    }
    Py_DECREF(seq);
    return n;
}

/* train_step_multi / test_step_multi: ([x0, x1, ...], y, batch) -> (loss, metric) */
static PyObject *run_step_multi(ModelObject *self, PyObject *args, int train) {
    PyObject *xs_obj, *y_obj;
    long long batch;
    if (!PyArg_ParseTuple(args, "OOL", &xs_obj, &y_obj, &batch)) return NULL;
    PyArrayObject *arrays[64];
    const float *pointers[64];
    int64_t counts[64];
    Py_ssize_t n = convert_inputs(xs_obj, arrays, pointers, counts, 64);
    if (n < 0) return NULL;
    PyArrayObject *y = as_float32(y_obj);
    if (!y) { for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(arrays[i]); return NULL; }
    double loss = 0, metric = 0;
    int32_t status;
    const float *yp = PyArray_DATA(y);
    int64_t yn = PyArray_SIZE(y);
    Py_BEGIN_ALLOW_THREADS
    status = train ? scnn_model_train_step_multi(self->model, pointers, counts, (int32_t)n, yp, yn, batch, &loss, &metric)
                   : scnn_model_test_step_multi(self->model, pointers, counts, (int32_t)n, yp, yn, batch, &loss, &metric);
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(arrays[i]);
    Py_DECREF(y);
    if (status != SCNN_OK) return raise_status(status);
    return Py_BuildValue("(dd)", loss, metric);
}

/* compute_gradients(x, y, batch, loss_scale) -> (loss, metric); a list x goes to the multi-input entry point.
 * The GIL is released while the engine works. */
static PyObject *Model_compute_gradients(ModelObject *self, PyObject *args) {
    PyObject *x_obj, *y_obj;
    long long batch;
    double scale;
    if (!PyArg_ParseTuple(args, "OOLd", &x_obj, &y_obj, &batch, &scale)) return NULL;
    PyArrayObject *arrays[64];
    const float *pointers[64];
    int64_t counts[64];
    int multi = PyList_Check(x_obj);
    Py_ssize_t n = multi ? convert_inputs(x_obj, arrays, pointers, counts, 64) : 1;
    if (n < 0) return NULL;
    if (!multi) {
        arrays[0] = as_float32(x_obj);
        if (!arrays[0]) return NULL;
        pointers[0] = PyArray_DATA(arrays[0]);
        counts[0] = PyArray_SIZE(arrays[0]);
    }
    PyArrayObject *y = as_float32(y_obj);
    if (!y) { for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(arrays[i]); return NULL; }
    double loss = 0, metric = 0;
    int32_t status;
    const float *yp = PyArray_DATA(y);
    int64_t yn = PyArray_SIZE(y);
    Py_BEGIN_ALLOW_THREADS
    status = multi ? scnn_model_compute_gradients_multi(self->model, pointers, counts, (int32_t)n, yp, yn, batch, scale,
                                                        &loss, &metric)
                   : scnn_model_compute_gradients(self->model, pointers[0], counts[0], yp, yn, batch, scale, &loss, &metric);
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(arrays[i]);
    Py_DECREF(y);
    if (status != SCNN_OK) return raise_status(status);
    return Py_BuildValue("(dd)", loss, metric);
}

static PyObject *Model_apply_gradients(ModelObject *self, PyObject *args) {
    double scale;
    if (!PyArg_ParseTuple(args, "d", &scale)) return NULL;
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = scnn_model_apply_gradients(self->model, scale);
    Py_END_ALLOW_THREADS
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

/* The model's flat gradient buffer as a writable float32 NumPy view, no copy. The view keeps this object (and so
 * the engine model and its buffer) alive; its contents change with every compute_gradients / train_step /
 * backward_from on the model. */
static PyObject *Model_gradient_buffer(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    float *data;
    int64_t count;
    CHECK(scnn_model_gradient_buffer(self->model, &data, &count));
    npy_intp dims[1] = {(npy_intp)count};
    PyObject *view = PyArray_SimpleNewFromData(1, dims, NPY_FLOAT32, data);
    if (!view) return NULL;
    Py_INCREF(self);
    if (PyArray_SetBaseObject((PyArrayObject *)view, (PyObject *)self) < 0) { Py_DECREF(view); return NULL; }
    return view;
}

static PyObject *Model_get_parameters(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    int64_t count;
    CHECK(scnn_model_parameter_count(self->model, &count));
    npy_intp dims[1] = {(npy_intp)count};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_FLOAT32);
    if (!out) return NULL;
    int32_t status = scnn_model_get_parameters(self->model, PyArray_DATA(out), count);
    if (status != SCNN_OK) { Py_DECREF(out); return raise_status(status); }
    return (PyObject *)out;
}

static PyObject *Model_set_parameters(ModelObject *self, PyObject *args) {
    PyObject *values_obj;
    if (!PyArg_ParseTuple(args, "O", &values_obj)) return NULL;
    PyArrayObject *values = as_float32(values_obj);
    if (!values) return NULL;
    int32_t status = scnn_model_set_parameters(self->model, PyArray_DATA(values), PyArray_SIZE(values));
    Py_DECREF(values);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_train_step_multi(ModelObject *self, PyObject *args) { return run_step_multi(self, args, 1); }
static PyObject *Model_test_step_multi(ModelObject *self, PyObject *args) { return run_step_multi(self, args, 0); }

static PyObject *Model_forward_multi(ModelObject *self, PyObject *args) {
    PyObject *xs_obj;
    long long batch;
    int training;
    if (!PyArg_ParseTuple(args, "OLp", &xs_obj, &batch, &training)) return NULL;
    PyArrayObject *arrays[64];
    const float *pointers[64];
    int64_t counts[64];
    Py_ssize_t n = convert_inputs(xs_obj, arrays, pointers, counts, 64);
    if (n < 0) return NULL;
    int32_t status;
    Py_BEGIN_ALLOW_THREADS
    status = scnn_model_forward_multi(self->model, pointers, counts, (int32_t)n, batch, training);
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) Py_DECREF(arrays[i]);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_train_step(ModelObject *self, PyObject *args) { return run_step(self, args, 1); }
/* check_targets(y, samples): the engine's checks of a whole data set's targets, before any step. */
static PyObject *Model_check_targets(ModelObject *self, PyObject *args) {
    PyObject *y_obj;
    long long samples;
    if (!PyArg_ParseTuple(args, "OL", &y_obj, &samples)) return NULL;
    PyArrayObject *y = as_float32(y_obj);
    if (!y) return NULL;
    int32_t status;
    const float *yp = PyArray_DATA(y);
    int64_t yn = PyArray_SIZE(y);
    Py_BEGIN_ALLOW_THREADS
    status = scnn_model_check_targets(self->model, yp, yn, samples);
    Py_END_ALLOW_THREADS
    Py_DECREF(y);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_test_step(ModelObject *self, PyObject *args) { return run_step(self, args, 0); }

/* predict(x, batch, out): writes the first output into the caller's float32 array. */
static PyObject *Model_predict(ModelObject *self, PyObject *args) {
    PyObject *x_obj;
    long long batch;
    PyArrayObject *out;
    if (!PyArg_ParseTuple(args, "OLO", &x_obj, &batch, &out) || !check_output(out)) return NULL;
    PyArrayObject *x = as_float32(x_obj);
    if (!x) return NULL;
    int32_t status;
    const float *xp = PyArray_DATA(x);
    int64_t xn = PyArray_SIZE(x), on = PyArray_SIZE(out);
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    status = scnn_model_predict(self->model, xp, xn, batch, op, on);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_forward(ModelObject *self, PyObject *args) {
    PyObject *x_obj;
    long long batch;
    int training;
    if (!PyArg_ParseTuple(args, "OLp", &x_obj, &batch, &training)) return NULL;
    PyArrayObject *x = as_float32(x_obj);
    if (!x) return NULL;
    int32_t status;
    const float *xp = PyArray_DATA(x);
    int64_t xn = PyArray_SIZE(x);
    Py_BEGIN_ALLOW_THREADS
    status = scnn_model_forward(self->model, xp, xn, batch, training);
    Py_END_ALLOW_THREADS
    Py_DECREF(x);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_read_activation(ModelObject *self, PyObject *args) {
    int node;
    PyArrayObject *out;
    if (!PyArg_ParseTuple(args, "iO", &node, &out) || !check_output(out)) return NULL;
    CHECK(scnn_model_read_activation(self->model, node, PyArray_DATA(out), PyArray_SIZE(out)));
    Py_RETURN_NONE;
}

/* backward_from(node, grad, pre_activation) */
static PyObject *Model_backward_from(ModelObject *self, PyObject *args) {
    int node, pre;
    PyObject *g_obj;
    if (!PyArg_ParseTuple(args, "iOp", &node, &g_obj, &pre)) return NULL;
    PyArrayObject *g = as_float32(g_obj);
    if (!g) return NULL;
    int32_t status;
    const float *gp = PyArray_DATA(g);
    int64_t gn = PyArray_SIZE(g);
    Py_BEGIN_ALLOW_THREADS
    status = pre ? scnn_model_backward_from_preactivation(self->model, node, gp, gn)
                 : scnn_model_backward_from(self->model, node, gp, gn);
    Py_END_ALLOW_THREADS
    Py_DECREF(g);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyObject *Model_read_gradient(ModelObject *self, PyObject *args) {
    int node;
    PyArrayObject *out;
    if (!PyArg_ParseTuple(args, "iO", &node, &out) || !check_output(out)) return NULL;
    CHECK(scnn_model_read_gradient(self->model, node, PyArray_DATA(out), PyArray_SIZE(out)));
    Py_RETURN_NONE;
}

static PyObject *Model_optimizer_state_info(ModelObject *self, PyObject *Py_UNUSED(ignored)) {
    int32_t slots;
    int64_t count, iterations;
    CHECK(scnn_model_optimizer_state_info(self->model, &slots, &count, &iterations));
    return Py_BuildValue("(iLL)", slots, (long long)count, (long long)iterations);
}

static PyObject *Model_get_optimizer_state(ModelObject *self, PyObject *args) {
    int slot;
    PyArrayObject *out;
    if (!PyArg_ParseTuple(args, "iO", &slot, &out) || !check_output(out)) return NULL;
    CHECK(scnn_model_get_optimizer_state(self->model, slot, PyArray_DATA(out), PyArray_SIZE(out)));
    Py_RETURN_NONE;
}

static PyObject *Model_set_optimizer_state(ModelObject *self, PyObject *args) {
    int slot;
    PyObject *values_obj;
    long long iterations;
    if (!PyArg_ParseTuple(args, "iOL", &slot, &values_obj, &iterations)) return NULL;
    PyArrayObject *values = as_float32(values_obj);
    if (!values) return NULL;
    int32_t status = scnn_model_set_optimizer_state(self->model, slot, PyArray_DATA(values), PyArray_SIZE(values), iterations);
    Py_DECREF(values);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

static PyMethodDef Model_methods[] = {
    {"add_input", (PyCFunction)Model_add_input, METH_VARARGS, "add_input(name, shape) -> node"},
    {"add_layer", (PyCFunction)Model_add_layer, METH_VARARGS, "add_layer(type, name, config, inputs) -> node"},
    {"set_outputs", (PyCFunction)Model_set_outputs, METH_VARARGS, "set_outputs(nodes)"},
    {"build", (PyCFunction)Model_build, METH_VARARGS, "build(seed)"},
    {"node_shape", (PyCFunction)Model_node_shape, METH_VARARGS, "node_shape(node) -> per-sample shape"},
    {"param_shapes", (PyCFunction)Model_param_shapes, METH_VARARGS, "param_shapes(node) -> [shape, ...]"},
    {"get_param", (PyCFunction)Model_get_param, METH_VARARGS, "get_param(node, index, out)"},
    {"set_param", (PyCFunction)Model_set_param, METH_VARARGS, "set_param(node, index, values)"},
    {"set_trainable", (PyCFunction)Model_set_trainable, METH_VARARGS, "set_trainable(node, flag)"},
    {"receptive_field", (PyCFunction)Model_receptive_field, METH_VARARGS, "receptive_field(node) -> ((h,w),(jh,jw),(sh,sw)) or None"},
    {"node_flops", (PyCFunction)Model_node_flops, METH_VARARGS, "node_flops(node) -> FLOPs per sample"},
    {"save_weights", (PyCFunction)Model_save_weights, METH_VARARGS, "save_weights(path): the engine's weights file"},
    {"load_weights", (PyCFunction)Model_load_weights, METH_VARARGS, "load_weights(path)"},
    {"save", (PyCFunction)Model_save, METH_VARARGS, "save(path, header_json, include_optimizer): the engine's model file"},
    {"load", (PyCFunction)Model_load, METH_VARARGS, "load(path, include_optimizer) -> bool optimizer state restored"},
    {"summary", (PyCFunction)Model_summary, METH_VARARGS, "summary(title, rows_json) -> str (rows_json '' for one row per layer)"},
    {"compile", (PyCFunction)Model_compile, METH_VARARGS, "compile(loss, optimizer, metric)"},
    {"set_learning_rate", (PyCFunction)Model_set_learning_rate, METH_VARARGS, "set_learning_rate(rate)"},
    {"get_learning_rate", (PyCFunction)Model_get_learning_rate, METH_NOARGS, "get_learning_rate() -> float"},
    {"train_step", (PyCFunction)Model_train_step, METH_VARARGS, "train_step(x, y, batch) -> (loss, metric)"},
    {"test_step", (PyCFunction)Model_test_step, METH_VARARGS, "test_step(x, y, batch) -> (loss, metric)"},
    {"check_targets", (PyCFunction)Model_check_targets, METH_VARARGS, "check_targets(y, samples): the engine's target checks"},
    {"compute_gradients", (PyCFunction)Model_compute_gradients, METH_VARARGS, "compute_gradients(x or xs, y, batch, loss_scale) -> (loss, metric): forward, loss, backward; no update"},
    {"apply_gradients", (PyCFunction)Model_apply_gradients, METH_VARARGS, "apply_gradients(scale): the optimizer update from the gradient buffer as it is, times scale"},
    {"gradient_buffer", (PyCFunction)Model_gradient_buffer, METH_NOARGS, "gradient_buffer() -> writable float32 view of the flat gradients (no copy)"},
    {"get_parameters", (PyCFunction)Model_get_parameters, METH_NOARGS, "get_parameters() -> all parameters, one flat float32 array"},
    {"set_parameters", (PyCFunction)Model_set_parameters, METH_VARARGS, "set_parameters(values): all parameters from one flat array"},
    {"train_step_multi", (PyCFunction)Model_train_step_multi, METH_VARARGS, "train_step_multi(xs, y, batch)"},
    {"test_step_multi", (PyCFunction)Model_test_step_multi, METH_VARARGS, "test_step_multi(xs, y, batch)"},
    {"forward_multi", (PyCFunction)Model_forward_multi, METH_VARARGS, "forward_multi(xs, batch, training)"},
    {"predict", (PyCFunction)Model_predict, METH_VARARGS, "predict(x, batch, out)"},
    {"forward", (PyCFunction)Model_forward, METH_VARARGS, "forward(x, batch, training)"},
    {"read_activation", (PyCFunction)Model_read_activation, METH_VARARGS, "read_activation(node, out)"},
    {"backward_from", (PyCFunction)Model_backward_from, METH_VARARGS, "backward_from(node, grad, pre_activation)"},
    {"read_gradient", (PyCFunction)Model_read_gradient, METH_VARARGS, "read_gradient(node, out)"},
    {"optimizer_state_info", (PyCFunction)Model_optimizer_state_info, METH_NOARGS, "-> (slots, count, iterations)"},
    {"get_optimizer_state", (PyCFunction)Model_get_optimizer_state, METH_VARARGS, "get_optimizer_state(slot, out)"},
    {"set_optimizer_state", (PyCFunction)Model_set_optimizer_state, METH_VARARGS, "set_optimizer_state(slot, values, iterations)"},
    {NULL}
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftcnn._native.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A handle to an engine model (a graph of layers with its weights and training state).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Model_init,
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_methods = Model_methods,
};

/* ---- module functions ---- */
static PyObject *native_version(PyObject *m, PyObject *Py_UNUSED(ignored)) { return PyUnicode_FromString(scnn_version()); }

static PyObject *native_set_num_threads(PyObject *m, PyObject *args) {
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    CHECK(scnn_set_num_threads(n));
    Py_RETURN_NONE;
}

static PyObject *native_get_num_threads(PyObject *m, PyObject *Py_UNUSED(ignored)) {
    int32_t n;
    CHECK(scnn_get_num_threads(&n));
    return PyLong_FromLong(n);
}

static PyObject *native_instruction_set(PyObject *m, PyObject *Py_UNUSED(ignored)) {
    return PyUnicode_FromString(scnn_instruction_set());
}

static PyObject *native_permutation(PyObject *m, PyObject *args) {
    unsigned long long seed, stream;
    long long n;
    if (!PyArg_ParseTuple(args, "KKL", &seed, &stream, &n)) return NULL;
    if (n < 0) { PyErr_SetString(PyExc_ValueError, "permutation length must be >= 0"); return NULL; }
    npy_intp dims[1] = {(npy_intp)n};
    PyArrayObject *out = (PyArrayObject *)PyArray_SimpleNew(1, dims, NPY_INT64);
    if (!out) return NULL;
    int32_t status = scnn_permutation(seed, stream, n, PyArray_DATA(out));
    if (status != SCNN_OK) { Py_DECREF(out); return raise_status(status); }
    return (PyObject *)out;
}

/* augment(x (n,h,w,c), transforms (n,9), fill_mode, cval, rescale, clip255, out (n,h,w,c) float32) */
static PyObject *native_augment(PyObject *m, PyObject *args) {
    PyObject *x_obj, *t_obj;
    int fill, clip;
    float cval;
    double rescale;
    PyArrayObject *out;
    if (!PyArg_ParseTuple(args, "OOifdpO", &x_obj, &t_obj, &fill, &cval, &rescale, &clip, &out) || !check_output(out)) return NULL;
    PyArrayObject *x = as_float32(x_obj);
    if (!x) return NULL;
    PyArrayObject *t = as_float32(t_obj);
    if (!t) { Py_DECREF(x); return NULL; }
    if (PyArray_NDIM(x) != 4 || PyArray_NDIM(out) != 4 || PyArray_SIZE(out) != PyArray_SIZE(x) ||
        PyArray_SIZE(t) != 9 * PyArray_DIM(x, 0)) {
        Py_DECREF(x); Py_DECREF(t);
        PyErr_SetString(PyExc_ValueError, "augment: x and out must be (n, h, w, c) of one size and transforms (n, 9)");
        return NULL;
    }
    npy_intp *d = PyArray_DIMS(x);
    int32_t status;
    const float *xp = PyArray_DATA(x), *tp = PyArray_DATA(t);
    float *op = PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    status = scnn_augment(xp, d[0], d[1], d[2], d[3], tp, fill, cval, rescale, clip, op);
    Py_END_ALLOW_THREADS
    Py_DECREF(x); Py_DECREF(t);
    if (status != SCNN_OK) return raise_status(status);
    Py_RETURN_NONE;
}

/* matmul(a, b) -> a @ b with the engine's GEMM; private, for tests and the GEMM benchmark. Takes only 2-D
 * C-contiguous float32 arrays, so what is timed is the kernel and not a conversion. */
static PyObject *native_matmul(PyObject *m, PyObject *args) {
    PyArrayObject *a, *b;
    if (!PyArg_ParseTuple(args, "O!O!", &PyArray_Type, &a, &PyArray_Type, &b)) return NULL;
    if (PyArray_TYPE(a) != NPY_FLOAT32 || PyArray_TYPE(b) != NPY_FLOAT32 || PyArray_NDIM(a) != 2 ||
        PyArray_NDIM(b) != 2 || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_IS_C_CONTIGUOUS(b)) {
        PyErr_SetString(PyExc_ValueError, "matmul: a and b must be 2-D C-contiguous float32 arrays");
        return NULL;
    }
    npy_intp rows = PyArray_DIM(a, 0), inner = PyArray_DIM(a, 1), cols = PyArray_DIM(b, 1);
    if (PyArray_DIM(b, 0) != inner) {
        PyErr_Format(PyExc_ValueError, "matmul: shapes (%zd, %zd) and (%zd, %zd) do not match",
                     (Py_ssize_t)rows, (Py_ssize_t)inner, (Py_ssize_t)PyArray_DIM(b, 0), (Py_ssize_t)cols);
        return NULL;
    }
    npy_intp dims[2] = {rows, cols};
    PyArrayObject *c = (PyArrayObject *)PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    if (!c) return NULL;
    int32_t status;
    const float *ap = PyArray_DATA(a), *bp = PyArray_DATA(b);
    float *cp = PyArray_DATA(c);
    Py_BEGIN_ALLOW_THREADS
    status = scnn_gemm(0, 0, rows, cols, inner, 1.0f, ap, inner, bp, cols, 0.0f, cp, cols);
    Py_END_ALLOW_THREADS
    if (status != SCNN_OK) { Py_DECREF(c); return raise_status(status); }
    return (PyObject *)c;
}

/* read_file_header(path) -> str: validates a swiftcnn file (regular file, lengths, checksum) and returns its header
 * JSON text without loading anything (GIL released). */
static PyObject *native_read_file_header(PyObject *m, PyObject *args) {
    PyObject *path = NULL;
    if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path)) return NULL;
    const char *p = PyBytes_AS_STRING(path);
    int64_t needed = 0;
    int32_t status;
    char small[4096];
    Py_BEGIN_ALLOW_THREADS
    status = scnn_file_read_header(p, small, sizeof small, &needed);
    Py_END_ALLOW_THREADS
    if (status != SCNN_OK) { Py_DECREF(path); return raise_status(status); }
    if (needed <= (int64_t)sizeof small) { Py_DECREF(path); return PyUnicode_DecodeUTF8(small, (Py_ssize_t)needed - 1, "strict"); }
    char *text = PyMem_Malloc((size_t)needed);
    if (!text) { Py_DECREF(path); return PyErr_NoMemory(); }
    int64_t capacity = needed;
    Py_BEGIN_ALLOW_THREADS
    status = scnn_file_read_header(p, text, capacity, &needed);
    Py_END_ALLOW_THREADS
    Py_DECREF(path);
    PyObject *result;
    if (status != SCNN_OK) result = raise_status(status);
    else if (needed > capacity) { PyErr_SetString(PyExc_OSError, "the file changed while its header was read"); result = NULL; }
    else result = PyUnicode_DecodeUTF8(text, (Py_ssize_t)needed - 1, "strict");
    PyMem_Free(text);
    return result;
}

static PyMethodDef module_methods[] = {
    {"augment", native_augment, METH_VARARGS, "Resamples a batch of images through affine transforms."},
    {"read_file_header", native_read_file_header, METH_VARARGS, "read_file_header(path) -> header JSON text (validated, nothing loaded)"},
    {"version", native_version, METH_NOARGS, "The engine version."},
    {"set_num_threads", native_set_num_threads, METH_VARARGS, "Sets the engine's thread count."},
    {"get_num_threads", native_get_num_threads, METH_NOARGS, "The engine's thread count."},
    {"instruction_set", native_instruction_set, METH_NOARGS, "The GEMM kernels in use: 'avx512' or 'avx2'."},
    {"permutation", native_permutation, METH_VARARGS, "permutation(seed, stream, n) -> int64 array"},
    {"matmul", native_matmul, METH_VARARGS, "matmul(a, b) -> a @ b for 2-D float32 arrays (engine GEMM)"},
    {NULL}
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_native", "The swiftcnn engine (C ABI shim).", -1, module_methods};

PyMODINIT_FUNC PyInit__native(void) {
    import_array();
    if (PyType_Ready(&ModelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "Model", (PyObject *)&ModelType) < 0) { Py_DECREF(&ModelType); Py_DECREF(m); return NULL; }
    return m;
}
