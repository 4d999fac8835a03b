"""The Predictions record: what a model said about each sample, and nothing that needs a pickle.

Everything downstream (cascades, thresholds, plots) reads Predictions, never raw model
outputs, so the expensive stage runs once. Two records are only ever combined after their
sample ids have been aligned; misaligned inputs are refused instead of silently mis-joined.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from littlebig_utils._io import atomic_write
from littlebig_utils.core.checks import InputError, check_labels

__all__ = ["Predictions", "PredictionsError", "align", "atomic_write"]


class PredictionsError(InputError):
    """Predictions that cannot be used as they are (bad values, misaligned samples)."""


def _sample_ids(values, name: str) -> np.ndarray:
    """Sample ids as str; bytes are decoded as UTF-8 (refused by name when they are not)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "S" or (arr.dtype == object and any(isinstance(v, bytes) for v in arr.ravel())):
        try:
            return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v)
                             for v in arr.ravel()], dtype=str).reshape(arr.shape)
        except UnicodeDecodeError as exc:
            raise PredictionsError(f"Predictions of '{name}': sample id bytes are not UTF-8 "
                                   f"({exc.reason} at byte {exc.start}); pass ids as text") from None
    return arr.astype(str)


def _json_default(value):
    """numpy scalars and arrays in the metadata become plain JSON numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(type(value).__name__)


@dataclass
class Predictions:
    sample_ids: np.ndarray
    labels: np.ndarray
    preds: np.ndarray
    conf: np.ndarray
    logits: np.ndarray | None = None
    model: dict = field(default_factory=dict)  # name, source, timm_tag, gmacs, params_m, img_size
    dataset: str = ""

    def __post_init__(self):
        if not isinstance(self.model, dict):
            raise PredictionsError(f"Predictions: model must be a dict of metadata (name, gmacs, "
                                   f"...), got {type(self.model).__name__}")
        name = self.model.get("name", "?")
        self.sample_ids = _sample_ids(self.sample_ids, name)
        try:  # class indices >= 0, never truncated from floats (checks.check_labels)
            self.labels = check_labels(self.labels, "labels")
            self.preds = check_labels(self.preds, "preds")
        except InputError as exc:
            raise PredictionsError(f"Predictions of '{name}': {exc}") from None
        try:
            self.conf = np.asarray(self.conf, dtype=np.float64)
        except (TypeError, ValueError):
            raise PredictionsError(f"Predictions of '{name}': conf must be numbers in [0, 1], "
                                   f"got {np.asarray(self.conf).dtype}") from None
        n = len(self.sample_ids)
        for what, arr in (("labels", self.labels), ("preds", self.preds), ("conf", self.conf)):
            if arr.ndim != 1 or len(arr) != n:
                raise PredictionsError(f"Predictions of '{name}': {what} has shape {arr.shape}, "
                                       f"expected ({n},) like sample_ids")
        bad = ~np.isfinite(self.conf)
        if bad.any():
            raise PredictionsError(
                f"Predictions of '{name}': {int(bad.sum())} of {n} confidences are NaN or "
                f"infinite (first at sample {self.sample_ids[np.argmax(bad)]!r}). Recompute them "
                "(e.g. softmax of finite logits) or drop those samples.")
        if n and (self.conf.min() < 0 or self.conf.max() > 1):
            raise PredictionsError(
                f"Predictions of '{name}': confidences must lie in [0, 1], found range "
                f"[{self.conf.min():.4g}, {self.conf.max():.4g}]. Pass max softmax "
                "probabilities, not logits.")
        if len(np.unique(self.sample_ids)) != n:
            raise PredictionsError(f"Predictions of '{name}': sample ids are not unique")
        if self.logits is not None:
            self.logits = np.asarray(self.logits, dtype=np.float32)
            if self.logits.ndim != 2 or len(self.logits) != n:
                raise PredictionsError(f"Predictions of '{name}': logits shape "
                                       f"{self.logits.shape}, expected ({n}, num_classes)")

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.sample_ids)

    @property
    def name(self) -> str:
        return self.model.get("name", "")

    @property
    def correct(self) -> np.ndarray:
        return self.preds == self.labels

    @property
    def accuracy(self) -> float:
        """Top-1 as a fraction."""
        return float(self.correct.mean()) if len(self) else float("nan")

    def subset(self, idx) -> "Predictions":
        idx = np.asarray(idx)
        return Predictions(self.sample_ids[idx], self.labels[idx], self.preds[idx],
                           self.conf[idx], None if self.logits is None else self.logits[idx],
                           dict(self.model), self.dataset)

    # ------------------------------------------------------------------ storage
    def save(self, path: str | os.PathLike) -> Path:
        """npz without pickle, written to a temporary file and renamed: no half-written file."""
        path = Path(path)
        try:
            meta = json.dumps({"model": self.model, "dataset": self.dataset}, default=_json_default)
        except (TypeError, ValueError) as exc:
            raise PredictionsError(f"cannot save Predictions of '{self.name}': its metadata holds "
                                   f"a value JSON cannot store ({exc}); use numbers, strings, "
                                   "lists and dicts") from None
        arrays = dict(sample_ids=self.sample_ids.astype(str), labels=self.labels,
                      preds=self.preds, conf=self.conf, meta=np.array(meta))
        if self.logits is not None:
            arrays["logits"] = self.logits
        try:
            with atomic_write(path, suffix=".npz") as tmp:
                np.savez_compressed(tmp, **arrays)
        except OSError as exc:  # read-only or missing folder, disk full: one line, no traceback
            raise PredictionsError(f"cannot write Predictions to {path} ({exc.strerror or exc}); "
                                   "choose another output path") from None
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Predictions":
        """A saved record; a missing, truncated, corrupt or foreign file is a one-line error."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no Predictions file at {path}; create it with "
                                    f"`littlebig predict ... --out {path}`")
        how = "re-create it with littlebig predict"
        with open(path, "rb") as f:
            magic = f.read(6)
        if not (magic.startswith(b"PK\x03\x04") or magic == b"\x93NUMPY"):
            raise PredictionsError(f"{path} is not a Predictions file (not an npz archive: "
                                   f"it starts with {magic!r}); {how}")
        _check_declared_sizes(path, how)
        try:
            z = np.load(path, allow_pickle=False)
            if not isinstance(z, np.lib.npyio.NpzFile):  # a plain .npy array
                raise PredictionsError(f"{path} is a single numpy array, not a Predictions "
                                       f"file (an npz archive); {how}")
            with z:
                missing = [k for k in ("sample_ids", "labels", "preds", "conf", "meta")
                           if k not in z.files]
                if missing:
                    raise PredictionsError(f"{path} is an npz file but not a Predictions file "
                                           f"(no {', '.join(missing)}); {how}")
                meta = json.loads(str(z["meta"]))
                arrays = {k: z[k] for k in ("sample_ids", "labels", "preds", "conf")}
                logits = z["logits"] if "logits" in z.files else None
        except PredictionsError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
            # numpy's message for a non-npz file advises allow_pickle=True: never pass that on
            detail = type(exc).__name__ if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            raise PredictionsError(f"{path} is not a readable Predictions file (truncated or "
                                   f"corrupt): {detail}; {how}") from None
        if not isinstance(meta, dict):
            raise PredictionsError(f"{path}: its metadata is not a JSON object; {how}")
        if not isinstance(meta.get("model", {}), dict):
            raise PredictionsError(f"{path}: its metadata's 'model' is a "
                                   f"{type(meta['model']).__name__}, not an object (name, gmacs, "
                                   f"...); {how}")
        return cls(arrays["sample_ids"], arrays["labels"], arrays["preds"], arrays["conf"],
                   logits, meta.get("model", {}), meta.get("dataset", ""))


