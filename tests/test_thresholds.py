"""Thresholds with a finite-sample guarantee: validity on a known distribution, edge cases
(the command line is tested in test_cli.py)."""
import math

import numpy as np
import pytest

from littlebig_utils.core import engine
from littlebig_utils.core import experiments
from littlebig_utils.core import ltt
from littlebig_utils.core import pvalues
from littlebig_utils.core.predictions import Predictions

# ------------------------------------------------------------------ a known distribution
# conf ~ U(0, 1). Given conf = c, a sample is a *loss* sample (little wrong, big right) with
# probability LOSS * (1 - c) and a *gain* sample (little right, big wrong) with probability
# GAIN * (1 - c); otherwise both are right (prob. 0.8) or both wrong. Then the population
# accuracy loss of threshold T is  R(T) = (LOSS - GAIN) * (1 - T)^2 / 2,  exactly.
LOSS, GAIN = 0.30, 0.10


def true_risk(t):
    return (LOSS - GAIN) * (1.0 - np.asarray(t)) ** 2 / 2


def draw(rng, size):
    """(conf, little_correct, big_correct) with leading shape `size`."""
    conf = rng.random(size)
    u = rng.random(size)
    a, b = LOSS * (1 - conf), GAIN * (1 - conf)
    loss, gain = u < a, (u >= a) & (u < a + b)
    both_right = ~loss & ~gain & (rng.random(size) < 0.8)
    return conf, gain | both_right, loss | both_right


@pytest.mark.parametrize("method", ["clopper-pearson", "binomial"])
def test_violation_rate_at_most_delta_over_2000_calibration_draws(method):
    rng = np.random.default_rng(7)
    n_draws, n, epsilon, delta = 2000, 600, 0.02, 0.1
    conf, lc, bc = draw(rng, (n_draws, n))
    chosen = np.array([
        np.nan if (r := ltt.guaranteed_threshold(conf[i], lc[i], bc[i], epsilon, delta,
                                                method)).threshold is None else r.threshold
        for i in range(n_draws)])
    found = ~np.isnan(chosen)
    # None means "big alone": zero loss, never a violation
    violated = found & (true_risk(np.where(found, chosen, 1.0)) > epsilon)
    rate = violated.mean()
    se = math.sqrt(delta * (1 - delta) / n_draws)
    assert rate <= delta + 3 * se, (rate, delta, se)
    # the procedure is not vacuous: it finds a threshold in most draws, well below T = 1
    t_star = 1 - math.sqrt(2 * epsilon / (LOSS - GAIN))  # R(t_star) = epsilon
    assert found.mean() > 0.9
    assert np.nanmedian(chosen) < t_star + 0.2


def test_plug_in_rule_violates_often_on_the_same_draws():
    """The check above can fail: the empirical rule at epsilon violates about half the time."""
    rng = np.random.default_rng(7)
    n_draws, n, epsilon = 300, 600, 0.02
    conf, lc, bc = draw(rng, (n_draws, n))
    chosen = np.array([ltt.empirical_threshold(conf[i], lc[i], bc[i], epsilon).threshold
                       for i in range(n_draws)])
    rate = (true_risk(chosen) > epsilon).mean()
    assert rate > 0.3


# ------------------------------------------------------------------ per-threshold statistics

def test_loss_table_equals_brute_force_loop():
    rng = np.random.default_rng(1)
    conf = np.round(rng.random(300), 2)  # ties on purpose
    lc, bc = rng.random(300) < 0.7, rng.random(300) < 0.8
    table = engine.loss_table(conf, lc, bc)
    for _, row in table.iterrows():
        kept = conf >= row["threshold"]  # conf < T goes to big
        cascade_correct = np.where(kept, lc, bc)
        assert row["n_big"] == (~kept).sum()
        assert row["n_loss"] == (kept & ~lc & bc).sum()
        assert row["n_gain"] == (kept & lc & ~bc).sum()
        assert row["risk"] == pytest.approx(bc.mean() - cascade_correct.mean(), abs=1e-12)
        assert row["n_correct"] == cascade_correct.sum()


# the methods decided by a p-value of the counts (wsr bets on the per-sample sequence instead)
@pytest.mark.parametrize("method", ["clopper-pearson", "binomial", "hoeffding-bentkus"])
def test_rejections_agree_with_p_values(method):
    rng = np.random.default_rng(2)
    n = 800
    n_loss = rng.integers(0, 60, size=200)
    n_gain = rng.integers(0, 60, size=200)
    p = pvalues.p_values(n_loss, n_gain, n, 0.03, method)
    assert ((p >= 0) & (p <= 1)).all()
    rej = ltt.rejections(n_loss, n_gain, n, 0.03, 0.05, method)
    np.testing.assert_array_equal(rej, p <= 0.05)
    assert 0 < rej.sum() < len(rej)  # the grid straddles the decision boundary


