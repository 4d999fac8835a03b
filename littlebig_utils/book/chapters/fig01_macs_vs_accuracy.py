"""Chapter `fig01_macs_vs_accuracy` (notebooks/fig01_macs_vs_accuracy.ipynb): single models
and each big model's best no-loss cascade as points, the Pareto frontiers with and without
cascades, Figure 1 itself, its verdict and the exercise's budget search.

Points, frontiers and the budget search are in fractions; the figure and the verdict's text
are in percent.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core import pairs as core_pairs
from littlebig_utils.core.pairs import pareto_front
from littlebig_utils.book import verdicts
from littlebig_utils.book.headlines import Zoo, pair_label

__all__ = ["frontier_points", "frontier_shift", "pareto_front", "verdict_frontier",
           "frontier_figure", "budget_best"]


def frontier_points(zoo: Zoo, best: pd.DataFrame) -> pd.DataFrame:
    """Single models and each big model's best cascade (`best`, e.g. `best_meaningful_per_big`)
    as points: name, kind, gmacs, accuracy, params_m (a cascade holds both models), big."""
    single = zoo.single_models().assign(kind="single model", big=lambda d: d["name"])
    params = dict(zip(single["name"], single["params_m"]))
    casc = pd.DataFrame({"name": [pair_label(a, b) for a, b in zip(best["little"], best["big"])],
                         "gmacs": best["gmacs"].to_numpy(), "accuracy": best["accuracy"].to_numpy(),
                         "params_m": [params[a] + params[b] for a, b in zip(best["little"], best["big"])],
                         "kind": "cascade (no loss)", "big": best["big"].to_numpy()})
    return pd.concat([single, casc], ignore_index=True)


def frontier_shift(points: pd.DataFrame) -> pd.DataFrame:
    """For each model on the single-model Pareto frontier (`points` from `frontier_points`), the
    fewest mean GMACs that reach its top-1 once cascades are allowed, and the saving (a
    fraction): how far the frontier moves left."""
    return core_pairs.frontier_shift(points[points["kind"] == "single model"], points)


def verdict_frontier(points: pd.DataFrame, paper_max_gmacs: float = 3000.0) -> verdicts.Verdict:
    """Figure 1's claim (cascades move the accuracy-compute frontier left), from the points:
    Not reproduced when no cascade joins the frontier; Partly when some do but our zoo covers
    only part of the paper's cost range; Reproduced when it covers it."""
    single = points[points["kind"] == "single model"]
    both = core_pairs.pareto_front(points)
    n_casc = int((both["kind"] != "single model").sum())
    shift = core_pairs.frontier_shift(single, points)
    best = 100 * float(shift["gmacs_saved"].max()) if len(shift) else np.nan
    top = float(single["gmacs"].max())
    if n_casc == 0:
        return verdicts.Verdict(verdicts.NOT_REPRODUCED, "no no-loss cascade of our models joins "
                                "the single-model Pareto frontier.")
    text = (f"{n_casc} no-loss cascades join the accuracy-compute frontier, which needs up to "
            f"{best:.0f} % fewer GMACs at a frontier model's accuracy")
    if top < paper_max_gmacs / 10:
        return verdicts.Verdict(verdicts.PARTLY, text + f"; but our models span only up to "
                                f"{top:.1f} GMACs, not the paper's up to {paper_max_gmacs:,.0f}.")
    return verdicts.Verdict(verdicts.REPRODUCED, text + ".")


def _place_labels(ax, xs, ys, texts, fontsize=9, color="0.2", avoid=()):
    """Name each point without overlaps: per label, the first of a few offsets whose box hits
    neither an earlier label nor a marker (greedy, deterministic; no extra dependency).
    `avoid`: (x, y, marker area in points^2) of every marker drawn."""
    from matplotlib.text import Text
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    placed = []
    for x, y, area in avoid:
        px, py = ax.transData.transform((x, y))
        r = 0.5 * np.sqrt(area) * fig.dpi / 72
        placed.append(np.array([px - r, py - r, px + r, py + r]))
    offsets = [(6, 4), (6, -12), (-6, 4), (-6, -12), (6, 14), (-6, 14), (6, -22), (-6, -22),
               (10, 24), (-10, 24), (10, -32), (-10, -32)]
    for (x, y), text in zip(zip(xs, ys), texts):
        for dx, dy in offsets + [offsets[0]]:
            lead = dict(arrowstyle="-", color="0.55", lw=0.6, shrinkA=0, shrinkB=3) if abs(dy) > 12 else None
            t = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                            fontsize=fontsize, color=color, ha="left" if dx > 0 else "right",
                            arrowprops=lead)
            t.update_positions(renderer)
            bb = Text.get_window_extent(t, renderer)  # the text alone, not its leader line
            box = np.array([bb.x0, bb.y0, bb.x1, bb.y1])
            hit = any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
                      for b in placed)
            inside = ax.bbox.x0 <= box[0] and box[2] <= ax.bbox.x1 and ax.bbox.y0 <= box[1] and box[3] <= ax.bbox.y1
            if not hit and inside:
                break
            t.remove()
        else:  # no free spot: keep the first offset
            t = ax.annotate(text, (x, y), xytext=offsets[0], textcoords="offset points",
                            fontsize=fontsize, color=color)
            bb = t.get_window_extent(renderer)
            box = np.array([bb.x0, bb.y0, bb.x1, bb.y1])
        placed.append(box)


