"""Confidence scores from logits."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hypothesis_budget import examples

from littlebig_utils.core.scores import (fit_temperature, margin, max_softmax, neg_entropy, score,
                                    softmax, temperature_softmax)

logit_arrays = arrays(np.float64, st.tuples(st.integers(1, 20), st.integers(2, 12)),
                      elements=st.floats(-60, 60))


@settings(max_examples=examples(60), deadline=None)
@given(logit_arrays)
def test_scores_lie_in_unit_interval_and_are_ordered(z):
    p = softmax(z)
    np.testing.assert_allclose(p.sum(1), 1.0)
    ms, mg, ne = max_softmax(z), margin(z), neg_entropy(z)
    for s in (ms, mg, ne):
        assert np.all((s >= 0) & (s <= 1))
    assert np.all(mg <= ms + 1e-12)  # margin = top1 - top2 <= top1
    assert np.all(ms >= 1.0 / z.shape[1] - 1e-12)


def test_extremes():
    sure = np.array([[50.0, 0, 0, 0]])
    flat = np.zeros((1, 4))
    tie = np.array([[3.0, 3.0, 0, 0]])
    assert max_softmax(sure)[0] == pytest.approx(1) and max_softmax(flat)[0] == pytest.approx(0.25)
    assert margin(sure)[0] == pytest.approx(1) and margin(tie)[0] == pytest.approx(0)
    assert neg_entropy(sure)[0] == pytest.approx(1) and neg_entropy(flat)[0] == pytest.approx(0)


def test_softmax_is_stable_for_huge_logits():
    p = softmax(np.array([[1e4, 1e4 - 1.0, -1e4]]))
    assert np.isfinite(p).all() and p[0, 0] == pytest.approx(1 / (1 + np.exp(-1)))


@pytest.mark.parametrize("t_true", [0.5, 2.5])
def test_fit_temperature_recovers_the_generating_temperature(t_true):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (20_000, 10))
    p = softmax(logits, t_true)
    labels = (p.cumsum(1) > rng.random((len(p), 1))).argmax(1)  # labels drawn from p
    assert fit_temperature(logits, labels) == pytest.approx(t_true, rel=0.05)


def test_temperature_can_reorder_confidences_across_samples():
    a = np.array([[4.0] + [0.0] * 9])          # nine rivals, 4 logits below
    b = np.array([[2.0, 0.0] + [-50.0] * 8])   # one rival, 2 logits below
    z = np.vstack([a, b])
    c1, c05 = temperature_softmax(z, 1.0), temperature_softmax(z, 0.5)
    assert c1[0] < c1[1] and c05[0] > c05[1]  # so T matters for routing, not only calibration


def test_score_by_name_and_errors():
    z = np.random.default_rng(1).normal(size=(5, 3))
    np.testing.assert_array_equal(score("margin", z), margin(z))
    np.testing.assert_allclose(score("temperature", z, 2.0), max_softmax(z / 2.0))
    with pytest.raises(ValueError, match="needs temperature"):
        score("temperature", z)
    with pytest.raises(ValueError, match="known: max_softmax"):
        score("energy", z)
    with pytest.raises(ValueError, match="positive"):
        temperature_softmax(z, 0)


# ------------------------------------------------------------------ deferral keep-scores

from littlebig_utils.core import engine  # noqa: E402
from littlebig_utils.core.checks import InputError  # noqa: E402
from littlebig_utils.core.scores import (C_GRID, KINDS, LearnedDeferral,  # noqa: E402
                                         confidence_score, oracle_score)


def _deferral_data(n=120, k=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    probs = softmax(rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y])
    lc = probs.argmax(1) == y
    bc = np.where(probs.argmax(1) < 2, rng.random(n) < 0.95, lc)
    return probs, lc, bc


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _reference_keep(X, lc, bc, X_new, C, seed, scale):
    """(1 + P(little right) - P(big right)) / 2 with scikit-learn's models written out."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    p = []
    for y in (lc, bc):
        if y.all() or not y.any():
            p.append(np.full(X_new.shape[0], y.mean()))
            continue
        m = LogisticRegression(C=C, max_iter=2000, random_state=seed)
        m = make_pipeline(StandardScaler(), m) if scale else m
        p.append(m.fit(X, y).predict_proba(X_new)[:, 1])
    return (1 + p[0] - p[1]) / 2


