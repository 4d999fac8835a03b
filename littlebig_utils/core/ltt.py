"""Choosing the threshold T on a calibration split: empirically, and with a finite-sample guarantee.

The paper picks T on the very data it reports on. Here T is picked on a *calibration* split and
judged on new data. Two rules, both in fractions (max_loss 0.005 = half an accuracy point):

* :func:`empirical_threshold` -- the cheapest T whose calibration accuracy is at least the big
  model's minus ``max_loss`` (``max_loss=0``: the paper's no-loss rule). Nothing bounds how
  often it loses more than ``max_loss`` on new data; with ``max_loss > 0`` it does so about
  half the time.
* :func:`guaranteed_threshold` -- Learn-then-Test (Angelopoulos, Bates, Candes, Jordan, Lei,
  "Learn then Test: Calibrating Predictive Algorithms to Achieve Risk Control",
  arXiv 2110.01052). With probability at least ``1 - delta`` over the draw of the calibration
  set, the returned T loses at most ``max_loss`` accuracy against the big model on new data
  *exchangeable* with the calibration data (same distribution, drawn independently).

For each T, LTT tests H_T: R(T) > max_loss with a valid p-value (`pvalues`) and, by
*fixed-sequence testing*, walks the thresholds from the most conservative one (T = 1: every
sample with conf < 1 goes to big) downwards, rejecting while p <= delta and stopping at the
first failure; the cheapest rejected T is returned. Fixed-sequence testing controls the
family-wise error at delta with no multiplicity correction because the order is fixed in
advance (descending T). The candidates are the calibration confidences, but that is no data
snooping: the empirical loss is constant between consecutive confidences, so the procedure is
the same as testing the whole continuum of T in [0, 1] in descending order.

Exchangeability is the whole assumption: a different test set (ImageNet-V2), other labels
(ReaL, CIFAR-10H), a different preprocessing or a drifting input stream break it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from littlebig_utils.core import names as _names
from littlebig_utils.core import pvalues
from littlebig_utils.core.checks import (InputError, check_conf, check_correct, check_delta,
                                         check_max_loss, check_method)
from littlebig_utils.core.engine import (_loss_table, _sweep, candidate_thresholds, cheapest,
                                         total, within_loss)

__all__ = ["METHODS", "register_method", "NO_THRESHOLD", "ThresholdResult", "rejections",
           "fixed_sequence", "empirical_threshold", "guaranteed_threshold", "wsr_threshold"]

NO_THRESHOLD = "no threshold meets the guarantee"


# ------------------------------------------------------------------ the method registry

def _reject_clopper_pearson(*, n_loss, n_gain, n, max_loss, delta, **_):
    return pvalues.reject_clopper_pearson(n_loss, n_gain, n, max_loss, delta)


def _by_p_value(method):
    def reject(*, n_loss, n_gain, n, max_loss, delta, **_):
        return pvalues.p_values(n_loss, n_gain, n, max_loss, method) <= delta
    reject.__name__ = f"_reject_{method.replace('-', '_')}"
    return reject


def _reject_wsr(*, conf, little_correct, big_correct, thresholds, max_loss, delta, **_):
    """Waudby-Smith & Ramdas betting (variance-adaptive); needs the samples, not the counts."""
    return pvalues.wsr_rejections(conf, little_correct, big_correct, thresholds, max_loss, delta)


#: name -> rejection function of a Learn-then-Test method, keyed by core/names.py METHODS
METHODS: dict = {}


def register_method(name: str, reject) -> None:
    """Set the implementation of a Learn-then-Test method named in ``names.METHODS``.

    ``reject(*, n_loss, n_gain, n, max_loss, delta, conf, little_correct, big_correct,
    thresholds) -> bool array``, all keyword arguments: ``thresholds`` the candidates being
    tested (1-d, descending), ``n_loss`` / ``n_gain`` per candidate the counts of kept samples
    (conf >= T) with little wrong & big right / little right & big wrong; ``n`` the calibration
    size; ``max_loss`` the tolerated loss (a FRACTION); ``delta`` the risk level; ``conf``,
    ``little_correct``, ``big_correct`` the raw calibration arrays. It returns, per candidate,
    whether H_T: R(T) > max_loss is rejected at level delta by a valid test; fixed-sequence
    testing is applied by the caller. A name outside ``names.METHODS`` is refused: that file
    is the one list of method names (the CLI's parser reads it).
    """
    check_method(name)
    if not callable(reject):
        raise InputError(f"method {name!r}: reject must be callable")
    METHODS[name] = reject


register_method("clopper-pearson", _reject_clopper_pearson)
register_method("binomial", _by_p_value("binomial"))
register_method("hoeffding-bentkus", _by_p_value("hoeffding-bentkus"))
register_method("wsr", _reject_wsr)
assert tuple(METHODS) == _names.METHODS


def rejections(n_loss, n_gain, n: int, max_loss: float, delta: float,
               method: str = "clopper-pearson", *, conf=None, little_correct=None,
               big_correct=None, thresholds=None) -> np.ndarray:
    """Per threshold, whether H_T: R(T) > max_loss is rejected at level delta (p <= delta).

    Count methods decide each distinct (n_loss, n_gain) pair once; the calibration arrays are
    passed through for methods that need the samples.
    """
    max_loss, delta, method = check_max_loss(max_loss), check_delta(delta), check_method(method)
    return _rejections(n_loss, n_gain, n, max_loss, delta, method, conf=conf,
                       little_correct=little_correct, big_correct=big_correct,
                       thresholds=thresholds)


def _rejections(n_loss, n_gain, n, max_loss, delta, method, **arrays) -> np.ndarray:
    """`rejections` on checked scalars."""
    n_loss, n_gain = np.broadcast_arrays(np.asarray(n_loss, dtype=np.int64),
                                         np.asarray(n_gain, dtype=np.int64))
    if n == 0:
        return np.zeros(n_loss.shape, dtype=bool)
    kw = dict(n=n, max_loss=max_loss, delta=delta, conf=arrays["conf"],
              little_correct=arrays["little_correct"], big_correct=arrays["big_correct"])
    if method in pvalues.COUNT_METHODS and METHODS[method] is _DEFAULTS.get(method):
        # many thresholds share their (loss, gain) counts: decide each distinct pair once
        pairs, inverse = np.unique(n_loss.ravel() * (n + 1) + n_gain.ravel(), return_inverse=True)
        out = METHODS[method](n_loss=pairs // (n + 1), n_gain=pairs % (n + 1), thresholds=None,
                              **kw)
        return np.asarray(out, dtype=bool)[inverse.ravel()].reshape(n_loss.shape)
    out = np.asarray(METHODS[method](n_loss=n_loss, n_gain=n_gain,
                                     thresholds=arrays["thresholds"], **kw), dtype=bool)
    if out.shape != n_loss.shape:
        raise InputError(f"method {method!r} returned shape {out.shape}, expected {n_loss.shape}")
    return out


_DEFAULTS = dict(METHODS)


def fixed_sequence(reject: np.ndarray) -> int:
    """How many hypotheses, in the given (fixed) order, are rejected before the first failure."""
    reject = np.asarray(reject, dtype=bool)
    return len(reject) if reject.all() else int(np.argmin(reject))


# ------------------------------------------------------------------ choosing T

@dataclass(frozen=True)
class ThresholdResult:
    """A chosen threshold (or None, with the reason) and the calibration estimates behind it.

    Accuracies and losses are fractions (`max_loss` too); `calib_loss` is the big model's
    calibration accuracy minus the cascade's at the chosen T.
    """
    threshold: float | None
    reason: str
    rule: str
    n: int
    max_loss: float
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
    if len(conf) == 0:
        raise InputError("empty calibration set: choose a threshold on at least one sample")
    lc = check_correct(little_correct, "little_correct", len(conf))
    bc = check_correct(big_correct, "big_correct", len(conf))
    return conf, lc, bc


def _result(table: pd.DataFrame, row, rule: str, **kw) -> ThresholdResult:
    n = total(table, "n")
    big_n = total(table, "big_n_correct")
    base = dict(rule=rule, n=n, calib_little_accuracy=total(table, "little_n_correct") / n,
                calib_big_accuracy=big_n / n)
    if row is None:
        return ThresholdResult(threshold=None, **base, **kw)
    return ThresholdResult(threshold=float(row["threshold"]), **base,
                           calib_accuracy=float(row["accuracy"]),
                           calib_loss=float((big_n - row["n_correct"]) / n),
                           calib_frac_big=float(row["frac_big"]), **kw)


def empirical_threshold(conf, little_correct, big_correct, max_loss: float = 0.0) -> ThresholdResult:
    """Cheapest T whose *calibration* accuracy is at least big's minus `max_loss` (a fraction).

    ``max_loss=0`` is the paper's no-loss rule (applied to a calibration split instead of the
    evaluation data). No guarantee on new data.
    """
    max_loss = check_max_loss(max_loss)
    return _empirical(*_arrays(conf, little_correct, big_correct), max_loss)


def _empirical(conf, lc, bc, max_loss: float) -> ThresholdResult:
    """`empirical_threshold` on checked inputs."""
    table = _sweep(conf, lc, bc)
    row = cheapest(table, within_loss(table, max_loss))
    return _result(table, row, "empirical", reason="" if row is not None else
                   "no threshold reaches the big model's calibration accuracy",
                   max_loss=max_loss, n_tested=len(table))


def guaranteed_threshold(conf, little_correct, big_correct, max_loss: float, delta: float,
                         method: str = "clopper-pearson", table: pd.DataFrame | None = None
                         ) -> ThresholdResult:
    """Cheapest T with P(accuracy loss on new data <= max_loss) >= 1 - delta (LTT).

    `conf`, `little_correct`, `big_correct` are the calibration split. The result's
    `threshold` is None (reason: NO_THRESHOLD) when even T = 1 cannot be certified, e.g. for
    tiny calibration sets: then use the big model alone. `table` (``loss_table`` of the same
    arrays) saves recomputing it when several (max_loss, delta) are tried on one split.
    """
    max_loss, delta, method = check_max_loss(max_loss), check_delta(delta), check_method(method)
    conf, lc, bc = _arrays(conf, little_correct, big_correct)
    if table is not None and len(table) != len(candidate_thresholds(conf)):
        raise InputError("`table` must be loss_table() of the same calibration arrays, "
                         "over all candidate thresholds")
    return _guaranteed(conf, lc, bc, max_loss, delta, method, table)


def _guaranteed(conf, lc, bc, max_loss, delta, method, table=None) -> ThresholdResult:
    """`guaranteed_threshold` on checked inputs."""
    if table is None:
        table = _loss_table(conf, lc, bc)
    table = table.iloc[::-1]  # descending T = ascending cost: the fixed sequence
    n = total(table, "n")
    common = dict(max_loss=max_loss, delta=delta, method=method)
    reject = _rejections(table["n_loss"].to_numpy(), table["n_gain"].to_numpy(), n,
                         max_loss, delta, method, conf=conf, little_correct=lc, big_correct=bc,
                         thresholds=table["threshold"].to_numpy())
    n_rejected = fixed_sequence(reject)
    if n_rejected == 0:
        return _result(table, None, "guaranteed", reason=NO_THRESHOLD, n_tested=1, **common)
    row = table.iloc[n_rejected - 1]
    p = (float(pvalues.p_values(row["n_loss"], row["n_gain"], n, max_loss, method))
         if method in pvalues.COUNT_METHODS else float("nan"))
    return _result(table, row, "guaranteed", reason="", p_value=p,
                   n_tested=min(n_rejected + 1, len(table)), **common)


def wsr_threshold(score, little_correct, big_correct, max_loss: float, delta: float,
                  order_seed: int | None = 0) -> float | None:
    """Cheapest T certified by fixed-sequence WSR testing (None: use big alone).

    With probability at least 1 - delta over the calibration draw, R(T) <= max_loss (a
    fraction) on data exchangeable with it. Candidates: 0, every distinct score, and 1.
    `order_seed` fixes the order in which the bets are placed (see `pvalues`).
    """
    cands = candidate_thresholds(check_conf(score, "score"))
    rej = pvalues.wsr_rejections(score, little_correct, big_correct, cands, max_loss, delta,
                                 order_seed)
    return float(cands[rej].min()) if rej.any() else None
