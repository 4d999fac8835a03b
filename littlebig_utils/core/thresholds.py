"""Choosing the threshold T on a calibration split: empirically, and with a finite-sample guarantee.

The paper picks T on the very data it reports on. Here T is picked on a *calibration* split and
judged on new data. Two rules:

* :func:`empirical_threshold` -- the cheapest T whose calibration accuracy is at least the big
  model's minus ``epsilon`` (``epsilon=0``: the paper's no-loss rule). Nothing bounds how often
  it loses more than ``epsilon`` on new data; with ``epsilon > 0`` it does so about half the time.
* :func:`guaranteed_threshold` -- Learn-then-Test (Angelopoulos, Bates, Candes, Jordan, Lei,
  "Learn then Test: Calibrating Predictive Algorithms to Achieve Risk Control",
  arXiv 2110.01052). With probability at least ``1 - delta`` over the draw of the calibration
  set, the returned T loses at most ``epsilon`` accuracy points against the big model on new
  data *exchangeable* with the calibration data (same distribution, drawn independently).

Per sample the loss of threshold T is ``(big correct) - (cascade correct)``, in {-1, 0, 1};
its mean R(T) is the accuracy the cascade gives up. It is nonzero only on samples kept with the
little model (``conf >= T``) on which the two models disagree in correctness:

* a *loss* sample: kept, little wrong, big right (+1);
* a *gain* sample: kept, little right, big wrong (-1).

So R(T) = p_loss(T) - p_gain(T). For each T, LTT tests the null H_T: R(T) > epsilon with a valid
p-value and, by *fixed-sequence testing*, walks the thresholds from the most conservative one
(T = 1: every sample with conf < 1 goes to big) downwards, rejecting while p <= delta and
stopping at the first failure; the cheapest rejected T is returned. Fixed-sequence testing
controls the family-wise error at delta with no multiplicity correction because the order is
fixed in advance (descending T). The candidates are the calibration confidences, but that is no
data snooping: the empirical loss is constant between consecutive confidences, so the procedure
is the same as testing the whole continuum of T in [0, 1] in descending order, which is valid
(R(T) is left-continuous in T, so the first null met is reached as a limit of single tests each
of level delta).

p-values (``method``):

* ``"clopper-pearson"`` (default): an exact upper binomial confidence bound on p_loss and an exact
  lower one on p_gain, each at level delta/2 (Clopper & Pearson 1934), Bonferroni-combined:
  under H_T, ``UCB(p_loss) - LCB(p_gain) <= epsilon`` happens with probability at most delta,
  because it needs one of the two bounds to fail. Exact (no asymptotics) and it credits the
  gains, which is what lets a cascade reach the big model's accuracy.
* ``"binomial"``: the exact binomial test of p_loss <= epsilon alone, P(Bin(n, epsilon) <= #loss).
  Valid because the loss is at most the loss indicator pointwise, so R(T) > epsilon implies
  p_loss(T) > epsilon. It ignores the gains: best when they are rare (T close to 1).
* ``"hoeffding-bentkus"``: the Hoeffding-Bentkus p-value for losses in [0, 1] (Bates, Angelopoulos,
  Lei, Malik, Jordan, "Distribution-free, risk-controlling prediction sets", JACM 2021, and LTT
  section 3) applied to (loss + 1) / 2 in [0, 1] with target (1 + epsilon) / 2. It uses no
  structure of the loss, so its worst-case variance makes it far more conservative here.

Exchangeability is the whole assumption: calibration and deployment samples must be draws from
one distribution. A different test set (ImageNet-V2), other labels (ReaL, CIFAR-10H), a
different preprocessing or a drifting input stream break it, and the guarantee with it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from littlebig_utils.core.cascade import (as_correct, candidate_thresholds, check_conf, check_gmacs,
                      check_threshold, sweep_arrays, total, _cut_candidates)
from littlebig_utils.core.predictions import Predictions, align

__all__ = [
    "METHODS", "register_method", "NO_THRESHOLD", "ThresholdResult", "check_epsilon",
    "check_delta", "loss_table", "p_values", "rejections", "empirical_threshold",
    "guaranteed_threshold", "check_calib_frac", "split_indices", "split_masks", "no_loss_thresholds",
    "evaluate_thresholds", "transfer_table", "TRANSFER_COLUMNS", "split_study", "STUDY_RULES",
    "threshold_table", "THRESHOLD_COLUMNS",
]

NO_THRESHOLD = "no threshold meets the guarantee"


def check_epsilon(epsilon) -> float:
    """epsilon: accuracy points (percent) the user accepts to lose, a number in [0, 100)."""
    try:
        e = float(epsilon)
    except (TypeError, ValueError):
        raise ValueError(f"epsilon must be a number of accuracy points, got {epsilon!r}") from None
    if not math.isfinite(e) or not 0.0 <= e < 100.0:
        raise ValueError(f"epsilon is the accuracy (in points, 0 <= epsilon < 100) you accept to "
                         f"lose against the big model, got {epsilon!r}")
    return e


def check_delta(delta) -> float:
    """delta: the risk level, the probability that the guarantee fails, in (0, 1)."""
    try:
        d = float(delta)
    except (TypeError, ValueError):
        raise ValueError(f"delta must be a probability in (0, 1), got {delta!r}") from None
    if not math.isfinite(d) or not 0.0 < d < 1.0:
        raise ValueError(f"delta is the probability that the guarantee fails and must lie "
                         f"strictly between 0 and 1, got {delta!r}")
    return d


def _check_method(method: str) -> str:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return method


# ------------------------------------------------------------------ per-threshold statistics

def loss_table(conf, little_correct, big_correct, thresholds=None) -> pd.DataFrame:
    """Per threshold: samples sent to big, loss and gain counts, and the empirical risk.

    Reuses :func:`~littlebig_utils.core.cascade.sweep_arrays` (one sort, cumulative sums) twice: the cascade's correct
    count gives #loss - #gain = big_correct - cascade_correct; scoring the little model as right
    only where both are right turns the same difference into #loss alone.
    """
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    table = sweep_arrays(conf, lc, bc, thresholds=thresholds)
    both = sweep_arrays(conf, lc & bc, bc, thresholds=thresholds)  # same thresholds, same order
    big_n = total(table, "big_n_correct")
    diff = big_n - table["n_correct"].to_numpy()          # #loss - #gain over kept samples
    n_loss = big_n - both["n_correct"].to_numpy()           # kept, little wrong, big right
    n = total(table, "n")
    table["n_loss"] = n_loss.astype(np.int64)
    table["n_gain"] = (n_loss - diff).astype(np.int64)
    table["risk"] = diff / n if n else np.nan               # accuracy given up, fraction
    return table


def _clopper_pearson_upper(k, n, alpha):
    """Exact upper (1 - alpha) bound on a binomial proportion (1 where k == n)."""
    k = np.asarray(k, dtype=np.float64)
    out = np.ones(np.broadcast(k, alpha).shape)
    inner = k < n
    kk = np.broadcast_to(k, out.shape)[inner]
    aa = np.broadcast_to(alpha, out.shape)[inner]
    out[inner] = special.betaincinv(kk + 1, n - kk, 1 - aa)
    return out


def _clopper_pearson_lower(k, n, alpha):
    """Exact lower (1 - alpha) bound on a binomial proportion (0 where k == 0)."""
    k = np.asarray(k, dtype=np.float64)
    out = np.zeros(np.broadcast(k, alpha).shape)
    inner = k > 0
    kk = np.broadcast_to(k, out.shape)[inner]
    aa = np.broadcast_to(alpha, out.shape)[inner]
    out[inner] = special.betaincinv(kk, n - kk + 1, aa)
    return out


def _reject_clopper_pearson(*, n_loss, n_gain, n, epsilon, delta, **_):
    ucb = _clopper_pearson_upper(n_loss, n, delta / 2)
    lcb = _clopper_pearson_lower(n_gain, n, delta / 2)
    return ucb - lcb <= epsilon


def _by_p_value(method):
    def reject(*, n_loss, n_gain, n, epsilon, delta, **_):
        return p_values(n_loss, n_gain, n, 100.0 * epsilon, method) <= delta
    reject.__name__ = f"_reject_{method.replace('-', '_')}"
    return reject


#: name -> rejection function of a Learn-then-Test method (see `register_method`)
METHODS: dict = {}


def register_method(name: str, reject) -> None:
    """Add a Learn-then-Test method usable as ``method=name`` (guaranteed_threshold, Cascade).

    ``reject(*, n_loss, n_gain, n, epsilon, delta, conf, little_correct, big_correct,
    thresholds) -> bool array``, all keyword arguments:

    - ``thresholds``: the candidate thresholds being tested (1-d, any order), ``n_loss`` /
      ``n_gain``: per candidate, the counts of kept samples (conf >= T) with little wrong & big
      right / little right & big wrong, int arrays of the same shape;
    - ``n``: the calibration size; ``epsilon``: tolerated accuracy loss as a FRACTION;
      ``delta``: the risk level;
    - ``conf``, ``little_correct``, ``big_correct``: the raw calibration arrays (float in
      [0, 1], bool, bool; length n, calibration order), for methods that need the per-sample
      losses, ``loss_i(T) = (big_correct_i - little_correct_i) * (conf_i >= T)`` in {-1, 0, 1}.

    It returns, per candidate, whether H_T: R(T) > epsilon is rejected at level delta by a
    valid test (p <= delta). Fixed-sequence testing (descending T, stop at the first failure)
    is applied by the caller, never by the method.
    """
    if not callable(reject):
        raise TypeError(f"method {name!r}: reject must be callable")
    METHODS[str(name)] = reject


register_method("clopper-pearson", _reject_clopper_pearson)
register_method("binomial", _by_p_value("binomial"))
register_method("hoeffding-bentkus", _by_p_value("hoeffding-bentkus"))


def _reject_wsr(*, conf, little_correct, big_correct, thresholds, epsilon, delta, **_):
    """Waudby-Smith & Ramdas betting bound on the per-sample losses (variance-adaptive; see
    :mod:`littlebig_utils.core.betting`). It needs the samples, not just the counts."""
    from littlebig_utils.core.betting import wsr_rejections
    return wsr_rejections(conf, little_correct, big_correct, thresholds, epsilon, delta)


register_method("wsr", _reject_wsr)


def rejections(n_loss, n_gain, n: int, epsilon: float, delta: float,
               method: str = "clopper-pearson", *, conf=None, little_correct=None,
               big_correct=None, thresholds=None) -> np.ndarray:
    """Per threshold, whether H_T: R(T) > epsilon/100 is rejected at level delta (p <= delta).

    `epsilon` is in accuracy points here (as in the CLI); the registered method receives it as
    a fraction. The calibration arrays are passed through for methods that need them.
    """
    epsilon, delta, method = check_epsilon(epsilon), check_delta(delta), _check_method(method)
    n_loss, n_gain = np.broadcast_arrays(np.asarray(n_loss, dtype=np.int64),
                                         np.asarray(n_gain, dtype=np.int64))
    if n == 0:
        return np.zeros(n_loss.shape, dtype=bool)
    kw = dict(n=n, epsilon=epsilon / 100, delta=delta, conf=conf, little_correct=little_correct,
              big_correct=big_correct)
    if method in ("clopper-pearson", "binomial", "hoeffding-bentkus"):
        # many thresholds share their (loss, gain) counts: decide each distinct pair once
        pairs, inverse = np.unique(n_loss.ravel() * (n + 1) + n_gain.ravel(), return_inverse=True)
        out = METHODS[method](n_loss=pairs // (n + 1), n_gain=pairs % (n + 1), thresholds=None,
                              **kw)
        return np.asarray(out, dtype=bool)[inverse].reshape(n_loss.shape)
    out = np.asarray(METHODS[method](n_loss=n_loss, n_gain=n_gain, thresholds=thresholds, **kw),
                     dtype=bool)
    if out.shape != n_loss.shape:
        raise ValueError(f"method {method!r} returned shape {out.shape}, expected {n_loss.shape}")
    return out


_P_VALUE_METHODS = ("clopper-pearson", "binomial", "hoeffding-bentkus")


def p_values(n_loss, n_gain, n: int, epsilon: float, method: str = "clopper-pearson") -> np.ndarray:
    """Valid p-values for H_T: R(T) > epsilon/100, one per threshold (see the module docstring).

    For ``clopper-pearson`` the p-value is the smallest delta at which the Bonferroni pair of
    bounds rejects, found by bisection (the bounds are monotone in delta).
    """
    epsilon = check_epsilon(epsilon)
    if method not in _P_VALUE_METHODS:
        raise ValueError(f"p-values are built for {', '.join(_P_VALUE_METHODS)} only, "
                         f"not {method!r}")
    n_loss = np.asarray(n_loss, dtype=np.float64)
    n_gain = np.asarray(n_gain, dtype=np.float64)
    eps = epsilon / 100
    if n == 0:
        return np.ones(n_loss.shape)
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
    lo = np.full(n_loss.shape, -690.0)  # log(1e-300): rejects iff it rejects at this delta
    hi = np.zeros(n_loss.shape)
    for _ in range(40):  # 690 / 2**40: relative precision ~1e-9
        mid = (lo + hi) / 2
        d = np.exp(mid)
        ok = (_clopper_pearson_upper(n_loss, n, d / 2)
              - _clopper_pearson_lower(n_gain, n, d / 2)) <= eps
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return np.exp(hi)


# ------------------------------------------------------------------ choosing T

@dataclass(frozen=True)
class ThresholdResult:
    """A chosen threshold (or None, with the reason) and the calibration estimates behind it.

    Accuracies and losses are in percent / accuracy points (`epsilon` too); `calib_loss` is the
    big model's calibration accuracy minus the cascade's at the chosen T.
    """
    threshold: float | None
    reason: str
    rule: str
    n: int
    epsilon: float
    delta: float | None = None
    method: str | None = None
    calib_accuracy: float = float("nan")
    calib_little_accuracy: float = float("nan")
    calib_big_accuracy: float = float("nan")
    calib_loss: float = float("nan")
    calib_frac_big: float = float("nan")
    p_value: float = float("nan")
    n_tested: int = 0

    @property
    def found(self) -> bool:
        return self.threshold is not None

    def to_dict(self) -> dict:
        return asdict(self)


def _arrays(conf, little_correct, big_correct):
    conf = check_conf(conf)
    lc = as_correct(little_correct, "little_correct", len(conf))
    bc = as_correct(big_correct, "big_correct", len(conf))
    return conf, lc, bc


def _result(table: pd.DataFrame, row, rule: str, **kw) -> ThresholdResult:
    n = total(table, "n")
    acc = lambda k: 100.0 * k / n if n else float("nan")  # noqa: E731
    big_n = total(table, "big_n_correct")
    base = dict(rule=rule, n=n, calib_little_accuracy=acc(total(table, "little_n_correct")),
                calib_big_accuracy=acc(big_n))
    if row is None:
        return ThresholdResult(threshold=None, **base, **kw)
    return ThresholdResult(threshold=float(row["threshold"]), **base,
                           calib_accuracy=float(row["accuracy"]),
                           calib_loss=float(acc(big_n - row["n_correct"])),
                           calib_frac_big=float(row["frac_big"]), **kw)


def _cheapest(table: pd.DataFrame, mask) -> pd.Series | None:
    rows = table[np.asarray(mask)]
    if rows.empty:
        return None
    # cost grows with n_big: fewest escalations first, then the lowest threshold
    return rows.sort_values(["n_big", "threshold"], kind="stable").iloc[0]


def empirical_threshold(conf, little_correct, big_correct, epsilon: float = 0.0) -> ThresholdResult:
    """Cheapest T whose *calibration* accuracy is at least big's minus epsilon points.

    ``epsilon=0`` is the paper's no-loss rule (applied to a calibration split instead of the
    evaluation data). No guarantee on new data.
    """
    epsilon = check_epsilon(epsilon)
    conf, lc, bc = _arrays(conf, little_correct, big_correct)
    if len(conf) == 0:
        raise ValueError("empty calibration set: choose a threshold on at least one sample")
    table = sweep_arrays(conf, lc, bc)
    n = total(table, "n")
    # in counts, with a tolerance so that epsilon * n / 100 landing on an integer counts
    ok = table["n_correct"] >= total(table, "big_n_correct") - epsilon * n / 100 - 1e-9
    row = _cheapest(table, ok)  # T = 1 sends (almost) all to big, so some row usually qualifies
    return _result(table, row, "empirical", reason="" if row is not None else
                   "no threshold reaches the big model's calibration accuracy", epsilon=epsilon,
                   n_tested=len(table))


def guaranteed_threshold(conf, little_correct, big_correct, epsilon: float, delta: float,
                         method: str = "clopper-pearson", table: pd.DataFrame | None = None
                         ) -> ThresholdResult:
    """Cheapest T with P(accuracy loss on new data <= epsilon points) >= 1 - delta (LTT).

    `conf`, `little_correct`, `big_correct` are the calibration split. Returns a
    :class:`ThresholdResult` whose `threshold` is None (reason: "no threshold meets the
    guarantee") when even T = 1 cannot be certified, e.g. for tiny calibration sets: then use
    the big model alone. See the module docstring for the procedure and its assumptions.
    `table` (``loss_table(conf, little_correct, big_correct)`` of the same arrays) saves
    recomputing it when several (epsilon, delta) are tried on one calibration split.
    """
    epsilon, delta, method = check_epsilon(epsilon), check_delta(delta), _check_method(method)
    conf, lc, bc = _arrays(conf, little_correct, big_correct)
    if len(conf) == 0:
        raise ValueError("empty calibration set: choose a threshold on at least one sample")
    if table is None:
        table = loss_table(conf, lc, bc)
    if len(table) != len(candidate_thresholds(conf)):
        raise ValueError("`table` must be loss_table() of the same calibration arrays, "
                         "over all candidate thresholds")
    # descending T = ascending cost: the fixed sequence of hypotheses
    table = table.iloc[::-1]
    n = total(table, "n")
    common = dict(epsilon=epsilon, delta=delta, method=method)
    reject = rejections(table["n_loss"].to_numpy(), table["n_gain"].to_numpy(), n,
                        epsilon, delta, method, conf=conf, little_correct=lc, big_correct=bc,
                        thresholds=table["threshold"].to_numpy())
    n_rejected = len(reject) if reject.all() else int(np.argmin(reject))  # first failure stops
    if n_rejected == 0:
        return _result(table, None, "guaranteed", reason=NO_THRESHOLD, n_tested=1, **common)
    row = table.iloc[n_rejected - 1]
    p = (float(p_values(row["n_loss"], row["n_gain"], n, epsilon, method))
         if method in _P_VALUE_METHODS else float("nan"))
    return _result(table, row, "guaranteed", reason="", p_value=p,
                   n_tested=min(n_rejected + 1, len(table)), **common)


# ------------------------------------------------------------------ splits: one generator

def check_calib_frac(calib_frac) -> float:
    """The calibration share of a split: a number strictly between 0 and 1."""
    try:
        f = float(calib_frac)
    except (TypeError, ValueError):
        raise ValueError(f"calib_frac must be a number in (0, 1), got {calib_frac!r}") from None
    if not 0.0 < f < 1.0:
        raise ValueError(f"calib_frac must lie strictly between 0 and 1, got {calib_frac!r}")
    return f


def split_indices(n: int, calib_frac: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random (calibration, test) index split, both sorted; calibration gets round(calib_frac * n).

    The one split generator of the package: the split of seed s is
    ``default_rng(s).permutation(n)[:k]``, whoever asks (`split_masks`, `split_study`, the CLI).
    Refuses splits that leave either side empty.
    """
    f = check_calib_frac(calib_frac)
    n = int(n)
    k = int(round(f * n))
    if not 0 < k < n:
        raise ValueError(f"a calibration fraction of {f:g} of {n} samples leaves the "
                         f"{'calibration' if k == 0 else 'test'} split empty; use more samples "
                         "or a calib_frac that leaves at least one sample on each side")
    perm = np.random.default_rng(int(seed)).permutation(n)
    return np.sort(perm[:k]), np.sort(perm[k:])


def split_masks(n: int, frac: float, seeds) -> np.ndarray:
    """Boolean (len(seeds), n): row s is the calibration side of ``split_indices(n, frac, s)``."""
    seeds = np.atleast_1d(seeds)
    masks = np.zeros((len(seeds), int(n)), dtype=bool)
    for row, seed in enumerate(seeds):
        masks[row, split_indices(n, frac, int(seed))[0]] = True
    return masks


# ------------------------------------------------------------------ thresholds on subsets

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
        raise ValueError(f"masks have {masks.shape[1]} columns, expected {n} (one per sample)")
    v = np.ones(n, bool) if valid is None else as_correct(valid, "valid", n)
    order = np.argsort(conf, kind="stable")
    sc = conf[order]
    lc = (as_correct(little_correct, "little_correct", n) & v)[order]
    bc = (as_correct(big_correct, "big_correct", n) & v)[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])  # first position of each distinct value
    cut_one = int(np.searchsorted(sc, 1.0, side="left"))
    _, cut_threshold = _cut_candidates(sc)
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
                        missing: str = "nan", chunk: int = 32) -> pd.DataFrame:
    """THE evaluator of fixed thresholds: each row's T applied to that row's subset of samples.

    One row per threshold (`masks` default: all samples): n, n_valid, n_big, frac_big,
    n_correct, accuracy, little_accuracy, big_accuracy (percent, valid samples only), loss
    (big_accuracy - accuracy, points), and gmacs / macs_reduction when both costs are given.
    A missing threshold (NaN or None: none found) gives NaN results with ``missing="nan"``, and
    the big model alone (frac_big 1, loss 0, no MACs saved) with ``missing="big"``.
    """
    if missing not in ("nan", "big"):
        raise ValueError(f"missing must be 'nan' or 'big', got {missing!r}")
    conf = check_conf(conf)
    n = len(conf)
    t = np.atleast_1d(np.asarray([np.nan if x is None else x for x in np.atleast_1d(thresholds)],
                                 dtype=np.float64))
    for x in t[~np.isnan(t)]:
        check_threshold(x)
    masks = np.ones((len(t), n), bool) if masks is None else np.atleast_2d(np.asarray(masks, bool))
    if masks.shape != (len(t), n):
        raise ValueError(f"masks have shape {masks.shape}, expected ({len(t)}, {n})")
    v = np.ones(n, bool) if valid is None else as_correct(valid, "valid", n)
    lc = as_correct(little_correct, "little_correct", n)
    bc = as_correct(big_correct, "big_correct", n)
    if (little_gmacs is None) != (big_gmacs is None):
        raise ValueError("give both little_gmacs and big_gmacs, or neither")
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
            table[f"{what}accuracy"] = 100.0 * table[f"{what}n_correct"] / table["n_valid"]
    table["loss"] = table["big_accuracy"] - table["accuracy"]
    if little_gmacs is not None:
        lg, bg = check_gmacs(little_gmacs, "little_gmacs"), check_gmacs(big_gmacs, "big_gmacs")
        table["gmacs"] = lg + table["frac_big"] * bg
        if missing == "big":  # the big model alone: the little model is not run
            table.loc[none, "gmacs"] = bg
        table["macs_reduction"] = 100.0 * (1.0 - table["gmacs"] / bg)
    return table


