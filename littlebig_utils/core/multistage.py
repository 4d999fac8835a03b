"""Cascades of N models (Wisdom of Committees): each stage answers when it is confident enough.

N models are ordered by cost. Stage k (k < N) answers a sample when its max softmax is at
least its threshold T_k; otherwise the sample goes on to stage k + 1; the last stage always
answers. A sample's cost is the sum of the costs of the stages it ran through. With N = 2 this
is exactly the Little-Big rule of `cascade` (escalate when conf < T).

Thresholds are chosen jointly. Every combination of a grid of candidate thresholds per stage is
evaluated exactly in one vectorized pass: each sample falls in one cell of an (N-1)-dimensional
histogram (which grid interval its confidence lies in, per stage); cumulative sums of that
histogram over every axis give, for every threshold combination at once, how many samples reach
each stage and how many of them each stage gets right. The cost is O(n + grid cells) instead of
O(n x grid cells) for a loop over combinations.

The grid per stage is the stage's own confidence at a fixed set of escalation fractions
(`default_levels`: geometric near 0, where the best cascades operate, plus linear), so the
search is exact *on the grid*; the thresholds between grid points are not tried. Combinations
whose first stage alone costs at least a known bound (e.g. the best pair's GMACs) are pruned
before evaluation, since no threshold can make them cheaper.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from littlebig_utils.core.checks import (InputError, check_conf, check_correct, check_cost,
                                         check_threshold)
from littlebig_utils.core.engine import rank_thresholds, total
from littlebig_utils.core.predictions import Predictions, align

__all__ = ["exit_stage", "evaluate", "evaluate_grid", "no_loss_point", "default_levels",
           "threshold_grid", "search", "SEARCH_COLUMNS"]


def _check_stages(confs, corrects, gmacs, valid=None):
    """Every stage's arrays checked once (`checks`): confidences in [0, 1], correctness and
    `valid` booleans, all one value per sample; costs positive. Returns (n_stages, n, confs,
    corrects, valid)."""
    n_stages = len(corrects)
    if n_stages < 2:
        raise InputError("a cascade needs at least two stages")
    if len(confs) not in (n_stages - 1, n_stages):
        raise InputError(f"{len(confs)} confidence arrays for {n_stages} stages (the last stage's "
                         "confidence is optional: it always answers)")
    if gmacs is not None:
        if len(gmacs) != n_stages:
            raise InputError(f"{len(gmacs)} costs for {n_stages} stages")
        for k, g in enumerate(gmacs):
            check_cost(g, f"cost of stage {k + 1}")
    corrects = [check_correct(c, f"correct of stage {k + 1}") for k, c in enumerate(corrects)]
    n = len(corrects[0])
    corrects = [check_correct(c, f"correct of stage {k + 1}", n) for k, c in enumerate(corrects)]
    confs = [check_conf(c, f"conf of stage {k + 1}", n) for k, c in enumerate(confs[:n_stages - 1])]
    v = np.ones(n, bool) if valid is None else check_correct(valid, "valid", n)
    return n_stages, n, confs, corrects, v


def exit_stage(confs, thresholds) -> np.ndarray:
    """Index (0-based) of the stage that answers each sample; len(confs) = number of stages - 1
    (or N: the last one is ignored)."""
    thresholds = [check_threshold(t) for t in thresholds]
    n = len(confs[0])
    stage = np.full(n, len(thresholds), dtype=np.int64)
    open_ = np.ones(n, bool)
    for k, t in enumerate(thresholds):
        stop = open_ & (np.asarray(confs[k]) >= t)
        stage[stop] = k
        open_ &= ~stop
    return stage


def evaluate(confs, corrects, gmacs, thresholds, valid=None) -> dict:
    """One threshold vector: accuracy (of the valid samples), mean GMACs, exit fractions."""
    n_stages, n, confs, corrects, v = _check_stages(confs, corrects, gmacs, valid)
    if len(thresholds) != n_stages - 1:
        raise InputError(f"{n_stages} stages need {n_stages - 1} thresholds, got {len(thresholds)}")
    stage = exit_stage(confs, thresholds)
    right = np.choose(stage, corrects) & v
    cost = np.cumsum(gmacs)[stage]
    return dict(n_correct=int(right.sum()), accuracy=right.sum() / v.sum(),
                gmacs=float(cost.mean()),
                frac_exit=np.bincount(stage, minlength=n_stages) / n)


def evaluate_grid(confs, corrects, gmacs, grids, valid=None) -> pd.DataFrame:
    """Every combination of the per-stage threshold grids, evaluated exactly (module docstring).

    Columns: threshold_1..threshold_{N-1}, n_correct, accuracy (of the valid samples),
    n_reach_2..n_reach_N (samples that run stage k), frac_reach_k, gmacs (mean per sample) and
    macs_reduction (1 - gmacs / last stage's, a fraction), and the totals as constant columns
    (they survive a CSV): n, n_valid, big_n_correct (last stage alone), stage_k_n_correct.
    """
    arrays = _grid_arrays(confs, corrects, gmacs, grids, valid)
    n_stages = len(corrects)
    mesh = np.meshgrid(*arrays["grids"], indexing="ij")
    cols = {f"threshold_{k + 1}": mesh[k].ravel() for k in range(n_stages - 1)}
    cols["n_correct"] = arrays["n_correct"].ravel()
    cols["accuracy"] = cols["n_correct"] / arrays["n_valid"]
    for k in range(2, n_stages + 1):
        cols[f"n_reach_{k}"] = arrays["n_reach"][k - 2].ravel()
        cols[f"frac_reach_{k}"] = cols[f"n_reach_{k}"] / arrays["n"]
    cols["gmacs"] = arrays["gmacs"].ravel()
    cols["macs_reduction"] = 1.0 - cols["gmacs"] / gmacs[-1]
    cols["n"] = arrays["n"]
    cols["n_valid"] = arrays["n_valid"]
    cols["big_n_correct"] = arrays["stage_n_correct"][-1]
    for k, c in enumerate(arrays["stage_n_correct"], start=1):
        cols[f"stage_{k}_n_correct"] = c
    return pd.DataFrame(cols)


def _grid_arrays(confs, corrects, gmacs, grids, valid=None) -> dict:
    n_stages, n, confs, corrects, v = _check_stages(confs, corrects, gmacs, valid)
    if len(grids) != n_stages - 1:
        raise InputError(f"{n_stages} stages need {n_stages - 1} threshold grids, got {len(grids)}")
    grids = [np.unique([check_threshold(t) for t in np.atleast_1d(g)]) for g in grids]
    # bin b of a sample on stage k = number of grid thresholds <= its confidence, so the sample
    # is escalated past stage k (conf < grid[j]) exactly when b <= j
    shape = tuple(len(g) + 1 for g in grids)
    bins = [np.searchsorted(g, c, side="right") for g, c in zip(grids, confs)]
    flat = np.ravel_multi_index(bins, shape)
    size = int(np.prod(shape))

    def cumulative(weights):
        h = np.bincount(flat, weights=weights, minlength=size).reshape(shape)
        for ax in range(n_stages - 1):
            h = np.cumsum(h, axis=ax)
        return np.rint(h).astype(np.int64)  # integer counts, exact in float64 below 2**53

    def escalated(c, k):
        """Sum over the samples escalated past stages 1..k, for every combination of T_1..T_k
        (broadcastable to the full grid); k = 0: all samples."""
        idx = tuple(slice(0, len(grids[j])) if j < k else -1 for j in range(n_stages - 1))
        arr = c[idx]
        return np.reshape(arr, np.shape(arr) + (1,) * (n_stages - 1 - k))

    full = tuple(len(g) for g in grids)
    ones = cumulative(None)
    n_reach = [np.broadcast_to(escalated(ones, k), full) for k in range(1, n_stages)]
    n_correct = np.zeros(full, np.int64)
    for k in range(n_stages):  # stage k+1 answers the samples that reach it and stop there
        ck = cumulative((corrects[k] & v).astype(np.float64))
        n_correct = n_correct + escalated(ck, k)
        if k < n_stages - 1:
            n_correct = n_correct - escalated(ck, k + 1)
    g = np.asarray(gmacs, dtype=np.float64)
    cost = g[0] + sum(g[k] * (n_reach[k - 1] / n) for k in range(1, n_stages))  # as engine.sweep_arrays
    return dict(grids=grids, n=n, n_valid=int(v.sum()), n_correct=n_correct, n_reach=n_reach,
                gmacs=np.broadcast_to(cost, full),
                stage_n_correct=[int((c & v).sum()) for c in corrects])


def no_loss_point(table: pd.DataFrame) -> pd.Series | None:
    """Cheapest combination at least as accurate as the last stage alone (exact, in counts);
    among equally cheap ones the lowest thresholds."""
    rows = table[table["n_correct"] >= total(table, "big_n_correct")]
    if rows.empty:
        return None
    keys = ["gmacs"] + [c for c in table.columns if c.startswith("threshold_")]
    return rows.sort_values(keys, kind="stable").iloc[0]


def default_levels(m: int = 240) -> np.ndarray:
    """Escalation fractions for the grid: half geometric in [1e-4, 1], half linear in [0, 1]."""
    return np.unique(np.r_[0.0, np.geomspace(1e-4, 1.0, m // 2), np.linspace(0.0, 1.0, m - m // 2)])


def threshold_grid(conf, levels=None) -> np.ndarray:
    """Thresholds that escalate (about) each fraction in `levels` (default `default_levels`)
    of the samples: `engine.rank_thresholds`; 0 (escalate none) and 1 always included."""
    return rank_thresholds(conf, default_levels() if levels is None else levels)


SEARCH_COLUMNS = ["big", "stages", "n_stages", "thresholds", "accuracy", "big_accuracy", "gmacs",
                  "big_gmacs", "macs_reduction", "frac_reach_last", "degenerate", "n_combinations"]


def search(records: dict[str, Predictions], gmacs: dict[str, float], n_stages: int = 3,
           bigs=None, levels=None, prune_above: dict[str, float] | None = None,
           correct: dict[str, np.ndarray] | None = None, valid=None) -> pd.DataFrame:
    """Best thresholds of every N-model cascade ending with each big model (no-loss point).

    Stages are ordered by GMACs; every combination of n_stages - 1 models cheaper than the big
    one is searched on the grid (`threshold_grid` of each stage's confidence at `levels`).
    `prune_above[big]`: skip combinations whose first stage alone costs at least that many GMACs.
    `degenerate`: an earlier stage alone is already at least as accurate as the big model.
    One row per searched combination; operating-point columns are NaN where none reaches the
    big model's accuracy.
    """
    names = sorted(records, key=lambda k: (gmacs[k], k))
    bigs = names if bigs is None else list(bigs)
    recs = dict(zip(names, align(*[records[k] for k in names])))
    if correct is not None and not all(np.array_equal(recs[k].sample_ids, records[k].sample_ids)
                                       for k in names):
        raise InputError("the records list their samples in different orders; `correct` and "
                         "`valid` need records in one order (align them first)")
    corr = {k: (recs[k].correct if correct is None else np.asarray(correct[k], bool)) for k in names}
    v = np.ones(len(recs[names[0]]), bool) if valid is None else np.asarray(valid, bool)
    n_valid = v.sum()
    grid_cache: dict[str, np.ndarray] = {}
    rows = []
    for big in bigs:
        cheaper = [k for k in names if gmacs[k] < gmacs[big]]
        bound = np.inf if prune_above is None else prune_above.get(big, np.inf)
        big_acc = (corr[big] & v).sum() / n_valid
        for combo in itertools.combinations(cheaper, n_stages - 1):
            if gmacs[combo[0]] >= bound:
                continue
            stages = list(combo) + [big]
            for k in combo:
                if k not in grid_cache:
                    grid_cache[k] = threshold_grid(recs[k].conf, levels)
            a = _grid_arrays([recs[k].conf for k in combo], [corr[k] for k in stages],
                             [gmacs[k] for k in stages], [grid_cache[k] for k in combo], v)
            ok = a["n_correct"] >= a["stage_n_correct"][-1]
            row = dict(big=big, stages=" \u2192 ".join(stages), n_stages=n_stages,
                       thresholds=None, accuracy=np.nan, big_accuracy=big_acc, gmacs=np.nan,
                       big_gmacs=gmacs[big], macs_reduction=np.nan, frac_reach_last=np.nan,
                       degenerate=bool(max(a["stage_n_correct"][:-1]) >= a["stage_n_correct"][-1]),
                       n_combinations=int(ok.size))
            if ok.any():
                cost = np.where(ok, a["gmacs"], np.inf)
                best = np.unravel_index(np.argmin(cost), cost.shape)  # first = lowest thresholds
                row.update(thresholds=tuple(float(g[i]) for g, i in zip(a["grids"], best)),
                           accuracy=a["n_correct"][best] / n_valid,
                           gmacs=float(a["gmacs"][best]),
                           macs_reduction=1 - a["gmacs"][best] / gmacs[big],
                           frac_reach_last=float(a["n_reach"][-1][best] / a["n"]))
            rows.append(row)
    return pd.DataFrame(rows, columns=SEARCH_COLUMNS)
