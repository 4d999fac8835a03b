"""Chapter `multistage` (notebooks/multistage.ipynb): three-model cascades against pairs, the
joint threshold search pruned by each big model's best pair, its table and figure, and the
held-out check of the second threshold.

Tables are in fractions; the markdown table and the figure are in percent and points.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core import experiments
from littlebig_utils.core import multistage
from littlebig_utils.core import pairs as core_pairs
from littlebig_utils.core.multistage import default_levels
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book import plots as plotting
from littlebig_utils.book.notebook import markdown_table

__all__ = ["default_levels", "search_triples", "pair_vs_triple", "pair_vs_triple_markdown",
           "plot_pair_vs_triple", "multistage_heldout"]


def search_triples(records: dict[str, Predictions], gmacs: dict[str, float], pairs: pd.DataFrame,
                   levels) -> pd.DataFrame:
    """Every genuine 3-model combination ending with each big model on the grid `levels`
    (`multistage.search`), pruning combinations whose first model alone costs at least as much
    as that big model's best pair (`pairs`, a pairs table of `records`)."""
    best_pair = core_pairs.best_little_per_big(pairs).set_index("big")
    return multistage.search(records, gmacs, n_stages=3, levels=levels,
                             prune_above=best_pair["gmacs"].to_dict())


def pair_vs_triple(pairs: pd.DataFrame, triples: pd.DataFrame) -> pd.DataFrame:
    """Per big model: its best genuine pair (`pairs.best_little_per_big`) next to its best
    genuine 3-model cascade (cheapest no-loss point of `multistage.search`), the gain of MACs
    reduction (triple − pair) and the share of images reaching the big model; fractions."""
    best_pair = core_pairs.best_little_per_big(pairs).set_index("big")
    ok = triples[~triples["degenerate"].astype(bool) & triples["gmacs"].notna()]
    best_triple = ok.sort_values(["gmacs", "stages"]).groupby("big").head(1).set_index("big")
    gm = dict(zip(pairs["big"], pairs["big_gmacs"]))
    gm.update(zip(triples["big"], triples["big_gmacs"]))
    bigs = sorted(set(best_pair.index) | set(best_triple.index), key=lambda b: (gm[b], b))
    cmp = pd.DataFrame({
        "big_gmacs": [gm[b] for b in bigs],
        "pair_little": best_pair["little"].reindex(bigs),
        "pair_threshold": best_pair["threshold"].reindex(bigs),
        "pair_gmacs": best_pair["gmacs"].reindex(bigs),
        "pair_reduction": best_pair["macs_reduction"].reindex(bigs),
        "triple": best_triple["stages"].reindex(bigs),
        "triple_thresholds": best_triple["thresholds"].reindex(bigs),
        "triple_gmacs": best_triple["gmacs"].reindex(bigs),
        "triple_reduction": best_triple["macs_reduction"].reindex(bigs),
        "triple_to_big": best_triple["frac_reach_last"].reindex(bigs),
    }, index=pd.Index(bigs, name="big"))
    cmp["gain"] = cmp["triple_reduction"] - cmp["pair_reduction"]
    return cmp


def pair_vs_triple_markdown(cmp: pd.DataFrame) -> str:
    """The multi-stage chapter's numbered table (thresholds next to the stage names; percent)."""
    def stages(names, ts):
        if not isinstance(names, str):
            return None
        return " → ".join(f"{k} ({t:.3f})" for k, t in zip(names.split(" → "), ts))
    t = pd.DataFrame({
        "big": cmp.index, "GMACs": cmp["big_gmacs"].to_numpy(),
        "pair": [f"{k} ({t:.3f})" if isinstance(k, str) else None
                 for k, t in zip(cmp["pair_little"], cmp["pair_threshold"])],
        "pair_red": 100 * cmp["pair_reduction"].to_numpy(),
        "triple": [stages(a, b) for a, b in zip(cmp["triple"], cmp["triple_thresholds"])],
        "triple_red": 100 * cmp["triple_reduction"].to_numpy(),
        "to_big": 100 * cmp["triple_to_big"].to_numpy(), "gain": 100 * cmp["gain"].to_numpy()})
    return markdown_table(t, formats={"GMACs": ".2f", "pair_red": ".1f", "triple_red": ".1f",
                                      "to_big": ".1f", "gain": "+.1f"},
                          headers={"pair": "pair: little (T)", "pair_red": "pair MACs red. (%)",
                                   "triple": "3 models: stages 1, 2 (T)",
                                   "triple_red": "3-model MACs red. (%)", "to_big": "to big (%)",
                                   "gain": "gain (points)"})


