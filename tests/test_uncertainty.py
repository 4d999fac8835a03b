from math import comb

import numpy as np
import pytest
from scipy.stats import binomtest

from littlebig_utils.core import uncertainty as u


def _pair(n_plus, n_minus, n_both, n_neither, seed=0):
    c = np.r_[np.ones(n_plus), np.zeros(n_minus), np.ones(n_both), np.zeros(n_neither)].astype(bool)
    b = np.r_[np.zeros(n_plus), np.ones(n_minus), np.ones(n_both), np.zeros(n_neither)].astype(bool)
    perm = np.random.default_rng(seed).permutation(len(c))
    return c[perm], b[perm]


def _brute_mcnemar_p(k, m):
    probs = [comb(m, i) / 2 ** m for i in range(m + 1)]
    return min(1.0, sum(p for p in probs if p <= probs[k] * (1 + 1e-9)))


def test_sign_is_cascade_minus_big_and_counts():
    c, b = _pair(3, 9, 80, 8)
    d = u.mcnemar_difference(c, b)
    assert d.diff == pytest.approx(c.mean() - b.mean()) == pytest.approx(-0.06)
    assert (d.n, d.n_cascade_only, d.n_big_only) == (100, 3, 9)
    assert d.lo <= d.diff <= d.hi


@pytest.mark.parametrize("k,m", [(3, 12), (0, 7), (10, 10), (20, 45)])
def test_mcnemar_p_value_equals_brute_force_binomial_sum(k, m):
    c, b = _pair(k, m - k, 50, 50)
    assert u.mcnemar_difference(c, b).p_value == pytest.approx(_brute_mcnemar_p(k, m), rel=1e-9)


def test_mcnemar_interval_maps_clopper_pearson_of_discordant_share():
    c, b = _pair(30, 50, 900, 20)
    d = u.mcnemar_difference(c, b, confidence=0.9)
    ci = binomtest(30, 80).proportion_ci(0.9, method="exact")
    assert d.lo == pytest.approx(80 / 1000 * (2 * ci.low - 1))
    assert d.hi == pytest.approx(80 / 1000 * (2 * ci.high - 1))
    assert d.hi < 0  # 30 vs 50 out of 80 discordant: a resolved loss at 90 %


def test_bootstrap_matches_brute_force_index_resampling():
    c, b = _pair(40, 60, 700, 200, seed=3)
    fast = u.bootstrap_difference(c, b, n_boot=4000, seed=1)
    rng = np.random.default_rng(2)
    idx = rng.integers(0, len(c), size=(4000, len(c)))
    reps = c[idx].mean(1) - b[idx].mean(1)
    lo, hi = np.quantile(reps, [0.025, 0.975])
    # same distribution, different random streams: the quantiles agree to sampling error
    assert fast.lo == pytest.approx(lo, abs=0.004) and fast.hi == pytest.approx(hi, abs=0.004)
    assert fast.diff == pytest.approx(-0.02)


def test_valid_mask_and_bad_inputs():
    c, b = _pair(5, 1, 10, 4)
    v = np.ones(20, bool)
    v[np.flatnonzero(c & ~b)[:5]] = False  # drop the cascade-only images
    d = u.mcnemar_difference(c, b, valid=v)
    assert (d.n, d.n_cascade_only, d.n_big_only) == (15, 0, 1)
    with pytest.raises(ValueError, match="expected 20 \\(one per sample\\)"):
        u.mcnemar_difference(c, b[:-1])
    with pytest.raises(ValueError, match="no images"):
        u.mcnemar_difference(c, b, valid=np.zeros(20, bool))
    with pytest.raises(ValueError, match="booleans"):
        u.mcnemar_difference(c.astype(float) * 0.5, b)
    with pytest.raises(ValueError, match="confidence"):
        u.accuracy_difference(c, b, confidence=95)
    with pytest.raises(ValueError, match="method"):
        u.accuracy_difference(c, b, method="wald")
    same = u.accuracy_difference(b, b)
    assert (same.diff, same.lo, same.hi, same.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_is_the_multinomial_of_the_three_counts_with_exact_quantiles():
    c, b = _pair(30, 10, 50, 10, seed=4)  # the cascade wins: more cascade-only images
    d = u.bootstrap_difference(c, b, confidence=0.9, n_boot=500, seed=7)
    n, plus, minus = 100, 30, 10
    draws = np.random.default_rng(7).multinomial(n, [plus / n, minus / n, (n - plus - minus) / n],
                                                 size=500)
    reps = (draws[:, 0] - draws[:, 1]) / n
    assert (d.lo, d.hi) == pytest.approx(tuple(np.quantile(reps, [0.05, 0.95])))
    assert (d.n, d.n_cascade_only, d.n_big_only, d.diff) == (100, 30, 10, pytest.approx(0.2))
    assert d.method == "bootstrap" and d.confidence == 0.9


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.2])
def test_confidence_must_lie_strictly_inside_zero_one(confidence):
    c, b = _pair(3, 2, 5, 5)
    with pytest.raises(ValueError, match="^confidence must lie strictly between 0 and 1"):
        u.mcnemar_difference(c, b, confidence=confidence)


def test_paired_counts_name_their_inputs():
    c, b = _pair(3, 2, 5, 5)
    with pytest.raises(ValueError, match="^big_correct has 14 values, expected 15"):
        u.paired_counts(c, b[:-1])
    with pytest.raises(ValueError, match="^cascade_correct must be booleans"):
        u.paired_counts(c * 2, b)
    with pytest.raises(ValueError, match="^valid has 2 values, expected 15"):
        u.paired_counts(c, b, valid=[True, False])
