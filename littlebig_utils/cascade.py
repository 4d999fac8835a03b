"""The Little-Big rule and its threshold sweep.

A sample goes to the big model when the little model's confidence is below the threshold
(``conf < threshold``); otherwise the little model's answer stands. Every distinct threshold is
evaluated in one pass: sort the samples by confidence once, and a threshold then only decides
how long a prefix of that order is escalated, so accuracy at every threshold is two cumulative
sums (O(n log n) for all thresholds instead of O(n) per threshold).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .predictions import Predictions, align

__all__ = [
    "check_threshold", "route", "apply", "candidate_thresholds", "sweep", "sweep_arrays",
    "no_loss_point", "matched_accuracy_point", "budget_point", "pair_summary", "pairs_table",
    "PAIR_COLUMNS", "best_little_per_big", "cheapest_cascade_at",
    "pairs_table_fast", "split_masks", "no_loss_thresholds", "evaluate_thresholds",
    "transfer_table", "TRANSFER_COLUMNS",
]

PAIR_COLUMNS = ["little", "big", "threshold", "accuracy", "little_accuracy", "big_accuracy",
                "gmacs", "little_gmacs", "big_gmacs", "macs_reduction", "frac_big", "degenerate"]


def check_threshold(threshold) -> float:
    """A threshold is a probability: a number in [0, 1]; anything else is refused."""
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
    if not math.isfinite(t) or not 0.0 <= t <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1] (it is compared with a max-softmax "
                         f"probability), got {threshold!r}")
    return t


def route(conf: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask of the samples sent to the big model."""
    return np.asarray(conf) < check_threshold(threshold)


