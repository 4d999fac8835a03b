"""Valid p-values for H_T: R(T) > max_loss, the null hypotheses of the guaranteed threshold.

Per sample the loss of threshold T is ``(big correct) - (cascade correct)`` in {-1, 0, 1}; it is
nonzero only on samples kept with the little model (``conf >= T``) on which the two models
disagree: a *loss* sample (little wrong, big right, +1) or a *gain* sample (little right, big
wrong, -1). R(T) = p_loss(T) - p_gain(T) is the accuracy given up, a FRACTION, and so is
``max_loss`` everywhere here. The procedure that walks the thresholds (fixed-sequence testing)
and the threshold rules live in `ltt`; this module only tests one hypothesis at a time.

* ``"clopper-pearson"``: an exact upper binomial bound on p_loss and an exact lower one on
  p_gain, each at level delta/2 (Clopper & Pearson 1934), Bonferroni-combined: under H_T,
  ``UCB(p_loss) - LCB(p_gain) <= max_loss`` has probability at most delta. Exact, and it
  credits the gains, which is what lets a cascade reach the big model's accuracy.
* ``"binomial"``: the exact binomial test of p_loss <= max_loss alone, P(Bin(n, max_loss) <=
  #loss); valid since the loss is at most the loss indicator pointwise.
* ``"hoeffding-bentkus"``: the Hoeffding-Bentkus p-value (Bates, Angelopoulos, Lei, Malik,
  Jordan, JACM 2021) of (loss + 1) / 2 in [0, 1] against (1 + max_loss) / 2.
* ``"wsr"``: testing by betting (Waudby-Smith & Ramdas, JRSS-B 2023, arXiv 2010.09686). A
  gambler bets on each sample x_i = (loss_i + 1) / 2 falling below m = (1 + max_loss) / 2; the
  capital ``K_t = prod (1 - lambda_i (x_i - m))`` is a nonnegative supermartingale under H_T,
  so ``p = min(1, 1 / max_t K_t)`` is valid (Ville). Bets are WSR's predictable plug-in for a
  fixed n (confseq 0.0.11's ``lambda_predmix_eb`` with ``fixed_n``), truncated at
  ``TRUNCATION / (1 - m)``. Variance-adaptive: where most losses are 0 the bets are large. The
  capital depends on the order of the samples, so by default they are put in a random order
  fixed by ``order_seed`` (reference files are sorted by class: not an exchangeable order).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from littlebig_utils.core.checks import (InputError, check_conf, check_correct, check_delta,
                                         check_max_loss, check_threshold)

__all__ = ["COUNT_METHODS", "clopper_pearson_upper", "clopper_pearson_lower",
           "reject_clopper_pearson", "p_values", "TRUNCATION", "wsr_bets", "wsr_capital",
           "wsr_p_values", "wsr_rejections"]

#: the methods whose decision depends only on the (n_loss, n_gain, n) counts
COUNT_METHODS = ("clopper-pearson", "binomial", "hoeffding-bentkus")


def clopper_pearson_upper(k, n, alpha):
    """Exact upper (1 - alpha) bound on a binomial proportion (1 where k == n)."""
    k = np.asarray(k, dtype=np.float64)
    out = np.ones(np.broadcast(k, alpha).shape)
    inner = k < n
    kk = np.broadcast_to(k, out.shape)[inner]
    aa = np.broadcast_to(alpha, out.shape)[inner]
    out[inner] = special.betaincinv(kk + 1, n - kk, 1 - aa)
    return out


def clopper_pearson_lower(k, n, alpha):
    """Exact lower (1 - alpha) bound on a binomial proportion (0 where k == 0)."""
    k = np.asarray(k, dtype=np.float64)
    out = np.zeros(np.broadcast(k, alpha).shape)
    inner = k > 0
    kk = np.broadcast_to(k, out.shape)[inner]
    aa = np.broadcast_to(alpha, out.shape)[inner]
    out[inner] = special.betaincinv(kk, n - kk + 1, aa)
    return out


def reject_clopper_pearson(n_loss, n_gain, n: int, max_loss: float, delta: float) -> np.ndarray:
    """Whether the Bonferroni pair of Clopper-Pearson bounds rejects H_T at level delta."""
    ucb = clopper_pearson_upper(n_loss, n, delta / 2)
    lcb = clopper_pearson_lower(n_gain, n, delta / 2)
    return ucb - lcb <= max_loss


def p_values(n_loss, n_gain, n: int, max_loss: float, method: str = "clopper-pearson") -> np.ndarray:
    """Valid p-values for H_T: R(T) > max_loss (a fraction), one per (n_loss, n_gain) pair.

    For ``clopper-pearson`` the p-value is the smallest delta at which the Bonferroni pair of
    bounds rejects, found by bisection on log(delta) (the bounds are monotone in delta).
    """
    eps = check_max_loss(max_loss)
    if method not in COUNT_METHODS:
        raise InputError(f"p-values from counts exist for {', '.join(COUNT_METHODS)} only, "
                         f"not {method!r} (wsr needs the samples: wsr_p_values)")
    n_loss = np.asarray(n_loss, dtype=np.float64)
    n_gain = np.asarray(n_gain, dtype=np.float64)
    if n == 0:
        return np.ones(n_loss.shape)
    if method in ("binomial", "hoeffding-bentkus"):
        from scipy import stats  # ~0.4 s to import: only the methods that need it pay
    if method == "binomial":
        return stats.binom.cdf(n_loss, n, eps)
    if method == "hoeffding-bentkus":
        alpha = (1 + eps) / 2                      # target for (loss + 1) / 2 in [0, 1]
        mean = (n + n_loss - n_gain) / (2 * n)     # empirical mean of (loss + 1) / 2
        a = np.minimum(mean, alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            h1 = special.xlogy(a, a / alpha) + special.xlogy(1 - a, (1 - a) / (1 - alpha))
        p_hoeffding = np.exp(-n * h1)
        p_bentkus = math.e * stats.binom.cdf(np.ceil(n * mean - 1e-9), n, alpha)
        return np.minimum(np.minimum(p_hoeffding, p_bentkus), 1.0)
    # clopper-pearson: bisection on log(delta) over [1e-300, 1]
    lo = np.full(n_loss.shape, -690.0)  # log(1e-300)
    hi = np.zeros(n_loss.shape)
    for _ in range(40):  # 690 / 2**40: relative precision ~1e-9
        mid = (lo + hi) / 2
        ok = reject_clopper_pearson(n_loss, n_gain, n, eps, np.exp(mid))
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return np.exp(hi)


# ------------------------------------------------------------------ testing by betting

TRUNCATION = 0.5  # bets at most TRUNCATION / (1 - m): confseq's default trunc_scale


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
        raise InputError(f"the null mean m must lie in (0, 1), got {m!r}")
    lam = np.minimum(wsr_bets(x, delta), TRUNCATION / (1 - m))
    return np.cumprod(1 - lam * (x - m), axis=-1)


def _prepare(score, little_correct, big_correct, order_seed):
    s = check_conf(score, "score")
    lc = check_correct(little_correct, "little_correct", len(s))
    bc = check_correct(big_correct, "big_correct", len(s))
    if order_seed is not None:
        perm = np.random.default_rng(order_seed).permutation(len(s))
        s, lc, bc = s[perm], lc[perm], bc[perm]
    return s, lc, bc


def _x(s, lc, bc, thresholds):
    """(len(thresholds), n) losses mapped to [0, 1]: 1/2 + (big - little)/2 where kept."""
    kept = s[None, :] >= np.asarray(thresholds)[:, None]
    return 0.5 + 0.5 * kept * (bc.astype(np.float64) - lc)[None, :]


def _thresholds(thresholds) -> np.ndarray:
    return np.asarray([check_threshold(t) for t in np.atleast_1d(thresholds)], dtype=np.float64)


def wsr_p_values(score, little_correct, big_correct, thresholds, max_loss: float,
                 delta: float, order_seed: int | None = 0) -> np.ndarray:
    """WSR p-values of H_T: R(T) > max_loss (a fraction) for each T, bets tuned for delta.

    A sample goes to big when ``score < T``. The bets (not the validity) depend on delta.
    """
    eps, delta = check_max_loss(max_loss), check_delta(delta)
    s, lc, bc = _prepare(score, little_correct, big_correct, order_seed)
    t = _thresholds(thresholds)
    if len(s) == 0:
        return np.ones(len(t))
    m = (1 + eps) / 2
    out = np.empty(len(t))
    for lo in range(0, len(t), 256):
        cap = wsr_capital(_x(s, lc, bc, t[lo:lo + 256]), m, delta)
        out[lo:lo + 256] = np.minimum(1.0, 1.0 / cap.max(axis=1))
    return out


def wsr_rejections(score, little_correct, big_correct, thresholds, max_loss: float,
                   delta: float, order_seed: int | None = 0, chunk: int = 128) -> np.ndarray:
    """WSR rejections of H_T: R(T) > max_loss within the fixed sequence (highest T first).

    True where T and every higher threshold given are individually rejected (max capital >=
    1/delta): the walk stops at the first failure, so the thresholds below it are never
    tested (that early stop is what makes WSR affordable over many calibration draws).
    """
    eps, delta = check_max_loss(max_loss), check_delta(delta)
    s, lc, bc = _prepare(score, little_correct, big_correct, order_seed)
    t = _thresholds(thresholds)
    out = np.zeros(len(t), dtype=bool)
    if len(s) == 0 or len(t) == 0:
        return out
    m = (1 + eps) / 2
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
