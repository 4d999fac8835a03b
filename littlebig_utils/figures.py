"""Figures for the book's headlines (the chapters' shared figures live in `plotting`)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .selection import MIN_GAP, accuracy_gap, meaningful_pairs

__all__ = ["reduction_vs_gap", "reduction_vs_gap_alt"]


def reduction_vs_gap(pairs: pd.DataFrame, min_gap: float = MIN_GAP, headline: pd.Series | None = None,
                     ax=None, dataset: str = "ImageNet-1k val"):
    """MACs reduction at no accuracy loss against the accuracy gap (big − little, points), one
    dot per genuine pair with an operating point: the trade-off a single headline hides. Pairs
    left of `min_gap` are drawn hollow (their reduction is mostly the little model's own cost);
    the headline pair (default: the best meaningful one) is labelled."""
    from . import plotting
    genuine = pairs[~pairs["degenerate"].astype(bool) & pairs["macs_reduction"].notna()]
    gap = accuracy_gap(genuine)
    meaningful = gap >= min_gap
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
    else:
        fig = ax.figure
    ax.scatter(gap[meaningful], genuine["macs_reduction"][meaningful], s=28,
               color=plotting.CASCADE, label=f"meaningful pairs (gap ≥ {min_gap:g} point)", zorder=3)
    ax.scatter(gap[~meaningful], genuine["macs_reduction"][~meaningful], s=28, facecolors="none",
               edgecolors="0.45", label=f"gap < {min_gap:g} point", zorder=3)
    ax.axvline(min_gap, color="0.6", lw=1, ls="--", zorder=1)
    if headline is None and not meaningful_pairs(pairs, min_gap).empty:
        headline = meaningful_pairs(pairs, min_gap).iloc[0]
    if headline is not None:
        x = float(headline["big_accuracy"] - headline["little_accuracy"])
        y = float(headline["macs_reduction"])
        ax.scatter([x], [y], s=90, marker="*", color="black", zorder=4)
        ax.annotate(f"{headline['little']} → {headline['big']}", (x, y), xytext=(8, 6),
                    textcoords="offset points", fontsize=9, zorder=5)
    ax.set_xlabel("accuracy gap: big − little (top-1 points)")
    ax.set_ylabel("MACs reduction at no accuracy loss (%)")
    ax.axhline(0, color="0.3", lw=0.8, zorder=1)  # below 0: the cascade costs more than big alone
    ax.set_ylim(min(0.0, float(genuine["macs_reduction"].min()) - 5) if len(genuine) else 0, 100)
    ax.set_xlim(0, max(float(gap.max()) if len(gap) else 1.0, min_gap) * 1.08)
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
                f"no pair has a gap of {min_gap:g} point or more.")
    return (f"Scatter plot of MACs reduction at no accuracy loss against the accuracy gap between "
            f"big and little model for {len(genuine)} pairs; the {len(m)} pairs with a gap of at "
            f"least {min_gap:g} point save {m['macs_reduction'].min():.0f} to "
            f"{m['macs_reduction'].max():.0f} % of the big model's MACs; "
            + ("savings shrink as the gap grows." if np.corrcoef(gap, genuine["macs_reduction"])[0, 1] < 0
               else "savings do not shrink as the gap grows."))
