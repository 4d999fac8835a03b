"""Real corruptions of the CIFAR-10 test images (distribution shift), and predictions on them.

The two corruptions follow Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to
Common Corruptions and Perturbations", ICLR 2019 (CIFAR-10-C, ``make_cifar_c.py``), with the
CIFAR-10-C parameters per severity 1..5:

* ``gaussian_noise``: x/255 + N(0, c^2) per pixel and channel, c = 0.04, 0.06, 0.08, 0.09, 0.10;
* ``gaussian_blur``: Gaussian filter of std c = 0.4, 0.6, 0.7, 0.8, 1.0 pixels over the two
  image axes (not across channels), edges repeated ("nearest"), kernel truncated at 4 std --
  what ``skimage.filters.gaussian(..., multichannel=True)`` does, here with scipy.ndimage;

then clipped to [0, 1], times 255 and cast to uint8 (truncation, as CIFAR-10-C saved them).
The noise is drawn from ``numpy.random.default_rng((seed, severity))``, so a corrupted set is
reproducible. The source images are the lossless CIFAR-10 test set (`cifar10-test`, original
order, as CIFAR-10-C corrupted the original test images), so "clean" below means lossless.

:func:`corrupted_predictions` runs a model (``predict.predict``, the package's one path from
model to Predictions) on corrupted images and caches the result in the cache folder, keyed by
model, corruption, severity, seed, number of images and :data:`VERSION`; a cached file whose
stored key differs is recomputed, never trusted.
"""
from __future__ import annotations


import numpy as np

__all__ = ["CORRUPTIONS", "SEVERITY_PARAMS", "VERSION", "SOURCE", "corrupt",
           "corrupted_predictions", "cache_path"]

# bump when the corruption code or its source images change: cached predictions are then
# recomputed (2: the lossless test set instead of the JPEG copy)
VERSION = 2
SOURCE = "cifar10-test"  # the images corrupted: the lossless CIFAR-10 test set
SEVERITY_PARAMS = {"gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
                   "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1.0)}
CORRUPTIONS = tuple(SEVERITY_PARAMS)


def _check(corruption: str, severity) -> int:
    if corruption not in SEVERITY_PARAMS:
        raise ValueError(f"unknown corruption {corruption!r}; choose one of "
                         f"{', '.join(CORRUPTIONS)}")
    if isinstance(severity, bool) or int(severity) != severity or not 1 <= int(severity) <= 5:
        raise ValueError(f"severity must be an integer 1..5 (CIFAR-10-C levels), got {severity!r}")
    return int(severity)


def corrupt(images: np.ndarray, corruption: str, severity: int, seed: int = 0) -> np.ndarray:
    """Corrupted copy of uint8 NHWC images (CIFAR-10-C parameters; deterministic in seed)."""
    severity = _check(corruption, severity)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 of shape (N, H, W, 3), got {images.dtype} "
                         f"{images.shape}")
    c = SEVERITY_PARAMS[corruption][severity - 1]
    x = images.astype(np.float64) / 255.0
    if corruption == "gaussian_noise":
        rng = np.random.default_rng([int(seed), severity])
        x = x + rng.normal(scale=c, size=x.shape)
    else:
        from scipy.ndimage import gaussian_filter
        x = gaussian_filter(x, sigma=(0, c, c, 0), mode="nearest", truncate=4.0)
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def _key(model_name: str, corruption: str, severity: int, seed: int, n: int) -> dict:
    return dict(model=model_name, corruption=corruption, severity=int(severity), seed=int(seed),
                n=int(n), version=VERSION, source=SOURCE)


def cache_path(model_name: str, corruption: str, severity: int, seed: int = 0, n: int = 10000):
    from littlebig_utils.data.registry import cache_dir
    return (cache_dir() / "corrupted_predictions" /
            f"{model_name}__{corruption}-{severity}__seed{seed}__n{n}__v{VERSION}.npz")


def corrupted_predictions(model_name: str, corruption: str | None, severity: int = 1,
                          seed: int = 0, n: int | None = None, device=None, batch_size: int = 500):
    """Predictions (with logits) of a CIFAR model on the first `n` lossless test images, corrupted.

    ``corruption=None`` gives the clean lossless images (cached the same way). The first n
    images in the original test order are used (a smoke run takes a few hundred); their sample
    ids are those of `cifar10-test` (``test_00000`` ...), so CIFAR-10H and the clean
    predictions join them by id.
    """
    from littlebig_utils.run.cifar import load_lossless_split
    from littlebig_utils.core.predictions import Predictions
    images, labels, ids = load_lossless_split("test")
    n = len(images) if n is None else int(n)
    if not 0 < n <= len(images):
        raise ValueError(f"n must be between 1 and {len(images)} test images, got {n}")
    name = corruption or "clean"
    severity = 0 if corruption is None else _check(corruption, severity)
    key = _key(model_name, name, severity, seed, n)
    path = cache_path(model_name, name, severity, seed, n)
    if path.is_file():
        try:
            cached = Predictions.load(path)
        except (OSError, ValueError, KeyError):
            cached = None  # unreadable: recompute
        if cached is not None and cached.model.get("corruption_key") == key \
                and cached.logits is not None and len(cached) == n:
            return cached
    imgs = images[:n] if corruption is None else corrupt(images[:n], corruption, severity, seed)
    result = _predict(model_name, imgs, labels[:n], ids[:n], f"{SOURCE}+{name}-{severity}",
                      device, batch_size)
    result.model["corruption_key"] = key
    path.parent.mkdir(parents=True, exist_ok=True)
    result.save(path)
    return result


def _predict(model_name, images, labels, ids, name, device, batch_size):
    from timm.data import create_transform, resolve_data_config

    from littlebig_utils.run.datasets import ImageArrayDataset
    from littlebig_utils.run.predict import create_model, predict
    model = create_model(model_name, pretrained=True)
    transform = create_transform(**resolve_data_config(model=model), is_training=False)
    ds = ImageArrayDataset(images, labels, ids, transform, name=name)
    return predict(model, ds, device=device, batch_size=batch_size, progress=False,
                   name=model_name, pretrained=True)
