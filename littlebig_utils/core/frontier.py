"""Pareto frontiers of accuracy against cost, and how far one frontier moves from another.

A model (or cascade) is on the frontier when no other point is at most as expensive and at least
as accurate, with one of the two strictly better. Figure 1 of the paper compares the frontier of
single models with the one obtained when cascades are added to the menu.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["pareto_mask", "pareto_front", "cheapest_at", "best_within", "frontier_shift",
           "accuracy_gain"]


def pareto_mask(cost, score, atol: float = 1e-9) -> np.ndarray:
    """Boolean mask of the non-dominated points (lower cost and higher score are better).

    Scores within `atol` count as equal (an accuracy computed two ways, e.g. 100 * 39349 / 50000
    and a mean of booleans, differs in the last bit). Of equal points only the first is kept.
    """
    cost = np.asarray(cost, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    if cost.shape != score.shape or cost.ndim != 1:
        raise ValueError(f"cost {cost.shape} and score {score.shape} must be 1-d of one length")
    if not (np.isfinite(cost).all() and np.isfinite(score).all()):
        raise ValueError("cost and score must be finite (drop pairs without an operating point)")
    # by cost ascending, then score descending: a point is on the front iff its score beats
    # every score seen before it
    order = np.lexsort((-score, cost))
    mask = np.zeros(len(cost), dtype=bool)
    best = -np.inf
    for i in order:
        if score[i] > best + atol:
            mask[i] = True
            best = score[i]
    return mask


def pareto_front(df: pd.DataFrame, cost: str = "gmacs", score: str = "accuracy") -> pd.DataFrame:
    """The frontier rows of `df`, cheapest first."""
    return df[pareto_mask(df[cost], df[score])].sort_values(cost, kind="stable")


def cheapest_at(front: pd.DataFrame, accuracy: float, cost: str = "gmacs",
                score: str = "accuracy") -> float:
    """Lowest cost on `front` reaching `accuracy` (NaN when nothing reaches it)."""
    ok = front[front[score] >= accuracy - 1e-12]
    return float(ok[cost].min()) if len(ok) else np.nan


def best_within(front: pd.DataFrame, gmacs: float, cost: str = "gmacs",
                score: str = "accuracy") -> float:
    """Highest score on `front` at cost at most `gmacs` (NaN when nothing is that cheap)."""
    ok = front[front[cost] <= gmacs * (1 + 1e-12)]
    return float(ok[score].max()) if len(ok) else np.nan


def frontier_shift(single: pd.DataFrame, combined: pd.DataFrame, cost: str = "gmacs",
                   score: str = "accuracy") -> pd.DataFrame:
    """How far `combined` (e.g. single models plus cascades) moves each point of `single`'s front.

    One row per point of the single-model front: the cost the combined front needs for the same
    accuracy (`gmacs_saved_pct` = 100 * (1 - that / the model's cost)) and the accuracy it reaches
    for the same cost (`accuracy_gain` in points).
    """
    front = pareto_front(single, cost, score)
    both = pareto_front(combined, cost, score)
    rows = []
    for _, r in front.iterrows():
        need = cheapest_at(both, r[score], cost, score)
        reach = best_within(both, r[cost], cost, score)
        rows.append({**r.to_dict(), f"{cost}_at_same_{score}": need,
                     f"{cost}_saved_pct": 100.0 * (1.0 - need / r[cost]),
                     f"{score}_at_same_{cost}": reach, f"{score}_gain": reach - r[score]})
    return pd.DataFrame(rows)


def accuracy_gain(single: pd.DataFrame, combined: pd.DataFrame, cost: str = "gmacs",
                  score: str = "accuracy") -> pd.DataFrame:
    """Accuracy gained at equal cost: one row per point of `combined`'s front.

    For each point, the best accuracy a single model reaches within the same cost
    (`single_accuracy`, NaN when no single model is that cheap) and the difference
    (`accuracy_gain`, points). At the single models' own costs a no-loss cascade adds nothing,
    so the gain shows between them: at a cascade's cost, the best single model is a cheaper,
    weaker one.
    """
    single_front = pareto_front(single, cost, score)
    rows = []
    for _, r in pareto_front(combined, cost, score).iterrows():
        base = best_within(single_front, r[cost], cost, score)
        rows.append({**r.to_dict(), f"single_{score}": base, f"{score}_gain": r[score] - base})
    return pd.DataFrame(rows)