def test_binomial_p_value_is_the_binomial_tail():
    # P(Bin(100, 0.05) <= 1) = 0.95^100 + 100 * 0.05 * 0.95^99
    expected = 0.95 ** 100 + 100 * 0.05 * 0.95 ** 99
    assert pvalues.p_values([1], [0], 100, 0.05, "binomial")[0] == pytest.approx(expected, rel=1e-9)


def test_clopper_pearson_p_value_with_no_gains_matches_exact_bound():
    # with no gain samples the test rejects iff the exact (1 - delta/2) upper bound on the loss
    # rate is <= epsilon; for 0 losses out of n that bound is 1 - (delta/2)^(1/n)
    n, eps = 1000, 0.01
    p = pvalues.p_values([0], [0], n, eps, "clopper-pearson")[0]
    assert p == pytest.approx(2 * (1 - eps) ** n, rel=1e-6)


# ------------------------------------------------------------------ edge cases

def test_empty_calibration_set_is_refused():
    for rule in (lambda a: ltt.guaranteed_threshold(*a, max_loss=0.005, delta=0.05),
                 lambda a: ltt.empirical_threshold(*a)):
        with pytest.raises(ValueError, match="empty calibration"):
            rule((np.array([]), np.array([], bool), np.array([], bool)))


@pytest.mark.parametrize("n", [1, 5, 20, 100])
def test_tiny_calibration_sets_return_none(n):
    conf = np.linspace(0.5, 0.99, n)
    perfect = np.ones(n, dtype=bool)  # both always right: the loss is 0 on every sample
    r = ltt.guaranteed_threshold(conf, perfect, perfect, max_loss=0.005, delta=0.05)
    assert r.threshold is None and not r.found
    assert r.reason == ltt.NO_THRESHOLD
    assert r.n == n


def test_large_epsilon_returns_a_cheap_threshold():
    rng = np.random.default_rng(3)
    conf, lc, bc = draw(rng, 3000)
    r = ltt.guaranteed_threshold(conf, lc, bc, max_loss=0.1, delta=0.05)
    assert r.found and r.p_value <= 0.05
    assert r.calib_frac_big < 0.15  # little goes to big (R(0) = 0.1: T = 0 is at the edge)
    strict = ltt.guaranteed_threshold(conf, lc, bc, max_loss=0.005, delta=0.05)
    assert strict.found and strict.threshold > r.threshold  # tighter epsilon costs more


def test_guaranteed_is_more_conservative_than_plug_in():
    rng = np.random.default_rng(4)
    conf, lc, bc = draw(rng, 5000)
    g = ltt.guaranteed_threshold(conf, lc, bc, 0.02, 0.05)
    e = ltt.empirical_threshold(conf, lc, bc, 0.02)
    assert g.found and e.found
    assert g.threshold > e.threshold
    assert g.calib_loss <= e.calib_loss


def test_empirical_no_loss_threshold_reaches_big_accuracy_on_calibration():
    rng = np.random.default_rng(5)
    conf, lc, bc = draw(rng, 2000)
    r = ltt.empirical_threshold(conf, lc, bc)
    assert r.calib_accuracy >= r.calib_big_accuracy
    # the next cheaper candidate would lose accuracy
    lower = np.max(conf[conf < r.threshold], initial=0.0)
    ev = engine.evaluate_thresholds(conf, lc, bc, [lower]).iloc[0]
    assert lower == 0.0 or ev["accuracy"] < r.calib_big_accuracy


def test_evaluate_thresholds_missing_means_big_alone_or_nan():
    conf = np.array([0.2, 0.9, 0.95])
    lc, bc = np.array([True, False, True]), np.array([True, True, False])
    ev = engine.evaluate_thresholds(conf, lc, bc, [None], little_gmacs=1.0, big_gmacs=10.0,
                                missing="big").iloc[0]
    assert ev["loss"] == 0 and ev["frac_big"] == 1 and ev["macs_reduction"] == 0
    assert ev["gmacs"] == 10.0
    nan = engine.evaluate_thresholds(conf, lc, bc, [None], little_gmacs=1.0, big_gmacs=10.0).iloc[0]
    assert np.isnan(nan["accuracy"]) and np.isnan(nan["frac_big"])
    ev = engine.evaluate_thresholds(conf, lc, bc, [0.5], little_gmacs=1.0, big_gmacs=10.0).iloc[0]
    # conf 0.2 -> big (right); 0.9 little (wrong); 0.95 little (right): 2/3 vs big 2/3
    assert ev["accuracy"] == pytest.approx(2 / 3) and ev["loss"] == pytest.approx(0)
    assert ev["gmacs"] == pytest.approx(1 + 10 / 3)


