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

from .cascade import candidate_thresholds, check_threshold, sweep_arrays

__all__ = [
    "METHODS", "NO_THRESHOLD", "ThresholdResult", "check_epsilon", "check_delta",
    "loss_table", "p_values", "rejections", "empirical_threshold", "guaranteed_threshold",
    "evaluate_threshold", "split_indices", "split_study", "STUDY_RULES",
]

METHODS = ("clopper-pearson", "binomial", "hoeffding-bentkus")
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
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    return method


# ------------------------------------------------------------------ per-threshold statistics

def loss_table(conf, little_correct, big_correct, thresholds=None) -> pd.DataFrame:
    """Per threshold: samples sent to big, loss and gain counts, and the empirical risk.

    Reuses :func:`cascade.sweep_arrays` (one sort, cumulative sums) twice: the cascade's correct
    count gives #loss - #gain = big_correct - cascade_correct; scoring the little model as right
    only where both are right turns the same difference into #loss alone.
    """
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    table = sweep_arrays(conf, lc, bc, thresholds=thresholds)
    both = sweep_arrays(conf, lc & bc, bc, thresholds=thresholds)  # same thresholds, same order
    big_n = table.attrs["big_n_correct"]
    diff = big_n - table["n_correct"].to_numpy()          # #loss - #gain over kept samples
    n_loss = big_n - both["n_correct"].to_numpy()           # kept, little wrong, big right
    n = table.attrs["n"]
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


def rejections(n_loss, n_gain, n: int, epsilon: float, delta: float,
               method: str = "clopper-pearson") -> np.ndarray:
    """Per threshold, whether H_T: R(T) > epsilon/100 is rejected at level delta (p <= delta)."""
    epsilon, delta, method = check_epsilon(epsilon), check_delta(delta), _check_method(method)
    n_loss, n_gain = np.broadcast_arrays(np.asarray(n_loss, dtype=np.int64),
                                         np.asarray(n_gain, dtype=np.int64))
    if n == 0:
        return np.zeros(n_loss.shape, dtype=bool)
    # many thresholds share their (loss, gain) counts: decide each distinct pair once
    pairs, inverse = np.unique(n_loss.ravel() * (n + 1) + n_gain.ravel(), return_inverse=True)
    k_loss, k_gain = pairs // (n + 1), pairs % (n + 1)
    if method == "clopper-pearson":
        ucb = _clopper_pearson_upper(k_loss, n, delta / 2)
        lcb = _clopper_pearson_lower(k_gain, n, delta / 2)
        out = ucb - lcb <= epsilon / 100
    else:
        out = p_values(k_loss, k_gain, n, epsilon, method) <= delta
    return out[inverse].reshape(n_loss.shape)


def p_values(n_loss, n_gain, n: int, epsilon: float, method: str = "clopper-pearson") -> np.ndarray:
    """Valid p-values for H_T: R(T) > epsilon/100, one per threshold (see the module docstring).

    For ``clopper-pearson`` the p-value is the smallest delta at which the Bonferroni pair of
    bounds rejects, found by bisection (the bounds are monotone in delta).
    """
    epsilon, method = check_epsilon(epsilon), _check_method(method)
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

    Accuracies and losses are in percent / accuracy points; `calib_loss` is the big model's
    calibration accuracy minus the cascade's at the chosen T.
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
    conf = np.asarray(conf, dtype=np.float64)
    lc = np.asarray(little_correct, dtype=bool)
    bc = np.asarray(big_correct, dtype=bool)
    if not (conf.ndim == lc.ndim == bc.ndim == 1) or not len(conf) == len(lc) == len(bc):
        raise ValueError(f"conf ({conf.shape}), little_correct ({lc.shape}) and big_correct "
                         f"({bc.shape}) must be 1-d arrays of the same length")
    if len(conf) and (conf.min() < 0 or conf.max() > 1):
        raise ValueError("confidences must lie in [0, 1] (max softmax probabilities)")
    return conf, lc, bc


