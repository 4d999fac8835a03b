"""The 14 reference ImageNet models: which timm weights each file is, and what it costs.

The prediction files carry no model metadata, only predictions. Each file's architecture is
known from its name (aliases below); its pretrained tag and evaluation size are recovered by
matching the file's measured top-1 against timm's published results table, restricted to that
architecture (and to the weight family the file name implies). The residual of that match is
kept, and a file without a close match (> 0.5 points) is flagged rather than trusted.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from littlebig_utils.data import registry as data
from littlebig_utils.core.predictions import Predictions

__all__ = ["REFERENCE_ARCH", "match_timm_tag", "models_table", "load_reference",
           "MODEL_COLUMNS", "MATCH_TOLERANCE"]

MATCH_TOLERANCE = 0.5  # points of top-1

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

MODEL_COLUMNS = ["model", "source", "timm_tag", "img_size", "top1", "real_top1", "gmacs", "params_m"]
EXTRA_COLUMNS = ["timm_top1", "top1_residual", "timm_real_top1", "real_residual",
                 "timm_bench_gmacs", "flagged"]


def match_timm_tag(name: str, top1: float) -> dict:
    """Closest row of timm's results-imagenet.csv for this file's architecture."""
    arch, tag_part, size = REFERENCE_ARCH[name]
    res = data.load_timm_results("imagenet")
    base = res["model"].str.split(".").str[0]
    cand = res[base == arch]
    if size:
        cand = cand[cand["img_size"] == size]
    if tag_part:
        cand = cand[cand["model"].str.split(".").str[1].str.contains(tag_part, regex=False)]
    if cand.empty:
        return dict(timm_tag="", img_size=np.nan, timm_top1=np.nan, top1_residual=np.nan)
    best = cand.iloc[(cand["top1"] - top1).abs().argsort().iloc[0]]
    return dict(timm_tag=best["model"], img_size=int(best["img_size"]),
                timm_top1=float(best["top1"]), top1_residual=float(top1 - best["top1"]))


def _timm_value(table: str, tag: str, img_size: int, column: str) -> float:
    df = data.load_timm_results(table) if table != "bench" else _bench()
    key = "model" if table != "bench" else "model"
    size_col = "img_size" if table != "bench" else "infer_img_size"
    name = tag if table != "bench" else tag.split(".")[0]
    row = df[(df[key] == name) & (df[size_col] == img_size)]
    return float(row[column].iloc[0]) if len(row) else np.nan


@functools.lru_cache(maxsize=1)
def gmacs_table() -> pd.DataFrame:
    """The committed GMACs table (data/gmacs.csv): counted once with FlopCounterMode by the run
    layer and checked against a fresh count by tests/test_gmacs_table.py; nothing is counted at
    load time."""
    from importlib import resources
    with resources.files("littlebig_utils.data").joinpath("gmacs.csv").open("r") as f:
        return pd.read_csv(f, comment="#").set_index("model")


def committed_gmacs(name: str, arch: str, img_size: int) -> tuple[float, float]:
    """(GMACs, params in millions) of reference model `name` from the committed table."""
    table = gmacs_table()
    if name not in table.index:
        raise KeyError(f"no committed GMACs for reference model '{name}' (data/gmacs.csv)")
    row = table.loc[name]
    if row["arch"] != arch or int(row["img_size"]) != img_size:
        raise ValueError(f"data/gmacs.csv row for '{name}' is {row['arch']}@{row['img_size']}, "
                         f"expected {arch}@{img_size}: regenerate the table")
    return float(row["gmacs"]), float(row["params_m"])


def _bench() -> pd.DataFrame:
    return data.load_timm_benchmark()


@functools.lru_cache(maxsize=1)
def models_table() -> pd.DataFrame:
    """`littlebig models` table: contract columns first, then the evidence for each match."""
    real = data.load_real_labels()
    rows = []
    for name in sorted(data.IMAGENET_MODELS):
        p = data.load_imagenet_predictions(name)
        top1 = 100.0 * p.accuracy
        m = match_timm_tag(name, top1)
        arch = REFERENCE_ARCH[name][0]
        gmacs, params = committed_gmacs(name, arch, int(m["img_size"]))
        real_top1 = 100.0 * data.real_accuracy(p.preds, real)
        timm_real = _timm_value("imagenet-real", m["timm_tag"], m["img_size"], "top1")
        rows.append(dict(
            model=name, source=data.model_source(name), timm_tag=m["timm_tag"],
            img_size=m["img_size"], top1=top1, real_top1=real_top1, gmacs=gmacs, params_m=params,
            timm_top1=m["timm_top1"], top1_residual=m["top1_residual"], timm_real_top1=timm_real,
            real_residual=real_top1 - timm_real,
            timm_bench_gmacs=_timm_value("bench", m["timm_tag"], m["img_size"], "infer_gmacs"),
            flagged=bool(not abs(m["top1_residual"]) <= MATCH_TOLERANCE)))
    return pd.DataFrame(rows, columns=MODEL_COLUMNS + EXTRA_COLUMNS)


def load_reference(names=None) -> dict[str, Predictions]:
    """Reference predictions with model metadata (tag, input size, GMACs, params) filled in."""
    table = models_table().set_index("model")
    names = sorted(data.IMAGENET_MODELS) if names is None else list(names)
    out = {}
    for name in names:
        p = data.load_imagenet_predictions(name)
        row = table.loc[name]
        p.model.update(timm_tag=row["timm_tag"], img_size=int(row["img_size"]),
                       gmacs=float(row["gmacs"]), params_m=float(row["params_m"]))
        out[name] = p
    return out
