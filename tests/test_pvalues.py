"""p-values (core.pvalues), the fixed-sequence procedure (core.ltt) and the engine's primitives
against exact references and brute-force loops, boundaries included."""
import numpy as np
import pytest
from scipy.stats import binom, binomtest

from littlebig_utils.core import engine, ltt, pvalues
from littlebig_utils.core.checks import InputError


@pytest.mark.parametrize("k,n,alpha", [(0, 10, 0.05), (3, 10, 0.05), (9, 10, 0.025), (10, 10, 0.05),
                                       (0, 1, 0.1), (1, 1, 0.1), (17, 400, 0.01)])
def test_clopper_pearson_bounds_are_scipys_exact_interval(k, n, alpha):
    """One-sided bounds at level alpha = the two-sided exact interval at 1 - 2 alpha."""
    ci = binomtest(k, n).proportion_ci(1 - 2 * alpha, method="exact")
    assert pvalues.clopper_pearson_upper(k, n, alpha) == pytest.approx(ci.high, abs=1e-12)
    assert pvalues.clopper_pearson_lower(k, n, alpha) == pytest.approx(ci.low, abs=1e-12)


def test_clopper_pearson_edges_are_exactly_zero_and_one():
    assert pvalues.clopper_pearson_upper(10, 10, 0.05) == 1.0       # k == n
    assert pvalues.clopper_pearson_lower(0, 10, 0.05) == 0.0        # k == 0
    assert pvalues.clopper_pearson_upper(9, 10, 0.05) < 1.0
    assert pvalues.clopper_pearson_lower(1, 10, 0.05) > 0.0
    # vectorized over k, broadcasting alpha
    up = pvalues.clopper_pearson_upper(np.array([0, 5, 10]), 10, 0.05)
    assert up.shape == (3,) and up[-1] == 1.0 and up[0] < up[1] < up[2]


def test_reject_is_ucb_minus_lcb_at_most_max_loss_inclusive():
    n, loss, gain, delta = 1000, 20, 5, 0.1
    margin = (pvalues.clopper_pearson_upper(loss, n, delta / 2)
              - pvalues.clopper_pearson_lower(gain, n, delta / 2))
    assert pvalues.reject_clopper_pearson(loss, gain, n, float(margin), delta)       # == rejects
    assert not pvalues.reject_clopper_pearson(loss, gain, n, float(margin) - 1e-9, delta)


def test_binomial_and_clopper_pearson_p_values_decide_like_their_tests():
    n = 500
    for k in (0, 3, 10, 30):
        assert pvalues.p_values([k], [0], n, 0.02, "binomial")[0] == pytest.approx(binom.cdf(k, n, 0.02))
        p = pvalues.p_values([k], [4], n, 0.02, "clopper-pearson")[0]
        # the p-value is the smallest delta that rejects: just above rejects, just below does not
        assert pvalues.reject_clopper_pearson(k, 4, n, 0.02, min(1.0, p * 1.001)) or p >= 1
        if p > 1e-290:
            assert not pvalues.reject_clopper_pearson(k, 4, n, 0.02, p * 0.999)


def test_p_values_edge_cases():
    assert pvalues.p_values([0, 5], [0, 0], 0, 0.01).tolist() == [1.0, 1.0]  # no samples
    with pytest.raises(InputError, match="wsr needs the samples"):
        pvalues.p_values([0], [0], 10, 0.01, "wsr")
    hb = pvalues.p_values([0], [0], 100, 0.01, "hoeffding-bentkus")[0]
    assert 0 < hb <= 1


# ------------------------------------------------------------------ fixed sequence and registry

@pytest.mark.parametrize("reject,n", [([], 0), ([False], 0), ([True], 1), ([True, True, False, True], 2),
                                      ([True, True, True], 3), ([False, True], 0)])
def test_fixed_sequence_counts_rejections_before_the_first_failure(reject, n):
    assert ltt.fixed_sequence(reject) == n


def test_rejections_refuse_a_method_returning_the_wrong_shape_and_empty_data():
    assert ltt.rejections([1, 2], [0, 0], 0, 0.01, 0.1).tolist() == [False, False]
    saved = ltt.METHODS["binomial"]
    ltt.register_method("binomial", lambda **kw: np.ones(1, bool))
    try:
        with pytest.raises(InputError, match="returned shape"):
            ltt.rejections([1, 2], [0, 0], 10, 0.01, 0.1, "binomial")
    finally:
        ltt.register_method("binomial", saved)
    with pytest.raises(InputError, match="must be callable"):
        ltt.register_method("binomial", 3)
    assert ltt.METHODS["binomial"] is saved


def test_count_methods_decide_each_distinct_count_pair_like_one_by_one():
    rng = np.random.default_rng(0)
    loss, gain = rng.integers(0, 30, 300), rng.integers(0, 30, 300)
    together = ltt.rejections(loss, gain, 700, 0.02, 0.1, "clopper-pearson")
    alone = [bool(pvalues.reject_clopper_pearson(a, b, 700, 0.02, 0.1)) for a, b in zip(loss, gain)]
    assert together.tolist() == alone


# ------------------------------------------------------------------ the engine's primitives

def test_counts_below_equals_a_loop_with_ties_and_boundaries():
    rng = np.random.default_rng(1)
    conf = np.round(rng.random(200), 1)
    a, b = rng.random(200) < 0.5, rng.integers(0, 3, 200)
    t = np.array([0.0, 0.3, 0.5, 1.0, np.inf, conf[5]])
    k, (sa, sb), (ta, tb) = engine.counts_below(conf, t, a, b)
    for i, ti in enumerate(t):
        below = conf < ti  # strictly below: conf == T stays with the little model
        assert k[i] == below.sum() and sa[i] == a[below].sum() and sb[i] == b[below].sum()
    assert (ta, tb) == (a.sum(), b.sum())


