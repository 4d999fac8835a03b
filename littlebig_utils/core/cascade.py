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

from littlebig_utils.core.predictions import Predictions, align

__all__ = [
    "check_threshold", "check_conf", "check_gmacs", "as_correct", "route",
    "candidate_thresholds", "sweep", "sweep_arrays", "SWEEP_TOTALS", "total", "no_loss_point",
    "max_loss_point", "matched_accuracy_point", "budget_point", "pair_summary", "pairs_table",
    "PAIR_COLUMNS", "best_little_per_big", "cheapest_cascade_at",
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


def candidate_thresholds(conf: np.ndarray) -> np.ndarray:
    """Every threshold that changes the routing: 0, each distinct confidence, and 1."""
    return np.unique(np.concatenate([[0.0, 1.0], np.asarray(conf, dtype=np.float64)]))


def check_gmacs(value, what: str = "GMACs") -> float:
    """A cost must be a finite positive number (NaN, 0 or negative costs give nonsense reductions)."""
    try:
        g = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a positive number, got {value!r}") from None
    if not math.isfinite(g) or g <= 0:
        raise ValueError(f"{what} must be a finite positive number, got {value!r}; "
                         "give the model's cost per sample (e.g. GMACs from costs.gmacs)")
    return g


def as_correct(values, what: str, n: int | None = None) -> np.ndarray:
    """A correctness vector: booleans, or numbers that are all exactly 0 or 1; else refused."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-d (one value per sample), got shape {arr.shape}")
    if arr.dtype != bool:
        if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{what} must be booleans (or 0/1), got dtype {arr.dtype} with other "
                             "values; pass preds == labels")
        arr = arr.astype(bool)
    if n is not None and len(arr) != n:
        raise ValueError(f"{what} has {len(arr)} values, expected {n} (one per sample)")
    return arr


def check_conf(conf, what: str = "conf") -> np.ndarray:
    """Confidences: 1-d, finite, in [0, 1] (max softmax probabilities, not logits)."""
    conf = np.asarray(conf, dtype=np.float64)
    if conf.ndim != 1:
        raise ValueError(f"{what} must be 1-d (one confidence per sample), got shape {conf.shape}")
    bad = ~np.isfinite(conf)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} of {len(conf)} {what} values are NaN or infinite")
    if len(conf) and (conf.min() < 0 or conf.max() > 1):
        raise ValueError(f"{what} must lie in [0, 1] (max softmax probabilities, not logits), found "
                         f"[{conf.min():.4g}, {conf.max():.4g}]")
    return conf


SWEEP_TOTALS = ["n", "n_valid", "little_n_correct", "big_n_correct"]


def total(table: pd.DataFrame, key: str) -> int:
    """A sweep's total (one of SWEEP_TOTALS), read from its constant column (survives a CSV)."""
    if key not in table.columns:
        raise KeyError(f"not a sweep table: column '{key}' missing (make it with cascade.sweep)")
    if table.empty:
        raise ValueError("empty sweep table")
    return int(table[key].iloc[0])


def sweep_arrays(conf, little_correct, big_correct, thresholds=None, valid=None,
                 little_gmacs: float | None = None, big_gmacs: float | None = None) -> pd.DataFrame:
    """Sweep on raw arrays; `valid` masks samples that count for accuracy (e.g. ReaL exclusions).

    Cost counts every sample (all are run through the little model), accuracy only valid ones.
    The totals (n, n_valid, little_n_correct, big_n_correct) are constant columns, so a sweep
    saved as CSV and read back still gives its operating points.
    """
    conf = check_conf(conf)
    n = len(conf)
    lc = as_correct(little_correct, "little_correct", n)
    bc = as_correct(big_correct, "big_correct", n)
    v = np.ones(n, dtype=bool) if valid is None else as_correct(valid, "valid", n)
    if (little_gmacs is None) != (big_gmacs is None):
        raise ValueError("give both little_gmacs and big_gmacs, or neither")
    if little_gmacs is not None:
        little_gmacs = check_gmacs(little_gmacs, "little_gmacs")
        big_gmacs = check_gmacs(big_gmacs, "big_gmacs")
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
    if little_gmacs is not None:
        table["gmacs"] = little_gmacs + table["frac_big"] * big_gmacs
        table["macs_reduction"] = 100.0 * (1.0 - table["gmacs"] / big_gmacs)
    table["n"] = n
    table["n_valid"] = n_valid
    table["little_n_correct"] = int((lc & v).sum())
    table["big_n_correct"] = int((bc & v).sum())
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
    """Accuracy (percent), fraction sent to big and mean GMACs at every distinct threshold.

    GMACs default to the records' metadata (``model['gmacs']``). `little_correct` /
    `big_correct` override correctness, e.g. to score against ReaL instead of the original labels;
    each override is in its own record's sample order (`valid` in the little record's), and is
    realigned by sample id together with the records.
    """
    n_little, n_big = len(little), len(big)
    for what, arr, n_rec in (("little_correct", little_correct, n_little),
                             ("big_correct", big_correct, n_big), ("valid", valid, n_little)):
        if arr is not None and len(np.asarray(arr)) != n_rec:
            raise ValueError(f"{what} has {len(np.asarray(arr))} values but its record has "
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


def _first(table: pd.DataFrame, mask) -> pd.Series | None:
    rows = table[np.asarray(mask)]
    if rows.empty:
        return None
    # cost grows with n_big, so the cheapest qualifying row is the one with fewest escalations;
    # among equals the lowest threshold.
    return rows.sort_values(["n_big", "threshold"], kind="stable").iloc[0]


def no_loss_point(table: pd.DataFrame) -> pd.Series | None:
    """Cheapest threshold whose accuracy is at least the big model's (exact, in counts)."""
    return _first(table, table["n_correct"] >= total(table, "big_n_correct"))


def max_loss_point(table: pd.DataFrame, max_loss: float) -> pd.Series | None:
    """Cheapest threshold losing at most `max_loss` (a fraction) of accuracy against big, in counts."""
    nv = total(table, "n_valid")
    return _first(table, table["n_correct"] >= total(table, "big_n_correct") - max_loss * nv - 1e-9)


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


def _cut_candidates(sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For confidences sorted ascending: which cuts k (escalate the k least confident) some
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


def _pair_rows(little_name, conf, little_correct, big_names, big_correct, n_valid_div: int,
               little_gmacs: float, big_gmacs: dict) -> list[dict]:
    """Pairs-table rows of one little model against many big models (see `pairs_table`).

    `big_correct` is (big models, n samples) int8, samples in the records' order.
    """
    n = len(conf)
    # ties need no stable order: only cuts between distinct confidences are candidates
    order = np.argsort(conf)
    sc = conf[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])  # first position of each value
    # candidate cuts (escalate the k least confident samples): each distinct confidence's
    # first position (T = that confidence, T = 0 for the first) and n (T = 1, unless some
    # confidence equals 1: conf == 1 is never escalated)
    cut = np.r_[starts, n] if sc[-1] < 1.0 else starts
    threshold = np.where(cut < n, sc[np.minimum(cut, n - 1)], 1.0)
    threshold[0] = 0.0
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
                   little_accuracy=100.0 * little_n / n_valid_div,
                   big_accuracy=100.0 * bn / n_valid_div,
                   gmacs=np.nan, little_gmacs=little_gmacs, big_gmacs=big_gmacs[b],
                   macs_reduction=np.nan, frac_big=np.nan, degenerate=bool(little_n >= bn))
        if found[i]:
            k = int(first[i])
            frac = int(cut[k]) / n
            cost = little_gmacs + frac * big_gmacs[b]
            row.update(threshold=float(threshold[k]),
                       accuracy=100.0 * int(n_correct[i, k]) / n_valid_div,
                       gmacs=cost, macs_reduction=100.0 * (1.0 - cost / big_gmacs[b]),
                       frac_big=frac)
        rows.append(row)
    return rows


def _check_records(records: dict, gmacs: dict) -> dict[str, float]:
    if len(records) < 2:
        raise ValueError(f"a pairs table needs at least two models, got {len(records)}")
    missing = sorted(set(records) - set(gmacs))
    if missing:
        raise KeyError(f"no GMACs for {missing}")
    return {k: check_gmacs(gmacs[k], f"GMACs of '{k}'") for k in records}


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
        raise ValueError("the predictions hold no samples")
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
    lg = check_gmacs(little_gmacs if little_gmacs is not None else little.model.get("gmacs"),
                     f"GMACs of '{little.name}'")
    bg = check_gmacs(big_gmacs if big_gmacs is not None else big.model.get("gmacs"),
                     f"GMACs of '{big.name}'")
    little, big = align(little, big)
    if len(little) == 0:
        raise ValueError("the predictions hold no samples")
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
