"""The one sweep engine: sort by confidence once, then every threshold is a prefix.

A sample goes to the big model when the little model's confidence is below the threshold
(``conf < threshold``). Sorted by confidence, a threshold T escalates exactly the
``searchsorted(conf, T, side="left")`` least confident samples, so any count at every threshold
(correct answers, losses, gains) is one cumulative sum read at those positions:
O(n log n) for all thresholds instead of O(n) per threshold. `counts_below` is that primitive;
everything else here (the sweep table, operating points, fixed-threshold evaluation on many
subsets, the loss table of the threshold rules, the split generator) is built on it or next to it,
and the rest of the package (pairs, rules, studies, deferral curves, N-model grids, the
explorer) calls these instead of sorting again.

Units: fractions (accuracy 0.7577, frac_big 0.12, macs_reduction 0.867, max_loss 0.005).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.checks import (InputError, check_calib_frac, check_conf, check_correct,
                                         check_cost, check_max_loss, check_seed, check_threshold)
from littlebig_utils.core.predictions import Predictions, align

__all__ = [
    "route", "candidate_thresholds", "counts_below", "cut_candidates", "sweep_arrays", "sweep",
    "SWEEP_TOTALS", "total", "cheapest", "loses_more", "within_loss", "no_loss_point", "max_loss_point",
    "matched_accuracy_point", "budget_point", "loss_table", "evaluate_thresholds",
    "no_loss_thresholds", "split_indices", "split_masks", "splits", "rank_thresholds",
    "deferral_curve", "accuracy_at", "curve_area",
]


def route(conf, threshold) -> np.ndarray:
    """Boolean mask of the samples sent to the big model (``conf < threshold``)."""
    return check_conf(conf) < check_threshold(threshold)


def candidate_thresholds(conf) -> np.ndarray:
    """Every threshold that changes the routing, ascending: 0, each distinct confidence, 1."""
    return np.unique(np.concatenate([[0.0, 1.0], np.asarray(conf, dtype=np.float64)]))


def counts_below(conf: np.ndarray, thresholds, *columns) -> tuple[np.ndarray, list, list]:
    """THE prefix-sum primitive, on checked arrays.

    For each threshold T: the number of samples with ``conf < T`` and, for each integer or
    boolean column, its sum over those samples; plus each column's total. Returns
    ``(n_below, [sum_below per column], [total per column])``, int64 arrays shaped like
    `thresholds`.
    """
    order = np.argsort(conf, kind="stable")
    k = np.searchsorted(conf[order], np.asarray(thresholds, dtype=np.float64), side="left")
    below, totals = [], []
    for c in columns:
        cum = np.concatenate([[0], np.cumsum(np.asarray(c)[order], dtype=np.int64)])
        below.append(cum[k])
        totals.append(int(cum[-1]))
    return k.astype(np.int64), below, totals


def cut_candidates(sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For confidences sorted ascending: which cuts k (escalate the k least confident) a
    candidate threshold makes, and the lowest such threshold per cut.

    Cut 0 is T = 0; a cut at the first position of each distinct confidence v is T = v; the cut
    of T = 1 is the number of confidences below 1 (n when none equals 1). Exactly the thresholds
    of `candidate_thresholds`, each reduced to the prefix it escalates.
    """
    n = len(sc)
    valid = np.zeros(n + 1, dtype=bool)
    valid[0] = True
    if n:
        valid[np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])] = True
    valid[int(np.searchsorted(sc, 1.0, side="left"))] = True
    return valid, np.r_[0.0, sc[1:], 1.0]


def rank_thresholds(conf, levels) -> np.ndarray:
    """Thresholds that escalate (about) each fraction in `levels` of the samples: the
    confidence at that rank; 0 (escalate none) and 1 always included. A coarse grid for
    searches over many thresholds at once (N-model cascades, the explorer's curves)."""
    levels = np.asarray(levels, dtype=np.float64)
    sc = np.sort(check_conf(conf))
    if len(sc) == 0:
        return np.array([0.0, 1.0])
    idx = np.clip(np.floor(levels * len(sc)).astype(np.int64), 0, len(sc) - 1)
    return np.unique(np.r_[0.0, 1.0, sc[idx]])


