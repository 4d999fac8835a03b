"""The WSR betting p-value: equal to confseq's betting martingale, valid, and able to fail."""
import math

import numpy as np
import pytest
from littlebig_utils.core import engine
from littlebig_utils.core import experiments
from littlebig_utils.core import ltt
from littlebig_utils.core import pvalues



def _reference_capital(x, m, delta):
    """Loop transcription of confseq 0.0.11 betting_mart(theta=0) with
    lambda_predmix_eb(x, alpha=delta, fixed_n=len(x)) and trunc_scale=1/2, m_trunc=True."""
    n = len(x)
    cap, out = 1.0, []
    s = sq = 0.0
    mu_prev, var_prev = 0.5, 0.25
    for t, xt in enumerate(x, start=1):
        lam = math.sqrt(2 * math.log(1 / delta) / (n * var_prev))
        lam = min(lam, 0.5 / (1 - m))
        cap *= 1 - lam * (xt - m)
        out.append(cap)
        s += xt
        mu = min((0.5 + s) / (t + 1), 1.0)
        sq += (xt - mu) ** 2
        var_prev = (0.25 + sq) / (t + 1)
        mu_prev = mu
    return np.array(out)


def _pattern(n=2000):
    i = np.arange(n)
    x = np.full(n, 0.5)
    x[i % 23 == 0] = 0.0
    x[i % 41 == 0] = 1.0
    return x


def test_capital_equals_loop_reference():
    rng = np.random.default_rng(3)
    for n, m, d in [(30, 0.52, 0.1), (400, 0.5025, 0.05), (400, 0.7, 0.2)]:
        x = rng.choice([0.0, 0.5, 1.0], size=n, p=[0.05, 0.9, 0.05])
        np.testing.assert_allclose(pvalues.wsr_capital(x, m, d), _reference_capital(x, m, d),
                                   rtol=1e-12)


@pytest.mark.parametrize("m, delta, max_capital, capital_at_1000", [
    (0.5025, 0.1, 499.555383579394, 21.297324131680764),
    (0.51, 0.1, 119701.22349908162, 321.04614432263185),
    (0.51, 0.05, 432457.63712271996, 604.2165152051479),
    (0.55, 0.2, 842675283027939.5, 23946089.289684813),
])
def test_capital_matches_values_computed_with_confseq(m, delta, max_capital, capital_at_1000):
    # numbers from confseq 0.0.11 (its pure-Python betting.py, run once by hand: the package
    # does not install here -- a C++ build step, and numpy 2 removed its np.float_):
    # betting_mart(x, m, alpha=delta, theta=0,
    #              lambdas_fn_negative=lambda x, m: lambda_predmix_eb(x, alpha=delta, fixed_n=len(x)))
    cap = pvalues.wsr_capital(_pattern(), m, delta)
    assert cap.max() == pytest.approx(max_capital, rel=1e-9)
    assert cap[999] == pytest.approx(capital_at_1000, rel=1e-9)


# ------------------------------------------------------------------ validity harness

def _ternary_draws(rng, draws, n, p_loss, p_gain):
    """x = (loss + 1)/2 for i.i.d. losses in {-1, 0, 1}."""
    u = rng.random((draws, n))
    loss = np.where(u < p_loss, 1.0, np.where(u < p_loss + p_gain, -1.0, 0.0))
    return (loss + 1) / 2


def _rejection_rate(test, eps, delta, draws=600, n=800, seed=0):
    # true risk slightly ABOVE epsilon: every rejection is an error
    p_gain = 0.02
    p_loss = p_gain + eps + 0.002
    x = _ternary_draws(np.random.default_rng(seed), draws, n, p_loss, p_gain)
    return float(np.mean(test(x, eps, delta)))


def _wsr_test(x, eps, delta):
    return pvalues.wsr_capital(x, (1 + eps) / 2, delta).max(axis=1) >= 1 / delta


def _plug_in_test(x, eps, delta):  # invalid: empirical risk <= epsilon
    return (2 * x - 1).mean(axis=1) <= eps


def _wsr_wrong_level(x, eps, delta):  # invalid: bets and threshold at 4 delta
    return _wsr_test(x, eps, 4 * delta)