TRANSFER_COLUMNS = ["little", "big", "threshold", "accuracy", "big_accuracy", "little_accuracy",
                    "accuracy_change", "frac_big", "gmacs", "macs_reduction"]


def transfer_table(pairs: pd.DataFrame, records: dict[str, Predictions],
                   correct: dict[str, np.ndarray] | None = None, valid=None) -> pd.DataFrame:
    """Thresholds fixed elsewhere (a `pairs_table`), applied to other predictions.

    `records` holds the models' Predictions on the evaluation set (another dataset, or the same
    images); `correct` optionally overrides each model's correctness and `valid` masks the
    samples that count (e.g. ReaL labels and exclusions); both need every record in one sample
    order (refused otherwise). Pairs without a threshold or without both models in `records`
    are left out. accuracy_change = cascade - big, in points. GMACs are the pairs table's (per
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


# ------------------------------------------------------------------ many random splits

STUDY_RULES = ("guaranteed", "empirical-no-loss", "empirical-epsilon", "oracle")


def _cheapest_within(table: pd.DataFrame, epsilon: float) -> pd.Series | None:
    """Cheapest row whose accuracy is at least big's minus epsilon points (in counts)."""
    nv = total(table, "n_valid")
    ok = table["n_correct"] >= total(table, "big_n_correct") - epsilon * nv / 100 - 1e-9
    return _cheapest(table, ok)