def _result(table: pd.DataFrame, row, rule: str, **kw) -> ThresholdResult:
    n = table.attrs["n"]
    acc = lambda k: 100.0 * k / n if n else float("nan")  # noqa: E731
    base = dict(rule=rule, n=n, calib_little_accuracy=acc(table.attrs["little_n_correct"]),
                calib_big_accuracy=acc(table.attrs["big_n_correct"]))
    if row is None:
        return ThresholdResult(threshold=None, **base, **kw)
    return ThresholdResult(threshold=float(row["threshold"]), **base,
                           calib_accuracy=float(row["accuracy"]),
                           calib_loss=float(acc(table.attrs["big_n_correct"] - row["n_correct"])),
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
    table = sweep_arrays(conf, lc, bc)
    n = table.attrs["n"]
    if n == 0:
        return _result(table, None, "empirical", reason="empty calibration set", epsilon=epsilon)
    # in counts, with a tolerance so that epsilon * n / 100 landing on an integer counts
    ok = table["n_correct"] >= table.attrs["big_n_correct"] - epsilon * n / 100 - 1e-9
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
    if table is None:
        table = loss_table(conf, lc, bc)
    if len(table) != len(candidate_thresholds(conf)):
        raise ValueError("`table` must be loss_table() of the same calibration arrays, "
                         "over all candidate thresholds")
    # descending T = ascending cost: the fixed sequence of hypotheses
    table = table.iloc[::-1]
    n = table.attrs["n"]
    common = dict(epsilon=epsilon, delta=delta, method=method)
    if n == 0:
        return _result(table, None, "guaranteed", reason=NO_THRESHOLD, **common)
    reject = rejections(table["n_loss"].to_numpy(), table["n_gain"].to_numpy(), n,
                        epsilon, delta, method)
    n_rejected = len(reject) if reject.all() else int(np.argmin(reject))  # first failure stops
    if n_rejected == 0:
        return _result(table, None, "guaranteed", reason=NO_THRESHOLD, n_tested=1, **common)
    row = table.iloc[n_rejected - 1]
    p = float(p_values(row["n_loss"], row["n_gain"], n, epsilon, method))
    return _result(table, row, "guaranteed", reason="", p_value=p,
                   n_tested=min(n_rejected + 1, len(table)), **common)


# ------------------------------------------------------------------ judging T on new data

def evaluate_threshold(threshold, conf, little_correct, big_correct, valid=None,
                       little_gmacs: float | None = None, big_gmacs: float | None = None,
                       epsilon: float | None = None) -> dict:
    """Accuracy, loss against big (points), frac_big and cost of one T on a test split.

    ``threshold=None`` (no guaranteed T) means: run the big model alone. `valid` masks samples
    that count for accuracy (ReaL exclusions). With `epsilon`, `violated` says whether the loss
    exceeds it.
    """
    conf, lc, bc = _arrays(conf, little_correct, big_correct)
    if threshold is None:  # big alone: no little model in the loop
        v = np.ones(len(conf), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
        nv = int(v.sum())
        big_acc = 100.0 * int((bc & v).sum()) / nv if nv else float("nan")
        out = dict(threshold=np.nan, accuracy=big_acc, big_accuracy=big_acc, loss=0.0,
                   frac_big=1.0)
        if little_gmacs is not None and big_gmacs is not None:
            out.update(gmacs=float(big_gmacs), macs_reduction=0.0)
    else:
        t = check_threshold(threshold)
        row = sweep_arrays(conf, lc, bc, thresholds=[t], valid=valid,
                           little_gmacs=little_gmacs, big_gmacs=big_gmacs)
        nv = row.attrs["n_valid"]
        big_acc = 100.0 * row.attrs["big_n_correct"] / nv if nv else float("nan")
        r = row.iloc[0]
        out = dict(threshold=t, accuracy=float(r["accuracy"]), big_accuracy=big_acc,
                   loss=big_acc - float(r["accuracy"]), frac_big=float(r["frac_big"]))
        if "gmacs" in row:
            out.update(gmacs=float(r["gmacs"]), macs_reduction=float(r["macs_reduction"]))
    if epsilon is not None:
        out["violated"] = bool(out["loss"] > check_epsilon(epsilon) + 1e-9)
    return out


def split_indices(n: int, calib_frac: float, seed) -> tuple[np.ndarray, np.ndarray]:
    """Random (calibration, test) index split; calibration gets round(calib_frac * n) samples."""
    try:
        f = float(calib_frac)
    except (TypeError, ValueError):
        raise ValueError(f"calib_frac must be a number in (0, 1), got {calib_frac!r}") from None
    if not 0.0 < f < 1.0:
        raise ValueError(f"calib_frac must lie strictly between 0 and 1, got {calib_frac!r}")
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(f * n))
    return np.sort(perm[:k]), np.sort(perm[k:])


# ------------------------------------------------------------------ many random splits

STUDY_RULES = ("guaranteed", "empirical-no-loss", "empirical-epsilon", "oracle")


def _cheapest_within(table: pd.DataFrame, epsilon: float) -> pd.Series | None:
    """Cheapest row whose accuracy is at least big's minus epsilon points (in counts)."""
    nv = table.attrs["n_valid"]
    ok = table["n_correct"] >= table.attrs["big_n_correct"] - epsilon * nv / 100 - 1e-9
    return _cheapest(table, ok)


def split_study(conf, little_correct, big_correct, epsilons, deltas, n_splits: int,
                calib_frac: float = 0.2, seed: int = 0, method: str = "clopper-pearson",
                little_gmacs: float | None = None, big_gmacs: float | None = None,
                shifted: dict | None = None) -> pd.DataFrame:
    """Choose T on `n_splits` random calibration splits, judge each T on the rest.

    Rules: ``guaranteed`` (one per epsilon and delta), ``empirical-no-loss`` (epsilon-free; one
    row per epsilon so that its violations can be counted), ``empirical-epsilon`` and
    ``oracle`` (cheapest T whose *test* loss is <= epsilon: what tuning on the test data buys).
    T is always chosen with `little_correct` / `big_correct`; it is judged against those
    (``labels="original"``) and against each entry of `shifted`, ``name -> (little_correct,
    big_correct, valid)`` over all samples (e.g. ReaL: other labels, same images); the oracle
    is recomputed for each label set. A T of None means the big model alone (loss 0, frac_big
    1, no MACs saved). One row per split, rule, epsilon, delta and label set.
    """
    conf, lc, bc = _arrays(conf, little_correct, big_correct)
    epsilons = [check_epsilon(e) for e in np.atleast_1d(epsilons)]
    deltas = [check_delta(d) for d in np.atleast_1d(deltas)]
    method = _check_method(method)
    label_sets = {"original": (lc, bc, None)}
    for name, (slc, sbc, sv) in (shifted or {}).items():
        label_sets[name] = (np.asarray(slc, dtype=bool), np.asarray(sbc, dtype=bool),
                            None if sv is None else np.asarray(sv, dtype=bool))
    rows = []
    for s in range(int(n_splits)):
        calib, test = split_indices(len(conf), calib_frac, seed=[int(seed), s])
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
            full = sweep_arrays(tc, tlc, tbc, valid=tv, little_gmacs=little_gmacs,
                                big_gmacs=big_gmacs)
            nv = full.attrs["n_valid"]
            big_acc = 100.0 * full.attrs["big_n_correct"] / nv
            at = sweep_arrays(tc, tlc, tbc, thresholds=found, valid=tv, little_gmacs=little_gmacs,
                              big_gmacs=big_gmacs) if found else None
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
                    seed: int = 0, method: str = "clopper-pearson"):
    """Empirical and guaranteed thresholds on a random calibration split, judged on the rest."""
    from .predictions import align
    epsilon, delta = check_epsilon(epsilon), check_delta(delta)
    little, big = align(little, big)
    calib, test = split_indices(len(little), calib_frac, seed)
    lg, bg = little.model.get("gmacs"), big.model.get("gmacs")
    arrays = lambda idx: (little.conf[idx], little.correct[idx], big.correct[idx])  # noqa: E731
    results = [
        ("empirical-no-loss", empirical_threshold(*arrays(calib), epsilon=0.0)),
        ("empirical-epsilon", empirical_threshold(*arrays(calib), epsilon=epsilon)),
        ("guaranteed", guaranteed_threshold(*arrays(calib), epsilon, delta, method)),
    ]
    rows = []
    for rule, r in results:
        ev = evaluate_threshold(r.threshold, *arrays(test), little_gmacs=lg, big_gmacs=bg,
                                   epsilon=epsilon)
        rows.append(dict(
            rule=rule, little=little.name, big=big.name,
            method=method if rule == "guaranteed" else "", epsilon=epsilon,
            delta=delta if rule == "guaranteed" else np.nan, calib_frac=calib_frac, seed=seed,
            n_calib=len(calib), n_test=len(test), threshold=r.threshold, reason=r.reason,
            calib_accuracy=r.calib_accuracy, calib_big_accuracy=r.calib_big_accuracy,
            calib_loss=r.calib_loss, calib_frac_big=r.calib_frac_big, p_value=r.p_value,
            test_accuracy=ev["accuracy"], test_big_accuracy=ev["big_accuracy"],
            test_loss=ev["loss"], test_frac_big=ev["frac_big"], violated=ev["violated"],
            gmacs=ev.get("gmacs", np.nan), little_gmacs=lg, big_gmacs=bg,
            macs_reduction=ev.get("macs_reduction", np.nan)))
    return pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)
