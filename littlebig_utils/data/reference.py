"""Reference predictions by dataset name, and the reference models' metadata.

`load(dataset, models=None)` reads only the prediction files of the models asked for and
fills in each model's metadata (architecture, timm tag, input size, GMACs, parameters) from the
committed table ``data/gmacs.csv``: nothing is counted and no torch is imported at load time.
The GMACs in that table were counted with FlopCounterMode by the run layer
(``python -m littlebig_utils.run.costs --write-table``), and tests/test_gmacs_table.py recounts
every row.

The ImageNet prediction files carry no model metadata. Each file's architecture is known from
its name (`REFERENCE_ARCH`); its pretrained tag and evaluation size were chosen by matching the
file's measured top-1 against timm's published results table, restricted to that architecture
(and to the weight family the file name implies), and committed to the table. `models_table`
(`littlebig models`) redoes that match as evidence and flags a file whose committed tag is not
the closest row or lies more than `MATCH_TOLERANCE` away.
"""
from __future__ import annotations

import csv
import functools

import numpy as np

from littlebig_utils.data import DATASETS
from littlebig_utils.data import registry as data
from littlebig_utils.data.registry import GMACS_TABLE, DataError, close_names

__all__ = ["load", "reference_models", "committed_metadata", "real_correct", "models_table",
           "match_timm_tag", "REFERENCE_ARCH", "CIFAR10_REFERENCE",
           "MODEL_COLUMNS", "MATCH_TOLERANCE", "GMACS_TABLE"]

MATCH_TOLERANCE = 0.005  # top-1 (a fraction: half a point)

# file stem -> (timm architecture, required substring of the pretrained tag, fixed input size);
# None leaves the choice to the top-1 match.
REFERENCE_ARCH: dict[str, tuple] = {
    "densenetblur121d": ("densenetblur121d", None, None),
    "efficientnet_b1": ("efficientnet_b1", None, None),
    # timm's former name for efficientnet_b3 (ra2 weights) with its test config of 320 px and
    # crop 1.0 (the "a" variant); not a tf_ variant. Its weights were since updated, so the
    # 288 px row of today's table happens to lie as close in top-1; the size is the name's.
    "efficientnet_b3a": ("efficientnet_b3", None, 320),
    "ese_vovnet19b_dw": ("ese_vovnet19b_dw", None, None),
    "gluon_senet154": ("senet154", "gluon", None),
    "mixnet_m": ("mixnet_m", None, None),
    "mobilenetv3_large_100": ("mobilenetv3_large_100", None, None),
    "resnet34": ("resnet34", None, None),
    "resnext50_32x4d": ("resnext50_32x4d", None, None),
    "tf_inception_v3": ("inception_v3", "tf_in1k", None),
    # torchvision files: timm hosts the same weights under the tv_in1k tag
    "densenet161": ("densenet161", "tv_in1k", None),
    "inception_v3": ("inception_v3", "tv_in1k", None),
    "resnet101": ("resnet101", "tv_in1k", None),
    "resnext101_32x8d": ("resnext101_32x8d", "tv_in1k", None),
}

#: CIFAR-10 test predictions of the calibration study of Guo et al. (2017) (markus93's files;
#: lossless images, original order). Only ResNet-110 has an architecture here to count GMACs
#: on (the option-A CIFAR ResNet); DenseNet-40 has none, so its records carry no GMACs.
CIFAR10_REFERENCE = {"resnet110": "calibration_logits/probs_resnet110_c10_logits.csv",
                     "densenet40": "calibration_logits/probs_densenet40_c10_logits.csv"}
CIFAR10_SOURCE = "calibration_logits (lossless CIFAR-10)"

#: datasets without reference predictions: a network has to run first
_NEEDS_RUN = ("cifar10-test-jpeg", "cifar10-train")

MODEL_COLUMNS = ["model", "source", "timm_tag", "img_size", "top1", "real_top1", "gmacs", "params_m"]
EXTRA_COLUMNS = ["timm_top1", "top1_residual", "closest_timm_tag", "closest_img_size",
                 "timm_real_top1", "real_residual", "timm_bench_gmacs", "flagged"]


# ------------------------------------------------------------------------------------ load

