"""Published architectures with Keras's arguments and module paths (`applications.vgg16.VGG16`,
`applications.resnet50.ResNet50`, `applications.resnet.ResNet50`, `applications.densenet.DenseNet121`, …):
`include_top`, `weights` (None, 'imagenet' — the file Keras publishes, read from Keras's cache folder, never
downloaded — or the path of a local weights file saved by Keras or swiftcnn), `input_tensor`, `input_shape`,
`pooling` ('avg' | 'max' | None), `classes`, `classifier_activation`."""
from . import densenet, imagenet_weights, inception_v1, lenet, resnet, resnet50, squeezenet, vgg16
from .densenet import DenseNet121
from .inception_v1 import GoogLeNet, InceptionV1
from .lenet import LeNet5
from .resnet import ResNet18, ResNet50
from .squeezenet import SqueezeNet
from .vgg16 import VGG16

__all__ = ["VGG16", "ResNet18", "ResNet50", "InceptionV1", "GoogLeNet", "DenseNet121", "SqueezeNet", "LeNet5",
           "vgg16", "resnet", "resnet50", "densenet", "inception_v1", "squeezenet", "lenet"]