def apply(little: Predictions, big: Predictions, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(cascade predictions, mask sent to big) at one threshold, after aligning the two records."""
    little, big = align(little, big)
    to_big = route(little.conf, threshold)
    return np.where(to_big, big.preds, little.preds), to_big


def candidate_thresholds(conf: np.ndarray) -> np.ndarray:
    """Every threshold that changes the routing: 0, each distinct confidence, and 1."""
    return np.unique(np.concatenate([[0.0, 1.0], np.asarray(conf, dtype=np.float64)]))


def sweep_arrays(conf, little_correct, big_correct, thresholds=None, valid=None,
                 little_gmacs: float | None = None, big_gmacs: float | None = None) -> pd.DataFrame:
    """Sweep on raw arrays; `valid` masks samples that count for accuracy (e.g. ReaL exclusions).

    Cost counts every sample (all are run through the little model), accuracy only valid ones.
    """
    conf = np.asarray(conf, dtype=np.float64)
    n = len(conf)
    if not np.isfinite(conf).all():
        raise ValueError(f"{int((~np.isfinite(conf)).sum())} confidences are NaN or infinite")
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    if len(lc) != n or len(bc) != n:
        raise ValueError(f"conf ({n}), little_correct ({len(lc)}) and big_correct ({len(bc)}) "
                         "must have the same length")
    v = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if thresholds is None:
        thresholds = candidate_thresholds(conf)
    else:
        thresholds = np.asarray([check_threshold(t) for t in np.atleast_1d(thresholds)])
    order = np.argsort(conf, kind="stable")
    sc = conf[order]
    # prefix sums over samples sorted by confidence: cum_x[k] = sum of x over the k least confident
    cum_little = np.concatenate([[0], np.cumsum(lc[order] & v[order])])
    cum_big = np.concatenate([[0], np.cumsum(bc[order] & v[order])])
    n_big = np.searchsorted(sc, thresholds, side="left")  # count of conf < t
    n_correct = cum_big[n_big] + (cum_little[-1] - cum_little[n_big])
    n_valid = int(v.sum())
    table = pd.DataFrame({
        "threshold": thresholds,
        "n_big": n_big.astype(np.int64),
        "frac_big": n_big / n if n else np.nan,
        "n_correct": n_correct.astype(np.int64),
        "accuracy": 100.0 * n_correct / n_valid if n_valid else np.nan,
    })
    if little_gmacs is not None and big_gmacs is not None:
        table["gmacs"] = little_gmacs + table["frac_big"] * big_gmacs
        table["macs_reduction"] = 100.0 * (1.0 - table["gmacs"] / big_gmacs)
    table.attrs.update(n=n, n_valid=n_valid, little_n_correct=int((lc & v).sum()),
                       big_n_correct=int((bc & v).sum()))
    return table


def sweep(little: Predictions, big: Predictions, thresholds=None,
          little_gmacs: float | None = None, big_gmacs: float | None = None,
          valid=None, little_correct=None, big_correct=None) -> pd.DataFrame:
    """Accuracy (percent), fraction sent to big and mean GMACs at every distinct threshold.

    GMACs default to the records' metadata (``model['gmacs']``). `little_correct` /
    `big_correct` override correctness, e.g. to score against ReaL instead of the original labels.
    """
    little, big = align(little, big)
    lg = little_gmacs if little_gmacs is not None else little.model.get("gmacs")
    bg = big_gmacs if big_gmacs is not None else big.model.get("gmacs")
    table = sweep_arrays(little.conf,
                         little.correct if little_correct is None else little_correct,
                         big.correct if big_correct is None else big_correct,
                         thresholds=thresholds, valid=valid, little_gmacs=lg, big_gmacs=bg)
    table.attrs.update(little=little.name, big=big.name)
    return table


def _first(table: pd.DataFrame, mask) -> pd.Series | None:
    rows = table[np.asarray(mask)]
    if rows.empty:
        return None
    # cost grows with n_big, so the cheapest qualifying row is the one with fewest escalations;
    # among equals the lowest threshold.
    return rows.sort_values(["n_big", "threshold"], kind="stable").iloc[0]


def no_loss_point(table: pd.DataFrame) -> pd.Series | None:
    """Cheapest threshold whose accuracy is at least the big model's (exact, in counts)."""
    return _first(table, table["n_correct"] >= table.attrs["big_n_correct"])


def matched_accuracy_point(table: pd.DataFrame, accuracy: float) -> pd.Series | None:
    """Cheapest threshold reaching `accuracy` (percent)."""
    return _first(table, table["accuracy"] >= accuracy - 1e-12)


def budget_point(table: pd.DataFrame, gmacs: float | None = None,
                 frac_big: float | None = None) -> pd.Series | None:
    """Most accurate threshold within a cost budget (mean GMACs, or fraction sent to big)."""
    if (gmacs is None) == (frac_big is None):
        raise ValueError("give exactly one budget: gmacs or frac_big")
    within = table["gmacs"] <= gmacs + 1e-12 if gmacs is not None else table["frac_big"] <= frac_big
    rows = table[within]
    if rows.empty:
        return None
    return rows.sort_values(["n_correct", "n_big"], ascending=[False, True], kind="stable").iloc[0]


def pair_summary(little: Predictions, big: Predictions, little_gmacs: float | None = None,
                 big_gmacs: float | None = None) -> dict:
    """One row of the pairs table (DESIGN.md contract) at the no-accuracy-loss point."""
    table = sweep(little, big, little_gmacs=little_gmacs, big_gmacs=big_gmacs)
    lg = little_gmacs if little_gmacs is not None else little.model.get("gmacs")
    bg = big_gmacs if big_gmacs is not None else big.model.get("gmacs")
    n = table.attrs["n_valid"]
    la = 100.0 * table.attrs["little_n_correct"] / n
    ba = 100.0 * table.attrs["big_n_correct"] / n
    row = dict(little=little.name, big=big.name, threshold=np.nan, accuracy=np.nan,
               little_accuracy=la, big_accuracy=ba, gmacs=np.nan, little_gmacs=lg, big_gmacs=bg,
               macs_reduction=np.nan, frac_big=np.nan,
               degenerate=bool(table.attrs["little_n_correct"] >= table.attrs["big_n_correct"]))
    point = no_loss_point(table)
    if point is not None:
        row.update(threshold=float(point["threshold"]), accuracy=float(point["accuracy"]),
                   frac_big=float(point["frac_big"]))
        if "gmacs" in point:
            row.update(gmacs=float(point["gmacs"]), macs_reduction=float(point["macs_reduction"]))
    return row


def pairs_table(records: dict[str, Predictions], gmacs: dict[str, float]) -> pd.DataFrame:
    """Every ordered pair with little_gmacs < big_gmacs, at its no-loss point."""
    missing = sorted(set(records) - set(gmacs))
    if missing:
        raise KeyError(f"no GMACs for {missing}")
    rows = [pair_summary(records[a], records[b], gmacs[a], gmacs[b])
            for a in records for b in records if gmacs[a] < gmacs[b]]
    df = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    return df.sort_values(["big_gmacs", "big", "little_gmacs", "little"]).reset_index(drop=True)


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
                       "cascade.pairs_table or `littlebig pairs`")
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
    whose top-1 reaches `accuracy` (percent), or None when no pair reaches it.

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