@pytest.mark.parametrize("eps", [0.005, 0.02])
def test_wsr_rejects_a_false_null_at_most_delta_of_the_time(eps):
    delta = 0.1
    rate = _rejection_rate(_wsr_test, eps, delta)
    assert rate <= delta + 3 * math.sqrt(delta * (1 - delta) / 600)


@pytest.mark.parametrize("bad", [_plug_in_test, _wsr_wrong_level])
def test_the_harness_catches_invalid_tests(bad):
    delta = 0.1
    assert _rejection_rate(bad, 0.005, delta) > delta + 3 * math.sqrt(delta * (1 - delta) / 600)


def test_wsr_has_power_when_the_risk_is_well_below_epsilon():
    x = _ternary_draws(np.random.default_rng(1), 200, 2000, 0.01, 0.01)  # R = 0
    assert np.mean(_wsr_test(x, 0.02, 0.1)) > 0.9


# ------------------------------------------------------------------ fixed-sequence procedure

def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    conf = np.round(rng.random(n), 2)  # ties on purpose
    lc = rng.random(n) < 0.4 + 0.6 * conf
    bc = rng.random(n) < 0.85
    return conf, lc, bc


def test_rejections_are_the_fixed_sequence_walk_over_p_values():
    conf, lc, bc = _data()
    t = engine.candidate_thresholds(conf)
    eps, delta = 0.05, 0.1
    p = pvalues.wsr_p_values(conf, lc, bc, t, eps, delta, order_seed=5)
    expected = np.zeros(len(t), bool)
    for j in np.argsort(-t):  # brute force: descending walk, stop at first failure
        if p[j] > delta:
            break
        expected[j] = True
    got = pvalues.wsr_rejections(conf, lc, bc, t, eps, delta, order_seed=5, chunk=7)
    np.testing.assert_array_equal(got, expected)
    assert expected.any() and not expected.all()  # the test exercises both outcomes


def test_loss_per_sample_is_big_minus_cascade():
    conf, lc, bc = _data(50)
    x = pvalues._x(conf, lc, bc, [0.3])[0]
    cascade = np.where(conf < 0.3, bc, lc)
    np.testing.assert_array_equal(2 * x - 1, bc.astype(int) - cascade.astype(int))


def test_threshold_is_certified_and_cheapest_rejected():
    conf, lc, bc = _data(3000, seed=2)
    T = ltt.wsr_threshold(conf, lc, bc, 0.05, 0.1)
    t = engine.candidate_thresholds(conf)
    rej = pvalues.wsr_rejections(conf, lc, bc, t, 0.05, 0.1)
    assert T == t[rej].min()
    # little as good as big everywhere: the cheapest threshold (0) is certified
    assert ltt.wsr_threshold(conf, bc, bc, 0.01, 0.1) == 0.0


def test_order_matters_and_is_fixed_by_the_seed():
    conf, lc, bc = _data(400, seed=4)
    t = engine.candidate_thresholds(conf)
    a = pvalues.wsr_p_values(conf, lc, bc, t, 0.05, 0.1, order_seed=1)
    np.testing.assert_array_equal(a, pvalues.wsr_p_values(conf, lc, bc, t, 0.05, 0.1, order_seed=1))
    assert not np.array_equal(a, pvalues.wsr_p_values(conf, lc, bc, t, 0.05, 0.1, order_seed=2))


def test_tiny_calibration_set_certifies_nothing():
    assert ltt.wsr_threshold([0.9, 0.8], [True, False], [True, True], 0.01, 0.1) is None


@pytest.mark.parametrize("kw, match", [
    (dict(max_loss=0.5), "as a fraction it means 50 accuracy points"),
    (dict(max_loss=float("nan")), "max_loss must be a fraction"),
    (dict(delta=0.0), "strictly between"), (dict(delta=1.0), "strictly between"),
])
def test_bad_arguments_raise(kw, match):
    args = dict(max_loss=0.01, delta=0.1)
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        ltt.wsr_threshold([0.5, 0.6], [True, True], [True, True], **args)


