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
    "pairs_table_fast",
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
