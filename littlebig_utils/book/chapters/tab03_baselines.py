"""Chapter `tab03_baselines` (notebooks/tab03_baselines.ipynb): timm's DeiT baselines, our
cheapest cascades and single models at their accuracies, Table 3 labelled by approach and
status, the fairness numbers its prose quotes, and the exercises' loops.

Tables are in fractions (top-1 0.7986); `fairness_numbers` is in percent and points, as quoted.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core.pairs import cheapest_cascade_at
from littlebig_utils.book.headlines import Zoo, pair_label
from littlebig_utils.book.notebook import ParameterError

__all__ = ["check_targets", "deit_baselines", "measured_at_targets", "cheapest_cascade_at",
           "best_at_any_cost", "NOT_IN_SOURCES", "table3", "fairness_numbers"]

NOT_IN_SOURCES = "not in our sources"


def check_targets(targets) -> dict[str, float]:
    """The `targets` parameter: label -> top-1 accuracy as a FRACTION in (0, 1). A value in
    (1, 100) is refused with both readings (it reads as percent), as a bad `-p` is."""
    import numbers
    if not isinstance(targets, dict) or not targets:
        raise ParameterError(f"parameter targets must be a non-empty dict of label -> top-1 as a "
                             f"fraction, got {targets!r} (e.g. -y \"targets: {{DeiT-S: 0.7981}}\")")
    for label, v in targets.items():
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)
        if ok and 0 < v < 1:
            continue
        hint = (f": read as percent it is {v / 100:g} (write that), read as a fraction it is "
                "above 1" if ok and 1 <= v < 100 else "")
        raise ParameterError(f"parameter targets[{label!r}] must be a top-1 accuracy as a fraction "
                             f"in (0, 1), got {v!r}{hint}")
    return {str(k): float(v) for k, v in targets.items()}


def deit_baselines() -> pd.DataFrame:
    """DeiT and DeiT III top-1 (a fraction) and GMACs (224 px) from timm's published tables
    (which give percent), by label."""
    from littlebig_utils.data import registry as data
    timm = data.load_timm_results("imagenet")
    bench = data.load_timm_benchmark()
    tags = {"DeiT-S": "deit_small_patch16_224.fb_in1k", "DeiT-B": "deit_base_patch16_224.fb_in1k",
            "DeiT III-S (ImageNet-1k only)": "deit3_small_patch16_224.fb_in1k",
            "DeiT III-S (ImageNet-21k pre-training)": "deit3_small_patch16_224.fb_in22k_ft_in1k",
            "DeiT III-B (ImageNet-1k only)": "deit3_base_patch16_224.fb_in1k"}
    rows = []
    for label, tag in tags.items():
        r = timm[(timm["model"] == tag) & (timm["img_size"] == 224)]
        if len(r) != 1:
            raise KeyError(f"{tag} at 224 px not found once in timm's results-imagenet.csv")
        b = bench[(bench["model"] == tag.split(".")[0]) & (bench["infer_img_size"] == 224)]
        rows.append({"model": label, "timm_tag": tag, "top1": float(r["top1"].iloc[0]) / 100,
                     "gmacs": float(b["infer_gmacs"].iloc[0]) if len(b) else np.nan})
    return pd.DataFrame(rows).set_index("model")


def measured_at_targets(zoo: Zoo, targets: dict[str, float]) -> pd.DataFrame:
    """For each named accuracy (a fraction): the cheapest cascade of two of our models reaching it
    (any threshold) and the cheapest single model reaching it; NaN / None where none does."""
    single = zoo.single_models()
    rows = []
    for label, acc in targets.items():
        c = cheapest_cascade_at(zoo.records, zoo.gmacs, acc)
        ok = single[single["accuracy"] >= acc - 1e-12]
        s = ok.iloc[0] if len(ok) else None  # cheapest first
        rows.append({"target": label, "target_top1": float(acc),
                     "cascade": None if c is None else pair_label(c["little"], c["big"]),
                     "threshold": np.nan if c is None else c["threshold"],
                     "cascade_top1": np.nan if c is None else c["accuracy"],
                     "cascade_gmacs": np.nan if c is None else c["gmacs"],
                     "single": None if s is None else s["name"],
                     "single_top1": np.nan if s is None else s["accuracy"],
                     "single_gmacs": np.nan if s is None else s["gmacs"]})
    return pd.DataFrame(rows)


def best_at_any_cost(zoo: Zoo) -> pd.Series:
    """The most accurate cascade of two of our models at any threshold (little, big,
    threshold, accuracy, gmacs); threshold chosen on the scored images."""
    best = None
    for _, r in zoo.pairs.iterrows():
        t = engine.sweep(zoo.records[r["little"]], zoo.records[r["big"]],
                         little_gmacs=zoo.gmacs[r["little"]], big_gmacs=zoo.gmacs[r["big"]])
        k = t["accuracy"].idxmax()
        row = pd.Series({"little": r["little"], "big": r["big"], "threshold": float(t["threshold"][k]),
                         "accuracy": float(t["accuracy"][k]), "gmacs": float(t["gmacs"][k])})
        if best is None or row["accuracy"] > best["accuracy"]:
            best = row
    return best


def table3(deit: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 3 labelled by approach and status: the baselines our sources hold
    (reported, timm), the rows whose numbers they do not hold (NaN, "not in our sources"), and
    our measured cheapest cascades (`measured_at_targets`); top1 as fractions."""
    na = np.nan
    rows = [("baseline", "DeiT-S as reported by A-ViT", 0.789, na, "reported"),
            ("baseline", "DeiT-S, original DeiT paper", 0.7981, na, "reported"),
            ("baseline", "DeiT-S (timm fb_in1k)", deit.loc["DeiT-S", "top1"], deit.loc["DeiT-S", "gmacs"], "timm table"),
            ("baseline", "DeiT-B (timm fb_in1k)", deit.loc["DeiT-B", "top1"], deit.loc["DeiT-B", "gmacs"], "timm table"),
            ("early exit", "A-ViT on DeiT-S", na, na, NOT_IN_SOURCES),
            ("token dropping", "DynamicViT on DeiT-S / DeiT-B", na, na, NOT_IN_SOURCES),
            ("pruning", "ViT pruning methods (not named)", na, na, NOT_IN_SOURCES),
            ("cascade", "Little-Big, DeiT-S / DeiT-B as big", na, na, NOT_IN_SOURCES)]
    for m in measured.itertuples():
        name = m.cascade if isinstance(m.cascade, str) else "none reaches it"
        rows.append(("cascade", f"ours at ≥ {100 * m.target_top1:.2f} %: {name}", m.cascade_top1,
                     m.cascade_gmacs, "measured"))
    return pd.DataFrame(rows, columns=["approach", "method", "top1", "gmacs", "status"])