def test_bad_scores_raise():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ltt.wsr_threshold([1.5, 0.6], [True, True], [True, True], 0.01, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        ltt.wsr_threshold([np.nan, 0.6], [True, True], [True, True], 0.01, 0.1)
    with pytest.raises(ValueError, match="little_correct has 2 values, expected 1"):
        ltt.wsr_threshold([0.5], [True, True], [True, True], 0.01, 0.1)


# ------------------------------------------------------------------ Monte-Carlo study

def _population(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    conf = rng.random(n)
    lc = rng.random(n) < 0.5 + 0.45 * conf
    bc = rng.random(n) < 0.9
    return conf, lc, bc


def test_population_curve_equals_brute_force():
    conf, lc, bc = _population(500)
    at = experiments.population_curve(conf, lc, bc)
    for t in [0.0, 0.2, conf[7], 0.999, 1.0]:
        cascade = np.where(conf < t, bc, lc)
        risk, frac = at(t)
        assert risk == pytest.approx(bc.mean() - cascade.mean())
        assert frac == pytest.approx((conf < t).mean())


def test_guarantee_study_reproduces_single_calls_and_oracle_bounds_feasible_savings():
    from littlebig_utils.core.ltt import guaranteed_threshold
    conf, lc, bc = _population()
    df = experiments.guarantee_study(conf, lc, bc, 1.0, 4.0, 0.02, 0.1, n_calib=800, draws=4, seed=3)
    assert set(df["method"]) == {"clopper-pearson", "wsr"} and len(df) == 8
    rng = np.random.default_rng(3)
    for d in range(4):
        idx = rng.integers(0, len(conf), 800)
        cp = guaranteed_threshold(conf[idx], lc[idx], bc[idx], 0.02, 0.1).threshold
        ws = ltt.wsr_threshold(conf[idx], lc[idx], bc[idx], 0.02, 0.1, order_seed=d)
        row = df[df["draw"] == d].set_index("method")
        assert row.loc["clopper-pearson", "threshold"] == pytest.approx(cp)
        assert row.loc["wsr", "threshold"] == pytest.approx(ws)
    # the oracle is the cheapest T within epsilon: a non-violating T never saves more
    ok = ~df["violated"]
    assert (df.loc[ok, "kept"] <= 1 + 1e-12).all()
    at = experiments.population_curve(conf, lc, bc)
    for _, r in df.iterrows():
        assert r["violated"] == (at(r["threshold"])[0] > 0.02)


def test_wsr_is_a_registered_method_of_the_guaranteed_threshold_and_the_cascade():
    """`method="wsr"` through thresholds, Cascade and the CLI gives betting.wsr_threshold's T."""
    from littlebig_utils import Cascade
    from littlebig_utils.core import names
    from littlebig_utils.core.ltt import wsr_threshold
    rng = np.random.default_rng(3)
    n = 4000
    conf = rng.uniform(0.2, 1.0, n)
    little_correct = rng.uniform(size=n) < conf          # the little model is right when sure
    big_correct = rng.uniform(size=n) < 0.85
    expected = wsr_threshold(conf, little_correct, big_correct, 0.02, 0.1, order_seed=0)
    assert expected is not None and 0 < expected < 1
    got = ltt.guaranteed_threshold(conf, little_correct, big_correct, 0.02, 0.1, method="wsr")
    assert got.threshold == pytest.approx(expected)
    assert "wsr" in ltt.METHODS and "wsr" in names.METHODS
    # the estimator with one-hot "probabilities" whose max is conf for the little model
    y = np.zeros(n, dtype=np.int64)
    little = np.column_stack([np.where(little_correct, conf, 1 - conf),
                              np.where(little_correct, 1 - conf, conf)])
    big = np.column_stack([big_correct.astype(float), (~big_correct).astype(float)])
    casc = Cascade(rule="guaranteed", max_loss=0.02, delta=0.1, method="wsr").fit(little, big, y)
    # conf < 0.5 rows flip the predicted class; compare on the estimator's own scores instead
    score = little.max(axis=1)
    lc = little.argmax(axis=1) == y
    assert casc.threshold_ == pytest.approx(wsr_threshold(score, lc, big_correct, 0.02, 0.1,
                                                          order_seed=0))