def reference_models(dataset: str) -> tuple[str, ...]:
    """Names of the models whose reference predictions of `dataset` ship with the data."""
    _check_dataset(dataset)
    if dataset == "imagenet-val":
        return tuple(sorted(data.IMAGENET_MODELS))
    if dataset == "cifar10-test":
        return tuple(CIFAR10_REFERENCE)
    return ()


def load(dataset: str, models=None) -> dict:
    """Reference predictions of `dataset`: {model name: Predictions}, in the order asked for.

    Reads only the files of `models` (default: every reference model of the dataset), each
    checksum-verified, with the model's metadata from the committed table (``gmacs``,
    ``params_m``, ``img_size``, ``arch``, ``timm_tag``). No torch, nothing counted.

    - ``imagenet-val``: the 14 reference ImageNet models, 50,000 validation images.
    - ``cifar10-test``: ``resnet110`` and ``densenet40`` (no GMACs: no architecture here).
    - ``imagenet-real`` is refused: ReaL gives an image several correct labels (or none), which
      a Predictions record (one label per image) cannot hold. Load ``imagenet-val`` and score
      it with `real_correct`.
    - ``cifar10-test-jpeg`` and ``cifar10-train`` have no reference predictions: they are
      refused with the ``littlebig predict`` command that makes them.
    """
    _check_dataset(dataset)
    if dataset == "imagenet-real":
        raise DataError(
            "imagenet-real cannot be loaded as Predictions: ReaL gives an image several correct "
            "labels (or none), a Predictions record holds one; load('imagenet-val', models) and "
            "score it with littlebig_utils.data.real_correct(records), then pass the result to "
            "sweep(little, big, little_correct=..., big_correct=..., valid=...)")
    if dataset in _NEEDS_RUN:
        raise DataError(
            f"no reference predictions of '{dataset}' ship with the data: make them with "
            f"`littlebig predict --dataset {dataset} --model NAME --out NAME.npz` and read them "
            "with Predictions.load('NAME.npz')")
    names = _check_models(dataset, models)
    one = _imagenet_record if dataset == "imagenet-val" else _cifar10_record
    return {name: one(name) for name in names}


def _check_dataset(dataset) -> None:
    if not isinstance(dataset, str) or dataset not in DATASETS:
        raise DataError(f"unknown dataset {dataset!r}.{close_names(dataset, DATASETS)} "
                        f"Known: {', '.join(DATASETS)}.")


def _check_models(dataset: str, models) -> list[str]:
    known = reference_models(dataset)
    if models is None:
        return list(known)
    if isinstance(models, str):
        raise DataError(f"models must be a list of model names, got the string {models!r}; "
                        f"write [{models!r}]")
    names = list(models)
    if not names:
        raise DataError(f"models is empty; name at least one model of {dataset} "
                        "(or pass models=None for all of them)")
    for name in names:
        if name not in known:
            raise DataError(f"unknown reference model {name!r} of {dataset}."
                            f"{close_names(name, known)} Known: {', '.join(known)}.")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"model(s) {', '.join(twice)} asked for more than once; "
                        "name each model once")
    return names


def _imagenet_record(name: str):
    p = data.load_imagenet_predictions(name)
    p.model.update(committed_metadata("imagenet-val", name))
    return p


def _cifar10_record(name: str):
    from littlebig_utils.core.predictions import Predictions
    key = CIFAR10_REFERENCE[name]
    labels, preds, conf = data.read_predictions_csv(key, data.CIFAR10_TEST_N)
    if not np.array_equal(labels, data.cifar10_test_labels()):
        raise DataError(f"{key} is not in the original CIFAR-10 test order")
    model = {"name": name, "source": CIFAR10_SOURCE}
    if ("cifar10-test", name) in _committed_table():
        model.update(committed_metadata("cifar10-test", name))
    return Predictions([f"test_{i:05d}" for i in range(len(labels))], labels, preds, conf,
                       None, model, "cifar10-test")


@functools.lru_cache(maxsize=1)
def _committed_table() -> dict[tuple[str, str], dict]:
    table = {}
    with open(GMACS_TABLE, newline="") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            meta = {"arch": row["arch"], "img_size": int(row["img_size"]),
                    "gmacs": float(row["gmacs"]), "params_m": float(row["params_m"])}
            if row["timm_tag"]:
                meta["timm_tag"] = row["timm_tag"]
            table[(row["dataset"], row["model"])] = meta
    return table


