"""Data layer (no torch): the registry of reference files (checksummed fetch,
LITTLEBIG_DATA_DIR, then the cache, then a download) and `load(dataset, models)`.

`DATASETS` is plain Python so that the command line can offer the names without importing
numpy or pandas; everything else loads on first use.
"""
from littlebig_utils._lazy import lazy

#: every dataset name the project knows: name -> what `load(name)` gives for it
DATASETS = {
    "imagenet-val": "published predictions of the 14 reference ImageNet models (timm and "
                    "torchvision weights) on the 50,000 validation images",
    "imagenet-real": "the imagenet-val predictions scored against the ImageNet-ReaL labels "
                     "(several correct labels per image, some images none): not a Predictions "
                     "record; load imagenet-val and score it with real_correct",
    "cifar10-test": "published predictions of ResNet-110 and DenseNet-40 (calibration study of "
                    "Guo et al. 2017) on the lossless CIFAR-10 test set (10,000 images)",
    "cifar10-train": "CIFAR-10 training set, lossless (50,000 images): no reference "
                     "predictions; make them with littlebig predict",
    "cifar10-test-jpeg": "the JPEG copy of the CIFAR-10 test set, a shifted CIFAR-10: no "
                         "reference predictions; make them with littlebig predict",
}

__all__ = ["DATASETS", "DataError", "load", "real_correct", "fetch", "data_dir", "cache_dir",
           "reference_paths"]
__getattr__, __dir__ = lazy(__name__, {
    **{name: ("registry", name) for name in ("DataError", "fetch", "data_dir", "cache_dir",
                                             "reference_paths")},
    "load": ("reference", "load"), "real_correct": ("reference", "real_correct")})