_ARRAYS = ("sample_ids", "labels", "preds", "conf", "logits")


def _check_declared_sizes(path: Path, how: str) -> None:
    """Refuse an archive whose arrays would decompress to more than their headers say, or
    whose headers disagree on the number of samples, before anything is decompressed.

    Each member's ``.npy`` header (read from the first bytes of the stream) gives its shape and
    dtype; the zip directory gives the member's declared uncompressed size. They must agree
    (header + n x itemsize), and every array must hold as many rows as ``sample_ids``: a 1.6 MB
    file whose ``conf`` claims 1.6 GB is refused here instead of being read whole.
    """
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as zf:
            members = {i.filename: i for i in zf.infolist()}
            rows = {}
            for key in _ARRAYS + ("meta",):
                info = members.get(f"{key}.npy")
                if info is None:
                    continue
                with zf.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                    expected = f.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                if info.file_size != expected:
                    raise PredictionsError(
                        f"{path}: array '{key}' declares {info.file_size:,} bytes but its header "
                        f"says {expected:,} (shape {shape}); the file is corrupt or crafted; {how}")
                if key != "meta":
                    rows[key] = shape[0] if shape else None
    except PredictionsError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise PredictionsError(f"{path} is not a readable Predictions file (truncated or "
                               f"corrupt): {type(exc).__name__}; {how}") from None
    n = rows.get("sample_ids")
    for key, m in rows.items():
        if m != n:
            raise PredictionsError(f"{path}: '{key}' has {m} rows but sample_ids has {n}; the "
                                   f"arrays of one record must have one row per sample; {how}")


def align(*records: Predictions) -> tuple[Predictions, ...]:
    """Same samples in the same order, or a PredictionsError saying what differs.

    Records already in the same order are returned as they are; records holding the same
    set of ids in another order are reordered to the first one's order.
    """
    first = records[0]
    out = [first]
    for other in records[1:]:
        if len(other) == len(first) and np.array_equal(other.sample_ids, first.sample_ids):
            rec = other
        else:
            a, b = set(first.sample_ids), set(other.sample_ids)
            if a != b:
                raise PredictionsError(
                    f"cannot align '{first.name}' ({len(first)} samples, {first.dataset}) with "
                    f"'{other.name}' ({len(other)} samples, {other.dataset}): "
                    f"{len(a - b)} ids only in the first, {len(b - a)} only in the second "
                    f"(e.g. {sorted(a ^ b)[:3]}). Use predictions of the same dataset split.")
            pos = {s: i for i, s in enumerate(other.sample_ids)}
            rec = other.subset(np.array([pos[s] for s in first.sample_ids]))
        if not np.array_equal(rec.labels, first.labels):
            raise PredictionsError(
                f"'{first.name}' and '{other.name}' disagree on the labels of "
                f"{int((rec.labels != first.labels).sum())} samples with the same id: "
                "they were not made from the same dataset")
        out.append(rec)
    return tuple(out)
