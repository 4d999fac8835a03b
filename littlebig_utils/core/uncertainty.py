"""Uncertainty of an accuracy difference between two classifiers scored on the same images.

One sign convention everywhere in the book: **cascade − big** (negative = the cascade loses
accuracy). Differences of a few images out of 10,000 are shown with an interval, never alone.
Everything here is a fraction; the book turns it into points when it prints it.

Both methods use only the paired correctness: per image, d = cascade_correct − big_correct is
+1, 0 or −1, and the accuracy difference is mean(d). Only the discordant images (d ≠ 0) carry
information, which is why both can be computed from three counts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from littlebig_utils.core.checks import InputError, check_correct

__all__ = ["Difference", "paired_counts", "bootstrap_difference", "mcnemar_difference",
           "accuracy_difference"]


@dataclass(frozen=True)
class Difference:
    """Accuracy difference cascade − big (a fraction) with its confidence interval."""
    diff: float            # acc(cascade) − acc(big), fraction
    lo: float              # lower end of the confidence interval, fraction
    hi: float              # upper end
    n: int                 # images scored
    n_cascade_only: int    # cascade right, big wrong
    n_big_only: int        # big right, cascade wrong
    p_value: float         # exact McNemar two-sided p-value (H0: no difference)
    method: str            # "bootstrap" or "mcnemar-exact"
    confidence: float

    def to_dict(self) -> dict:
        return asdict(self)


def paired_counts(cascade_correct, big_correct, valid=None) -> tuple[int, int, int]:
    """(n, cascade right & big wrong, big right & cascade wrong) over the valid images."""
    c = check_correct(cascade_correct, "cascade_correct")
    b = check_correct(big_correct, "big_correct", len(c))
    if valid is not None:
        v = check_correct(valid, "valid", len(c))
        c, b = c[v], b[v]
    n = len(c)
    if n == 0:
        raise InputError("no images to compare (empty split or every image masked out)")
    return n, int((c & ~b).sum()), int((b & ~c).sum())


def _check_confidence(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise InputError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
    return float(confidence)


def _mcnemar_p(n_plus: int, n_minus: int) -> float:
    from scipy.stats import binomtest
    m = n_plus + n_minus
    return 1.0 if m == 0 else float(binomtest(n_plus, m, 0.5).pvalue)


def mcnemar_difference(cascade_correct, big_correct, valid=None,
                       confidence: float = 0.95) -> Difference:
    """Exact McNemar test and exact conditional interval for acc(cascade) − acc(big).

    Given m discordant images, the number where the cascade is right is Binomial(m, π); the
    difference is (m / n)(2π − 1), so the Clopper-Pearson interval of π maps to an interval of
    the difference (conditional on m; exact, conservative). With m = 0 the interval is [0, 0].
    """
    from scipy.stats import binomtest
    confidence = _check_confidence(confidence)
    n, plus, minus = paired_counts(cascade_correct, big_correct, valid)
    m = plus + minus
    diff = (plus - minus) / n
    if m == 0:
        lo = hi = 0.0
    else:
        ci = binomtest(plus, m, 0.5).proportion_ci(confidence_level=confidence, method="exact")
        lo, hi = (m / n) * (2 * ci.low - 1), (m / n) * (2 * ci.high - 1)
    return Difference(diff, float(lo), float(hi), n, plus, minus, _mcnemar_p(plus, minus),
                      "mcnemar-exact", confidence)


def bootstrap_difference(cascade_correct, big_correct, valid=None, confidence: float = 0.95,
                         n_boot: int = 10_000, seed: int = 0) -> Difference:
    """Paired bootstrap percentile interval for acc(cascade) − acc(big).

    Resampling n images with replacement only changes how many of the resample are (+1), (−1)
    or (0) images, so each replicate is one multinomial draw of those three counts — the same
    distribution as resampling indices, at O(n_boot) cost instead of O(n_boot × n).
    """
    confidence = _check_confidence(confidence)
    if int(n_boot) < 100:
        raise InputError(f"n_boot must be at least 100 for a percentile interval, got {n_boot!r}")
    n, plus, minus = paired_counts(cascade_correct, big_correct, valid)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, [plus / n, minus / n, (n - plus - minus) / n], size=int(n_boot))
    reps = (draws[:, 0] - draws[:, 1]) / n
    alpha = 1.0 - confidence
    lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return Difference((plus - minus) / n, float(lo), float(hi), n, plus, minus,
                      _mcnemar_p(plus, minus), "bootstrap", confidence)


def accuracy_difference(cascade_correct, big_correct, valid=None, method: str = "mcnemar",
                        confidence: float = 0.95, **kwargs) -> Difference:
    """`mcnemar_difference` (default: exact, no randomness) or `bootstrap_difference`."""
    if method in ("mcnemar", "mcnemar-exact"):
        return mcnemar_difference(cascade_correct, big_correct, valid, confidence)
    if method == "bootstrap":
        return bootstrap_difference(cascade_correct, big_correct, valid, confidence, **kwargs)
    raise InputError(f"method must be 'mcnemar' or 'bootstrap', got {method!r}")
