"""Regenerates the Keras fixtures (run once with Keras 3 installed; the files are committed):
keras_convnet.weights.h5 (Keras 3 save_weights), keras_convnet_legacy.h5 (the legacy HDF5 layout written by
keras's legacy saving), and keras_convnet_predictions.npz (inputs and Keras's predictions)."""
import os

import keras
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
keras.utils.set_random_seed(7)
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2)),
    keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2)),
    keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.Flatten(),
    keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
# Non-trivial biases so a bias mix-up shows.
model.set_weights([w + (0.05 if w.ndim == 1 else 0) for w in model.get_weights()])
x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype("float32")
model.save_weights(os.path.join(HERE, "keras_convnet.weights.h5"))
model.save(os.path.join(HERE, "keras_convnet_legacy.h5"))
np.savez(os.path.join(HERE, "keras_convnet_predictions.npz"), x=x, predictions=model.predict(x, verbose=0))
