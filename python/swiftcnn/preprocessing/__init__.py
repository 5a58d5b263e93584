"""Keras-style preprocessing: `image` (ImageDataGenerator, load_img, img_to_array, array_to_img)."""
from . import image

__all__ = ["image"]
