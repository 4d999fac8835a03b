"""Chapter `heldout_thresholds` (notebooks/heldout_thresholds.ipynb): the held-out study of every
meaningful pair, the chapter's figures and table, and its exercise on a calibration margin.

Frames and dicts are fractions (`studies.heldout_summary`); the `*_numbers` dicts, the table and
the figures are in the page's units (percent, accuracy points)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book.studies import (CALIB_FRAC, HELDOUT_SPLITS, heldout_percent, heldout_runs,
                                          heldout_summary)

__all__ = ["pair_numbers", "heldout_pairs", "pairs_numbers", "claim_numbers", "heldout_pairs_markdown",
           "plot_heldout", "plot_heldout_pairs", "margin_runs"]


def pair_numbers(row: pd.Series, held: dict) -> dict:
    """The first section's numbers (percent and points): the pair's same-data operating point
    (paper_reduction, paper_t, gap) and its held-out summary (`studies.heldout_percent`)."""
    return dict(paper_reduction=100 * float(row["macs_reduction"]), paper_t=float(row["threshold"]),
                gap=100 * float(row["big_accuracy"] - row["little_accuracy"]), **heldout_percent(held))


def heldout_pairs(records: dict[str, Predictions], pairs: pd.DataFrame,
                  n_splits: int = HELDOUT_SPLITS, calib_frac: float = CALIB_FRAC,
                  seed: int = 0) -> pd.DataFrame:
    """`studies.heldout_summary` for every row of `pairs` (e.g. `selection.meaningful_pairs`),
    one row per pair with the pair's accuracy gap and same-data MACs reduction next to it;
    fractions (the chapter's CSV)."""
    rows = []
    for _, p in pairs.iterrows():
        runs = heldout_runs(records[p["little"]], records[p["big"]], p["little_gmacs"],
                            p["big_gmacs"], n_splits, calib_frac, seed)
        rows.append(dict(little=p["little"], big=p["big"],
                         gap=float(p["big_accuracy"] - p["little_accuracy"]),
                         same_data_reduction=float(p["macs_reduction"]), **heldout_summary(runs)))
    return pd.DataFrame(rows)


def pairs_numbers(table: pd.DataFrame) -> dict:
    """The numbers the "every meaningful pair" section quotes, from `heldout_pairs` (percent
    of splits and of MACs, accuracy points)."""
    return dict(n_overview=len(table), median_loss_rate=100 * table["loss_rate"].median(),
                min_loss_rate=100 * table["loss_rate"].min(),
                max_loss_rate=100 * table["loss_rate"].max(),
                all_mean_loss=100 * table["mean_loss_when_lost"].mean(),
                all_worst_p05=100 * table["p05_change"].min(),
                median_held_reduction=100 * table["heldout_reduction"].median(),
                median_oracle_reduction=100 * table["oracle_reduction"].median())


def claim_numbers(held: dict, table: pd.DataFrame) -> dict:
    """The statistics of claim ``lb-heldout`` (`book.claims`), fractions: the headline pair's
    held-out loss rate (`studies.heldout_summary`) and the median over the meaningful pairs of
    `heldout_pairs` of the mean MACs reduction with the held-out T (None without a pair). The
    saving and the "no loss" are both judged on images T was not chosen on."""
    median = float(table["heldout_reduction"].median()) if len(table) else None
    return dict(loss_rate=float(held["loss_rate"]), heldout_reduction=median)


def heldout_pairs_markdown(table: pd.DataFrame, top: int = 10) -> str:
    """The chapter's numbered table: the `top` pairs of `heldout_pairs` by same-data MACs
    reduction (points and percent)."""
    from littlebig_utils.book.notebook import markdown_table
    t = table.sort_values("same_data_reduction", ascending=False).head(top)
    cols = ["gap", "same_data_reduction", "heldout_reduction", "loss_rate", "mean_change",
            "p05_change"]
    t = pd.concat([pd.DataFrame({"pair": t["little"] + " → " + t["big"]}), 100 * t[cols]], axis=1)
    return markdown_table(
        t, formats={"gap": ".2f", "same_data_reduction": ".1f", "heldout_reduction": ".1f",
                    "loss_rate": ".0f", "mean_change": "+.3f", "p05_change": "+.3f"},
        headers={"gap": "gap (points)", "same_data_reduction": "MACs red. same-data (%)",
                 "heldout_reduction": "MACs red. held-out (%)", "loss_rate": "splits losing (%)",
                 "mean_change": "mean change (points)", "p05_change": "5th pct change (points)"})


def plot_heldout(runs: pd.DataFrame, big_name: str, title: str):
    """Left: histogram of the held-out change (cascade − big, points); right: held-out vs oracle
    MACs reduction per split, splits that lose in the big model's colour. Legends below."""
    import matplotlib.pyplot as plt
    from littlebig_utils.book import plots as plotting
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    ax1.hist(100 * runs["change"], bins=30, color=plotting.CASCADE, alpha=0.8,
             label="held-out T (one count per split)")
    ax1.axvline(0, color=plotting.BIG, ls="--", lw=1.2, label=f"{big_name} alone")
    ax1.set_xlabel("accuracy change on the test split (points, cascade − big)")
    ax1.set_ylabel("splits (count)")
    lost = runs["lost"].to_numpy(bool)
    for mask, color, label in ((~lost, plotting.CASCADE, "held-out T: no loss"),
                               (lost, plotting.BIG, "held-out T: below big")):
        ax2.scatter(100 * runs["oracle_macs_reduction"][mask], 100 * runs["macs_reduction"][mask], s=14,
                    color=color, alpha=0.7, label=label)
    both = 100 * runs[["macs_reduction", "oracle_macs_reduction"]]
    lim = [float(both.min().min()) - 1, float(both.max().max()) + 1]
    ax2.plot(lim, lim, color="0.4", lw=0.8, label="held-out = oracle")
    ax2.set(xlim=lim, ylim=lim, xlabel="MACs reduction, oracle T (%)",
            ylabel="MACs reduction, held-out T (%)")
    for ax in (ax1, ax2):
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
                  frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_heldout_pairs(table: pd.DataFrame, title: str):
    """Share of losing splits (%) against the pair's accuracy gap (points), colour = mean
    change (points), from `heldout_pairs`."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    sc = ax.scatter(100 * table["gap"], 100 * table["loss_rate"], s=36, c=100 * table["mean_change"],
                    cmap="coolwarm_r", vmin=-0.1, vmax=0.1, edgecolor="k", lw=0.4)
    fig.colorbar(sc, ax=ax).set_label("mean change on test splits (points, cascade − big)")
    ax.axhline(50, color="0.5", ls=":", lw=1)
    ax.set(xlabel="accuracy gap: big − little (top-1 points)",
           ylabel="splits where the held-out T loses (%)", ylim=(-3, 103), title=title)
    return fig


def margin_runs(little: Predictions, big: Predictions, little_gmacs: float, big_gmacs: float,
                margin: float, n_splits: int = HELDOUT_SPLITS, calib_frac: float = CALIB_FRAC,
                seed: int = 0) -> pd.DataFrame:
    """Exercise 2: on each split (seed ``seed + s``, as `studies.heldout_runs`) the cheapest T
    whose calibration accuracy is at least big's plus `margin` (a fraction: 0.001 = 0.1
    point), judged on the test side (`engine.evaluate_thresholds`; no such T: big alone)."""
    calib = engine.split_masks(len(little), calib_frac, np.arange(seed, seed + n_splits))

    def threshold(m):
        sweep = engine.sweep_arrays(little.conf[m], little.correct[m], big.correct[m])
        point = engine.matched_accuracy_point(sweep, big.correct[m].mean() + margin)
        return np.nan if point is None else point["threshold"]
    return engine.evaluate_thresholds(little.conf, little.correct, big.correct,
                                      [threshold(m) for m in calib], ~calib, missing="big",
                                      little_gmacs=little_gmacs, big_gmacs=big_gmacs)
