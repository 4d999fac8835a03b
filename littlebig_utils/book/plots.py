"""One figure style for the whole book, and the figures more than one chapter draws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from littlebig_utils.book.selection import MIN_GAP, accuracy_gap, meaningful_pairs

PALETTE = sns.color_palette("colorblind")
LITTLE, BIG, CASCADE = PALETTE[0], PALETTE[3], PALETTE[2]


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "axes.titlesize": "medium", "legend.frameon": True})


def save(fig, path) -> None:
    """PNG for the book and PDF for print, side by side."""
    from pathlib import Path
    path = Path(path)
    fig.savefig(path.with_suffix(".png"))
    fig.savefig(path.with_suffix(".pdf"))


def threshold_curves(table: pd.DataFrame, little: str, big: str, little_accuracy: float,
                     big_accuracy: float, point: pd.Series | None = None,
                     dataset: str = "ImageNet-1k val", ax=None):
    """Accuracy and fraction sent to big against the threshold T (the paper's Figure 3).

    `table` is a sweep (`sweep`), the accuracies are fractions; drawn in percent."""
    little_accuracy, big_accuracy = 100 * little_accuracy, 100 * big_accuracy
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.2))
    fig = ax.figure
    acc = ax.plot(table["threshold"], 100 * table["accuracy"], color=CASCADE, lw=2,
                  label="cascade top-1 (left axis)")
    ax.axhline(big_accuracy, color=BIG, ls="--", lw=1.2, label=f"{big} alone ({big_accuracy:.2f} %)")
    ax.axhline(little_accuracy, color=LITTLE, ls=":", lw=1.2,
               label=f"{little} alone ({little_accuracy:.2f} %)")
    ax.set_xlabel("threshold T (little's max softmax below T goes to big)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_xlim(0, 1)
    lo = min(little_accuracy, 100 * table["accuracy"].min())
    hi = max(big_accuracy, 100 * table["accuracy"].max())
    ax.set_ylim(lo - 0.15 * (hi - lo), hi + 0.1 * (hi - lo))
    ax2 = ax.twinx()
    frac = ax2.plot(table["threshold"], 100 * table["frac_big"], color="0.35", lw=1.5,
                    label="sent to big (right axis)")
    ax2.set_ylabel("samples sent to big (%)")
    ax2.set_ylim(0, 100)
    ax2.grid(False)
    handles = acc + frac + ax.get_lines()[1:3]
    if point is not None:
        t = float(point["threshold"])
        ax.axvline(t, color="k", lw=0.8)
        mk = ax.plot([t], [100 * point["accuracy"]], "o", color="k", ms=6,
                     label=f"no-loss point T={t:.3f}: {100 * point['frac_big']:.1f} % to big")
        handles += mk
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              fontsize="small")
    ax.set_title(f"{little} \u2192 {big} on {dataset}")
    return fig


# the headline figures (all-pairs chapter and landing page)


def reduction_vs_gap(pairs: pd.DataFrame, min_gap: float = MIN_GAP, headline: pd.Series | None = None,
                     ax=None, dataset: str = "ImageNet-1k val"):
    """MACs reduction at no accuracy loss (%) against the accuracy gap (big − little, points), one
    dot per genuine pair with an operating point: the trade-off a single headline hides (the pair
    table and `min_gap` are fractions, drawn in percent and points). Pairs
    left of `min_gap` are drawn hollow (their reduction is mostly the little model's own cost);
    the headline pair (default: the best meaningful one) is labelled."""
    genuine = pairs[~pairs["degenerate"].astype(bool) & pairs["macs_reduction"].notna()]
    meaningful = accuracy_gap(genuine) >= min_gap
    gap, red = 100 * accuracy_gap(genuine), 100 * genuine["macs_reduction"]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
    else:
        fig = ax.figure
    ax.scatter(gap[meaningful], red[meaningful], s=28,
               color=CASCADE, label=f"meaningful pairs (gap ≥ {100 * min_gap:g} point)", zorder=3)
    ax.scatter(gap[~meaningful], red[~meaningful], s=28, facecolors="none",
               edgecolors="0.45", label=f"gap < {100 * min_gap:g} point", zorder=3)
    ax.axvline(100 * min_gap, color="0.6", lw=1, ls="--", zorder=1)
    if headline is None and not meaningful_pairs(pairs, min_gap).empty:
        headline = meaningful_pairs(pairs, min_gap).iloc[0]
    if headline is not None:
        x = 100 * float(headline["big_accuracy"] - headline["little_accuracy"])
        y = 100 * float(headline["macs_reduction"])
        ax.scatter([x], [y], s=90, marker="*", color="black", zorder=4)
        ax.annotate(f"{headline['little']} → {headline['big']}", (x, y), xytext=(8, 6),
                    textcoords="offset points", fontsize=9, zorder=5)
    ax.set_xlabel("accuracy gap: big − little (top-1 points)")
    ax.set_ylabel("MACs reduction at no accuracy loss (%)")
    ax.axhline(0, color="0.3", lw=0.8, zorder=1)  # below 0: the cascade costs more than big alone
    ax.set_ylim(min(0.0, float(red.min()) - 5) if len(genuine) else 0, 100)
    ax.set_xlim(0, max(float(gap.max()) if len(gap) else 1.0, 100 * min_gap) * 1.08)
    ax.set_title(f"{len(genuine)} genuine pairs, {dataset}")
    # below the axes, so the legend never covers a dot
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=9, frameon=False)
    return fig


def reduction_vs_gap_alt(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> str:
    """Descriptive alt text for `reduction_vs_gap` (what the figure shows, with its numbers)."""
    genuine = pairs[~pairs["degenerate"].astype(bool) & pairs["macs_reduction"].notna()]
    gap = accuracy_gap(genuine)
    m = genuine[gap >= min_gap]
    if m.empty:
        return (f"Scatter plot of MACs reduction against the accuracy gap for {len(genuine)} pairs; "
                f"no pair has a gap of {100 * min_gap:g} point or more.")
    return (f"Scatter plot of MACs reduction at no accuracy loss against the accuracy gap between "
            f"big and little model for {len(genuine)} pairs; the {len(m)} pairs with a gap of at "
            f"least {100 * min_gap:g} point save {100 * m['macs_reduction'].min():.0f} to "
            f"{100 * m['macs_reduction'].max():.0f} % of the big model's MACs; "
            + ("savings shrink as the gap grows." if np.corrcoef(gap, genuine["macs_reduction"])[0, 1] < 0
               else "savings do not shrink as the gap grows."))
