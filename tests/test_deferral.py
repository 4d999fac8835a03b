"""Deferral rules and curves against brute force on small data."""
import itertools

import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book.chapters import deferral_rules as chapter
from littlebig_utils.core import engine
from littlebig_utils.core import experiments
from littlebig_utils.core import scores


def _data(n=60, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    if ties:
        score = np.round(score, 1)
    lc = rng.random(n) < 0.3 + 0.6 * score
    bc = rng.random(n) < 0.8
    return score, lc, bc


def test_curve_equals_loop_over_thresholds():
    score, lc, bc = _data()
    curve = engine.deferral_curve(score, lc, bc)
    n = len(score)
    # brute force: every threshold between distinct scores, plus "defer nothing/everything"
    rows = []
    for t in np.r_[np.unique(score), np.inf]:
        to_big = score < t
        right = [bc[i] if to_big[i] else lc[i] for i in range(n)]
        rows.append((int(to_big.sum()), sum(right) / n))
    rows = sorted(set(rows))
    assert list(curve["n_deferred"]) == [k for k, _ in rows]
    np.testing.assert_allclose(curve["accuracy"], [a for _, a in rows])
    # the threshold column reproduces each row
    for _, r in curve.iterrows():
        assert (score < r["threshold"]).sum() == r["n_deferred"]


def test_accuracy_at_is_the_expected_accuracy_of_a_random_tie_split():
    score = np.array([0.1, 0.5, 0.5, 0.5, 0.5, 0.9])
    lc = np.array([0, 1, 0, 0, 1, 1], bool)
    bc = np.array([1, 1, 1, 0, 0, 0], bool)
    curve = engine.deferral_curve(score, lc, bc)
    for k in range(7):  # budget of k samples
        # exact expectation over every way to split the tie group
        accs = []
        for perm in itertools.permutations(range(1, 5)):
            order = [0, *perm, 5]
            to_big = np.zeros(6, bool)
            to_big[order[:k]] = True
            accs.append(np.where(to_big, bc, lc).mean())
        assert engine.accuracy_at(curve, [k / 6])[0] == pytest.approx(np.mean(accs))


def test_oracle_is_the_best_subset_at_every_budget():
    score, lc, bc = _data(10, seed=3, ties=False)
    curve = engine.deferral_curve(scores.oracle_score(lc, bc), lc, bc)
    for k in range(11):
        best = max(np.where(np.isin(np.arange(10), s), bc, lc).mean()
                   for s in itertools.combinations(range(10), k))
        assert engine.accuracy_at(curve, [k / 10])[0] == pytest.approx(best)
    conf_curve = engine.deferral_curve(score, lc, bc)
    grid = np.linspace(0, 1, 11)
    assert (engine.accuracy_at(curve, grid) >= engine.accuracy_at(conf_curve, grid) - 1e-12).all()


def test_curve_area_of_a_flat_curve_is_its_accuracy():
    lc = bc = np.array([1, 0, 1, 1], bool)
    assert engine.curve_area(engine.deferral_curve([0.2, 0.4, 0.6, 0.8], lc, bc)) == pytest.approx(0.75)


def _specialist(n=4000, seed=0):
    """Little: 10 classes, confidence uninformative about big; big right only on classes 0-2."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    logits = rng.normal(size=(n, 10)) + 2.5 * np.eye(10)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    lc = probs.argmax(1) == y
    bc = np.where(probs.argmax(1) < 3, rng.random(n) < 0.98, lc)  # specialist on classes 0-2
    return probs, lc, bc


@pytest.mark.parametrize("kind", scores.KINDS)
def test_learned_rule_beats_confidence_for_a_specialist(kind):
    probs, lc, bc = _specialist()
    fit, test = slice(0, 2000), slice(2000, None)
    rule = scores.LearnedDeferral(kind, seed=0).fit(probs[fit], lc[fit], bc[fit])
    learned = engine.deferral_curve(rule(probs[test]), lc[test], bc[test])
    conf = engine.deferral_curve(scores.confidence_score(probs[test]), lc[test], bc[test])
    assert rule.C_ in scores.C_GRID
    gain = engine.accuracy_at(learned, [0.1, 0.2]) - engine.accuracy_at(conf, [0.1, 0.2])
    assert (gain > 0.01).all(), gain


def test_per_class_rule_from_conf_and_pred_equals_the_probs_version():
    probs, lc, bc = _specialist(2000)
    a = scores.LearnedDeferral("per-class", C=0.3).fit(probs, lc, bc)
    b = scores.LearnedDeferral("per-class", num_classes=10, C=0.3).fit_conf_pred(
        probs.max(1), probs.argmax(1), lc, bc)
    np.testing.assert_allclose(a(probs), b.score_conf_pred(probs.max(1), probs.argmax(1)))
    s = a(probs)
    assert s.min() >= 0 and s.max() <= 1


def test_study_splits_fit_on_calibration_only_and_summaries():
    probs, lc, bc = _specialist(1000)
    seen = []

    def conf_rule(calib):
        seen.append(np.asarray(calib))
        return lambda idx, ev: probs[idx].max(1)

    def oracle(calib):
        return lambda idx, ev: scores.oracle_score(lc[idx], bc[idx])

    st = experiments.deferral_study({"confidence": conf_rule, "oracle": oracle}, lc, bc, n_splits=3,
                          calib_frac=0.4, shares=(0.1, 0.3))
    assert len(seen) == 3 and all(len(c) == 400 for c in seen)
    assert set(st["rule"]) == {"confidence", "oracle"}
    s = experiments.summarize_deferral(st)
    assert (s["min"] <= s["mean"]).all() and (s["mean"] <= s["max"]).all()
    g = experiments.paired_gain(st, "oracle")
    assert (g["min"] >= 0).all()  # the oracle never loses to confidence
    assert chapter.verdict(g) == "Reproduced"
    # one split's test accuracy by hand
    from littlebig_utils.core.engine import split_indices
    _, test = split_indices(1000, 0.4, seed=0 + 1)
    c = engine.deferral_curve(probs[test].max(1), lc[test], bc[test])
    row = st[(st["split"] == 1) & (st["rule"] == "confidence") & (st["share"] == 0.3)]
    assert row["accuracy"].iloc[0] == pytest.approx(engine.accuracy_at(c, [0.3])[0])


@pytest.mark.parametrize("gains, expected", [
    ([(0.01, 0.002)], "Reproduced"),
    ([(0.01, -0.002)], "Partly reproduced"),
    ([(-0.01, -0.02), (0.0, -0.01)], "Not reproduced"),
    ([], "Not testable here"),
])
def test_verdict_rules(gains, expected):
    df = pd.DataFrame(gains, columns=["mean", "min"])
    assert chapter.verdict(df) == expected


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="empty split"):
        engine.deferral_curve([], [], [])
    with pytest.raises(ValueError, match="NaN"):
        engine.deferral_curve([np.nan, 0.5], [True, True], [True, False])
    with pytest.raises(ValueError, match="little_correct has 2 values, expected 1"):
        engine.deferral_curve([0.5], [True, True], [True, False])
    with pytest.raises(ValueError, match="booleans"):
        engine.deferral_curve([0.5, 0.2], [2, 1], [True, False])
    with pytest.raises(ValueError, match="fractions"):
        engine.accuracy_at(engine.deferral_curve([0.5], [True], [True]), [20])
    with pytest.raises(ValueError, match="inputs='probs' needs rows of non-negative values"):
        scores.confidence_score(np.array([[2.0, -1.0]]))
    with pytest.raises(ValueError, match="unknown kind"):
        scores.LearnedDeferral("mlp")
    with pytest.raises(RuntimeError, match="fit"):
        scores.LearnedDeferral("probs")(np.array([[0.5, 0.5]]))
    with pytest.raises(ValueError, match="num_classes"):
        scores.LearnedDeferral("per-class", num_classes=3).fit_conf_pred([0.9], [5], [True], [True])


def test_human_labels_follow_the_soft_labels_and_the_seed():
    soft = np.tile([[0.7, 0.2, 0.1, 0.0]], (20000, 1))
    y = experiments.human_labels(soft, seed=1)
    np.testing.assert_allclose(np.bincount(y, minlength=4) / len(y), soft[0], atol=0.01)
    np.testing.assert_array_equal(y, experiments.human_labels(soft, seed=1))
    assert not np.array_equal(y, experiments.human_labels(soft, seed=2))
    with pytest.raises(ValueError, match="CIFAR-10H"):
        experiments.human_labels(np.array([[0.5, 0.6]]))


def test_regime_verdict_counts_its_rows():
    t = pd.DataFrame({"regime": ["a", "a", "b", "b", "b", "c", "d", "d"],
                      "eval": ["x", "y", "x", "y", "z", "x", "x", "y"],
                      "rule": ["r"] * 8,
                      "verdict": ["Reproduced", "Not reproduced",
                                  "Reproduced", "Not reproduced", "Not reproduced",
                                  "Not reproduced", "Partly reproduced", "Not reproduced"]})
    assert chapter.regime_verdicts(t).to_dict() == {"a": "Reproduced", "b": "Partly reproduced",
                                              "c": "Not reproduced", "d": "Partly reproduced"}


def test_guarantee_by_score_rows_are_the_certified_thresholds_judged_on_test():
    from littlebig_utils.core.ltt import wsr_threshold
    from littlebig_utils.core.engine import split_indices
    probs, lc, bc = _specialist(3000)
    df = experiments.guarantee_by_score((probs, lc, bc), 0.02, 0.1, n_splits=1, kind="per-class")
    assert len(df) == 4
    calib, test = split_indices(3000, 0.5, seed=0)
    cert = calib[1::2]
    conf = probs.max(1)
    t = wsr_threshold(conf[cert], lc[cert], bc[cert], 0.02, 0.1, order_seed=0)
    row = df[(df["score"] == "confidence") & (df["method"] == "wsr")].iloc[0]
    assert row["threshold"] == pytest.approx(t)
    to_big = conf[test] < t
    assert row["frac_big"] == pytest.approx(to_big.mean())
    assert row["loss"] == pytest.approx(bc[test].mean() - np.where(to_big, bc[test], lc[test]).mean())
