"""Image datasets for the prediction stage, each with stable sample ids and labels.

Every dataset here is a torch ``Dataset`` of ``(image tensor, label)`` with two extra
attributes that the prediction stage keeps: ``sample_ids`` (how records are joined later:
CIFAR-10 ``test_{i:05d}`` in the original test order, shared with CIFAR-10H and the reference
logits; ImageNet val file stems ``ILSVRC2012_val_XXXXXXXX``, which is what ReaL is keyed by)
and ``labels``. Images go through the model's own timm data config (resolution, crop,
interpolation, mean/std), so a model is always fed what it was evaluated on.

Datasets by name (`littlebig_utils.run.IMAGE_DATASETS`):
- ``cifar10-test`` / ``cifar10-train``: the lossless CIFAR-10, original order, ids
  ``test_00000`` / ``train_00000`` by position. Read from the PNG sprites of the data registry
  (each file's sha256 checked before it is decoded), or, with ``data_root`` (``--data-root``),
  from the official python batches (``cifar-10-python.tar.gz`` or its extracted
  ``cifar-10-batches-py`` folder): the same arrays either way. On these the CIFAR ResNets
  reach their published accuracies.
- ``cifar10-test-jpeg``: the JPEG copy in the data folder. Lossy: a *shifted* CIFAR-10 (like
  the JPEG corruption of CIFAR-10-C); the CIFAR ResNets lose about 10 points on it.
- ``imagenet-val``: ImageNet-1k val as an image folder (``<synset>/<file>.JPEG``, or all files
  in one folder), root from ``--data-root`` or ``$LITTLEBIG_IMAGENET_VAL``.
- ``imagenet-v2``: ImageNet-V2 image folder (class folders ``0`` .. ``999``), root from
  ``--data-root`` or ``$LITTLEBIG_IMAGENET_V2``.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from littlebig_utils.run import IMAGE_DATASETS, cifar
from littlebig_utils.data import registry as data
from littlebig_utils.data.registry import DataError

__all__ = ["DATASETS", "ROOT_ENV", "ImageArrayDataset", "ImageFolderDataset", "open_dataset",
           "load_cifar10", "load_cifar10_python", "read_cifar10_batches", "CIFAR10_PYTHON_URL",
           "CIFAR10_PYTHON_MD5", "resolve_root", "load_cifar10_reference", "cifar10h_labels",
           "cifar10h_majority", "cifar10h_join", "CIFAR10_REFERENCE"]

DATASETS: dict[str, str] = IMAGE_DATASETS  # the one list of names (stdlib, in run/__init__)
CIFAR10_SPLITS = {"cifar10-test": "test", "cifar10-train": "train"}  # the lossless datasets
ROOT_ENV = {"imagenet-val": "LITTLEBIG_IMAGENET_VAL", "imagenet-v2": "LITTLEBIG_IMAGENET_V2"}

CIFAR10_PYTHON_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_PYTHON_MD5 = "c58f30108f718f92721af3b95e74349a"


# --------------------------------------------------------------------------- in-memory images

def _is_identity_resize(transform, height: int, width: int) -> tuple | None:
    """(mean, std) when a timm eval transform only converts and normalizes images of this size.

    timm's eval transform is Resize(floor(size / crop_pct)) -> CenterCrop(size) -> ToTensor ->
    Normalize. When the images already have the model's input size and crop_pct is 1, the
    first two steps are the identity (Pillow returns a copy for a same-size resize), so the
    whole batch can be normalized at once: same numbers, no per-image PIL round trip.
    """
    from torchvision import transforms as T
    steps = getattr(transform, "transforms", None)
    if not steps:
        return None
    mean = std = None
    for step in steps:
        if isinstance(step, T.Resize):
            size = step.size if isinstance(step.size, (list, tuple)) else [step.size]
            if (list(size) != [height, width] and not (len(size) == 1 and height == width == size[0])):
                return None
        elif isinstance(step, T.CenterCrop):
            if list(step.size) != [height, width]:
                return None
        elif isinstance(step, T.Normalize):
            mean, std = tuple(step.mean), tuple(step.std)
        elif type(step).__name__ in ("ToTensor", "MaybeToTensor"):
            continue
        else:
            return None
    return (mean, std) if mean is not None else None


class ImageArrayDataset(Dataset):
    """uint8 NHWC images held in memory (CIFAR-10), fed through a timm eval transform."""

    def __init__(self, images: np.ndarray, labels, sample_ids, transform=None, name: str = ""):
        self.images = np.asarray(images)
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 of shape (N, H, W, 3), got "
                             f"{self.images.dtype} {self.images.shape}")
        self.labels = np.asarray(labels, dtype=np.int64)
        self.sample_ids = np.asarray(sample_ids).astype(str)
        if not len(self.images) == len(self.labels) == len(self.sample_ids):
            raise ValueError("images, labels and sample_ids must have the same length")
        self.name = name
        self.set_transform(transform)

    def set_transform(self, transform) -> None:
        self.transform = transform
        h, w = self.images.shape[1:3]
        self._fast = _is_identity_resize(transform, h, w) if transform is not None else None

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        from PIL import Image
        img = Image.fromarray(self.images[i])
        x = self.transform(img) if self.transform is not None else img
        return x, int(self.labels[i])

    def __getitems__(self, indices):
        """Batched fetch (used by DataLoader): one vectorized normalize when that is exact."""
        if self._fast is None:
            return [self[i] for i in indices]
        x = cifar.to_tensor(self.images[np.asarray(indices)], *self._fast)
        return list(zip(x.unbind(0), (int(self.labels[i]) for i in indices)))

    def take(self, n: int) -> "ImageArrayDataset":
        return ImageArrayDataset(self.images[:n], self.labels[:n], self.sample_ids[:n],
                                 self.transform, self.name)


# --------------------------------------------------------------------------- image folders

class ImageFolderDataset(Dataset):
    """An image folder (timm's folder walk); sample ids are the file stems.

    `class_map` fixes folder name -> class index, so a folder holding only some classes still
    gets the right indices. Images directly in `root` (no class folders) take their labels
    from `labels_by_id` (file stem -> label).
    """

    def __init__(self, root, transform=None, class_map: dict | None = None,
                 labels_by_id: dict | None = None, id_with_folder: bool = False, name: str = ""):
        # timm's folder walk (natural sort, class map); images are opened here, not by timm's
        # ImageDataset, which on a broken file silently returns the *next* image instead.
        from timm.data.readers.reader_image_folder import find_images_and_targets
        root = Path(root)
        flat = not any(p.is_dir() for p in root.iterdir())
        samples, _ = find_images_and_targets(str(root), class_to_idx={"": 0} if flat else class_map)
        if not samples:
            raise DataError(f"{name or 'dataset'}: no images under {root}"
                            + ("" if flat else " in class folders named like "
                               f"{sorted(class_map)[:2] if class_map else 'the classes'}"))
        files = [Path(f) for f, _ in samples]
        stems = [f.stem for f in files]
        self.root, self.name, self.transform = root, name, transform
        self.sample_ids = np.array([f"{f.parent.name}/{f.stem}" for f in files] if id_with_folder
                                   else stems).astype(str)
        if flat:
            if labels_by_id is None:
                raise DataError(f"{name}: images lie directly in {root} and no labels are known "
                                "for them; put them in one folder per class")
            missing = [s for s in stems if s not in labels_by_id]
            if missing:
                raise DataError(f"{name}: no label for {len(missing)} files in {root} "
                                f"(e.g. {missing[:3]}); are these ImageNet val images?")
            self.labels = np.array([labels_by_id[s] for s in stems], dtype=np.int64)
        else:
            self.labels = np.array([t for _, t in samples], dtype=np.int64)
        if len(np.unique(self.sample_ids)) != len(self.sample_ids):
            raise DataError(f"{name}: file names under {root} are not unique across folders")
        self.paths = files

    def set_transform(self, transform) -> None:
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(self.paths[i]) as im:
                img = im.convert("RGB")
        except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
            # PIL raises OSError for a truncated file, UnidentifiedImageError for a foreign one
            raise DataError(f"{self.name or 'dataset'}: image {self.paths[i]} cannot be read "
                            f"({type(exc).__name__}: {exc}); replace or remove that file") from None
        return (self.transform(img) if self.transform is not None else img), int(self.labels[i])

    def take(self, n: int) -> "ImageFolderDataset":
        out = object.__new__(ImageFolderDataset)
        out.__dict__.update(self.__dict__)
        out.paths, out.sample_ids, out.labels = self.paths[:n], self.sample_ids[:n], self.labels[:n]
        return out


def imagenet_synset_map() -> dict[str, int]:
    """ImageNet-1k synset -> class index (sorted synsets), from the val index in the registry."""
    paths = data.imagenet_val_paths()
    synsets = sorted({Path(p).parent.name for p in paths})
    return {s: i for i, s in enumerate(synsets)}


def resolve_root(name: str, data_root=None) -> Path:
    """The image folder of an ImageNet dataset: the option, then its environment variable."""
    env = ROOT_ENV[name]
    root = data_root or os.environ.get(env)
    if not root:
        raise DataError(f"dataset '{name}' needs its image folder: pass --data-root DIR "
                        f"(data_root=...) or set ${env}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"dataset '{name}': image folder {root} does not exist (from "
                        f"{'--data-root' if data_root else '$' + env})")
    return root


# --------------------------------------------------------------------------- CIFAR-10 batches

class _ArrayUnpickler(pickle.Unpickler):
    """The official batches are pickles: allow only what they contain (dicts, lists, bytes,
    numpy arrays), so a tampered file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("_codecs", "encode"),  # how protocol-2 pickles spell bytes
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"CIFAR-10 batch refers to {module}.{name}, which a "
                                     "CIFAR-10 batch never contains; the file is not genuine")