def fairness_numbers(deit: pd.DataFrame, measured: pd.DataFrame, avit_baseline: float = 0.789) -> dict:
    """The recipe effects and matched-accuracy steps the baselines chapter states (as quoted:
    accuracies in percent, differences in points, GMACs, savings in percent), from timm's DeiT
    table and `measured_at_targets` (rows named "DeiT-S, timm (fb_in1k)" and
    "DeiT-B, timm (fb_in1k)"); `avit_baseline` is a fraction."""
    d, g = 100 * deit["top1"], deit["gmacs"]
    avit_baseline = 100 * avit_baseline
    s3, s22, b3 = ("DeiT III-S (ImageNet-1k only)", "DeiT III-S (ImageNet-21k pre-training)",
                   "DeiT III-B (ImageNet-1k only)")
    m = measured.set_index("target")
    ms, mb = m.loc["DeiT-S, timm (fb_in1k)"], m.loc["DeiT-B, timm (fb_in1k)"]

    def name(v, default):
        return v if isinstance(v, str) else default
    cs, ss = float(ms["cascade_gmacs"]), float(ms["single_gmacs"])
    return dict(
        deit_s=d["DeiT-S"], deit_b=d["DeiT-B"], deit_s_gmacs=g["DeiT-S"], deit_b_gmacs=g["DeiT-B"],
        avit_gap=d["DeiT-S"] - avit_baseline, deit3_s=d[s3], deit3_s_gain=d[s3] - d["DeiT-S"],
        deit3_s22k=d[s22], deit3_s22k_vs_b=d[s22] - d["DeiT-B"], deit3_s_vs_b=d["DeiT-B"] - d[s3],
        deit3_s_macs_vs_b=100 * (1 - g[s22] / g["DeiT-B"]), deit3_b=d[b3],
        deit3_b_gain=d[b3] - d["DeiT-B"], s_cascade=name(ms["cascade"], "none"), s_cascade_gmacs=cs,
        s_single=name(ms["single"], "none"), s_single_gmacs=ss,
        s_vs_deit_pct=100 * (1 - cs / g["DeiT-S"]), s_single_vs_deit_pct=100 * (1 - ss / g["DeiT-S"]),
        s_cascade_vs_single_pct=100 * (1 - cs / ss), s_threshold=float(ms["threshold"]),
        b_cascade=name(mb["cascade"], "no pair"), b_cascade_gmacs=float(mb["cascade_gmacs"]),
        b_single=name(mb["single"], "no single reference model"))