def pairs_table_fast(records: dict[str, Predictions], gmacs: dict[str, float]) -> pd.DataFrame:
    """The same table as `pairs_table`, computed for all big models of a little model at once.

    Each little model's confidences are sorted once; for every big model the number of correct
    answers after escalating the k least confident samples is the little model's count plus a
    cumulative sum of (big correct - little correct) in that order, one matrix row per big
    model. The no-loss point is the first candidate threshold reaching the big model's count;
    when none does (samples with confidence exactly 1 are never escalated, since conf < T), the
    row keeps empty operating-point columns, as in `pairs_table`. For the paper's 1,953 pairs.
    """
    missing = sorted(set(records) - set(gmacs))
    if missing:
        raise KeyError(f"no GMACs for {missing}")
    names = list(records)
    aligned = dict(zip(names, align(*[records[k] for k in names])))
    n = len(aligned[names[0]])
    correct = {k: aligned[k].correct for k in names}
    rows = []
    for a in names:
        bigs = [b for b in names if gmacs[a] < gmacs[b]]
        if not bigs:
            continue
        conf = aligned[a].conf
        order = np.argsort(conf, kind="stable")
        thresholds = candidate_thresholds(conf)
        n_big = np.searchsorted(conf[order], thresholds, side="left")  # count of conf < t
        lc = correct[a][order]
        big_correct = np.stack([correct[b][order] for b in bigs])
        gain = np.zeros((len(bigs), n + 1), dtype=np.int64)
        np.cumsum(big_correct.astype(np.int64) - lc, axis=1, out=gain[:, 1:])
        little_n = int(lc.sum())
        need = big_correct.sum(axis=1)
        n_correct = little_n + gain[:, n_big]  # (big models, thresholds)
        reached = n_correct >= need[:, None]
        first = reached.argmax(axis=1)  # thresholds ascend, so the first is the cheapest
        for i, b in enumerate(bigs):
            row = dict(little=a, big=b, threshold=np.nan, accuracy=np.nan,
                       little_accuracy=100.0 * little_n / n, big_accuracy=100.0 * need[i] / n,
                       gmacs=np.nan, little_gmacs=gmacs[a], big_gmacs=gmacs[b],
                       macs_reduction=np.nan, frac_big=np.nan, degenerate=bool(little_n >= need[i]))
            if reached[i].any():
                j = first[i]
                frac = n_big[j] / n
                cost = gmacs[a] + frac * gmacs[b]
                row.update(threshold=float(thresholds[j]), accuracy=100.0 * n_correct[i, j] / n,
                           gmacs=cost, macs_reduction=100.0 * (1.0 - cost / gmacs[b]), frac_big=frac)
            rows.append(row)
    df = pd.DataFrame(rows, columns=PAIR_COLUMNS)
    return df.sort_values(["big_gmacs", "big", "little_gmacs", "little"]).reset_index(drop=True)


# ---------------------------------------------------------------- thresholds chosen on one set,
# evaluated on another (held-out splits, cross-dataset transfer)

def split_masks(n: int, frac: float, seeds) -> np.ndarray:
    """Boolean (len(seeds), n): row s marks round(frac * n) samples drawn at random with seed s.

    Each row depends on its own seed only (``default_rng(seed).permutation``), so the split of a
    seed is the same whatever the other seeds are.
    """
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must lie strictly between 0 and 1, got {frac!r}")
    seeds = np.atleast_1d(seeds)
    k = int(round(frac * n))
    if not 0 < k < n:
        raise ValueError(f"a {frac:.0%} split of {n} samples is empty or the whole set")
    masks = np.zeros((len(seeds), n), dtype=bool)
    for row, seed in enumerate(seeds):
        masks[row, np.random.default_rng(int(seed)).permutation(n)[:k]] = True
    return masks


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
    conf = np.asarray(conf, dtype=np.float64)
    n = len(conf)
    masks = np.atleast_2d(np.asarray(masks, dtype=bool))
    if masks.shape[1] != n:
        raise ValueError(f"masks have {masks.shape[1]} columns, expected {n} (one per sample)")
    v = np.ones(n, bool) if valid is None else np.asarray(valid, dtype=bool)
    order = np.argsort(conf, kind="stable")
    sc = conf[order]
    lc = (np.asarray(little_correct, dtype=bool) & v)[order]
    bc = (np.asarray(big_correct, dtype=bool) & v)[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])  # first position of each distinct value
    cut_one = int(np.searchsorted(sc, 1.0, side="left"))
    # threshold of each cut: 0 for cut 0, else the confidence at that position (1 past the end)
    cut_threshold = np.r_[0.0, sc[1:], 1.0]
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