@pytest.mark.parametrize("kw,match", [
    (dict(max_loss=-0.001), "max_loss"), (dict(max_loss=0.5), "max_loss"),
    (dict(max_loss=float("nan")), "max_loss"), (dict(max_loss="x"), "max_loss"),
    (dict(delta=0), "delta"), (dict(delta=1), "delta"), (dict(delta=1.5), "delta"),
    (dict(method="bonferroni"), "method"),
])
def test_invalid_arguments_raise(kw, match):
    args = dict(max_loss=0.005, delta=0.05, method="clopper-pearson") | kw
    with pytest.raises(ValueError, match=match):
        ltt.guaranteed_threshold([0.5, 0.7], [True, True], [True, True], **args)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="one per sample"):
        ltt.guaranteed_threshold([0.5, 0.7], [True], [True, False], 0.005, 0.05)


def test_split_indices_partition():
    calib, test = engine.split_indices(1000, 0.2, seed=3)
    assert len(calib) == 200 and len(test) == 800
    assert np.array_equal(np.sort(np.concatenate([calib, test])), np.arange(1000))
    assert np.array_equal(calib, engine.split_indices(1000, 0.2, seed=3)[0])
    with pytest.raises(ValueError, match="calib_frac"):
        engine.split_indices(10, 1.0, 0)


# ------------------------------------------------------------------ split study

def test_split_study_matches_single_calls_and_oracle_is_cheapest():
    rng = np.random.default_rng(8)
    conf, lc, bc = draw(rng, 3000)
    shifted_bc = bc ^ (rng.random(3000) < 0.05)  # other labels for the big model
    df = experiments.split_study(conf, lc, bc, max_losses=[0.01, 0.03], deltas=[0.05, 0.2],
                                 n_splits=3, calib_frac=0.3, seed=11, little_gmacs=1.0, big_gmacs=10.0,
                        shifted={"other": (lc, shifted_bc, None)})
    # 2 label sets x 3 splits x 2 epsilons x (2 guaranteed + 2 empirical + oracle)
    assert len(df) == 2 * 3 * 2 * 5
    calib, test = engine.split_indices(3000, 0.3, seed=11 + 1)  # split s uses seed + s
    r = ltt.guaranteed_threshold(conf[calib], lc[calib], bc[calib], 0.03, 0.2)
    for labels, big_c in (("original", bc), ("other", shifted_bc)):
        ev = engine.evaluate_thresholds(conf[test], lc[test], big_c[test], [r.threshold],
                                    little_gmacs=1.0, big_gmacs=10.0, missing="big").iloc[0]
        row = df.query("split == 1 and rule == 'guaranteed' and max_loss == 0.03 and delta == 0.2 "
                       "and labels == @labels").iloc[0]
        assert row["threshold"] == r.threshold
        assert row["loss"] == pytest.approx(ev["loss"])
        assert row["macs_reduction"] == pytest.approx(ev["macs_reduction"])
        assert row["violated"] == (ev["big_n_correct"] - ev["n_correct"] > 0.03 * ev["n_valid"])
    for (labels, split, eps), g in df.groupby(["labels", "split", "max_loss"]):
        oracle = g[g["rule"] == "oracle"].iloc[0]
        assert oracle["loss"] <= eps + 1e-9 and not oracle["violated"]
        ok = g[(g["rule"] != "oracle") & ~g["violated"]]
        assert (oracle["frac_big"] <= ok["frac_big"] + 1e-12).all()


def _pair_records(n, seed, little_gmacs=1.0, big_gmacs=6.0):
    conf, lc, bc = draw(np.random.default_rng(seed), n)
    labels = np.random.default_rng(seed + 1).integers(0, 5, n)
    ids = [f"s{i}" for i in range(n)]
    wrong = (labels + 1) % 5
    little = Predictions(ids, labels, np.where(lc, labels, wrong), conf,
                         model={"name": "L", "gmacs": little_gmacs})
    big = Predictions(ids, labels, np.where(bc, labels, wrong), np.ones(n),
                      model={"name": "B", "gmacs": big_gmacs})
    return little, big




def test_threshold_result_to_dict_holds_every_field():
    conf, lc, bc = draw(np.random.default_rng(5), 500)
    r = ltt.guaranteed_threshold(conf, lc, bc, 0.02, 0.1)
    d = r.to_dict()
    assert d["threshold"] == r.threshold and d["rule"] == "guaranteed" and d["n"] == 500
    assert d["p_value"] == r.p_value and d["method"] == "clopper-pearson"
    assert ltt.ThresholdResult(**d) == r  # a full round trip
