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
