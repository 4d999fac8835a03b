"""CIFAR-10: the pretrained ResNets of He et al. (2016) as timm models, and the images
(lossless PNG sprites, the JPEG copy).

The ResNets are the option-A (zero-padding shortcut) CIFAR networks whose checkpoints are
published in akamaster/pytorch_resnet_cifar10; parameter names here match those checkpoints
(after stripping DataParallel's ``module.`` prefix) so `timm.create_model('cifar_resnet56',
pretrained=True)` loads them through the checksum-verified data registry.
Importing this module registers the models with timm.
"""
from __future__ import annotations

import functools
import hashlib
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models import register_model

from littlebig_utils.data import registry as data
from littlebig_utils.data.registry import DataError

__all__ = ["CLASSES", "MEAN", "STD", "PRETRAINED_CFG", "DEPTHS", "CHECKPOINTS", "STORED_TOP1",
           "PUBLISHED_TOP1", "CifarResNet", "load_checkpoint_state", "LABELS_KEY", "test_labels",
           "LOSSLESS", "LOSSLESS_FILES", "load_lossless_split", "jpeg_test_paths",
           "jpeg_train_paths", "decode", "load_jpeg_split", "to_tensor"]

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# the checkpoints were trained with ImageNet's normalization
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
PRETRAINED_CFG = dict(input_size=(3, 32, 32), mean=MEAN, std=STD, crop_pct=1.0,
                      interpolation="bilinear", num_classes=10, first_conv="conv1",
                      classifier="linear")
DEPTHS = {8: 1, 14: 2, 20: 3, 32: 5, 44: 7, 56: 9, 110: 18}
CHECKPOINTS = {20: "cifar_resnets/resnet20-12fca82f.th", 32: "cifar_resnets/resnet32-d509ac18.th",
               44: "cifar_resnets/resnet44-014dd654.th", 56: "cifar_resnets/resnet56-4bfd9763.th"}
# best_prec1 stored in the checkpoints, in percent (the book's tables read it): the best top-1
# seen during training, above what the final weights score
STORED_TOP1 = {20: 91.78, 32: 92.78, 44: 93.14, 56: 93.62}
# top-1 published with the checkpoints (akamaster/pytorch_resnet_cifar10 README), a fraction:
# what the final weights score on the 10,000 lossless test images (tests/test_predict.py
# checks the exact counts, 9,173 / 9,263 / 9,310 / 9,339 correct)
PUBLISHED_TOP1 = {20: 0.9173, 32: 0.9263, 44: 0.9310, 56: 0.9339}


