"""The pairs table, the best little model per big model, and Pareto frontiers (fractions).

`pairs_table` is the contract's table (DESIGN.md): one row per ordered pair of models with
little_gmacs < big_gmacs, at the no-accuracy-loss operating point, with the columns of
PAIR_COLUMNS; accuracies, frac_big and macs_reduction are fractions. `transfer_table` applies
the thresholds of such a table to other predictions (other labels, another dataset).

A model (or cascade) is on the Pareto frontier when no other point is at most as expensive and
at least as accurate, with one of the two strictly better. Figure 1 of the paper compares the
frontier of single models with the one obtained when cascades are added to the menu.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.checks import InputError, check_cost
from littlebig_utils.core.engine import (cut_candidates, evaluate_thresholds,
                                         matched_accuracy_point, sweep)
from littlebig_utils.core.predictions import Predictions, align

__all__ = ["PAIR_COLUMNS", "pairs_table", "pair_summary", "best_little_per_big",
           "cheapest_cascade_at", "TRANSFER_COLUMNS", "transfer_table", "pareto_mask",
           "pareto_front", "cheapest_at", "best_within", "frontier_shift", "accuracy_gain"]

PAIR_COLUMNS = ["little", "big", "threshold", "accuracy", "little_accuracy", "big_accuracy",
                "gmacs", "little_gmacs", "big_gmacs", "macs_reduction", "frac_big", "degenerate"]


def _pair_rows(little_name, conf, little_correct, big_names, big_correct, n_valid_div: int,
               little_gmacs: float, big_gmacs: dict) -> list[dict]:
    """Pairs-table rows of one little model against many big models (see `pairs_table`).

    `big_correct` is (big models, n samples) int8, samples in the records' order.
    """
    n = len(conf)
    # ties need no stable order: only cuts between distinct confidences are candidates
    order = np.argsort(conf)
    sc = conf[order]
    # candidate cuts (escalate the k least confident samples) and their lowest thresholds:
    # the engine's, so that this table and `sweep` + `no_loss_point` try the same thresholds
    is_cut, cut_threshold = cut_candidates(sc)
    cut = np.flatnonzero(is_cut)
    threshold = cut_threshold[cut]
    # correct counts over the k least confident samples, at the candidate cuts only
    cum_big = np.cumsum(np.take(big_correct, order, axis=1), axis=1, dtype=np.int32)
    at = np.maximum(cut - 1, 0)
    big_at = np.where(cut > 0, np.take(cum_big, at, axis=1), 0)            # (bigs, cuts)
    cum_little = np.cumsum(little_correct[order], dtype=np.int32)
    little_n = int(cum_little[-1])
    little_at = np.where(cut > 0, cum_little[at], 0)
    big_n = cum_big[:, -1].astype(np.int64)
    # cascade correct at cut k = big right below k + little right from k on
    n_correct = big_at + (little_n - little_at)
    reached = n_correct >= big_n[:, None]
    first = reached.argmax(axis=1)  # cuts ascend: the first is the cheapest, lowest T
    found = reached[np.arange(len(big_names)), first]
    rows = []
    for i, b in enumerate(big_names):
        bn = int(big_n[i])
        row = dict(little=little_name, big=b, threshold=np.nan, accuracy=np.nan,
                   little_accuracy=little_n / n_valid_div,
                   big_accuracy=bn / n_valid_div,
                   gmacs=np.nan, little_gmacs=little_gmacs, big_gmacs=big_gmacs[b],
                   macs_reduction=np.nan, frac_big=np.nan, degenerate=bool(little_n >= bn))
        if found[i]:
            k = int(first[i])
            frac = int(cut[k]) / n
            cost = little_gmacs + frac * big_gmacs[b]
            row.update(threshold=float(threshold[k]),
                       accuracy=int(n_correct[i, k]) / n_valid_div,
                       gmacs=cost, macs_reduction=1.0 - cost / big_gmacs[b],
                       frac_big=frac)
        rows.append(row)
    return rows


def _check_records(records: dict, gmacs: dict) -> dict[str, float]:
    if len(records) < 2:
        raise InputError(f"a pairs table needs at least two models, got {len(records)}")
    missing = sorted(set(records) - set(gmacs))
    if missing:
        raise KeyError(f"no GMACs for {missing}")
    return {k: check_cost(gmacs[k], f"GMACs of '{k}'") for k in records}


def pairs_table(records: dict[str, Predictions], gmacs: dict[str, float]) -> pd.DataFrame:
    """Every ordered pair with little_gmacs < big_gmacs, at its no-loss point (DESIGN.md columns).

    Each little model's confidences are sorted once; for all its big models at once, the number
    of correct answers after escalating the k least confident samples is the little model's
    count plus a cumulative sum of (big correct - little correct) in that order (one int32
    matrix row per big model). The no-loss point is the first candidate cut reaching the big
    model's count; when none does (samples with confidence exactly 1 are never escalated, since
    conf < T), the row keeps empty operating-point columns.
    """
    g = _check_records(records, gmacs)
    names = list(records)
    aligned = dict(zip(names, align(*[records[k] for k in names])))
    n = len(aligned[names[0]])
    if n == 0:
        raise InputError("the predictions hold no samples")
    # correctness of every model, one int8 column per model ordered by cost, so that the big
    # models of a little one are a contiguous block of columns (one row gather per little model)
    names = sorted(names, key=lambda k: g[k])
    costs = np.array([g[k] for k in names])
    correct = np.stack([aligned[k].correct for k in names]).view(np.int8)  # (models, n)
    rows = []
    for a in names:
        lo = int(np.searchsorted(costs, g[a], side="right"))  # first strictly costlier model
        if lo < len(names):
            rows += _pair_rows(a, aligned[a].conf, aligned[a].correct, names[lo:],
                               correct[lo:], n, g[a], g)
    df = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    return df.sort_values(["big_gmacs", "big", "little_gmacs", "little"]).reset_index(drop=True)


def pair_summary(little: Predictions, big: Predictions, little_gmacs: float | None = None,
                 big_gmacs: float | None = None) -> dict:
    """One row of the pairs table (DESIGN.md contract) at the no-accuracy-loss point."""
    lg = check_cost(little_gmacs if little_gmacs is not None else little.model.get("gmacs"),
                     f"GMACs of '{little.name}'")
    bg = check_cost(big_gmacs if big_gmacs is not None else big.model.get("gmacs"),
                     f"GMACs of '{big.name}'")
    little, big = align(little, big)
    if len(little) == 0:
        raise InputError("the predictions hold no samples")
    return _pair_rows(little.name, little.conf, little.correct, [big.name],
                      big.correct[None, :].view(np.int8), len(little), lg, {big.name: bg})[0]


def best_little_per_big(pairs: pd.DataFrame, degenerate: bool = False) -> pd.DataFrame:
    """For every big model, its best little companion at no accuracy loss (the paper's Table 2).

    `pairs` is a pairs table (`pairs_table` or the `littlebig pairs` CSV). With
    ``degenerate=False`` only genuine pairs count (little less accurate than big, so a cascade is
    needed); with ``degenerate=True`` only pairs whose little model is already at least as
    accurate (threshold 0: no cascade needed), which the book shows apart. Best = largest MACs
    reduction at the no-loss point; ties go to the more accurate cascade, then the little model's
    name. A big model whose pairs of that kind never reach its accuracy gets no row. Rows are
    ordered by the big model's GMACs.
    """
    missing = sorted(set(PAIR_COLUMNS) - set(pairs.columns))
    if missing:
        raise KeyError(f"not a pairs table (columns {missing} missing); make one with "
                       "pairs_table or `littlebig pairs`")
    kind = pairs["degenerate"].astype(bool) == bool(degenerate)
    ok = pairs[kind & pairs["macs_reduction"].notna()]
    ranked = ok.sort_values(["big", "macs_reduction", "accuracy", "little"],
                            ascending=[True, False, False, True], kind="stable")
    best = ranked.drop_duplicates("big", keep="first")
    return (best.sort_values(["big_gmacs", "big"], kind="stable")[PAIR_COLUMNS]
            .reset_index(drop=True))


def cheapest_cascade_at(records: dict[str, Predictions], gmacs: dict[str, float],
                        accuracy: float) -> pd.Series | None:
    """The cheapest two-model cascade (any pair with little cheaper than big, any threshold)
    whose top-1 reaches `accuracy` (a fraction), or None when no pair reaches it.

    Used to set a cascade next to a single model of another family at matched accuracy
    (e.g. DeiT-S in the baselines chapter). Returns little, big, threshold, accuracy, frac_big,
    gmacs; ties go to the more accurate cascade, then the names.
    """
    best = None
    for a in records:
        for b in records:
            if not gmacs[a] < gmacs[b]:
                continue
            point = matched_accuracy_point(sweep(records[a], records[b], little_gmacs=gmacs[a],
                                                 big_gmacs=gmacs[b]), accuracy)
            if point is None:
                continue
            key = (float(point["gmacs"]), -float(point["accuracy"]), a, b)
            if best is None or key < best[0]:
                best = (key, pd.Series({"little": a, "big": b,
                                        "threshold": float(point["threshold"]),
                                        "accuracy": float(point["accuracy"]),
                                        "frac_big": float(point["frac_big"]),
                                        "gmacs": float(point["gmacs"])}))
    return None if best is None else best[1]


TRANSFER_COLUMNS = ["little", "big", "threshold", "accuracy", "big_accuracy", "little_accuracy",
                    "accuracy_change", "frac_big", "gmacs", "macs_reduction"]


def transfer_table(pairs: pd.DataFrame, records: dict[str, Predictions],
                   correct: dict[str, np.ndarray] | None = None, valid=None) -> pd.DataFrame:
    """Thresholds fixed elsewhere (a `pairs_table`), applied to other predictions.

    `records` holds the models' Predictions on the evaluation set (another dataset, or the same
    images); `correct` optionally overrides each model's correctness and `valid` masks the
    samples that count (e.g. ReaL labels and exclusions); both need every record in one sample
    order (refused otherwise). Pairs without a threshold or without both models in `records`
    are left out. accuracy_change = cascade - big, a fraction. GMACs are the pairs table's (per
    image, the same on any dataset at the same input size).
    """
    rows = []
    for _, p in pairs.iterrows():
        if np.isnan(p["threshold"]) or p["little"] not in records or p["big"] not in records:
            continue
        little, big = align(records[p["little"]], records[p["big"]])
        if correct is None and valid is None:
            lc, bc = little.correct, big.correct
        elif np.array_equal(big.sample_ids, records[p["big"]].sample_ids):
            lc, bc = ((little.correct, big.correct) if correct is None
                      else (correct[p["little"]], correct[p["big"]]))
        else:
            raise InputError(f"'{p['little']}' and '{p['big']}' list their samples in different "
                             "orders; `correct` and `valid` need records in one order (align them)")
        r = evaluate_thresholds(little.conf, lc, bc, [p["threshold"]], valid=valid,
                                little_gmacs=p["little_gmacs"], big_gmacs=p["big_gmacs"]).iloc[0]
        rows.append(dict(little=p["little"], big=p["big"], threshold=p["threshold"],
                         accuracy=r["accuracy"], big_accuracy=r["big_accuracy"],
                         little_accuracy=r["little_accuracy"],
                         accuracy_change=r["accuracy"] - r["big_accuracy"], frac_big=r["frac_big"],
                         gmacs=r["gmacs"], macs_reduction=r["macs_reduction"]))
    return pd.DataFrame(rows, columns=TRANSFER_COLUMNS)


# ------------------------------------------------------------------ frontiers

def pareto_mask(cost, score, atol: float = 1e-9) -> np.ndarray:
    """Boolean mask of the non-dominated points (lower cost and higher score are better).

    Scores within `atol` count as equal (an accuracy computed two ways, e.g. 39349 / 50000 and
    a mean of booleans, differs in the last bit). Of equal points only the first is kept.
    """
    cost = np.asarray(cost, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    if cost.shape != score.shape or cost.ndim != 1:
        raise InputError(f"cost {cost.shape} and score {score.shape} must be 1-d of one length")
    if not (np.isfinite(cost).all() and np.isfinite(score).all()):
        raise InputError("cost and score must be finite (drop pairs without an operating point)")
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
    accuracy (`gmacs_saved` = 1 - that / the model's cost, a fraction) and the accuracy it reaches
    for the same cost (`accuracy_gain`, a fraction).
    """
    front = pareto_front(single, cost, score)
    both = pareto_front(combined, cost, score)
    rows = []
    for _, r in front.iterrows():
        need = cheapest_at(both, r[score], cost, score)
        reach = best_within(both, r[cost], cost, score)
        rows.append({**r.to_dict(), f"{cost}_at_same_{score}": need,
                     f"{cost}_saved": 1.0 - need / r[cost],
                     f"{score}_at_same_{cost}": reach, f"{score}_gain": reach - r[score]})
    return pd.DataFrame(rows)


def accuracy_gain(single: pd.DataFrame, combined: pd.DataFrame, cost: str = "gmacs",
                  score: str = "accuracy") -> pd.DataFrame:
    """Accuracy gained at equal cost: one row per point of `combined`'s front.

    For each point, the best accuracy a single model reaches within the same cost
    (`single_accuracy`, NaN when no single model is that cheap) and the difference
    (`accuracy_gain`, a fraction). At the single models' own costs a no-loss cascade adds nothing,
    so the gain shows between them: at a cascade's cost, the best single model is a cheaper,
    weaker one.
    """
    single_front = pareto_front(single, cost, score)
    rows = []
    for _, r in pareto_front(combined, cost, score).iterrows():
        base = best_within(single_front, r[cost], cost, score)
        rows.append({**r.to_dict(), f"single_{score}": base, f"{score}_gain": r[score] - base})
    return pd.DataFrame(rows)
