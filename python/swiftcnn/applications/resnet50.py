"""`applications.resnet50`, the module path tf.keras 2.x textbooks import ResNet50 from."""
from .resnet import ResNet50

__all__ = ["ResNet50"]
