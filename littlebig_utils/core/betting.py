"""A variance-adaptive p-value for the guaranteed threshold: testing by betting (WSR).

Waudby-Smith & Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2023
(arXiv 2010.09686). To test H0: E[X] >= m for X in [0, 1], a gambler starts with capital 1 and
bets on each new sample that it falls *below* m: after sample t the capital is

    K_t = prod_{i <= t} (1 - lambda_i (X_i - m)),   0 <= lambda_i <= c / (1 - m),  c < 1.

Under H0 each factor has expectation at most 1 and the bet lambda_i depends only on the samples
before i, so K is a nonnegative supermartingale and Ville's inequality gives
P(max_t K_t >= 1/delta) <= delta: ``p = min(1, 1 / max_t K_t)`` is a valid p-value. The bets are
WSR's *predictable plug-in* for a fixed sample size n,
``lambda_t = sqrt(2 log(1/delta) / (n sigma2_{t-1}))`` with sigma2 a running variance estimate
(shrunk towards 1/4 by one pseudo-observation), truncated at ``c / (1 - m)`` with c = 1/2 --
exactly confseq 0.0.11's ``betting_mart`` with ``theta=0`` and ``lambda_predmix_eb(x,
alpha=delta, fixed_n=n)``. Where the variance is small (most samples have zero loss), the bets
are large and the capital grows fast: that is what "variance-adaptive" buys over Hoeffding.

The cascade's loss. Per sample the loss of threshold T is ``(big correct) - (cascade correct)``
in {-1, 0, 1} (nonzero only on samples kept with the little model, ``score >= T``); its mean
R(T) is the accuracy given up, a *fraction*. It is mapped to [0, 1] by X = (loss + 1) / 2, so
H_T: R(T) > epsilon becomes E[X] > (1 + epsilon) / 2; rejecting H_T certifies R(T) <= epsilon.

Order. The capital depends on the order of the samples. The test is valid when the samples,
in the order used, are i.i.d. (or exchangeable) draws; a file sorted by class is not such an
order (the ImageNet reference files are sorted by synset), so by default the calibration
samples are put in a random order fixed by ``order_seed`` (one permutation, the same for every
T). ``order_seed=None`` keeps the given order (use it only for data already in random order).

Fixed-sequence testing (Learn-then-Test, Angelopoulos et al., arXiv 2110.01052) walks T from
1 (everything to big) downwards, rejecting while p <= delta and stopping at the first failure;
:func:`wsr_threshold` returns the cheapest rejected T. The p-values for a whole descending run
of thresholds are computed at once (one matrix of capital processes per chunk of thresholds),
and the walk stops at the first failure, so a study over many calibration draws stays cheap.
"""
from __future__ import annotations

import math

import numpy as np

from littlebig_utils.core.thresholds import check_delta

__all__ = ["wsr_bets", "wsr_capital", "wsr_p_values", "wsr_rejections", "wsr_threshold",
           "candidate_scores", "TRUNCATION", "population_curve", "guarantee_study",
           "eligible_pairs", "guarantee_pairs"]

TRUNCATION = 0.5  # bets at most TRUNCATION / (1 - m): confseq's default trunc_scale


def _check_epsilon_fraction(epsilon) -> float:
    try:
        e = float(epsilon)
    except (TypeError, ValueError):
        raise ValueError(f"epsilon must be a fraction of accuracy, got {epsilon!r}") from None
    if not math.isfinite(e) or not 0.0 <= e < 1.0:
        raise ValueError(f"epsilon is the accuracy you accept to lose as a FRACTION "
                         f"(0.005 = half a point), 0 <= epsilon < 1; got {epsilon!r}")
    return e



