"""The CIFAR-10 chapters' study: the four option-A ResNets on the JPEG copy, their pairs, the
routing scores and a fixed budget — the loops over pairs that the notebooks
(cifar_pairs, confidence_scores) call once instead of writing out.

The images are the offline JPEG copy of the CIFAR-10 test set (a shifted CIFAR-10, about 10
points below the checkpoints' lossless accuracy): every accuracy here is on that copy, and
`JPEG_TOP1_MANIFEST` is the independent measurement of the same checkpoints on it (data
MANIFEST.md) that a reader can hold ours against.

Units: tables and rows are fractions (accuracy 0.81, macs_reduction 0.4), like the core's;
the markdown tables, figures, alt texts and verdicts print percent and points.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core import pairs as core_pairs
from littlebig_utils.core import scores
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core.uncertainty import Difference, mcnemar_difference

__all__ = ["JPEG_TOP1_MANIFEST", "SCORE_NAMES", "depth", "models_table", "heldout_difference",
           "reference_pairs", "score_comparison", "score_summary", "budget_table",
           "fraction_curves"]

#: top-1 (a fraction) of the checkpoints on the JPEG test copy, measured independently (data
#: MANIFEST.md: 81.03, 82.56, 82.67 and 83.20 %)
JPEG_TOP1_MANIFEST = {"cifar_resnet20": 0.8103, "cifar_resnet32": 0.8256,
                      "cifar_resnet44": 0.8267, "cifar_resnet56": 0.8320}

#: routing scores compared in the confidence-score chapter (key of `scores.score` -> reader's name)
SCORE_NAMES = {"max_softmax": "max softmax", "margin": "margin", "neg_entropy": "negative entropy",
               "temperature": "temperature-scaled softmax"}


def depth(model: str) -> int | None:
    """20 for "cifar_resnet20"; None for a name that is not a CIFAR ResNet."""
    tail = model.removeprefix("cifar_resnet")
    return int(tail) if tail != model and tail.isdigit() else None


def models_table(records: dict[str, Predictions], gmacs: dict[str, float]) -> pd.DataFrame:
    """One row per model: GMACs, our top-1 on the images scored, the independent top-1 of the
    same checkpoint on the JPEG copy (MANIFEST) and the lossless top-1 stored in the checkpoint
    (`cifar.STORED_TOP1`, percent there); all fractions."""
    from littlebig_utils.run.cifar import STORED_TOP1
    rows = [dict(model=m, gmacs=float(gmacs[m]), top1=p.accuracy, n=len(p),
                 top1_manifest_jpeg=JPEG_TOP1_MANIFEST.get(m, np.nan),
                 top1_stored_lossless=STORED_TOP1.get(depth(m), np.nan) / 100)
            for m, p in records.items()]
    return pd.DataFrame(rows)


def heldout_difference(little: Predictions, big: Predictions, little_gmacs: float,
                       big_gmacs: float, calib_frac: float = 0.5,
                       seed: int = 0) -> tuple[dict, Difference]:
    """The paper's no-loss threshold chosen on a random calibration part (the package's one
    split: `engine.split_indices(n, calib_frac, seed)`) and applied to the rest.

    Returns (threshold, share sent to big and MACs reduction on the held-out part, fractions) and the
    held-out accuracy difference cascade − big with its exact McNemar interval: whether
    "no loss" survives on images the threshold did not see. No threshold on the calibration
    part means the big model alone (difference 0, nothing saved).
    """
    if not np.array_equal(little.sample_ids, big.sample_ids):
        raise ValueError(f"{little.name} and {big.name} do not hold the same images in the same "
                         "order: align them first (predictions.align)")
    calib, test = engine.split_indices(len(little), calib_frac, seed)
    point = engine.no_loss_point(engine.sweep(little.subset(calib), big.subset(calib)))
    t = 1.0 if point is None else float(point["threshold"])
    lt, bt = little.subset(test), big.subset(test)
    to_big = engine.route(lt.conf, t) if point is not None else np.ones(len(lt), dtype=bool)
    cascade_correct = np.where(to_big, bt.correct, lt.correct)
    frac = float(to_big.mean())
    info = dict(threshold=t, found=point is not None, n_calib=len(calib), n_test=len(test),
                frac_big=frac,
                macs_reduction=1 - (little_gmacs + frac * big_gmacs) / big_gmacs)
    return info, mcnemar_difference(cascade_correct, bt.correct)


def reference_pairs(records: dict[str, Predictions], refs: dict[str, Predictions],
                    gmacs: dict[str, float]) -> pd.DataFrame:
    """Each of our models as little model under each published reference model as big one
    (no-loss point, `pairs.pair_summary`); the references saw the lossless images."""
    rows = [core_pairs.pair_summary(p, ref, gmacs[m], ref.model.get("gmacs"))
            for ref in refs.values() for m, p in records.items()]
    return pd.DataFrame(rows)


def score_comparison(records: dict[str, Predictions], gmacs: dict[str, float],
                     pairs: pd.DataFrame, calib: np.ndarray, evaluation: np.ndarray,
                     names: dict[str, str] = SCORE_NAMES) -> tuple[pd.DataFrame, dict]:
    """MACs reduction at the no-loss point of each routing score, per pair of `pairs` (rows
    with little/big), on the `evaluation` images; the temperature of "temperature" is fitted on
    `calib` (disjoint). Returns (one row per pair and score, fitted temperature per model)."""
    if len(np.intersect1d(calib, evaluation)):
        raise ValueError("calibration and evaluation images overlap: the temperature would be "
                         "fitted on the images it is scored on")
    temperature = {m: scores.fit_temperature(p.logits[calib], p.labels[calib])
                   for m, p in records.items()}
    rows = []
    for a, b in zip(pairs["little"], pairs["big"]):
        lp, bp = records[a].subset(evaluation), records[b].subset(evaluation)
        for key, name in names.items():
            conf = scores.score(key, lp.logits, temperature[a] if key == "temperature" else None)
            point = engine.no_loss_point(engine.sweep_arrays(
                conf, lp.correct, bp.correct, little_gmacs=gmacs[a], big_gmacs=gmacs[b]))
            rows.append(dict(little=a, big=b, score=name,
                             accuracy_gap=bp.accuracy - lp.accuracy,
                             macs_reduction=np.nan if point is None else float(point["macs_reduction"]),
                             frac_big=np.nan if point is None else float(point["frac_big"]),
                             threshold=np.nan if point is None else float(point["threshold"])))
    return pd.DataFrame(rows), temperature


def score_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per score over the pairs: median, min and max MACs reduction (a score that never reaches
    no loss on a pair counts as nothing saved there: the big model alone) and the pairs it wins
    (ties count for every tied score); best median first."""
    c = comparison.assign(saved=comparison["macs_reduction"].fillna(0.0))
    best = c.groupby(["little", "big"])["saved"].transform("max")
    out = c.assign(win=c["saved"] >= best - 1e-9).groupby("score", sort=False).agg(
        median=("saved", "median"), min=("saved", "min"), max=("saved", "max"),
        wins=("win", "sum"), pairs=("saved", "size"))
    return out.sort_values(["median", "wins"], ascending=False, kind="stable").reset_index()