def committed_metadata(dataset: str, name: str) -> dict:
    """arch, timm_tag (ImageNet), img_size, gmacs and params_m of a reference model, from the
    committed table data/gmacs.csv (a new dict: callers may change it)."""
    try:
        return dict(_committed_table()[(dataset, name)])
    except KeyError:
        raise DataError(f"no row for reference model '{name}' of {dataset} in {GMACS_TABLE}; "
                        "add it and run `python -m littlebig_utils.run.costs --write-table`"
                        ) from None


# ------------------------------------------------------------------------------------ ReaL

def real_correct(records: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per model: is its prediction in the image's ImageNet-ReaL label set; and which images
    ReaL labels at all (`valid`). All records must list the same images in the same order
    (ImageNet validation file names as sample ids, as `load('imagenet-val')` gives)."""
    ids = next(iter(records.values())).sample_ids
    real = data.load_real_labels(ids)
    correct, valid = {}, None
    for name, p in records.items():
        if not np.array_equal(p.sample_ids, ids):
            raise DataError(f"{name!r} lists other images than the first record: align them first")
        correct[name], valid = data.real_correct(p.preds, real)
    return correct, valid


# ------------------------------------------------------------------------------------ models

def match_timm_tag(name: str, top1: float) -> dict:
    """Closest row (tag and input size) of timm's results-imagenet.csv to `top1` (a fraction)
    among the rows of this file's architecture (and weight family, and size when fixed)."""
    arch, tag_part, size = REFERENCE_ARCH[name]
    res = data.load_timm_results("imagenet")
    cand = res[res["model"].str.split(".").str[0] == arch]
    if size:
        cand = cand[cand["img_size"] == size]
    if tag_part:
        cand = cand[cand["model"].str.split(".").str[1].str.contains(tag_part, regex=False)]
    if cand.empty:
        return dict(timm_tag="", img_size=np.nan)
    best = cand.iloc[(cand["top1"] / 100 - top1).abs().argsort().iloc[0]]
    return dict(timm_tag=best["model"], img_size=int(best["img_size"]))


def _timm_row(df, tag: str, img_size: int, column: str, size_col: str = "img_size") -> float:
    row = df[(df["model"] == tag) & (df[size_col] == img_size)]
    return float(row[column].iloc[0]) if len(row) else np.nan


@functools.lru_cache(maxsize=1)
def models_table():
    """`littlebig models`: the contract columns (fractions), then the evidence for each model's
    committed timm tag: timm's published top-1 of that tag, the residual, the closest row of
    timm's table, ReaL top-1 against timm's, and timm's own GMACs. Reads every model's file."""
    import pandas as pd
    real = data.load_real_labels()
    imagenet = data.load_timm_results("imagenet")
    imagenet_real = data.load_timm_results("imagenet-real")
    bench = data.load_timm_benchmark()
    rows = []
    for name, p in load("imagenet-val").items():
        m = p.model
        top1, real_top1 = p.accuracy, data.real_accuracy(p.preds, real)
        timm_top1 = _timm_row(imagenet, m["timm_tag"], m["img_size"], "top1") / 100
        timm_real = _timm_row(imagenet_real, m["timm_tag"], m["img_size"], "top1") / 100
        closest = match_timm_tag(name, top1)
        flagged = not (abs(top1 - timm_top1) <= MATCH_TOLERANCE
                       and (closest["timm_tag"], closest["img_size"]) == (m["timm_tag"], m["img_size"])
                       and m["arch"] == REFERENCE_ARCH[name][0])
        rows.append(dict(
            model=name, source=m["source"], timm_tag=m["timm_tag"], img_size=m["img_size"],
            top1=top1, real_top1=real_top1, gmacs=m["gmacs"], params_m=m["params_m"],
            timm_top1=timm_top1, top1_residual=top1 - timm_top1,
            closest_timm_tag=closest["timm_tag"], closest_img_size=closest["img_size"],
            timm_real_top1=timm_real, real_residual=real_top1 - timm_real,
            timm_bench_gmacs=_timm_row(bench, m["timm_tag"].split(".")[0], m["img_size"],
                                       "infer_gmacs", "infer_img_size"),
            flagged=bool(flagged)))
    return pd.DataFrame(rows, columns=MODEL_COLUMNS + EXTRA_COLUMNS)
