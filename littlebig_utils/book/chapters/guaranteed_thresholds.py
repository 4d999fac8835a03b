"""Chapter `guaranteed_thresholds` (notebooks/guaranteed_thresholds.ipynb): Learn-then-Test
thresholds against the other rules on many splits, their table and figure, the CIFAR-10H
analogue, and the exercise on one split.

Frames are fractions (`studies.summarize_study`); `numbers`, `guarantee_numbers`, the table and
the figure are in the page's units (percent, accuracy points)."""
from __future__ import annotations

import pandas as pd

from littlebig_utils.core import engine, ltt
from littlebig_utils.core.checks import check_delta
from littlebig_utils.core.pvalues import clopper_pearson_lower, clopper_pearson_upper
from littlebig_utils.core import experiments
from littlebig_utils.core.checks import check_max_loss
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book.studies import (CALIB_FRAC, heldout_percent, heldout_runs, heldout_summary,
                                          pick, summarize_study)

__all__ = ["RULE_NAMES", "little_meets_max_loss", "guarantee_warning", "rules_markdown",
           "plot_guarantee", "guarantee_numbers", "numbers", "violation_interval", "claim_numbers", "cifar10h_guarantee", "one_split"]


def little_meets_max_loss(row: pd.Series, max_loss: float) -> bool:
    """True when the little model alone loses at most `max_loss` (a fraction) against big (on
    the pair table's images): then "a cascade within max_loss" is an empty claim, T = 0 meets it."""
    return bool(row["big_accuracy"] - row["little_accuracy"] <= check_max_loss(max_loss))


def guarantee_warning(row: pd.Series, max_loss: float) -> str | None:
    """Markdown for the top of the guarantee chapter when the chosen pair's little model alone
    already meets max_loss (the guarantee is then empty: T = 0 satisfies it)."""
    if not little_meets_max_loss(row, max_loss):
        return None
    gap = 100 * float(row["big_accuracy"] - row["little_accuracy"])
    return (f"**Empty guarantee:** {row['little']} alone is only {gap:.2f} points below "
            f"{row['big']}, within epsilon = {100 * max_loss:g}: every threshold, T = 0 included, meets "
            "the bound, so this chapter's guarantee says nothing about cascades for this pair.")


RULE_NAMES = {"guaranteed": "guaranteed T (Learn-then-Test)", "empirical-no-loss":
              "empirical no-loss T (paper's rule)", "empirical-max-loss": "empirical T at epsilon (plug-in)",
              "oracle": "ε-oracle T (tuned on the test split)"}


def rules_markdown(summary: pd.DataFrame, labels: str, max_loss: float, delta: float) -> str:
    """One row per threshold rule at (max_loss, delta) for a label set: the guarantee chapter's
    table (percent and points)."""
    from littlebig_utils.book.notebook import markdown_table
    s = summary[(summary["labels"] == labels) & (summary["max_loss"] == max_loss)
                & (summary["delta"].isna() | (summary["delta"] == delta))]
    s = s.set_index("rule").loc[[r for r in RULE_NAMES if r in set(s["rule"])]].reset_index()
    t = pd.DataFrame({"rule": s["rule"].map(RULE_NAMES), "found": 100 * s["found"],
                      "violation": 100 * s["violation_rate"], "loss_rate": 100 * s["loss_rate"],
                      "loss": 100 * s["loss"], "frac_big": 100 * s["frac_big"],
                      "macs_reduction": 100 * s["macs_reduction"]})
    return markdown_table(t, formats={"found": ".0f", "violation": ".1f", "loss_rate": ".0f",
                                      "loss": "+.3f", "frac_big": ".1f", "macs_reduction": ".1f"},
                          headers={"found": "T found (%)", "violation": "loss > epsilon (%)",
                                   "loss_rate": "any loss (%)", "loss": "mean loss (points)",
                                   "frac_big": "to big (%)", "macs_reduction": "MACs red. (%)"})