# ------------------------------------------------------------------ the sweep table

SWEEP_TOTALS = ["n", "n_valid", "little_n_correct", "big_n_correct"]


def total(table: pd.DataFrame, key: str) -> int:
    """A sweep's total (one of SWEEP_TOTALS), read from its constant column (survives a CSV)."""
    if key not in table.columns:
        raise KeyError(f"not a sweep table: column '{key}' missing (make it with sweep)")
    if table.empty:
        raise InputError("empty sweep table")
    return int(table[key].iloc[0])


def _costs(little_gmacs, big_gmacs):
    if (little_gmacs is None) != (big_gmacs is None):
        raise InputError("give both little_gmacs and big_gmacs, or neither")
    if little_gmacs is None:
        return None
    return check_cost(little_gmacs, "little_gmacs"), check_cost(big_gmacs, "big_gmacs")


def _thresholds(thresholds) -> np.ndarray:
    return np.asarray([check_threshold(t) for t in np.atleast_1d(thresholds)], dtype=np.float64)


def sweep_arrays(conf, little_correct, big_correct, thresholds=None, valid=None,
                 little_gmacs: float | None = None, big_gmacs: float | None = None) -> pd.DataFrame:
    """Accuracy, share sent to big and mean cost at every threshold (default: all candidates).

    `valid` masks the samples that count for accuracy (e.g. ReaL exclusions); cost counts every
    sample (all run the little model). Columns: threshold, n_big, frac_big, n_correct,
    accuracy (of the valid samples), gmacs and macs_reduction (= 1 - gmacs / big_gmacs) when
    both costs are given, and the totals n, n_valid, little_n_correct, big_n_correct as
    constant columns, so that a sweep saved as CSV still gives its operating points.
    """
    conf = check_conf(conf)
    n = len(conf)
    lc = check_correct(little_correct, "little_correct", n)
    bc = check_correct(big_correct, "big_correct", n)
    v = None if valid is None else check_correct(valid, "valid", n)
    costs = _costs(little_gmacs, big_gmacs)
    t = None if thresholds is None else _thresholds(thresholds)
    return _sweep(conf, lc, bc, t, v, costs)


def _sweep(conf, lc, bc, t=None, v=None, costs=None) -> pd.DataFrame:
    """`sweep_arrays` on arrays already checked (the rules call it after their own checks, so
    that one public call validates each input once)."""
    n = len(conf)
    v = np.ones(n, dtype=bool) if v is None else v
    t = candidate_thresholds(conf) if t is None else t
    n_big, (big_below, little_below), (big_n, little_n) = counts_below(conf, t, bc & v, lc & v)
    n_correct = big_below + (little_n - little_below)
    n_valid = int(v.sum())
    table = pd.DataFrame({
        "threshold": t,
        "n_big": n_big,
        "frac_big": n_big / n if n else np.nan,
        "n_correct": n_correct,
        "accuracy": n_correct / n_valid if n_valid else np.nan,
    })
    if costs is not None:
        table["gmacs"] = costs[0] + table["frac_big"] * costs[1]
        table["macs_reduction"] = 1.0 - table["gmacs"] / costs[1]
    table["n"] = n
    table["n_valid"] = n_valid
    table["little_n_correct"] = little_n
    table["big_n_correct"] = big_n
    return table


def _positions(ids_from, ids_to) -> np.ndarray:
    """Index array p with ids_from[p] == ids_to (same id sets assumed, as checked by align)."""
    if len(ids_from) == len(ids_to) and np.array_equal(ids_from, ids_to):
        return np.arange(len(ids_to))
    pos = {s: i for i, s in enumerate(ids_from)}
    return np.array([pos[s] for s in ids_to], dtype=np.int64)