def split_study(conf, little_correct, big_correct, epsilons, deltas, n_splits: int,
                calib_frac: float = 0.2, seed: int = 0, method: str = "clopper-pearson",
                little_gmacs: float | None = None, big_gmacs: float | None = None,
                shifted: dict | None = None) -> pd.DataFrame:
    """Choose T on `n_splits` random calibration splits, judge each T on the rest.

    Split s is ``split_indices(n, calib_frac, seed + s)`` (the same splits as
    ``split_masks(n, calib_frac, range(seed, seed + n_splits))``). Rules: ``guaranteed`` (one
    per epsilon and delta), ``empirical-no-loss`` (epsilon-free; one row per epsilon so that its
    violations can be counted), ``empirical-epsilon`` and ``oracle`` (cheapest T whose *test*
    loss is <= epsilon: what tuning on the test data buys). T is always chosen with
    `little_correct` / `big_correct`; it is judged against those (``labels="original"``) and
    against each entry of `shifted`, ``name -> (little_correct, big_correct, valid)`` over all
    samples (e.g. ReaL: other labels, same images); the oracle is recomputed for each label
    set. A T of None means the big model alone (loss 0, frac_big 1, no MACs saved). One row
    per split, rule, epsilon, delta and label set; epsilon in points.
    """
    conf, lc, bc = _arrays(conf, little_correct, big_correct)
    epsilons = [check_epsilon(e) for e in np.atleast_1d(epsilons)]
    deltas = [check_delta(d) for d in np.atleast_1d(deltas)]
    method = _check_method(method)
    n = len(conf)
    label_sets = {"original": (lc, bc, None)}
    for name, (slc, sbc, sv) in (shifted or {}).items():
        label_sets[name] = (as_correct(slc, f"{name} little_correct", n),
                            as_correct(sbc, f"{name} big_correct", n),
                            None if sv is None else as_correct(sv, f"{name} valid", n))
    rows = []
    for s in range(int(n_splits)):
        calib, test = split_indices(n, calib_frac, int(seed) + s)
        c = (conf[calib], lc[calib], bc[calib])
        table = loss_table(*c)
        chosen = []  # (rule, epsilon, delta, threshold or None)
        no_loss = empirical_threshold(*c).threshold
        for e in epsilons:
            chosen.append(("empirical-no-loss", e, np.nan, no_loss))
            chosen.append(("empirical-epsilon", e, np.nan, empirical_threshold(*c, e).threshold))
            for d in deltas:
                chosen.append(("guaranteed", e, d,
                               guaranteed_threshold(*c, e, d, method, table=table).threshold))
        found = sorted({t for *_, t in chosen if t is not None})
        for labels, (slc, sbc, sv) in label_sets.items():
            tc, tlc, tbc = conf[test], slc[test], sbc[test]
            tv = None if sv is None else sv[test]
            costs = dict(little_gmacs=little_gmacs, big_gmacs=big_gmacs)
            full = sweep_arrays(tc, tlc, tbc, valid=tv, **costs)
            big_acc = 100.0 * total(full, "big_n_correct") / total(full, "n_valid")
            at = sweep_arrays(tc, tlc, tbc, thresholds=found, valid=tv, **costs) if found else None
            points = {t: at.iloc[i] for i, t in enumerate(found)}
            oracle = [("oracle", e, np.nan, _cheapest_within(full, e)) for e in epsilons]
            for rule, e, d, t in chosen + oracle:
                r = t if rule == "oracle" else (points[t] if t is not None else None)
                row = dict(split=s, labels=labels, rule=rule, epsilon=e, delta=d,
                           found=r is not None, big_accuracy=big_acc)
                if r is None:  # big alone
                    row.update(threshold=np.nan, accuracy=big_acc, loss=0.0, frac_big=1.0,
                               macs_reduction=0.0 if big_gmacs else np.nan)
                else:
                    row.update(threshold=float(r["threshold"]), accuracy=float(r["accuracy"]),
                               loss=big_acc - float(r["accuracy"]), frac_big=float(r["frac_big"]),
                               macs_reduction=float(r["macs_reduction"]) if "macs_reduction" in r
                               else np.nan)
                row["violated"] = bool(row["loss"] > e + 1e-9)
                rows.append(row)
    return pd.DataFrame(rows)


