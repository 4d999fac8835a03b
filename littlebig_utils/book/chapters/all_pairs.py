"""Chapter `all_pairs` (notebooks/all_pairs.ipynb): every pair at its no-loss point at once,
the heat map, the saving against the accuracy gap (also the landing page's figure, glued from
this chapter), its verdict and its exercise's loop.

The pair table is in fractions (`pairs_table`); figures, alt text and the verdict's text are in
percent and accuracy points.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from littlebig_utils.book import verdicts
from littlebig_utils.book.headlines import PAPER_RANGE, pair_label, typical_reduction
from littlebig_utils.book.plots import CASCADE
from littlebig_utils.book.selection import MIN_GAP, accuracy_gap, meaningful_pairs

__all__ = ["verdict_all_pairs", "reduction_heatmap", "reduction_vs_gap", "reduction_vs_gap_alt",
           "companion_choice", "pair_counts"]


def verdict_all_pairs(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> verdicts.Verdict:
    """The all-pairs claim: large savings for some pairs and no loss-free speed-up for others.
    Partly reproduced when both kinds exist here (we have 14 models, not the paper's 63)."""
    gen = pairs[~pairs["degenerate"].astype(bool) & pairs["macs_reduction"].notna()]
    n_none = int((gen["macs_reduction"] <= 0).sum()) + int(
        (~pairs["degenerate"].astype(bool) & pairs["macs_reduction"].isna()).sum())
    t = typical_reduction(pairs, min_gap)
    if not np.isfinite(t["median"]):
        return verdicts.verdict_not_testable(f"no pair here is at least {100 * min_gap:g} point apart.")
    text = (f"over all {len(pairs)} pairs of our models, {n_none} genuine pairs have no loss-free "
            f"speed-up while the meaningful pairs save a median {t['median']:.1f} % "
            f"({t['n']} pairs)")
    lo, hi = PAPER_RANGE
    if n_none > 0 and 100 * lo <= t["median"] <= 100 * hi:
        return verdicts.Verdict(verdicts.PARTLY, text + "; both kinds appear as in the paper's app, "
                                "but on 14 models instead of its 63 (1,953 pairs).")
    return verdicts.Verdict(verdicts.NOT_REPRODUCED, text + ".")


def reduction_heatmap(pairs: pd.DataFrame, dataset: str = "ImageNet-1k val", fontsize: float = 10):
    """MACs reduction at no loss of every pair (rows: big, columns: little, by GMACs), cells
    written at `fontsize` (readable) in percent; hatched "deg." = degenerate, "none" = no
    loss-free speed-up; the legend sits in the empty triangle above the diagonal."""
    from matplotlib.patches import Patch

    g = dict(zip(pairs["little"], pairs["little_gmacs"])) | dict(zip(pairs["big"], pairs["big_gmacs"]))
    order = sorted(g, key=lambda k: (g[k], k))
    red = 100 * pairs.pivot(index="big", columns="little", values="macs_reduction").reindex(
        index=order, columns=order)
    deg = (pairs.pivot(index="big", columns="little", values="degenerate")
           .reindex(index=order, columns=order).astype("boolean").fillna(False).astype(bool))
    is_pair = pairs.assign(v=True).pivot(index="big", columns="little", values="v").reindex(
        index=order, columns=order).notna()
    genuine = red.where(~deg)
    none = is_pair & ~deg & (genuine.isna() | (genuine <= 0))
    n = len(order)
    fig, ax = plt.subplots(figsize=(9.5, 9))
    im = ax.imshow(genuine.where(~none).to_numpy(dtype=float), cmap="viridis", vmin=0, vmax=100)
    for i, big in enumerate(order):
        for j, little in enumerate(order):
            if deg.loc[big, little]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="0.88", hatch="///",
                                           edgecolor="0.65", lw=0))
                ax.text(j, i, "deg.", ha="center", va="center", fontsize=fontsize - 1, color="0.2")
            elif none.loc[big, little]:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="white",
                                           edgecolor="0.6", lw=0.8))
                ax.text(j, i, "none", ha="center", va="center", fontsize=fontsize - 1, color="0.2")
            elif np.isfinite(genuine.iloc[i, j]):
                v = genuine.iloc[i, j]
                ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=fontsize,
                        color="white" if v < 60 else "black")
    labels = [f"{k} ({g[k]:.2f})" for k in order]
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=fontsize)
    ax.set_yticks(range(n), labels, fontsize=fontsize)
    ax.set_xlabel("little model (GMACs per image)")
    ax.set_ylabel("big model (GMACs per image)")
    ax.grid(False)
    ax.set_title(f"MACs reduction (%) at no accuracy loss, {dataset}")
    cb = fig.colorbar(im, ax=ax, shrink=0.7)
    cb.set_label("MACs reduction at no loss (%)")
    ax.legend(handles=[Patch(facecolor="0.88", hatch="///", edgecolor="0.6",
                             label="deg.: degenerate, little already as accurate (T = 0)"),
                       Patch(facecolor="white", edgecolor="0.6",
                             label="none: no loss-free speed-up"),
                       Patch(facecolor="white", edgecolor="white",
                             label="blank: not a pair (little not cheaper)")],
              # in the blank upper-right triangle (no pairs there), so it covers no cell
              loc="upper right", ncol=1, fontsize=fontsize, frameon=True)
    return fig


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


def companion_choice(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> pd.DataFrame:
    """Per big model with a meaningful companion: the cheapest such little model and the best
    one (largest MACs reduction), and whether they differ."""
    m = meaningful_pairs(pairs, min_gap)
    rows = []
    for b, g in m.groupby("big", sort=False):
        cheapest = g.sort_values(["little_gmacs", "little"], kind="stable")["little"].iloc[0]
        best = g["little"].iloc[0]  # meaningful_pairs is sorted best first
        rows.append({"big": b, "cheapest": cheapest, "best": best, "differ": cheapest != best})
    return pd.DataFrame(rows, columns=["big", "cheapest", "best", "differ"])


def pair_counts(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> dict:
    """The counts the chapter's prose quotes: pairs, degenerate and genuine ones, genuine pairs
    that never reach the big model's accuracy or reach it only at a cost above the big model
    alone, genuine pairs closer than `min_gap`, and the worst genuine pair with an operating
    point (its MACs reduction and share sent to big in percent)."""
    is_deg = pairs["degenerate"].astype(bool)
    gen = pairs[~is_deg & pairs["macs_reduction"].notna()]
    worst = gen.sort_values("macs_reduction").iloc[0] if len(gen) else None
    return dict(
        n_pairs=len(pairs), n_degenerate=int(is_deg.sum()), n_genuine=int((~is_deg).sum()),
        n_unreached=int((~is_deg & pairs["macs_reduction"].isna()).sum()),
        n_no_saving=int((gen["macs_reduction"] <= 0).sum()),
        n_near=int((accuracy_gap(gen) < min_gap).sum()),
        worst_pair="none" if worst is None else pair_label(worst["little"], worst["big"]),
        worst_reduction=np.nan if worst is None else 100 * float(worst["macs_reduction"]),
        worst_frac_pct=np.nan if worst is None else 100 * float(worst["frac_big"]))
