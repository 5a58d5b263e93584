"""Regenerates the tf.keras 2.x fixtures (run once in an environment with TensorFlow and tf_keras, e.g.
`python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu tf_keras`; the files are committed and
the tests only read them): tf_keras2_sequential.h5 and tf_keras2_functional.h5 (`model.save(...h5)` of tf.keras 2,
compiled and trained for one epoch), and tf_keras2_predictions.npz (the inputs and tf.keras's predictions)."""
import os

import numpy as np
import tf_keras as keras

HERE = os.path.dirname(os.path.abspath(__file__))
keras.utils.set_random_seed(11)
rng = np.random.default_rng(0)
x = rng.uniform(size=(6, 8, 8, 1)).astype("float32")
y = np.arange(6) % 3
L = keras.layers

sequential = keras.Sequential([
    L.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), L.BatchNormalization(), L.MaxPooling2D(),
    L.Dropout(0.2), L.Flatten(), L.Dense(3, activation="softmax")], name="tf2_sequential")
sequential.compile(keras.optimizers.Adam(learning_rate=0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])

inputs = keras.Input((8, 8, 1))
a = L.Conv2D(4, 3, padding="same", activation="relu")(inputs)
b = L.Conv2D(4, 1)(L.BatchNormalization()(a))
merged = L.Concatenate()([L.Add()([a, b]), L.AveragePooling2D(3, strides=1, padding="same")(a)])
merged = L.ZeroPadding2D(1)(merged)
outputs = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(L.Conv2D(3, 3, strides=2)(merged)))
functional = keras.Model(inputs, outputs, name="tf2_functional")
functional.compile(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), "sparse_categorical_crossentropy",
                   metrics=["accuracy"])

predictions = {}
for name, model in [("sequential", sequential), ("functional", functional)]:
    model.fit(x, y, epochs=1, verbose=0)
    model.save(os.path.join(HERE, f"tf_keras2_{name}.h5"), save_format="h5")
    predictions[name] = model.predict(x, verbose=0)
np.savez(os.path.join(HERE, "tf_keras2_predictions.npz"), x=x, **predictions)
print(keras.__version__)
