"""The ImageNet weight files Keras publishes, found where Keras keeps them: `$KERAS_HOME/models` (default
`~/.keras/models`, and `/tmp/.keras/models`, Keras's folder when that one is not writable). Nothing is downloaded;
a file is used only when its hash is the one Keras checks (md5 for 32 hex digits, sha256 for 64)."""
import hashlib
import os

__all__ = ["PUBLISHED", "cache_folders", "find_published_weights"]

# application -> (file with the top, its hash), (file without the top, its hash), as in keras.applications.
PUBLISHED = {
    "VGG16": (("vgg16_weights_tf_dim_ordering_tf_kernels.h5", "64373286793e3c8b2b4e3219cbf3544b"),
              ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", "6d6bbae143d832006294945121d1f1fc")),
    "ResNet50": (("resnet50_weights_tf_dim_ordering_tf_kernels.h5", "2cb95161c43110f7111970584f804107"),
                 ("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", "4d473c1dd8becc155b73f8504c6f6626")),
    "DenseNet121": (("densenet121_weights_tf_dim_ordering_tf_kernels.h5", "9d60b8095a5708f2dcce2bca79d332c7"),
                    ("densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5", "30ee3e1110167f948a6b9946edeeb738")),
}


def cache_folders():
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    folders = [os.path.join(home, "models"), os.path.join("/tmp", ".keras", "models")]
    return list(dict.fromkeys(folders))


def _hash(path, expected):
    hasher = hashlib.sha256() if len(expected) == 64 else hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def find_published_weights(name, include_top):
    """The path of the Keras ImageNet file for application `name`, checked against Keras's hash."""
    if name not in PUBLISHED:
        raise ValueError(f"{name}(weights='imagenet'): Keras publishes no ImageNet weights for {name}; pass "
                         "weights=None or the path of a weights file")
    file_name, expected = PUBLISHED[name][0 if include_top else 1]
    folders = cache_folders()
    for folder in folders:
        path = os.path.join(folder, file_name)
        if os.path.isfile(path):
            actual = _hash(path, expected)
            if actual != expected:
                raise ValueError(f"{name}(weights='imagenet'): {path} has hash {actual}, but the file Keras publishes "
                                 f"has {expected}; the file is incomplete or a different one. Delete it and let "
                                 "Keras download it again.")
            return path
    raise FileNotFoundError(
        f"{name}(weights='imagenet'): swiftcnn never downloads weights, and {file_name} is not in "
        f"{' or '.join(folders)}. Download it once with Keras (keras.applications.{name}(weights='imagenet'"
        f"{'' if include_top else ', include_top=False'}) puts it there) or copy it into the first folder.")