THRESHOLD_COLUMNS = [
    "rule", "little", "big", "method", "epsilon", "delta", "calib_frac", "seed", "n_calib",
    "n_test", "threshold", "reason", "calib_accuracy", "calib_big_accuracy", "calib_loss",
    "calib_frac_big", "p_value", "test_accuracy", "test_big_accuracy", "test_loss",
    "test_frac_big", "violated", "gmacs", "little_gmacs", "big_gmacs", "macs_reduction"]


def threshold_table(little, big, epsilon: float, delta: float, calib_frac: float = 0.2,
                    seed: int = 0, method: str = "clopper-pearson") -> pd.DataFrame:
    """Empirical and guaranteed thresholds on a random calibration split, judged on the rest.

    epsilon in accuracy points (the CLI's unit). Refuses splits with an empty side.
    """
    epsilon, delta, method = check_epsilon(epsilon), check_delta(delta), _check_method(method)
    little, big = align(little, big)
    calib, test = split_indices(len(little), calib_frac, seed)
    lg, bg = little.model.get("gmacs"), big.model.get("gmacs")
    costs = dict(little_gmacs=lg, big_gmacs=bg) if lg is not None and bg is not None else {}
    arrays = lambda idx: (little.conf[idx], little.correct[idx], big.correct[idx])  # noqa: E731
    results = [
        ("empirical-no-loss", empirical_threshold(*arrays(calib), epsilon=0.0)),
        ("empirical-epsilon", empirical_threshold(*arrays(calib), epsilon=epsilon)),
        ("guaranteed", guaranteed_threshold(*arrays(calib), epsilon, delta, method)),
    ]
    ev = evaluate_thresholds(*arrays(test), [r.threshold for _, r in results], missing="big",
                             **costs)
    rows = []
    for (rule, r), (_, e) in zip(results, ev.iterrows()):
        rows.append(dict(
            rule=rule, little=little.name, big=big.name,
            method=method if rule == "guaranteed" else "", epsilon=epsilon,
            delta=delta if rule == "guaranteed" else np.nan, calib_frac=calib_frac, seed=seed,
            n_calib=len(calib), n_test=len(test), threshold=r.threshold, reason=r.reason,
            calib_accuracy=r.calib_accuracy, calib_big_accuracy=r.calib_big_accuracy,
            calib_loss=r.calib_loss, calib_frac_big=r.calib_frac_big, p_value=r.p_value,
            test_accuracy=e["accuracy"], test_big_accuracy=e["big_accuracy"],
            test_loss=e["loss"], test_frac_big=e["frac_big"],
            violated=bool(e["loss"] > epsilon + 1e-9),
            gmacs=e.get("gmacs", np.nan), little_gmacs=lg, big_gmacs=bg,
            macs_reduction=e.get("macs_reduction", np.nan)))
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)
