"""Data layer (no torch): the registry of reference files (checksummed fetch,
LITTLEBIG_DATA_DIR, then the cache, then a download) and `load(dataset, models)`.

`DATASETS` is plain Python so that the command line can offer the names without importing
numpy or pandas; everything else loads on first use.
"""
import importlib

#: every dataset name the project knows: name -> what it is
DATASETS = {
    "imagenet-val": "the 14 reference ImageNet models' published predictions (50,000 validation images)",
    "imagenet-real": "the same predictions scored against the ImageNet-ReaL labels",
    "cifar10-test": "CIFAR-10 test set, lossless (10,000 images)",
    "cifar10-train": "CIFAR-10 training set, lossless (50,000 images)",
    "cifar10-test-jpeg": "the JPEG copy of the CIFAR-10 test set: a shifted CIFAR-10",
}

__all__ = ["DATASETS", "DataError", "load", "fetch", "data_dir", "cache_dir"]
_LAZY = {"DataError": "registry", "fetch": "registry", "data_dir": "registry",
         "cache_dir": "registry", "load": "reference"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