def frontier_figure(points: pd.DataFrame, best: pd.DataFrame, dataset: str = "ImageNet-1k val"):
    """Figure 1: single models (circles, named), each big model's best no-loss cascade
    (diamonds) with an arrow from the big model alone to it, both Pareto frontiers; marker
    area grows with log(parameters); legend below the axes. Accuracies (fractions) are drawn
    in percent."""
    import matplotlib.pyplot as plt
    from littlebig_utils.book import plots as plotting
    points = points.assign(accuracy=100 * points["accuracy"])
    best = best.assign(accuracy=100 * best["accuracy"], big_accuracy=100 * best["big_accuracy"])

    single = points[points["kind"] == "single model"]
    casc = points[points["kind"] != "single model"]

    def size(p):
        return 20 + 110 * np.log10(np.maximum(np.asarray(p, dtype=float), 1.0))

    def steps(front, xmax):
        x = np.r_[front["gmacs"].to_numpy(), xmax]
        return np.repeat(x, 2)[1:-1], np.repeat(front["accuracy"].to_numpy(), 2)

    fig, ax = plt.subplots(figsize=(9, 6.4))
    xmax = float(points["gmacs"].max()) * 1.6
    for _, r in best.iterrows():
        ax.annotate("", xy=(r["gmacs"], r["accuracy"]), xytext=(r["big_gmacs"], r["big_accuracy"]),
                    arrowprops=dict(arrowstyle="-|>", color=plotting.CASCADE, lw=1.2, alpha=0.8,
                                    mutation_scale=14, shrinkA=6, shrinkB=8))
    ax.scatter(single["gmacs"], single["accuracy"], s=size(single["params_m"]), color=plotting.LITTLE,
               alpha=0.75, edgecolor="k", lw=0.5, label="single model", zorder=3)
    ax.scatter(casc["gmacs"], casc["accuracy"], s=size(casc["params_m"]), color=plotting.CASCADE,
               marker="D", alpha=0.85, edgecolor="k", lw=0.5,
               label="best meaningful cascade of a big model (no loss)", zorder=3)
    ax.plot(*steps(core_pairs.pareto_front(single), xmax), color=plotting.LITTLE, ls="--", lw=1.3,
            label="single-model Pareto frontier")
    ax.plot(*steps(core_pairs.pareto_front(points), xmax), color=plotting.CASCADE, lw=1.6,
            label="frontier with cascades")
    ax.plot([], [], color=plotting.CASCADE, marker=r"$\rightarrow$", ls="", ms=12,
            label="arrow: big model alone → its cascade")
    ax.set_xscale("log")
    ax.set_xlim(float(points["gmacs"].min()) / 1.6, xmax)
    lo, hi = float(points["accuracy"].min()), float(points["accuracy"].max())
    ax.set_ylim(lo - 0.6, hi + 0.6)
    ax.set_xlabel("mean GMACs per image (log scale)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_title(f"{len(single)} models and their best no-loss cascades, {dataset}")
    for p_m in (5, 25, 100):
        ax.scatter([], [], s=size(p_m), color="0.7", edgecolor="k", lw=0.5, label=f"{p_m} M parameters")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2, fontsize=9, frameon=False)
    from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter
    ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
             if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    avoid = [(x, y, s) for x, y, s in zip(points["gmacs"], points["accuracy"], size(points["params_m"]))]
    _place_labels(ax, single["gmacs"].to_numpy(), single["accuracy"].to_numpy(), list(single["name"]),
                  avoid=avoid)
    return fig


def budget_best(zoo: Zoo, budget_gmacs: float) -> tuple[pd.Series | None, pd.Series | None]:
    """(most accurate cascade of any pair within a mean cost budget, most accurate single model
    within it); either is None when nothing fits. The cascade row: little, big, threshold,
    accuracy, gmacs."""
    rows = []
    for _, r in zoo.pairs.iterrows():
        p = engine.budget_point(engine.sweep(zoo.records[r["little"]], zoo.records[r["big"]],
                                             little_gmacs=zoo.gmacs[r["little"]],
                                             big_gmacs=zoo.gmacs[r["big"]]), gmacs=budget_gmacs)
        if p is not None:
            rows.append({"little": r["little"], "big": r["big"], "threshold": float(p["threshold"]),
                         "accuracy": float(p["accuracy"]), "gmacs": float(p["gmacs"])})
    single = zoo.single_models()
    single = single[single["gmacs"] <= budget_gmacs]
    best_c = (pd.DataFrame(rows).sort_values(["accuracy", "gmacs"], ascending=[False, True],
                                              kind="stable").iloc[0] if rows else None)
    best_s = single.sort_values("accuracy", ascending=False, kind="stable").iloc[0] if len(single) else None
    return best_c, best_s
