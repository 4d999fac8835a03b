"""Run layer: torch and timm. Models (CIFAR ResNets, timm's create_model, FlopCounterMode
costs, one default device), torch datasets, resumable cached predict, the runtime executor and
distillation. Imported only when a network has to run.

`IMAGE_DATASETS` is plain Python (this file imports no torch), so that the command line can
offer the image datasets of `littlebig predict` without importing torch; everything else loads
on first use.
"""
from littlebig_utils._lazy import lazy

#: every image dataset `predict` reads (run.datasets.open_dataset): name -> what it is
IMAGE_DATASETS = {
    "cifar10-test": "CIFAR-10 test set, lossless (10,000 images, original order): the PNG "
                    "sprites of the data folder, or with --data-root the official python "
                    "batches (cifar-10-python.tar.gz or its cifar-10-batches-py folder)",
    "cifar10-train": "CIFAR-10 training set, lossless (50,000 images, official batch order); "
                     "sources as for cifar10-test",
    "cifar10-test-jpeg": "the JPEG copy of the CIFAR-10 test set, original order (lossy: a "
                         "shifted CIFAR-10)",
    "imagenet-val": "ImageNet-1k validation image folder (--data-root or $LITTLEBIG_IMAGENET_VAL)",
    "imagenet-v2": "ImageNet-V2 image folder, class folders 0..999 (--data-root or "
                   "$LITTLEBIG_IMAGENET_V2)",
}

__all__ = ["IMAGE_DATASETS", "default_device", "create_model", "count_gmacs"]
# `predict` is a submodule here (run.predict.predict is the function, littlebig_utils.predict)
__getattr__, __dir__ = lazy(__name__, {
    "create_model": ("predict", "create_model"), "default_device": ("devices", "default_device"),
    "count_gmacs": ("costs", "count_gmacs")})