def budget_table(records: dict[str, Predictions], gmacs: dict[str, float], pairs: pd.DataFrame,
                 budget_gmacs: float) -> pd.DataFrame:
    """Per pair of `pairs`, the most accurate threshold whose mean cost is at most
    `budget_gmacs` per image (`engine.budget_point`), most accurate first; pairs that cannot
    meet the budget are left out."""
    rows = []
    for a, b in zip(pairs["little"], pairs["big"]):
        p = engine.budget_point(engine.sweep(records[a], records[b]), gmacs=budget_gmacs)
        if p is not None:
            rows.append(dict(little=a, big=b, threshold=float(p["threshold"]),
                             accuracy=float(p["accuracy"]), gmacs=float(p["gmacs"]),
                             frac_big=float(p["frac_big"])))
    cols = ["little", "big", "threshold", "accuracy", "gmacs", "frac_big"]
    return (pd.DataFrame(rows, columns=cols)
            .sort_values(["accuracy", "gmacs"], ascending=[False, True], kind="stable")
            .reset_index(drop=True))


def fraction_curves(table: pd.DataFrame, little: str, big: str, little_accuracy: float,
                    big_accuracy: float, point: pd.Series | None = None,
                    dataset: str = "CIFAR-10 test, JPEG copy", ax=None):
    """Cascade accuracy against the share of images sent to the big model (%), which spreads
    the curve evenly where a threshold axis squeezes it into T > 0.9 (confident networks);
    the no-loss point is marked with its T. Legend below the axes, off the data. Accuracies
    (fractions) are drawn in percent."""
    from littlebig_utils.book import plots as plotting
    little_accuracy, big_accuracy = 100 * little_accuracy, 100 * big_accuracy
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4.2))
    t = table.sort_values("frac_big", kind="stable")
    ax.plot(100 * t["frac_big"], 100 * t["accuracy"], color=plotting.CASCADE, lw=2, label="cascade")
    ax.axhline(big_accuracy, color=plotting.BIG, ls="--", lw=1.2,
               label=f"{big} alone ({big_accuracy:.2f} %)")
    ax.axhline(little_accuracy, color=plotting.LITTLE, ls=":", lw=1.2,
               label=f"{little} alone ({little_accuracy:.2f} %)")
    if point is not None:
        ax.plot([100 * float(point["frac_big"])], [100 * float(point["accuracy"])], "o", color="k", ms=6,
                label=(f"no-loss point: T = {float(point['threshold']):.3f}, "
                       f"{100 * float(point['frac_big']):.1f} % to big"))
    ax.set_xlabel("images sent to the big model (%)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_xlim(0, 100)
    lo = min(little_accuracy, 100 * float(t["accuracy"].min()))
    hi = max(big_accuracy, 100 * float(t["accuracy"].max()))
    ax.set_ylim(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    ax.set_title(f"{little} \u2192 {big}, {dataset}")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small",
              frameon=False)
    return fig



# ------------------------------------------------------------------ the chapters' verdicts and tables

def reduction_verdict(meaningful: pd.DataFrame, reported=(0.30, 0.80), what_extra: str = ""):
    """Verdict on "30–80 % fewer MACs at no loss": the median MACs reduction over the
    meaningful pairs (big model at least 1 point more accurate) against the reported range
    (fractions; the verdict prints percent); Not testable here when no pair is meaningful."""
    from littlebig_utils.book import verdicts
    if meaningful.empty:
        return verdicts.verdict_not_testable(
            "no pair has a big model at least 1 point more accurate than its little model on "
            "these images.")
    return verdicts.verdict_range(
        100 * float(meaningful["macs_reduction"].median()), *(100 * r for r in reported), unit=" %",
        what=f"the median MACs reduction at no loss over the {len(meaningful)} meaningful pairs"
             + what_extra)


def models_markdown(table: pd.DataFrame) -> str:
    """`models_table` as the chapter's numbered table (percent; reader's headers, right-aligned)."""
    from littlebig_utils.book.notebook import markdown_table
    cols = ["model", "gmacs", "top1", "top1_manifest_jpeg", "top1_stored_lossless"]
    shown = table[cols].assign(**{c: 100 * table[c] for c in cols[2:]})
    return markdown_table(shown, formats={"gmacs": ".4f"}, headers={
        "gmacs": "GMACs", "top1": "top-1 here (%)", "top1_manifest_jpeg": "top-1 JPEG, manifest (%)",
        "top1_stored_lossless": "top-1 lossless, stored (%)"})


def pairs_markdown(pairs: pd.DataFrame, min_gap: float = 0.01) -> str:
    """The pair table with the accuracy gap (points) and whether each pair is meaningful (gap
    at least `min_gap`, a fraction), 7 columns."""
    from littlebig_utils.book.notebook import markdown_table
    gap = pairs["big_accuracy"] - pairs["little_accuracy"]
    t = pairs[["little", "big"]].assign(
        gap=100 * gap, threshold=pairs["threshold"], frac_big=100 * pairs["frac_big"],
        macs_reduction=100 * pairs["macs_reduction"],
        meaningful=np.where((gap >= min_gap) & ~pairs["degenerate"].astype(bool), "yes", "no"))
    return markdown_table(t, formats={"gap": ".2f", "threshold": ".3f", "frac_big": ".1f",
                                      "macs_reduction": ".1f"},
                          headers={"gap": "gap big − little (points)", "threshold": "T",
                                   "frac_big": "sent to big (%)",
                                   "macs_reduction": "MACs reduction (%)"})


def curves_alt(little: str, big: str, little_accuracy: float, big_accuracy: float, point) -> str:
    """Alt text of `fraction_curves` with its numbers (accuracies given as fractions)."""
    little_accuracy, big_accuracy = 100 * little_accuracy, 100 * big_accuracy
    start = (f"Line plot of the cascade's top-1 accuracy against the share of CIFAR-10 test images "
             f"sent to {big}: it rises from {little_accuracy:.1f} % ({little} alone)")
    if point is None:
        return start + f" and never reaches {big_accuracy:.1f} % ({big} alone)."
    return (start + f" and reaches {big_accuracy:.1f} % ({big} alone) when "
            f"{100 * float(point['frac_big']):.0f} % of the images go to the big model.")


__all__ += ["reduction_verdict", "models_markdown", "pairs_markdown", "curves_alt"]