def plot_pair_vs_triple(cmp: pd.DataFrame, title: str):
    """MACs reduction (%) of the best pair and the best 3-model cascade per big model (dumbbells)."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.2))
    y = np.arange(len(cmp))
    for yi, (a, b) in enumerate(zip(100 * cmp["pair_reduction"], 100 * cmp["triple_reduction"])):
        if np.isfinite(a) and np.isfinite(b):
            ax.plot([a, b], [yi, yi], color="0.6", lw=1, zorder=1)
    ax.scatter(100 * cmp["pair_reduction"], y, s=40, color=plotting.LITTLE, label="best pair (exact T)",
               zorder=3)
    ax.scatter(100 * cmp["triple_reduction"], y, s=40, marker="D", color=plotting.CASCADE,
               label="best 3-model cascade (grid)", zorder=3)
    unused = (cmp["triple_to_big"] == 0).to_numpy()
    ax.scatter(100 * cmp["triple_reduction"][unused], y[unused], s=140, facecolor="none", edgecolor="k",
               lw=1, label="3-model cascade never runs the big model", zorder=4)
    ax.set_yticks(y, [f"{b} ({g:.2f} GMACs)" for b, g in zip(cmp.index, cmp["big_gmacs"])])
    ax.set(xlabel="MACs reduction against the big model at no accuracy loss (%)",
           ylabel="big model", title=title)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.4, -0.12), ncol=2,
              frameon=False)
    fig.tight_layout()
    return fig


def multistage_heldout(records: dict[str, Predictions], gmacs: dict[str, float], stages: list[str],
                       pair_little: str, levels, n_splits: int, calib_frac: float,
                       seed: int = 0) -> pd.DataFrame:
    """Held-out check of a 3-model cascade against the best pair of the same big model: both
    choose their thresholds (joint grid search for the cascade, exact no-loss T for the pair) on
    the calibration side of split s (seed ``seed + s``) and are judged on the test side.
    Changes are cascade − big and reductions fractions; `*_lost` compares counts of correct
    test images; a calibration side without a no-loss point counts as the big model alone.
    The pair's runs are the held-out chapter's (`experiments.heldout_study`, same splits)."""
    big = stages[-1]
    ids = records[big].sample_ids
    for k in [pair_little, *stages[:-1]]:
        if not np.array_equal(records[k].sample_ids, ids):
            raise ValueError(f"{k!r} and {big!r} must list the same samples in the same order "
                             "(align them first): the splits are drawn by position")
    n = len(records[big])
    splits = engine.split_masks(n, calib_frac, np.arange(int(seed), int(seed) + int(n_splits)))
    lo, bi = records[pair_little], records[big]
    held = experiments.heldout_study(lo.conf, lo.correct, bi.correct, gmacs[pair_little],
                                     gmacs[big], n_splits, calib_frac, seed)
    grids = [multistage.threshold_grid(records[s].conf, levels) for s in stages[:-1]]
    costs = [gmacs[k] for k in stages]
    rows = []
    for s, cal in enumerate(splits):
        sub = [records[k].subset(np.flatnonzero(cal)) for k in stages]
        point = multistage.no_loss_point(multistage.evaluate_grid(
            [p.conf for p in sub[:-1]], [p.correct for p in sub], costs, grids))
        test = [records[k].subset(np.flatnonzero(~cal)) for k in stages]
        big_right = int(test[-1].correct.sum())
        big_acc = big_right / len(test[-1])
        if point is None:
            change, red, lost = 0.0, 0.0, False
        else:
            t = [point[f"threshold_{k + 1}"] for k in range(len(stages) - 1)]
            r = multistage.evaluate([p.conf for p in test[:-1]], [p.correct for p in test], costs, t)
            change, red = r["accuracy"] - big_acc, 1 - r["gmacs"] / gmacs[big]
            lost = r["n_correct"] < big_right
        rows.append(dict(seed=int(seed) + s, pair_change=held["change"].iloc[s],
                         pair_reduction=held["macs_reduction"].iloc[s],
                         pair_lost=bool(held["lost"].iloc[s]), triple_change=float(change),
                         triple_reduction=float(red), triple_lost=bool(lost)))
    return pd.DataFrame(rows)