def plot_guarantee(summary: pd.DataFrame, deltas, title: str):
    """Left: violation rate (% of splits with test loss > max_loss, ±2 SE) per rule against
    max_loss (in points), with the allowed delta; right: mean MACs reduction (%). Original
    labels; legend below."""
    import matplotlib.pyplot as plt
    from littlebig_utils.book import plots as plotting
    s = summary[summary["labels"] == "original"]
    eps = sorted(s["max_loss"].unique())
    x = {e: i for i, e in enumerate(eps)}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    series = [("guaranteed", d, f"guaranteed T, delta = {d:g}", plotting.PALETTE[2 + 2 * i], "o")
              for i, d in enumerate(deltas)]
    series += [("empirical-no-loss", None, RULE_NAMES["empirical-no-loss"], plotting.LITTLE, "s"),
               ("empirical-max-loss", None, RULE_NAMES["empirical-max-loss"], plotting.BIG, "^"),
               ("oracle", None, RULE_NAMES["oracle"], "0.3", "D")]
    for i, (rule, d, label, color, marker) in enumerate(series):
        g = s[(s["rule"] == rule) & (s["delta"].isna() if d is None else s["delta"] == d)]
        g = g.sort_values("max_loss")
        xs = g["max_loss"].map(x) + 0.06 * (i - (len(series) - 1) / 2)
        if rule != "oracle":
            ax1.errorbar(xs, 100 * g["violation_rate"], yerr=200 * g["violation_se"], marker=marker,
                         capsize=3, color=color, label=label)
        ax2.plot(xs, 100 * g["macs_reduction"], marker=marker, color=color, label=label)
    for i, d in enumerate(deltas):
        ax1.axhline(100 * d, color=plotting.PALETTE[2 + 2 * i], ls="--", lw=1)
    ax1.set_ylabel("splits with test loss > epsilon (%)")
    ax2.set_ylabel("MACs reduction vs big alone (%)")
    for ax in (ax1, ax2):
        ax.set_xticks(list(x.values()), [f"{100 * e:g}" for e in eps])
        ax.set_xlabel("epsilon (accuracy points one accepts to lose)")
    ax2.legend(fontsize="small", loc="upper center", bbox_to_anchor=(-0.1, -0.18), ncol=3,
               frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


_RULE_KEYS = {"guar": "guaranteed", "noloss": "empirical-no-loss", "plugin": "empirical-max-loss",
              "oracle": "oracle"}


def guarantee_numbers(summary: pd.DataFrame, max_loss: float, delta: float) -> dict:
    """The guarantee chapter's glued numbers at (max_loss, delta), for every label set of
    `summary`: ``{prefix}{viol|viol_se|loss|red|found}_{guar|noloss|plugin|oracle}`` with prefix
    "" for the original labels, else the label set's name lower-cased without "-" plus "_"
    ("real_", "cifar10h_"); rates in percent, losses in points (big − cascade)."""
    out = {}
    for labels in summary["labels"].unique():
        prefix = "" if labels == "original" else labels.lower().replace("-", "") + "_"
        for key, rule in _RULE_KEYS.items():
            r = pick(summary, labels=labels, rule=rule, max_loss=max_loss,
                     delta=delta if rule == "guaranteed" else None)
            out.update({f"{prefix}viol_{key}": 100 * r["violation_rate"],
                        f"{prefix}viol_se_{key}": 100 * r["violation_se"],
                        f"{prefix}loss_{key}": 100 * r["loss"],
                        f"{prefix}red_{key}": 100 * r["macs_reduction"],
                        f"{prefix}found_{key}": 100 * r["found"], f"{prefix}frac_{key}": 100 * r["frac_big"]})
    return out


def violation_interval(row: pd.Series, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided interval of the violation rate of a `summarize_study`
    row: `violation_rate` of its `n` splits, as fractions."""
    n = int(row["n"])
    k = round(float(row["violation_rate"]) * n)
    alpha = (1 - confidence) / 2
    return (float(clopper_pearson_lower(k, n, alpha)[()]), float(clopper_pearson_upper(k, n, alpha)[()]))


def claim_numbers(row: pd.Series, delta: float) -> dict:
    """The statistics of claim ``ours-guaranteed`` (`book.claims`; the book's own method, so
    Verified (ours) / Not verified (ours)), fractions: the guaranteed rule's violation rate
    over the splits (`summarize_study` row) with its exact 95 % interval, and delta. An
    interval across delta (few splits) leaves the claim Inconclusive."""
    lo, hi = violation_interval(row)
    return dict(violation_rate=float(row["violation_rate"]), violation_rate_lo=lo,
                violation_rate_hi=hi, delta=check_delta(delta))


def cifar10h_guarantee(max_loss: float, delta: float, n_splits: int, calib_frac: float = CALIB_FRAC,
                       seed: int = 0, method: str = "clopper-pearson"):
    """`split_study` on the published CIFAR-10 test predictions of ResNet-110 and DenseNet-40
    (the less accurate one as little), judged on the CIFAR-10 labels and on the CIFAR-10H human
    majority (images without a majority left out). Returns (summary, little, big)."""
    from littlebig_utils.run import cifar
    from littlebig_utils.run.datasets import cifar10h_labels, load_cifar10_reference
    labels = cifar.test_labels()
    majority, has_majority, _ = cifar10h_labels()
    little, big = sorted((load_cifar10_reference(m) for m in ("resnet110", "densenet40")),
                         key=lambda p: p.accuracy)
    runs = experiments.split_study(
        little.conf, little.preds == labels, big.preds == labels, [max_loss], [delta], n_splits,
        calib_frac, seed, method,
        shifted={"CIFAR-10H": (little.preds == majority, big.preds == majority, has_majority)})
    return summarize_study(runs), little, big


def numbers(little: Predictions, big: Predictions, row: pd.Series, summary: pd.DataFrame,
            n_splits: int, calib_frac: float, seed: int, max_loss: float, delta: float) -> dict:
    """The chapter's glued numbers (percent and points) for the pair `row` at (max_loss,
    delta): the pair's gap and same-data reduction, the split sizes, the held-out loss rate of
    the paper's rule on the same splits (`studies.heldout_runs`, the number
    heldout_thresholds quotes), every rule's `guarantee_numbers`, given_up (MACs reduction
    of the ε-oracle T minus the guaranteed T's), given_up_noloss (the paper's rule on the
    calibration split minus the guaranteed T's) and the violation rate's exact 95 % interval
    (viol_lo_guar, viol_hi_guar)."""
    held = heldout_summary(heldout_runs(little, big, row["little_gmacs"], row["big_gmacs"],
                                        n_splits, calib_frac, seed))
    out = dict(n_splits=n_splits, calib_pct=100 * calib_frac, n_calib=round(calib_frac * len(little)),
               eps=100 * max_loss, delta_pct=100 * delta, insample_red=100 * row["macs_reduction"],
               gap=100 * (row["big_accuracy"] - row["little_accuracy"]),
               heldout_loss_rate=heldout_percent(held)["loss_rate"],
               **guarantee_numbers(summary, max_loss, delta))
    out["given_up"] = out["red_oracle"] - out["red_guar"]
    out["given_up_noloss"] = out["red_noloss"] - out["red_guar"]
    lo, hi = violation_interval(pick(summary, labels="original", rule="guaranteed",
                                     max_loss=max_loss, delta=delta))
    out.update(viol_lo_guar=100 * lo, viol_hi_guar=100 * hi)
    return out


def one_split(little: Predictions, big: Predictions, row: pd.Series, calib_frac: float,
              method: str, max_loss: float, delta: float, seed: int = 0) -> pd.Series:
    """The exercise: the guaranteed T of `method` on the calibration side of split `seed`
    (`engine.split_indices`), judged on its test side (`engine.evaluate_thresholds`; no
    certified T: the big model alone)."""
    calib, test = engine.split_indices(len(little), calib_frac, seed)

    def on(i):
        return little.conf[i], little.correct[i], big.correct[i]
    g = ltt.guaranteed_threshold(*on(calib), max_loss, delta, method)
    return engine.evaluate_thresholds(*on(test), [g.threshold], missing="big",
                                      little_gmacs=row["little_gmacs"],
                                      big_gmacs=row["big_gmacs"]).iloc[0]