def sweep(little: Predictions, big: Predictions, thresholds=None,
          little_gmacs: float | None = None, big_gmacs: float | None = None,
          valid=None, little_correct=None, big_correct=None) -> pd.DataFrame:
    """`sweep_arrays` of two Predictions, aligned by sample id (fractions).

    GMACs default to the records' metadata (``model['gmacs']``). `little_correct` /
    `big_correct` override correctness, e.g. to score against ReaL instead of the original labels;
    each override is in its own record's sample order (`valid` in the little record's), and is
    realigned by sample id together with the records.
    """
    for what, arr, n_rec in (("little_correct", little_correct, len(little)),
                             ("big_correct", big_correct, len(big)), ("valid", valid, len(little))):
        if arr is not None and len(np.asarray(arr)) != n_rec:
            raise InputError(f"{what} has {len(np.asarray(arr))} values but its record has "
                             f"{n_rec} samples: give one value per sample, in the record's order")
    big_ids = big.sample_ids
    little, big = align(little, big)
    if big_correct is not None:
        big_correct = np.asarray(big_correct)[_positions(big_ids, little.sample_ids)]
    lg = little_gmacs if little_gmacs is not None else little.model.get("gmacs")
    bg = big_gmacs if big_gmacs is not None else big.model.get("gmacs")
    if lg is None or bg is None:
        lg = bg = None
    return sweep_arrays(little.conf,
                        little.correct if little_correct is None else little_correct,
                        big.correct if big_correct is None else big_correct,
                        thresholds=thresholds, valid=valid, little_gmacs=lg, big_gmacs=bg)


# ------------------------------------------------------------------ operating points

def cheapest(table: pd.DataFrame, mask) -> pd.Series | None:
    """THE cheapest-threshold helper: of the rows where `mask` holds, the one sending fewest
    samples to big (cost grows with n_big), among equals the lowest threshold; None if none."""
    rows = table[np.asarray(mask, dtype=bool)]
    if rows.empty:
        return None
    return rows.sort_values(["n_big", "threshold"], kind="stable").iloc[0]


def loses_more(n_lost, n_valid, max_loss: float):
    """THE "loses more than max_loss" test, exact in counts (arrays broadcast).

    The loss is big's accuracy minus the cascade's over the samples that count for accuracy,
    so it is ``n_lost / n_valid`` with ``n_lost = big_n_correct - n_correct``: the denominator
    is n_valid (e.g. ReaL's labelled images), not n (every image, which the cost counts). A
    1e-9 tolerance in counts keeps ``max_loss * n_valid`` landing on an integer from failing
    by rounding; exactly max_loss is not more (``>``, the boundary qualifies).
    """
    return np.asarray(n_lost) > max_loss * np.asarray(n_valid) + 1e-9


def within_loss(table: pd.DataFrame, max_loss: float) -> pd.Series:
    """Per row of a sweep table: loses at most `max_loss` (not `loses_more`; the same test)."""
    lost = total(table, "big_n_correct") - table["n_correct"]
    return ~loses_more(lost, total(table, "n_valid"), max_loss)


def no_loss_point(table: pd.DataFrame) -> pd.Series | None:
    """Cheapest threshold whose accuracy is at least the big model's (the paper's rule)."""
    return cheapest(table, within_loss(table, 0.0))


def max_loss_point(table: pd.DataFrame, max_loss: float) -> pd.Series | None:
    """Cheapest threshold losing at most `max_loss` (a fraction) against the big model."""
    return cheapest(table, within_loss(table, check_max_loss(max_loss)))


def matched_accuracy_point(table: pd.DataFrame, accuracy: float) -> pd.Series | None:
    """Cheapest threshold whose accuracy (a fraction) reaches `accuracy`."""
    return cheapest(table, table["accuracy"] >= float(accuracy) - 1e-12)


def budget_point(table: pd.DataFrame, gmacs: float | None = None,
                 frac_big: float | None = None) -> pd.Series | None:
    """Most accurate threshold within a cost budget (mean GMACs, or share sent to big)."""
    if (gmacs is None) == (frac_big is None):
        raise InputError("give exactly one budget: gmacs or frac_big")
    within = table["gmacs"] <= gmacs + 1e-12 if gmacs is not None else table["frac_big"] <= frac_big
    rows = table[within]
    if rows.empty:
        return None
    return rows.sort_values(["n_correct", "n_big"], ascending=[False, True], kind="stable").iloc[0]