def test_rank_thresholds_are_the_confidences_at_those_ranks():
    conf = np.array([0.9, 0.1, 0.5, 0.3, 0.7])
    got = engine.rank_thresholds(conf, [0.0, 0.2, 0.5, 0.99, 1.0])
    # sorted: 0.1 0.3 0.5 0.7 0.9; ranks floor(level * 5), clipped to 4
    assert got.tolist() == [0.0, 0.1, 0.3, 0.5, 0.9, 1.0]
    assert engine.rank_thresholds([], [0.5]).tolist() == [0.0, 1.0]


def test_splits_use_seed_plus_s_and_refuse_zero_splits():
    got = list(engine.splits(50, 0.2, 3, seed=7))
    assert [s for s, _, _ in got] == [0, 1, 2]
    for s, calib, test in got:
        c, t = engine.split_indices(50, 0.2, 7 + s)
        assert calib.tolist() == c.tolist() and test.tolist() == t.tolist() and len(calib) == 10
    with pytest.raises(InputError, match="n_splits must be at least 1"):
        list(engine.splits(50, 0.2, 0))


def test_split_sizes_round_and_refuse_an_empty_side():
    assert len(engine.split_indices(10, 0.25, 0)[0]) == 2   # round(2.5) = 2 (banker's)
    assert len(engine.split_indices(10, 0.35, 0)[0]) == 4   # round(3.5) = 4
    for n, f in [(2, 0.2), (2, 0.8)]:
        with pytest.raises(InputError, match="split empty"):
            engine.split_indices(n, f, 0)
    assert [len(x) for x in engine.split_indices(2, 0.5, 0)] == [1, 1]


def test_candidate_thresholds_hold_0_each_distinct_confidence_and_1():
    assert engine.candidate_thresholds([0.5, 0.2, 0.5, 1.0]).tolist() == [0.0, 0.2, 0.5, 1.0]
    assert engine.candidate_thresholds([]).tolist() == [0.0, 1.0]


def test_loss_table_risk_and_counts_by_hand():
    conf = np.array([0.1, 0.4, 0.4, 0.8])
    lc = np.array([False, True, False, True])
    bc = np.array([True, False, True, True])
    t = engine.loss_table(conf, lc, bc).set_index("threshold")
    # T = 0: all kept; losses: samples 0, 2; gains: sample 1
    assert (t.loc[0.0, "n_loss"], t.loc[0.0, "n_gain"]) == (2, 1)
    assert t.loc[0.0, "risk"] == pytest.approx((2 - 1) / 4)
    # T = 0.4: sample 0 to big; kept 1, 2, 3
    assert (t.loc[0.4, "n_loss"], t.loc[0.4, "n_gain"]) == (1, 1)
    assert (t.loc[1.0, "n_loss"], t.loc[1.0, "n_gain"], t.loc[1.0, "risk"]) == (0, 0, 0.0)


def test_loses_more_is_exact_in_counts_with_n_valid_and_an_inclusive_boundary():
    assert not engine.loses_more(5, 1000, 0.005)         # exactly max_loss: not more
    assert engine.loses_more(6, 1000, 0.005)
    # 0.0003 * 10000 = 2.9999999999999996 in floating point: 3 lost of 10,000 are exactly 0.0003
    assert 0.0003 * 10000 < 3 and not engine.loses_more(3, 10000, 0.0003)
    assert engine.loses_more([1, 2, 3], [100, 100, 100], 0.02).tolist() == [False, False, True]
    # the denominator is n_valid: 2 lost images of 100 valid (of 200 images) exceed 0.01
    assert engine.loses_more(2, 100, 0.01) and not engine.loses_more(2, 200, 0.01)


def test_wsr_p_values_keep_samples_whose_score_equals_the_threshold():
    # the samples where the models disagree sit exactly on the thresholds tried
    s = np.array([0.2, 0.4, 0.4, 0.6, 0.8, 0.8, 0.9, 0.3])
    lc = np.array([False, False, True, False, True, False, True, True])
    bc = np.array([True, True, False, True, False, True, True, False])
    t = np.array([0.2, 0.4, 0.6, 0.8])
    got = pvalues.wsr_p_values(s, lc, bc, t, 0.05, 0.1, order_seed=None)
    m = (1 + 0.05) / 2
    for i, thr in enumerate(t):
        x = 0.5 + 0.5 * (s >= thr) * (bc.astype(float) - lc)  # kept: score >= T
        want = min(1.0, 1.0 / pvalues.wsr_capital(x, m, 0.1).max())
        assert got[i] == pytest.approx(want)


def test_little_correct_is_named_by_the_threshold_rules():
    conf = np.array([0.2, 0.5, 0.9])
    with pytest.raises(InputError, match="^little_correct has 2 values, expected 3"):
        ltt.guaranteed_threshold(conf, [True, False], [True, True, True], 0.01, 0.1)
    with pytest.raises(InputError, match="^little_correct has 2 values, expected 3"):
        ltt.empirical_threshold(conf, [True, False], [True, True, True])
    with pytest.raises(InputError, match=r"^`table` must be loss_table\(\) of the same calibration "
                       r"arrays, over all candidate thresholds$"):
        ltt.guaranteed_threshold(conf, [True] * 3, [True] * 3, 0.01, 0.1,
                                 table=engine.loss_table(conf, [True] * 3, [True] * 3, [0.5]))