def evaluate_thresholds(conf, little_correct, big_correct, thresholds, masks=None, valid=None,
                        little_gmacs: float | None = None, big_gmacs: float | None = None,
                        chunk: int = 32) -> pd.DataFrame:
    """Each row's threshold applied to that row's subset of samples (default: all samples).

    One row per threshold: n, n_big, frac_big, n_correct, accuracy, little_accuracy and
    big_accuracy on the subset (percent, valid samples only), and gmacs / macs_reduction when
    both costs are given. A NaN threshold (none found) gives NaN results.
    """
    conf = np.asarray(conf, dtype=np.float64)
    n = len(conf)
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    for x in t[np.isfinite(t)]:
        check_threshold(x)
    if np.isinf(t).any():
        raise ValueError("thresholds must lie in [0, 1] (or be NaN for 'none found')")
    masks = np.ones((len(t), n), bool) if masks is None else np.atleast_2d(np.asarray(masks, bool))
    if masks.shape != (len(t), n):
        raise ValueError(f"masks have shape {masks.shape}, expected ({len(t)}, {n})")
    v = np.ones(n, bool) if valid is None else np.asarray(valid, dtype=bool)
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    cols = {k: np.full(len(t), np.nan) for k in
            ["n", "n_valid", "n_big", "n_correct", "little_n_correct", "big_n_correct"]}
    for lo in range(0, len(t), chunk):
        m = masks[lo:lo + chunk]
        tt = t[lo:lo + chunk]
        to_big = (conf[None, :] < np.nan_to_num(tt, nan=0.0)[:, None]) & m
        right = np.where(to_big, bc[None, :], lc[None, :]) & m & v[None, :]
        sl = slice(lo, lo + len(m))
        cols["n"][sl] = m.sum(1)
        cols["n_valid"][sl] = (m & v).sum(1)
        cols["n_big"][sl] = np.where(np.isnan(tt), np.nan, to_big.sum(1))
        cols["n_correct"][sl] = np.where(np.isnan(tt), np.nan, right.sum(1))
        cols["little_n_correct"][sl] = (m & v & lc).sum(1)
        cols["big_n_correct"][sl] = (m & v & bc).sum(1)
    table = pd.DataFrame({"threshold": t, **cols})
    table["frac_big"] = table["n_big"] / table["n"]
    for what in ["", "little_", "big_"]:
        table[f"{what}accuracy"] = 100.0 * table[f"{what}n_correct"] / table["n_valid"]
    if little_gmacs is not None and big_gmacs is not None:
        table["gmacs"] = little_gmacs + table["frac_big"] * big_gmacs
        table["macs_reduction"] = 100.0 * (1.0 - table["gmacs"] / big_gmacs)
    return table


TRANSFER_COLUMNS = ["little", "big", "threshold", "accuracy", "big_accuracy", "little_accuracy",
                    "accuracy_change", "frac_big", "gmacs", "macs_reduction"]


def transfer_table(pairs: pd.DataFrame, records: dict[str, Predictions],
                   correct: dict[str, np.ndarray] | None = None, valid=None) -> pd.DataFrame:
    """Thresholds fixed elsewhere (a `pairs_table`), applied to other predictions.

    `records` holds the models' Predictions on the evaluation set (another dataset, or the same
    images); `correct` optionally overrides each model's correctness and `valid` masks the
    samples that count (e.g. ReaL labels and exclusions). Pairs without a threshold or without
    both models in `records` are left out. accuracy_change = cascade - big, in points.
    GMACs are the pairs table's (per image, the same on any dataset at the same input size).
    """
    rows = []
    for _, p in pairs.iterrows():
        if np.isnan(p["threshold"]) or p["little"] not in records or p["big"] not in records:
            continue
        little, big = align(records[p["little"]], records[p["big"]])
        if correct is None:
            lc, bc = little.correct, big.correct
        elif np.array_equal(big.sample_ids, records[p["big"]].sample_ids):
            lc, bc = correct[p["little"]], correct[p["big"]]
        else:
            raise ValueError(f"'{p['little']}' and '{p['big']}' list their samples in different "
                             "orders; `correct` and `valid` need records in one order (align them)")
        r = evaluate_thresholds(little.conf, lc, bc, [p["threshold"]], valid=valid,
                                little_gmacs=p["little_gmacs"], big_gmacs=p["big_gmacs"]).iloc[0]
        rows.append(dict(little=p["little"], big=p["big"], threshold=p["threshold"],
                         accuracy=r["accuracy"], big_accuracy=r["big_accuracy"],
                         little_accuracy=r["little_accuracy"],
                         accuracy_change=r["accuracy"] - r["big_accuracy"], frac_big=r["frac_big"],
                         gmacs=r["gmacs"], macs_reduction=r["macs_reduction"]))
    return pd.DataFrame(rows, columns=TRANSFER_COLUMNS)