# ------------------------------------------------------------------ losses for the rules

def loss_table(conf, little_correct, big_correct, thresholds=None) -> pd.DataFrame:
    """The sweep plus, per threshold, the loss and gain counts of the threshold rules.

    A *loss* sample is kept with little (conf >= T), little wrong and big right; a *gain*
    sample kept, little right and big wrong. n_loss - n_gain = big_n_correct - n_correct, and
    ``risk`` = that difference / n is the accuracy given up (a fraction).
    """
    conf = check_conf(conf)
    n = len(conf)
    lc = check_correct(little_correct, "little_correct", n)
    bc = check_correct(big_correct, "big_correct", n)
    return _loss_table(conf, lc, bc, None if thresholds is None else _thresholds(thresholds))


def _loss_table(conf, lc, bc, t=None) -> pd.DataFrame:
    """`loss_table` on arrays already checked."""
    n = len(conf)
    table = _sweep(conf, lc, bc, t)
    _, (loss_below, gain_below), (loss_n, gain_n) = counts_below(
        conf, table["threshold"].to_numpy(), ~lc & bc, lc & ~bc)
    table["n_loss"] = loss_n - loss_below
    table["n_gain"] = gain_n - gain_below
    table["risk"] = (table["n_loss"] - table["n_gain"]) / n if n else np.nan
    return table


# ------------------------------------------------------------------ fixed thresholds

def evaluate_thresholds(conf, little_correct, big_correct, thresholds, masks=None, valid=None,
                        little_gmacs: float | None = None, big_gmacs: float | None = None,
                        missing: str = "nan", chunk: int = 32) -> pd.DataFrame:
    """THE evaluator of fixed thresholds: each row's T applied to that row's subset of samples.

    One row per threshold (`masks` default: all samples): n, n_valid, n_big, frac_big,
    n_correct, accuracy, little_accuracy, big_accuracy (valid samples only), loss
    (big_accuracy - accuracy, a fraction; negative: the cascade beats big), and gmacs /
    macs_reduction when both costs are given. A missing threshold (NaN or None: none found)
    gives NaN results with ``missing="nan"``, and the big model alone (frac_big 1, loss 0,
    no MACs saved) with ``missing="big"``.
    """
    if missing not in ("nan", "big"):
        raise InputError(f"missing must be 'nan' or 'big', got {missing!r}")
    conf = check_conf(conf)
    n = len(conf)
    t = np.atleast_1d(np.asarray([np.nan if x is None else x for x in np.atleast_1d(thresholds)],
                                 dtype=np.float64))
    for x in t[~np.isnan(t)]:
        check_threshold(x)
    masks = np.ones((len(t), n), bool) if masks is None else np.atleast_2d(np.asarray(masks, bool))
    if masks.shape != (len(t), n):
        raise InputError(f"masks have shape {masks.shape}, expected ({len(t)}, {n})")
    v = np.ones(n, bool) if valid is None else check_correct(valid, "valid", n)
    lc = check_correct(little_correct, "little_correct", n)
    bc = check_correct(big_correct, "big_correct", n)
    return _evaluate(conf, lc, bc, t, masks, v, _costs(little_gmacs, big_gmacs), missing, chunk)