def read_cifar10_batches(archive, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(uint8 NHWC images, labels) from the official python batches: cifar-10-python.tar.gz
    (read without extracting it), its extracted ``cifar-10-batches-py`` folder, or a folder
    holding that one."""
    names = ["test_batch"] if split == "test" else [f"data_batch_{i}" for i in range(1, 6)]
    archive = Path(archive)
    if archive.is_dir():
        folder = archive / "cifar-10-batches-py" if (archive / "cifar-10-batches-py").is_dir() \
            else archive

        def raw(n):
            try:
                return (folder / n).read_bytes()
            except OSError as exc:
                raise DataError(f"cannot read the CIFAR-10 batch {folder / n} ({exc.strerror}); "
                                "is this the cifar-10-batches-py folder?") from None
    else:
        try:
            tar = tarfile.open(archive, "r:gz")
        except (OSError, tarfile.TarError) as exc:
            raise DataError(f"{archive} is not a readable cifar-10-python.tar.gz ({exc})") from None

        def raw(n):
            try:
                return tar.extractfile(f"cifar-10-batches-py/{n}").read()
            except KeyError:
                raise DataError(f"{archive} has no cifar-10-batches-py/{n}; is it "
                                "cifar-10-python.tar.gz?") from None
    images, labels = [], []
    try:
        for n in names:
            batch = _ArrayUnpickler(io.BytesIO(raw(n)), encoding="bytes").load()
            x = np.asarray(batch[b"data"], dtype=np.uint8)
            images.append(x.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    finally:
        if not archive.is_dir():
            tar.close()
    return np.ascontiguousarray(np.concatenate(images)), np.concatenate(labels)


def _md5(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cifar10_python_archive() -> Path:
    """cifar-10-python.tar.gz: LITTLEBIG_DATA_DIR/cifar10/, the cache, or a pooch download."""
    rel = Path("cifar10") / "cifar-10-python.tar.gz"
    for base in (data.data_dir(), data.cache_dir()):
        if base is not None and (base / rel).is_file():
            got = _md5(base / rel)
            if got != CIFAR10_PYTHON_MD5:
                raise DataError(f"{base / rel} is corrupt: md5 {got}, expected "
                                f"{CIFAR10_PYTHON_MD5}; download it again from {CIFAR10_PYTHON_URL}")
            return base / rel
    target = data.cache_dir() / rel
    how = (f"download {CIFAR10_PYTHON_URL} (md5 {CIFAR10_PYTHON_MD5}) to {target}, or use "
           "dataset 'cifar10-test-jpeg' (the offline JPEG copy)")
    if data._offline():
        raise DataError(f"the official CIFAR-10 batches are not here and LITTLEBIG_OFFLINE is "
                        f"set: {how}")
    import pooch
    try:
        out = pooch.retrieve(CIFAR10_PYTHON_URL, known_hash=f"md5:{CIFAR10_PYTHON_MD5}",
                             fname=rel.name, path=target.parent, progressbar=True)
    except Exception as exc:
        raise DataError(f"could not download the CIFAR-10 batches ({type(exc).__name__}: "
                        f"{exc}): {how}") from exc
    return Path(out)


def load_cifar10_python(split: str = "test", archive=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, sample ids) of the official python batches (`archive`: the .tar.gz or
    the cifar-10-batches-py folder; default the md5-checked download); ids as the PNG reader's."""
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', got {split!r}")
    images, labels = read_cifar10_batches(archive or cifar10_python_archive(), split)
    if split == "test" and len(labels) == 10_000 and not np.array_equal(labels, cifar.test_labels()):
        raise DataError("the CIFAR-10 test batch disagrees with the original test labels")
    prefix = "test" if split == "test" else "train"
    return images, labels, np.array([f"{prefix}_{i:05d}" for i in range(len(labels))])


def load_cifar10(split: str = "test", source: str = "png", archive=None, limit: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 NHWC, labels, sample ids) of the lossless CIFAR-10 in the original order.

    `source` "png": the sprites of the data registry (sha256-checked; see
    `cifar.load_lossless_split`); "batches": the official python batches (`archive`, else the
    md5-checked download). Both give the same arrays.
    """
    if source == "png":
        return cifar.load_lossless_split(split, limit)
    if source != "batches":
        raise ValueError(f"source must be 'png' or 'batches', got {source!r}")
    images, labels, ids = load_cifar10_python(split, archive)
    return (images, labels, ids) if limit is None else (images[:limit], labels[:limit], ids[:limit])


# --------------------------------------------------------------------------- by name

def open_dataset(name: str, transform=None, data_root=None, limit: int | None = None) -> Dataset:
    """A dataset by name (see DATASETS), its first `limit` samples when given."""
    if name not in DATASETS:
        import difflib
        close = difflib.get_close_matches(name, DATASETS, n=3, cutoff=0.3)
        raise DataError(f"unknown dataset '{name}'" + (f"; did you mean {close}?" if close else "")
                        + f" Known: {', '.join(DATASETS)}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of samples, got {limit}")
    if name == "cifar10-test-jpeg":
        ds = ImageArrayDataset(*cifar.load_jpeg_split("test"), transform=transform, name=name)
    elif name in CIFAR10_SPLITS:
        source = "png" if data_root is None else "batches"
        ds = ImageArrayDataset(*load_cifar10(CIFAR10_SPLITS[name], source, data_root, limit),
                               transform=transform, name=name)
    elif name == "imagenet-val":
        root = resolve_root(name, data_root)
        flat = not any(p.is_dir() for p in root.iterdir())
        labels_by_id = None
        if flat:
            labels_by_id = dict(zip(data.imagenet_sample_ids(), data.imagenet_labels().tolist()))
        ds = ImageFolderDataset(root, transform, class_map=None if flat else imagenet_synset_map(),
                                labels_by_id=labels_by_id, name=name)
    else:  # imagenet-v2: folders named by class index; file names repeat across classes
        root = resolve_root(name, data_root)
        ds = ImageFolderDataset(root, transform, class_map={str(i): i for i in range(1000)},
                                id_with_folder=True, name=name)
    return ds if limit is None else ds.take(limit)


# --------------------------------------------------------------------------- CIFAR-10 references

CIFAR10_REFERENCE = {"resnet110": "calibration_logits/probs_resnet110_c10_logits.csv",
                     "densenet40": "calibration_logits/probs_densenet40_c10_logits.csv"}


def load_cifar10_reference(name: str):
    """Published CIFAR-10 test predictions (Guo et al.'s calibration models; lossless images,
    original order) as Predictions with ids ``test_{i:05d}``. Only ResNet-110 has an
    architecture here to count GMACs on (the option-A CIFAR ResNet); DenseNet-40 has none."""
    import pandas as pd

    from littlebig_utils.run.costs import count_gmacs, count_params_m
    from littlebig_utils.core.predictions import Predictions
    if name not in CIFAR10_REFERENCE:
        raise DataError(f"unknown CIFAR-10 reference model '{name}'; known: "
                        f"{', '.join(CIFAR10_REFERENCE)}")
    df = pd.read_csv(data.fetch(CIFAR10_REFERENCE[name]))
    labels = df["true_label"].to_numpy()
    if not np.array_equal(labels, cifar.test_labels()):
        raise DataError(f"{CIFAR10_REFERENCE[name]} is not in the original CIFAR-10 test order")
    model = {"name": name, "source": "calibration_logits (lossless CIFAR-10)"}
    if name == "resnet110":
        with torch.device("meta"):
            net = cifar.CifarResNet(110)
        model.update(gmacs=count_gmacs(net, (3, 32, 32)), params_m=count_params_m(net),
                     img_size=32)
    return Predictions([f"test_{i:05d}" for i in range(len(df))], labels,
                       df["pred_label"].to_numpy(), df["confidence"].to_numpy(), None, model,
                       "cifar10-test")


def cifar10h_labels() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(human-majority label, valid mask, soft labels) of CIFAR-10H, original test order.

    The one CIFAR-10H majority rule of the project: the majority label is the class most of the
    ~51 annotators chose; images whose top two classes got equally many votes have no majority
    and are marked invalid (excluded from every accuracy against CIFAR-10H).
    """
    counts = np.load(data.fetch("cifar10h/cifar10h-counts.npy"), allow_pickle=False)
    probs = np.load(data.fetch("cifar10h/cifar10h-probs.npy"), allow_pickle=False)
    return (*cifar10h_majority(counts), probs)


def cifar10h_join(sample_ids) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10H (majority, valid, soft labels) of the rows of CIFAR-10 test images `sample_ids`.

    The join is by index: CIFAR-10H is in the original test order, and test image k has the id
    ``test_{k:05d}`` in every CIFAR-10 test dataset here (lossless, official batches, JPEG copy).
    Any other id (a training image, a foreign dataset) is refused rather than guessed.
    """
    ids = np.asarray(sample_ids).astype(str)
    majority, valid, probs = cifar10h_labels()
    rows = np.empty(len(ids), dtype=np.int64)
    for j, sid in enumerate(ids):
        m = re.fullmatch(r"test_(\d{5})", sid)
        k = int(m.group(1)) if m else -1
        if not 0 <= k < len(probs):
            raise DataError(f"sample id {sid!r} is not a CIFAR-10 test image (test_00000 .. "
                            f"test_{len(probs) - 1:05d}); CIFAR-10H labels only the test set")
        rows[j] = k
    return majority[rows], valid[rows], probs[rows]


def cifar10h_majority(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(majority class, valid = the top class has strictly more votes than the second) per row."""
    counts = np.asarray(counts)
    top2 = np.sort(counts, axis=1)[:, -2:]
    return counts.argmax(1).astype(np.int64), top2[:, 1] > top2[:, 0]