def wsr_bets(x: np.ndarray, delta: float, n: int | None = None) -> np.ndarray:
    """Predictable plug-in bets for samples x (last axis = time), tuned for sample size n.

    Same formulas as confseq's ``lambda_predmix_eb(x, alpha=delta, fixed_n=n)`` (prior mean
    1/2, prior variance 1/4, one pseudo-observation); works on (..., n) arrays at once.
    """
    x = np.asarray(x, dtype=np.float64)
    n_t = x.shape[-1]
    n = n_t if n is None else int(n)
    t = np.arange(1, n_t + 1)
    mu = np.minimum((0.5 + np.cumsum(x, axis=-1)) / (t + 1), 1.0)
    sigma2 = (0.25 + np.cumsum((x - mu) ** 2, axis=-1)) / (t + 1)
    prev = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), sigma2[..., :-1]], axis=-1)
    with np.errstate(divide="ignore"):
        lam = np.sqrt(2 * math.log(1 / delta) / (n * prev))
    return np.where(np.isnan(lam), 0.0, lam)


def wsr_capital(x: np.ndarray, m: float, delta: float) -> np.ndarray:
    """Capital process K_t of betting that E[X] < m, X in [0, 1] (last axis = time)."""
    x = np.asarray(x, dtype=np.float64)
    m = float(m)
    if not 0.0 < m < 1.0:
        raise ValueError(f"the null mean m must lie in (0, 1), got {m!r}")
    lam = np.minimum(wsr_bets(x, delta), TRUNCATION / (1 - m))
    return np.cumprod(1 - lam * (x - m), axis=-1)


def candidate_scores(score) -> np.ndarray:
    """Thresholds worth testing, ascending: 0, every distinct score, and 1
    (``cascade.candidate_thresholds``, the same candidates as Clopper-Pearson's)."""
    from littlebig_utils.core.cascade import candidate_thresholds
    return candidate_thresholds(score)


def _prepare(score, little_correct, big_correct, order_seed):
    s = np.asarray(score, dtype=np.float64)
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    if not (s.ndim == lc.ndim == bc.ndim == 1) or not len(s) == len(lc) == len(bc):
        raise ValueError(f"score ({s.shape}), little_correct ({lc.shape}) and big_correct "
                         f"({bc.shape}) must be 1-d arrays of the same length")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite (NaN or inf found); recompute them")
    if len(s) and (s.min() < 0 or s.max() > 1):
        raise ValueError("scores must lie in [0, 1] (max softmax or a learned keep-score)")
    if order_seed is not None:
        perm = np.random.default_rng(order_seed).permutation(len(s))
        s, lc, bc = s[perm], lc[perm], bc[perm]
    return s, lc, bc


def _x(s, lc, bc, thresholds):
    """(len(thresholds), n) losses mapped to [0, 1]: 1/2 + (big - little)/2 where kept."""
    kept = s[None, :] >= np.asarray(thresholds)[:, None]
    return 0.5 + 0.5 * kept * (bc.astype(np.float64) - lc)[None, :]


def wsr_p_values(score, little_correct, big_correct, thresholds, epsilon: float,
                 delta: float, order_seed: int | None = 0) -> np.ndarray:
    """p-values of H_T: R(T) > epsilon (a fraction) for each T, WSR bets tuned for level delta.

    A sample goes to big when ``score < T``. Valid p-values for every T; the bets (not the
    validity) depend on delta. See the module docstring for the order.
    """
    epsilon, delta = _check_epsilon_fraction(epsilon), check_delta(delta)
    s, lc, bc = _prepare(score, little_correct, big_correct, order_seed)
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if len(s) == 0:
        return np.ones(len(t))
    m = (1 + epsilon) / 2
    out = np.empty(len(t))
    for lo in range(0, len(t), 256):
        cap = wsr_capital(_x(s, lc, bc, t[lo:lo + 256]), m, delta)
        out[lo:lo + 256] = np.minimum(1.0, 1.0 / cap.max(axis=1))
    return out