def _evaluate(conf, lc, bc, t, masks, v, costs, missing="nan", chunk=32) -> pd.DataFrame:
    """`evaluate_thresholds` on checked inputs (t: float array, NaN = none; masks: 2-d bool)."""
    cols = {k: np.full(len(t), np.nan) for k in
            ["n", "n_valid", "n_big", "n_correct", "little_n_correct", "big_n_correct"]}
    none = np.isnan(t)
    for lo in range(0, len(t), chunk):
        m = masks[lo:lo + chunk]
        tt = t[lo:lo + chunk]
        nn = none[lo:lo + chunk]
        to_big = (conf[None, :] < np.nan_to_num(tt, nan=2.0)[:, None]) & m  # big alone if none
        right = np.where(to_big, bc[None, :], lc[None, :]) & m & v[None, :]
        sl = slice(lo, lo + len(m))
        cols["n"][sl] = m.sum(1)
        cols["n_valid"][sl] = (m & v).sum(1)
        gone = nn if missing == "nan" else np.zeros_like(nn)
        cols["n_big"][sl] = np.where(gone, np.nan, to_big.sum(1))
        cols["n_correct"][sl] = np.where(gone, np.nan, right.sum(1))
        cols["little_n_correct"][sl] = (m & v & lc).sum(1)
        cols["big_n_correct"][sl] = (m & v & bc).sum(1)
    table = pd.DataFrame({"threshold": t, **cols})
    with np.errstate(divide="ignore", invalid="ignore"):
        table["frac_big"] = table["n_big"] / table["n"]
        for what in ["", "little_", "big_"]:
            table[f"{what}accuracy"] = table[f"{what}n_correct"] / table["n_valid"]
    table["loss"] = table["big_accuracy"] - table["accuracy"]
    if costs is not None:
        lg, bg = costs
        table["gmacs"] = lg + table["frac_big"] * bg
        if missing == "big":  # the big model alone: the little model is not run
            table.loc[none, "gmacs"] = bg
        table["macs_reduction"] = 1.0 - table["gmacs"] / bg
    return table


def no_loss_thresholds(conf, little_correct, big_correct, masks, valid=None,
                       chunk: int = 32) -> np.ndarray:
    """The no-loss threshold chosen on each row's subset of samples, for many subsets at once.

    Row s equals ``no_loss_point(sweep_arrays(conf[m], little_correct[m], big_correct[m],
    valid=valid[m]))["threshold"]`` with ``m = masks[s]`` (NaN where no threshold reaches the
    big model's accuracy on that subset), without a Python loop over rows: sort all samples by
    confidence once; a threshold then escalates a prefix of that order ("cut" k), and the
    subset's accuracy at every cut is a row of cumulative sums. A cut is a candidate for a row
    only if it is 0 (T = 0), the cut of T = 1, or the cut of one of that row's own confidences —
    exactly the thresholds `sweep_arrays` would try on the subset. The first qualifying cut is
    the cheapest on the subset and, among equals, the lowest threshold, as in `no_loss_point`.
    """
    conf = check_conf(conf)
    n = len(conf)
    masks = np.atleast_2d(np.asarray(masks, dtype=bool))
    if masks.shape[1] != n:
        raise InputError(f"masks have {masks.shape[1]} columns, expected {n} (one per sample)")
    v = np.ones(n, bool) if valid is None else check_correct(valid, "valid", n)
    order = np.argsort(conf, kind="stable")
    sc = conf[order]
    lc = (check_correct(little_correct, "little_correct", n) & v)[order]
    bc = (check_correct(big_correct, "big_correct", n) & v)[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])  # first position of each value
    cut_one = int(np.searchsorted(sc, 1.0, side="left"))
    _, cut_threshold = cut_candidates(sc)
    out = np.full(len(masks), np.nan)
    for lo in range(0, len(masks), chunk):
        m = masks[lo:lo + chunk][:, order]
        zero = np.zeros((len(m), 1), np.int32)
        # diff[k] = (big right - little right) over the k least confident samples of the subset;
        # the cascade at cut k is at least as accurate as big iff diff[k] >= diff[n]
        diff = np.concatenate([zero, np.cumsum((bc & m).astype(np.int32) -
                                               (lc & m).astype(np.int32), axis=1)], axis=1)
        cand = np.zeros((len(m), n + 1), dtype=bool)
        cand[:, starts] = np.logical_or.reduceat(m, starts, axis=1)
        cand[:, 0] = True
        cand[:, cut_one] = True
        qual = cand & (diff >= diff[:, -1:])
        first = np.argmax(qual, axis=1)
        out[lo:lo + chunk] = np.where(qual.any(axis=1), cut_threshold[first], np.nan)
    return out