def _probs_features(p):
    top = -np.sort(-p, axis=1)[:, :3]
    ent = -(p * np.log(np.clip(p, 1e-12, 1))).sum(1, keepdims=True)
    return np.hstack([np.log(np.clip(p, 1e-12, 1)), _logit(top), ent, np.eye(p.shape[1])[p.argmax(1)]])


def test_oracle_and_confidence_scores_exact():
    lc = np.array([True, True, False, False])
    bc = np.array([True, False, True, False])
    np.testing.assert_array_equal(oracle_score(lc, bc), [0.5, 1.0, 0.0, 0.5])
    p = np.array([[0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_array_equal(confidence_score(p), [0.8, 0.6])
    with pytest.raises(InputError, match="^big_correct has 1 values, expected 4"):
        oracle_score(lc, bc[:1])


def test_features_of_each_kind_written_out():
    probs, _, _ = _deferral_data(12, k=5)
    probs[0] = [1.0, 0, 0, 0, 0]  # confidence exactly 1: the logit is clipped, not infinite
    X = LearnedDeferral("probs")._features(probs)
    np.testing.assert_allclose(X, _probs_features(probs))
    assert X.shape == (12, 5 + 3 + 1 + 5) and np.isfinite(X).all()
    rule = LearnedDeferral("per-class")
    Xc = rule._features(probs).toarray()
    assert rule.num_classes == 5  # taken from the probabilities
    want = np.hstack([_logit(probs.max(1))[:, None], np.eye(5)[probs.argmax(1)]])
    np.testing.assert_allclose(Xc, want)
    assert np.isfinite(Xc).all() and Xc[0, 0] == pytest.approx(np.log((1 - 1e-6) / 1e-6))
    Xz = LearnedDeferral("per-class", num_classes=3)._features_conf_pred([0.0, 0.5], [2, 0])
    np.testing.assert_allclose(Xz.toarray(), [[np.log(1e-6 / (1 - 1e-6)), 0, 0, 1],
                                              [0.0, 1, 0, 0]])


@pytest.mark.parametrize("kind", KINDS)
def test_learned_rule_with_fixed_C_equals_scikit_learn_written_out(kind):
    probs, lc, bc = _deferral_data()
    fit, new = slice(0, 80), slice(80, None)
    rule = LearnedDeferral(kind, C=0.3, seed=2).fit(probs[fit], lc[fit], bc[fit])
    assert rule.C_ == 0.3
    if kind == "probs":
        want = _reference_keep(_probs_features(probs[fit]), lc[fit], bc[fit],
                               _probs_features(probs[new]), 0.3, 2, scale=True)
    else:
        def feats(p):
            return np.hstack([_logit(p.max(1))[:, None], np.eye(4)[p.argmax(1)]])
        want = _reference_keep(feats(probs[fit]), lc[fit], bc[fit], feats(probs[new]), 0.3, 2,
                               scale=False)
    got = rule(probs[new])
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_array_equal(rule.score(probs[new]), got)
    assert ((got >= 0) & (got <= 1)).all()


def test_learned_rule_C_auto_is_the_best_two_fold_area():
    probs, lc, bc = _deferral_data(100, seed=3)
    conf, pred = probs.max(1), probs.argmax(1)
    rule = LearnedDeferral("per-class", num_classes=4, seed=5).fit_conf_pred(conf, pred, lc, bc)
    X = np.hstack([_logit(conf)[:, None], np.eye(4)[pred]])
    folds = np.random.default_rng(5).permutation(100) % 2
    areas = []
    for c in C_GRID:
        area = 0.0
        for f in (0, 1):
            tr, te = folds != f, folds == f
            keep = _reference_keep(X[tr], lc[tr], bc[tr], X[te], c, 5, scale=False)
            area += engine.curve_area(engine.deferral_curve(keep, lc[te], bc[te]))
        areas.append(area)
    assert len(set(np.round(areas, 9))) > 1  # the grid matters on these data
    assert rule.C_ == C_GRID[int(np.argmax(areas))]
    np.testing.assert_allclose(rule.score_conf_pred(conf, pred),
                               _reference_keep(X, lc, bc, X, rule.C_, 5, scale=False), atol=1e-6)


def test_learned_rule_with_one_class_outcomes_is_constant():
    probs, lc, _ = _deferral_data(40)
    rule = LearnedDeferral("per-class", C=1.0).fit(probs, lc, np.ones(40, bool))
    assert isinstance(rule.models_[1], float) and rule.models_[1] == 1.0
    np.testing.assert_allclose(rule(probs), _reference_keep(
        rule._features(probs).toarray(), lc, np.ones(40, bool), rule._features(probs).toarray(),
        1.0, 0, scale=False), atol=1e-6)


def test_learned_rule_bad_inputs_name_the_field():
    probs, lc, bc = _deferral_data(20)
    with pytest.raises(InputError, match="^unknown kind 'mlp'; choose one of per-class, probs$"):
        LearnedDeferral("mlp")
    for C in (0, -1.0, "big", None):
        with pytest.raises(InputError, match="^C must be a positive number or 'auto'"):
            LearnedDeferral("probs", C=C)
    assert LearnedDeferral("probs", C=2).C == 2
    with pytest.raises(RuntimeError, match="^fit the rule on a calibration split first$"):
        LearnedDeferral("probs")(probs)
    with pytest.raises(InputError, match="^big_correct has 3 values, expected 20"):
        LearnedDeferral("probs", C=1.0).fit(probs, lc, bc[:3])
    with pytest.raises(InputError, match="^little_correct must be booleans"):
        LearnedDeferral("probs", C=1.0).fit(probs, lc * 2, bc)
    with pytest.raises(InputError, match="^big_correct must be booleans"):
        LearnedDeferral("probs", C=1.0).fit(probs, lc, bc * 2)
    with pytest.raises(InputError, match="^20 feature rows for 3 samples"):
        LearnedDeferral("probs", C=1.0).fit(probs, lc[:3], bc[:3])
    with pytest.raises(InputError, match="^cannot fit a deferral rule on an empty"):
        LearnedDeferral("per-class", num_classes=4, C=1.0).fit_conf_pred([], [], [], [])
    with pytest.raises(InputError, match="^fit_conf_pred is for kind='per-class'"):
        LearnedDeferral("probs").fit_conf_pred(probs.max(1), probs.argmax(1), lc, bc)
    with pytest.raises(InputError, match=r"^predicted classes must lie in \[0, num_classes=None\)"):
        LearnedDeferral("per-class").fit_conf_pred([0.5], [0], [True], [False])
    with pytest.raises(InputError, match=r"num_classes=2\)"):
        LearnedDeferral("per-class", num_classes=2).fit_conf_pred([0.5], [-1], [True], [False])


def test_fit_temperature_refuses_mismatched_or_empty_labels():
    z = np.zeros((3, 2))
    for labels in ([0, 1], [], [0, 1, 0, 1]):
        with pytest.raises(InputError, match="^fit_temperature needs as many labels as logit rows"):
            fit_temperature(z if len(labels) else z[:0], labels)


def test_neg_entropy_of_exact_zeros_is_clean():
    import warnings
    z = np.array([[0.0, -1000.0, -1000.0], [0.0, 0.0, 0.0]])  # softmax underflows to exact 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(neg_entropy(z), [1.0, 0.0], atol=1e-12)


def test_per_class_scores_of_float32_confidences_are_computed_in_float64():
    probs, lc, bc = _deferral_data(60)
    conf, pred = probs.max(1), probs.argmax(1)
    rule = LearnedDeferral("per-class", num_classes=4, C=1.0).fit_conf_pred(conf, pred, lc, bc)
    c32 = conf.astype(np.float32)
    np.testing.assert_array_equal(rule.score_conf_pred(c32, pred),
                                  rule.score_conf_pred(c32.astype(np.float64), pred))