def wsr_rejections(score, little_correct, big_correct, thresholds, epsilon: float,
                   delta: float, order_seed: int | None = 0, chunk: int = 128) -> np.ndarray:
    """Fixed-sequence rejections of H_T: R(T) > epsilon (fraction), from the highest T down.

    Returns a boolean per threshold (in the order given): True where H_T is rejected *within
    the fixed sequence*, i.e. T and every higher threshold given are individually rejected
    (max capital >= 1/delta). Thresholds are processed in descending chunks and the walk stops
    at the first failure. The family-wise error over all rejections is at most delta.
    """
    epsilon, delta = _check_epsilon_fraction(epsilon), check_delta(delta)
    s, lc, bc = _prepare(score, little_correct, big_correct, order_seed)
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if np.isnan(t).any() or (len(t) and (t.min() < 0 or t.max() > 1)):
        raise ValueError("thresholds must lie in [0, 1]")
    out = np.zeros(len(t), dtype=bool)
    if len(s) == 0 or len(t) == 0:
        return out
    m = (1 + epsilon) / 2
    # Only samples on which the models disagree carry a nonzero loss, so two thresholds that
    # keep the same disagreeing samples give the same sequence x and the same decision. The
    # kept disagreeing samples are nested in T, so their count identifies the set: test one
    # threshold per count (exact, and several times faster than testing every threshold).
    dis = np.sort(s[lc != bc])
    key = len(dis) - np.searchsorted(dis, t, side="left")  # disagreeing samples kept at T
    order = np.argsort(-t, kind="stable")  # descending T: the fixed sequence
    keys, first = np.unique(key[order], return_index=True)  # keys ascend as T descends
    reps = order[first]
    decided = np.zeros(len(keys), dtype=bool)
    for lo in range(0, len(reps), chunk):
        ok = wsr_capital(_x(s, lc, bc, t[reps[lo:lo + chunk]]), m, delta).max(axis=1) >= 1 / delta
        decided[lo:lo + chunk] = ok
        if not ok.all():
            break
    n_ok = len(decided) if decided.all() else int(np.argmin(decided))  # first failure stops
    out[np.isin(key, keys[:n_ok])] = True
    return out


def wsr_threshold(score, little_correct, big_correct, epsilon: float, delta: float,
                  order_seed: int | None = 0) -> float | None:
    """Cheapest T certified by fixed-sequence WSR testing (None: use big alone).

    `epsilon` is a FRACTION (0.005 = half an accuracy point). With probability at least
    1 - delta over the calibration draw, R(T) <= epsilon on data exchangeable with it.
    Candidates: 0, every distinct calibration score, and 1.
    """
    cands = candidate_scores(score)
    rej = wsr_rejections(score, little_correct, big_correct, cands, epsilon, delta, order_seed)
    return float(cands[rej].min()) if rej.any() else None


# ------------------------------------------------------------------ Monte-Carlo study

def population_curve(score, little_correct, big_correct):
    """Functions T -> (risk, frac_big) on a whole population (fractions), by binary search."""
    s = np.asarray(score, dtype=np.float64)
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    order = np.argsort(s, kind="stable")
    ss = s[order]
    diff = np.concatenate([[0], np.cumsum(bc[order].astype(np.int64) - lc[order])])
    n = len(s)

    def at(t):
        k = np.searchsorted(ss, np.asarray(t, dtype=np.float64), side="left")  # score < t: big
        return (diff[-1] - diff[k]) / n, k / n  # kept samples' (big - little) correct, share
    return at


