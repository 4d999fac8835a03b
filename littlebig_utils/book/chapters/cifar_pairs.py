"""Chapter `cifar_pairs` (notebooks/cifar_pairs.ipynb): the four CIFAR ResNets on the lossless
test set, their pairs, the held-out check of "no loss", the verdict, and what changed from the
JPEG copy the chapter used before.

Units: frames and rows are fractions (accuracy 0.9173, macs_reduction 0.4); the markdown
tables, figures, alt texts and verdicts print percent and points.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from littlebig_utils.book import claims
from littlebig_utils.book.notebook import markdown_table
from littlebig_utils.core import engine
from littlebig_utils.core import pairs as core_pairs
from littlebig_utils.core.engine import no_loss_point
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core.uncertainty import Difference, mcnemar_difference

__all__ = ["depth", "models_table", "models_markdown", "pairs_markdown", "heldout_difference",
           "claim_numbers", "fraction_curves", "curves_alt", "references", "reference_pairs",
           "budget_table", "numbers", "jpeg_numbers", "no_loss_point"]


def depth(model: str) -> int | None:
    """20 for "cifar_resnet20"; None for a name that is not a CIFAR ResNet."""
    tail = model.removeprefix("cifar_resnet")
    return int(tail) if tail != model and tail.isdigit() else None


def models_table(records: dict[str, Predictions], jpeg: dict[str, Predictions] | None = None
                 ) -> pd.DataFrame:
    """One row per model: GMACs, our top-1 on the images scored, the top-1 published with the
    checkpoint (`run.cifar.PUBLISHED_TOP1`, the lossless test set) and, given `jpeg`, our top-1
    on the JPEG copy of the same images; fractions."""
    from littlebig_utils.run.cifar import PUBLISHED_TOP1
    return pd.DataFrame([dict(
        model=m, gmacs=float(p.model["gmacs"]), n=len(p), top1=p.accuracy,
        top1_published=PUBLISHED_TOP1.get(depth(m), np.nan),
        top1_jpeg=jpeg[m].accuracy if jpeg is not None and m in jpeg else np.nan)
        for m, p in records.items()])


def models_markdown(table: pd.DataFrame) -> str:
    """`models_table` as the chapter's first table (percent; reader's headers)."""
    cols = ["model", "gmacs", "top1", "top1_published", "top1_jpeg"]
    shown = table[cols].assign(**{c: 100 * table[c] for c in cols[2:]})
    return markdown_table(shown, formats={"gmacs": ".4f"}, headers={
        "gmacs": "GMACs", "top1": "top-1, ours (%)", "top1_published": "top-1, published (%)",
        "top1_jpeg": "top-1 on the JPEG copy, ours (%)"})


def pairs_markdown(pairs: pd.DataFrame, min_gap: float = 0.01) -> str:
    """The pair table with the accuracy gap (points) and whether each pair is meaningful (gap
    at least `min_gap`, a fraction), 7 columns."""
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


def heldout_difference(little: Predictions, big: Predictions, little_gmacs: float,
                       big_gmacs: float, calib_frac: float = 0.5,
                       seed: int = 0) -> tuple[dict, Difference]:
    """The paper's no-loss threshold chosen on a random calibration part (the package's one
    split: `engine.split_indices(n, calib_frac, seed)`) and applied to the rest.

    Returns (threshold, share sent to big and MACs reduction on the held-out part, fractions)
    and the held-out accuracy difference cascade − big with its exact McNemar interval: whether
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


def claim_numbers(meaningful: pd.DataFrame, heldout: Difference) -> dict:
    """The statistics of claim ``lb-cifar`` (`book.claims`), fractions: the median MACs
    reduction at the in-sample no-loss point over the meaningful pairs (None when no pair is
    meaningful) and the held-out difference cascade − big of the chapter's pair with its
    interval. The saving alone cannot reproduce the claim: its "no loss" is judged held out."""
    median = float(meaningful["macs_reduction"].median()) if len(meaningful) else None
    return dict(median_reduction=median, heldout_diff=heldout.diff, heldout_diff_lo=heldout.lo,
                heldout_diff_hi=heldout.hi)


def fraction_curves(table: pd.DataFrame, little: str, big: str, little_accuracy: float,
                    big_accuracy: float, point: pd.Series | None = None,
                    dataset: str = "CIFAR-10 test, lossless", ax=None):
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


def curves_alt(little: str, big: str, little_accuracy: float, big_accuracy: float, point) -> str:
    """Alt text of `fraction_curves` with its numbers (accuracies given as fractions)."""
    little_accuracy, big_accuracy = 100 * little_accuracy, 100 * big_accuracy
    start = (f"Line plot of the cascade's top-1 accuracy against the share of CIFAR-10 test images "
             f"sent to {big}: it rises from {little_accuracy:.1f} % ({little} alone)")
    if point is None:
        return start + f" and never reaches {big_accuracy:.1f} % ({big} alone)."
    return (start + f" and reaches {big_accuracy:.1f} % ({big} alone) when "
            f"{100 * float(point['frac_big']):.0f} % of the images go to the big model.")