class ShortcutA(nn.Module):
    """Option A: subsample and zero-pad channels; no parameters."""

    def __init__(self, planes: int):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = ShortcutA(planes) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"CIFAR ResNet depth must be one of {sorted(DEPTHS)}, got {depth}")
        n = DEPTHS[depth]
        self.num_classes = num_classes
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for i in range(n):
                blocks.append(BasicBlock(in_planes, planes, stride if i == 0 else 1))
                in_planes = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
        self.pretrained_cfg = dict(PRETRAINED_CFG, num_classes=num_classes)
        self.default_cfg = self.pretrained_cfg

    def forward_features(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return self.layer3(self.layer2(self.layer1(x)))

    def forward_head(self, x, pre_logits: bool = False):
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return x if pre_logits else self.linear(x)

    def forward(self, x):
        return self.forward_head(self.forward_features(x))


def load_checkpoint_state(depth: int) -> dict:
    """State dict of a published checkpoint, `module.` prefix stripped, loaded without pickle code."""
    if depth not in CHECKPOINTS:
        raise ValueError(f"no pretrained CIFAR ResNet-{depth}; available: {sorted(CHECKPOINTS)}")
    ckpt = torch.load(data.fetch(CHECKPOINTS[depth]), map_location="cpu", weights_only=True)
    return {k.removeprefix("module."): v for k, v in ckpt["state_dict"].items()}


def _create(depth: int, pretrained: bool, **kwargs) -> CifarResNet:
    for k in ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir", "features_only"):
        kwargs.pop(k, None)
    model = CifarResNet(depth, **kwargs)
    if pretrained:
        if model.num_classes != 10:
            raise ValueError("pretrained CIFAR ResNets have 10 classes")
        model.load_state_dict(load_checkpoint_state(depth))
    return model


@register_model
def cifar_resnet8(pretrained=False, **kwargs):
    return _create(8, pretrained, **kwargs)


@register_model
def cifar_resnet14(pretrained=False, **kwargs):
    return _create(14, pretrained, **kwargs)


@register_model
def cifar_resnet20(pretrained=False, **kwargs):
    return _create(20, pretrained, **kwargs)


@register_model
def cifar_resnet32(pretrained=False, **kwargs):
    return _create(32, pretrained, **kwargs)


@register_model
def cifar_resnet44(pretrained=False, **kwargs):
    return _create(44, pretrained, **kwargs)


@register_model
def cifar_resnet56(pretrained=False, **kwargs):
    return _create(56, pretrained, **kwargs)


# ------------------------------------------------------------------------------------ images

LABELS_KEY = "cifar10/cifar10_test_set_original_labels.npy"


@functools.lru_cache(maxsize=1)
def test_labels() -> np.ndarray:
    """CIFAR-10 test labels in the original order (that of CIFAR-10H and the python batches).

    The one loader of this file: every CIFAR-10 label check and notebook goes through it."""
    return np.load(data.fetch(LABELS_KEY), allow_pickle=False).astype(np.int64)


# The lossless copy (MANIFEST.md): one RGB PNG sprite per official batch, 1024 pixels wide,
# row k holding image k of that batch (its 1024 pixels are the 32 x 32 image, row-major).
LOSSLESS = "cifar10/lossless/"
LOSSLESS_FILES = {"test": (("test_batch.png",), "test_lables.json"),  # (sic), the package's names
                  "train": (tuple(f"data_batch_{i}.png" for i in range(1, 6)), "train_lables.json")}


def _lossless_labels(key: str) -> np.ndarray:
    """Labels of a verified labels file: a JSON list of class indices 0..9."""
    import json
    path = data.fetch(key)
    try:
        labels = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{key} at {path} is not a JSON list of labels ({type(exc).__name__}); "
                        "replace it with the original") from None
    if (not isinstance(labels, list) or not labels
            or not all(type(v) is int and 0 <= v < len(CLASSES) for v in labels)):
        raise DataError(f"{key} at {path} is not a list of class indices 0..{len(CLASSES) - 1}; "
                        "replace it with the original")
    return np.asarray(labels, dtype=np.int64)


def _lossless_sprite(key: str) -> np.ndarray:
    """uint8 images (N, 32, 32, 3) of a verified PNG sprite (one image per row)."""
    from PIL import Image
    path = data.fetch(key)  # sha256 first: a corrupt file is refused before it is decoded
    try:
        with Image.open(path) as im:
            if im.format != "PNG" or im.mode != "RGB" or im.width != 32 * 32:
                raise ValueError(f"a {im.format} {im.mode} image {im.width} pixels wide, not an "
                                 "RGB PNG 1024 pixels wide")
            rows = np.asarray(im)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{key} at {path} is not a CIFAR-10 sprite ({exc}); replace it with the "
                        "original") from None
    return rows.reshape(len(rows), 32, 32, 3)