# ------------------------------------------------------------------ deferral curves
# A deferral rule ranks the samples by a keep-score (any real number: confidence, a learned
# score, the oracle); for a budget of k samples sent to big it sends the k lowest. Samples with
# equal scores cannot be split by a threshold, so a curve has a point at the end of each group
# of ties; `accuracy_at` interpolates between them (the expected accuracy when the straddling
# tie group is split at random).

def _array_1d(values, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{what} must be 1-d (one value per sample), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"{what} contains NaN or infinite values")
    return arr


def deferral_curve(score, little_correct, big_correct) -> pd.DataFrame:
    """Accuracy (fraction) of the cascade at every achievable deferral share, in one pass.

    Samples are sent to big in ascending score; the rows are the cut points a threshold can
    make (0, then the end of each group of equal scores): n_deferred, frac_deferred,
    accuracy, and threshold (the smallest T deferring exactly those samples, score < T).
    """
    s = _array_1d(score, "score")
    n = len(s)
    lc = check_correct(little_correct, "little_correct", n)
    bc = check_correct(big_correct, "big_correct", n)
    if n == 0:
        raise InputError("empty split: a deferral curve needs at least one sample")
    # the thresholds that split the score order between tie groups, and one past the end
    t = np.r_[np.unique(s), np.inf]
    k, (big_below, little_below), (_, little_n) = counts_below(s, t, bc, lc)
    return pd.DataFrame({"n_deferred": k, "frac_deferred": k / n,
                         "accuracy": (big_below + little_n - little_below) / n, "threshold": t})


def accuracy_at(curve: pd.DataFrame, shares) -> np.ndarray:
    """Accuracy at deferral shares (fractions), linear between cut points (random tie split)."""
    shares = np.asarray(shares, dtype=np.float64)
    if np.isnan(shares).any() or shares.min() < 0 or shares.max() > 1:
        raise InputError("deferral shares must be fractions in [0, 1]")
    return np.interp(shares, curve["frac_deferred"].to_numpy(), curve["accuracy"].to_numpy())


def curve_area(curve: pd.DataFrame) -> float:
    """Area under the deferral curve (accuracy averaged over all deferral shares 0..1)."""
    x, y = curve["frac_deferred"].to_numpy(), curve["accuracy"].to_numpy()
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


# ------------------------------------------------------------------ splits: one generator

def split_indices(n: int, calib_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random (calibration, test) index split, both sorted; calibration gets round(calib_frac * n).

    The one split generator of the package: the split of seed s is
    ``default_rng(s).permutation(n)[:k]``, whoever asks (`splits`, `split_masks`, the studies,
    the CLI). Refuses splits that leave either side empty.
    """
    f = check_calib_frac(calib_frac)
    seed = check_seed(seed)
    n = int(n)
    k = int(round(f * n))
    if not 0 < k < n:
        raise InputError(f"a calibration fraction of {f:g} of {n} samples leaves the "
                         f"{'calibration' if k == 0 else 'test'} split empty; use more samples "
                         "or a calib_frac that leaves at least one sample on each side")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:k]), np.sort(perm[k:])


def splits(n: int, calib_frac: float, n_splits: int, seed: int = 0):
    """The repeated splits of every study: split s (0-based) is ``split_indices(n, calib_frac,
    seed + s)``. Yields (s, calibration indices, test indices)."""
    seed = check_seed(seed)
    if int(n_splits) < 1:
        raise InputError(f"n_splits must be at least 1, got {n_splits!r}")
    for s in range(int(n_splits)):
        calib, test = split_indices(n, calib_frac, seed + s)
        yield s, calib, test


def split_masks(n: int, calib_frac: float, seeds) -> np.ndarray:
    """Boolean (len(seeds), n): row r is the calibration side of ``split_indices(n, calib_frac,
    seeds[r])``."""
    seeds = np.atleast_1d(seeds)
    masks = np.zeros((len(seeds), int(n)), dtype=bool)
    for row, seed in enumerate(seeds):
        masks[row, split_indices(n, calib_frac, int(seed))[0]] = True
    return masks