def references(names, n_images: int) -> dict[str, Predictions]:
    """Published CIFAR-10 test predictions (Guo et al.; lossless images) of `names`, cut to the
    first `n_images` images (a smoke run's subset); an unknown name is a one-line
    ParameterError."""
    from littlebig_utils.book.notebook import ParameterError, listed
    from littlebig_utils.run.datasets import CIFAR10_REFERENCE, load_cifar10_reference
    names = listed(names)
    if isinstance(names, str) or not all(r in CIFAR10_REFERENCE for r in names):
        raise ParameterError(f"parameter references must be a list of {', '.join(CIFAR10_REFERENCE)}, "
                             f"got {names!r} (e.g. -p references '[\"resnet110\"]')")
    return {r: (p if len(p) == n_images else p.subset(np.arange(n_images)))
            for r in names for p in [load_cifar10_reference(r)]}


def reference_pairs(records: dict[str, Predictions], refs: dict[str, Predictions],
                    gmacs: dict[str, float]) -> pd.DataFrame:
    """Each of our models as little model under each published reference model as big one
    (no-loss point, `pairs.pair_summary`); both saw the lossless images."""
    rows = [core_pairs.pair_summary(p, ref, gmacs[m], ref.model.get("gmacs"))
            for ref in refs.values() for m, p in records.items()]
    return pd.DataFrame(rows)


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


def numbers(records: dict[str, Predictions], pairs: pd.DataFrame, models: pd.DataFrame,
            row: pd.Series, heldout: dict, diff: Difference, extra: pd.DataFrame) -> dict:
    """The numbers the chapter's prose quotes (percent and points): the models, the meaningful
    pairs, the chapter's pair (`row` of the pair table) in-sample and held out, and the best
    cascade under a published reference model (`extra`, from `reference_pairs`)."""
    from littlebig_utils.book.notebook import difference_text
    from littlebig_utils.book.selection import meaningful_pairs
    meaningful = meaningful_pairs(pairs)
    red = 100 * meaningful["macs_reduction"]
    la, ba = records[row["little"]].accuracy, records[row["big"]].accuracy
    ref = extra.sort_values("macs_reduction", ascending=False, na_position="last").iloc[0]
    word = ("the interval excludes zero, so the in-sample “no loss” does not carry over to new "
            "images" if diff.hi < 0 else "a gain" if diff.lo > 0 else
            "consistent with no loss at this sample size")
    return dict(
        n_images=len(records[row["little"]]), n_pairs=len(pairs), n_meaningful=len(meaningful),
        meaningful_names=", ".join(f"{a} → {b}" for a, b in zip(meaningful["little"],
                                                                meaningful["big"])),
        median_reduction=float(red.median()), min_reduction=float(red.min()),
        max_reduction=float(red.max()),
        published_dev=100 * float((models["top1"] - models["top1_published"]).abs().max()),
        spread=100 * float(models["top1"].max() - models["top1"].min()),
        little_acc=100 * la, big_acc=100 * ba, gap=100 * (ba - la),
        threshold=float(row["threshold"]), frac_big_pct=100 * float(row["frac_big"]),
        macs_reduction=100 * float(row["macs_reduction"]),
        ho_t=heldout["threshold"], ho_frac=100 * heldout["frac_big"],
        ho_red=100 * heldout["macs_reduction"], ho_n=heldout["n_test"],
        ho_diff=difference_text(diff), ho_word=word,
        ref_big=ref["big"], ref_acc=100 * float(ref["big_accuracy"]), ref_little=ref["little"],
        ref_frac=100 * float(ref["frac_big"]), ref_red=100 * float(ref["macs_reduction"]))


def jpeg_numbers(jpeg: dict[str, Predictions], gmacs: dict[str, float], models: pd.DataFrame,
                 little: str, big: str, seed: int = 0) -> dict:
    """The chapter's figures recomputed on the JPEG copy (what the chapter showed before it
    moved to the lossless images), for the prose: the models' top-1 drop (points), the
    meaningful pairs and their median MACs reduction (%), the verdict label on those images and
    the held-out difference of the same pair (points); the verdict label is decided by the
    claim's rule without being recorded (`claims.decide`)."""
    from littlebig_utils.book.selection import meaningful_pairs
    pairs = core_pairs.pairs_table(jpeg, gmacs)
    meaningful = meaningful_pairs(pairs)
    _, diff = heldout_difference(jpeg[little], jpeg[big], gmacs[little], gmacs[big], seed=seed)
    drop = 100 * (models["top1"] - models["top1_jpeg"])
    return dict(jpeg_drop_min=float(drop.min()), jpeg_drop_max=float(drop.max()),
                jpeg_n_meaningful=len(meaningful),
                jpeg_median=100 * float(meaningful["macs_reduction"].median())
                if len(meaningful) else float("nan"),
                jpeg_verdict=claims.decide("lb-cifar", **claim_numbers(meaningful, diff)).label,
                jpeg_ho=f"{100 * diff.diff:+.2f} points (95 % CI {100 * diff.lo:+.2f} to "
                        f"{100 * diff.hi:+.2f})")