def guarantee_study(score, little_correct, big_correct, little_gmacs: float, big_gmacs: float,
                    epsilon: float, delta: float, n_calib: int = 5000, draws: int = 100,
                    seed: int = 0, methods=("clopper-pearson", "wsr")) -> "pd.DataFrame":
    """How much of the oracle's MACs saving a guaranteed threshold keeps, and how often it fails.

    The given samples are the *population* (e.g. the 50,000 ImageNet val images): each draw
    takes `n_calib` of them with replacement as the calibration set, chooses T by each method
    (``"wsr"``: :func:`wsr_threshold`; the others: ``thresholds.guaranteed_threshold``, whose
    epsilon is in accuracy points), and judges T on the population: a violation is a
    population risk above `epsilon` (a fraction). The oracle T is the cheapest whose population
    risk is at most epsilon; ``kept = saving(T) / saving(oracle)`` with saving = 1 - mean
    GMACs / big GMACs (None, i.e. big alone, keeps 0). One row per draw and method.
    """
    import pandas as pd

    from littlebig_utils.core.thresholds import guaranteed_threshold
    epsilon, delta = _check_epsilon_fraction(epsilon), check_delta(delta)
    s = np.asarray(score, dtype=np.float64)
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    at = population_curve(s, lc, bc)
    cands = candidate_scores(s)
    risk, frac = at(cands)
    ok = risk <= epsilon + 1e-12
    saving = lambda f: 1.0 - (little_gmacs + f * big_gmacs) / big_gmacs  # noqa: E731
    oracle_t = float(cands[ok][np.argmin(frac[ok])])
    oracle_saving = float(saving(frac[ok].min()))
    if oracle_saving <= 0:
        raise ValueError("the oracle threshold saves no MACs for this pair: nothing to keep")
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(int(draws)):
        idx = rng.integers(0, len(s), int(n_calib))
        cs, cl, cb = s[idx], lc[idx], bc[idx]
        for method in methods:
            if method == "wsr":
                t = wsr_threshold(cs, cl, cb, epsilon, delta, order_seed=d)
            else:
                t = guaranteed_threshold(cs, cl, cb, 100 * epsilon, delta, method).threshold
            if t is None:
                r, f, sv = 0.0, 1.0, 0.0
            else:
                r, f = (float(v) for v in at(t))
                sv = float(saving(f))
            rows.append(dict(draw=d, method=method, threshold=np.nan if t is None else t,
                             found=t is not None, risk=r, frac_big=f, saving=sv,
                             kept=sv / oracle_saving, violated=bool(r > epsilon + 1e-12),
                             oracle_threshold=oracle_t, oracle_saving=oracle_saving))
    return pd.DataFrame(rows)


def eligible_pairs(records: dict, gmacs: dict, epsilon: float, k: int | None = None):
    """Genuine reference pairs whose little model alone loses more than `epsilon` (a fraction)
    against big -- for the others every bound certifies T = 0 and the study is empty -- ranked
    by their in-sample no-loss MACs reduction (the first `k`)."""
    from littlebig_utils.core.cascade import pairs_table
    pairs = pairs_table(records, gmacs)
    ok = (~pairs["degenerate"].astype(bool) & pairs["threshold"].notna()
          & (pairs["big_accuracy"] - pairs["little_accuracy"] > 100 * epsilon))
    ranked = pairs[ok].sort_values("macs_reduction", ascending=False, kind="stable")
    return (ranked if k is None else ranked.head(k)).reset_index(drop=True)


def guarantee_pairs(records: dict, pairs, epsilon: float, delta: float, n_calib: int = 5000,
                    draws: int = 100, seed: int = 0):
    """:func:`guarantee_study` for each pair (rows little, big) of reference Predictions with
    GMACs in their metadata. Returns (all draws, summary per pair and method: mean kept share,
    violation rate and its standard error, share of draws with a certified T)."""
    import pandas as pd
    runs = []
    for _, r in pairs.iterrows():
        lp, bp = records[r["little"]], records[r["big"]]
        runs.append(guarantee_study(lp.conf, lp.correct, bp.correct, lp.model["gmacs"],
                                    bp.model["gmacs"], epsilon, delta, n_calib, draws, seed)
                    .assign(pair=f"{r['little']} -> {r['big']}"))
    mc = pd.concat(runs, ignore_index=True)
    s = mc.groupby(["pair", "method"], sort=False).agg(
        kept=("kept", "mean"), violation=("violated", "mean"), found=("found", "mean"),
        draws=("draw", "size"), oracle_saving=("oracle_saving", "first")).reset_index()
    s["violation_se"] = np.sqrt(s["violation"] * (1 - s["violation"]) / s["draws"])
    return mc, s