def load_lossless_split(split: str = "test", limit: int | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 NHWC, labels, sample ids) of the lossless CIFAR-10, original order.

    Each file is checked against its sha256 (data registry) before it is decoded. Ids are
    ``test_00000`` ... / ``train_00000`` ... by position in the official batches (the ids of
    CIFAR-10H and of the official python batches). `limit` decodes only the sprites that hold
    the first `limit` images (``--limit 2000`` of the training set reads one of the five).
    """
    if split not in LOSSLESS_FILES:
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of samples, got {limit}")
    sprites, labels_file = LOSSLESS_FILES[split]
    labels = _lossless_labels(LOSSLESS + labels_file)
    parts, n = [], 0
    for name in sprites:
        if limit is not None and n >= limit:
            break
        parts.append(_lossless_sprite(LOSSLESS + name))
        n += len(parts[-1])
    read_all = len(parts) == len(sprites)
    if n > len(labels) or (read_all and n != len(labels)):
        raise DataError(f"the {split} sprites of {LOSSLESS} hold {n} images"
                        f"{'' if read_all else ' or more'} but {LOSSLESS}{labels_file} has "
                        f"{len(labels)} labels; the files do not belong together")
    images = parts[0] if len(parts) == 1 else np.concatenate(parts)
    k = len(images) if limit is None else min(limit, len(images))
    ids = np.array([f"{split}_{i:05d}" for i in range(k)])
    return np.ascontiguousarray(images[:k]), labels[:k], ids


def jpeg_test_paths() -> list:
    """JPEG path of each test image in the original order.

    In the JPEG copy, test/<class>/k.jpg is the k-th test image of that class in the original
    order, so the original index i maps to its rank among earlier images of the same label.
    """
    root = data.fetch_tree("cifar10/jpeg/test")
    labels = test_labels()
    seen = np.zeros(len(CLASSES), dtype=int)
    paths = []
    for c in labels:
        paths.append(root / CLASSES[c] / f"{seen[c]:04d}.jpg")
        seen[c] += 1
    return paths


def jpeg_train_paths() -> tuple[list, np.ndarray]:
    """(paths, labels) of the 50,000 JPEG training images in ImageFolder order."""
    root = data.fetch_tree("cifar10/jpeg/train")
    paths, labels = [], []
    for c, name in enumerate(CLASSES):
        files = sorted((root / name).glob("*.jpg"))
        paths += files
        labels += [c] * len(files)
    return paths, np.asarray(labels, dtype=np.int64)


def decode(paths) -> np.ndarray:
    """uint8 array (N, 32, 32, 3) of decoded images."""
    from PIL import Image
    out = np.empty((len(paths), 32, 32, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            out[i] = np.asarray(im.convert("RGB"))
    return out


def _decoded_cache(split: str) -> Path:
    """Cache file of a decoded split, named by its sources' digests and the decoder's code."""
    sources = f"{data.TREES[f'cifar10/jpeg/{split}']}/{data.REGISTRY[LABELS_KEY].sha256}"
    key = hashlib.sha256(f"{sources}/{data.code_digest(_decoder_code())}".encode()).hexdigest()
    return data.cache_dir() / "decoded" / f"cifar10_jpeg_{split}_{key[:16]}.npz"


def _decoder_code():
    import sys
    return sys.modules[__name__]


def _read_decoded(cache: Path):
    """(images, labels, ids) of a decoded cache whose sha256 matches the one stored beside it."""
    side = cache.with_name(cache.name + ".sha256")
    try:
        ok = side.read_text().strip() == data.sha256_of(cache)
        if ok:
            with np.load(cache, allow_pickle=False) as z:
                return z["images"], z["labels"], z["ids"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        pass
    warnings.warn(f"decoded CIFAR-10 cache {cache} does not match its stored sha256 (edited or "
                  "truncated); decoding the JPEGs again", RuntimeWarning, stacklevel=3)
    return None


def load_jpeg_split(split: str = "test") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 NHWC, labels, sample ids) of the JPEG copy; test in the original order.

    Decoded once and cached (npz, no pickle) under the local cache folder: 60,000 small JPEGs
    take tens of seconds to decode, the cached array a fraction of a second to read. The cache
    is named by the digests of its sources and of this module's code, and its own sha256 is
    stored beside it and checked on every read, so an edited or stale cache is never used.
    """
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    cache = _decoded_cache(split)
    if cache.is_file():
        got = _read_decoded(cache)
        if got is not None:
            return got
    if split == "test":
        paths = jpeg_test_paths()
        labels = test_labels().astype(np.int64)
        ids = np.array([f"test_{i:05d}" for i in range(len(paths))])
    else:
        paths, labels = jpeg_train_paths()
        ids = np.array([f"train_{p.parent.name}_{p.stem}" for p in paths])
    images = decode(paths)
    from littlebig_utils._io import atomic_write
    try:
        with atomic_write(cache, suffix=".npz") as tmp:
            np.savez(tmp, images=images, labels=labels, ids=ids)
            digest = data.sha256_of(tmp)
        with atomic_write(cache.with_name(cache.name + ".sha256"), suffix=".sha256") as tmp:
            tmp.write_text(digest + "\n")
    except OSError as exc:  # a read-only cache only costs decoding again next time
        warnings.warn(f"could not cache decoded CIFAR-10 at {cache}: {exc}", RuntimeWarning,
                      stacklevel=2)
    return images, labels, ids


def to_tensor(images: np.ndarray, mean=MEAN, std=STD) -> torch.Tensor:
    """Normalized float tensor (N, 3, 32, 32) from uint8 NHWC images."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255)
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (x - m) / s
