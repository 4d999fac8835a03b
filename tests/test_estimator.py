"""The public Cascade API against plain loops, Predictions against arrays, and its errors."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from hypothesis_budget import examples

from littlebig_utils import Cascade
from littlebig_utils import CascadeReport
from littlebig_utils import Predictions
from littlebig_utils.core import estimator
from littlebig_utils.core import scores
from littlebig_utils.core import ltt


def make(seed, n=300, c=4, probs=False):
    """Random logits for a little and a big model whose confidence tracks correctness."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    little = rng.normal(0, 1, (n, c))
    big = rng.normal(0, 1, (n, c))
    little[np.arange(n), y] += rng.uniform(0, 2.5, n)
    big[np.arange(n), y] += rng.uniform(0.5, 3.5, n)
    little = np.round(little, 1)  # ties in confidence
    if probs:
        little, big = scores.softmax(little), scores.softmax(big)
    return little, big, y


def loop_truth(little, big, y):
    """conf (the package's softmax, to the last bit: T is compared with it), little right,
    big right, one sample at a time."""
    conf, lc, bc = list(scores.max_softmax(little)), [], []
    for i in range(len(y)):
        lc.append(int(np.argmax(little[i])) == y[i])
        bc.append(int(np.argmax(big[i])) == y[i])
    return np.array(conf), np.array(lc), np.array(bc)


def loop_rule(conf, lc, bc, tolerance):
    """Cheapest candidate T (fewest escalations, then lowest T) within `tolerance` samples."""
    n = len(conf)
    cands = sorted(set([0.0, 1.0] + list(conf)))
    best = None
    for t in cands:
        right = sum(bc[i] if conf[i] < t else lc[i] for i in range(n))
        n_big = sum(conf[i] < t for i in range(n))
        if right >= sum(bc) - tolerance - 1e-9 and (best is None or n_big < best[0]):
            best = (n_big, t)
    return None if best is None else best[1]


@settings(max_examples=examples(25), deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([0.0, 0.01, 0.05]))
def test_fit_and_evaluate_equal_a_plain_loop(seed, max_loss):
    little, big, y = make(seed, n=int(np.random.default_rng(seed).integers(5, 120)))
    conf, lc, bc = loop_truth(little, big, y)
    rule = "no_loss" if max_loss == 0 else "max_loss"
    casc = Cascade(rule=rule, max_loss=max_loss, costs=(1.0, 5.0)).fit(little, big, y)
    expected = loop_rule(conf, lc, bc, max_loss * len(y))
    assert casc.threshold_ == pytest.approx(expected, abs=1e-12)
    rep = casc.evaluate(little, big, y)
    to_big = conf < casc.threshold_
    right = np.where(to_big, bc, lc)
    assert rep.accuracy == pytest.approx(right.mean())
    assert rep.little_accuracy == pytest.approx(lc.mean())
    assert rep.big_accuracy == pytest.approx(bc.mean())
    assert rep.accuracy_loss == pytest.approx(bc.mean() - right.mean())
    assert rep.frac_big == pytest.approx(to_big.mean())
    assert rep.cost == pytest.approx(1.0 + 5.0 * to_big.mean())
    assert rep.cost_reduction == pytest.approx(1 - (1.0 + 5.0 * to_big.mean()) / 5.0)
    assert np.array_equal(casc.route(little), to_big)


@pytest.mark.parametrize("seed", range(4))
def test_guaranteed_equals_a_fixed_sequence_loop_over_exact_bounds(seed):
    from scipy.stats import binomtest
    little, big, y = make(seed, n=400)
    conf, lc, bc = loop_truth(little, big, y)
    eps, delta = 0.05, 0.1
    casc = Cascade(rule="guaranteed", max_loss=eps, delta=delta).fit(little, big, y)
    chosen = None
    for t in sorted(set([0.0, 1.0] + list(conf)), reverse=True):
        kept = conf >= t
        k_loss, k_gain = int((kept & ~lc & bc).sum()), int((kept & lc & ~bc).sum())
        ucb = binomtest(k_loss, len(y)).proportion_ci(1 - delta, "exact").high
        lcb = binomtest(k_gain, len(y)).proportion_ci(1 - delta, "exact").low
        if ucb - lcb > eps:
            break
        chosen = t
    assert casc.threshold_ == (None if chosen is None else pytest.approx(chosen))


def test_curve_equals_a_loop_and_needs_no_fit():
    little, big, y = make(3, n=80)
    conf, lc, bc = loop_truth(little, big, y)
    curve = Cascade(costs=(2.0, 8.0)).curve(little, big, y)
    for _, r in curve.iterrows():
        to_big = conf < r["threshold"]
        acc = np.where(to_big, bc, lc).mean()
        assert r["accuracy"] == pytest.approx(acc) and r["frac_big"] == pytest.approx(to_big.mean())
        assert r["accuracy_loss"] == pytest.approx(bc.mean() - acc)
        assert r["cost"] == pytest.approx(2 + 8 * to_big.mean())
        assert r["cost_reduction"] == pytest.approx(1 - (2 + 8 * to_big.mean()) / 8)


@pytest.mark.parametrize("rule", ["no_loss", "max_loss", "guaranteed"])
def test_predictions_and_arrays_give_the_same_answer(rule):
    little, big, y = make(5, n=3000, c=10)
    little, big = little.astype(np.float32), big.astype(np.float32)  # as Predictions store them
    ids = np.array([f"s{i}" for i in range(len(y))])

    def rec(logits, name, gmacs, order):
        p = scores.softmax(logits)
        return Predictions(ids[order], y[order], p.argmax(1)[order], p.max(1)[order],
                           logits[order], model={"name": name, "gmacs": gmacs})

    lp = rec(little, "L", 1.0, np.arange(len(y)))
    bp = rec(big, "B", 4.0, np.arange(len(y))[::-1])  # another order: aligned by sample id
    kw = dict(rule=rule, max_loss=0.02, delta=0.1)
    a = Cascade(**kw, costs=(1.0, 4.0)).fit(little, big, y)
    p = Cascade(**kw).fit(lp, bp)  # costs from the GMACs metadata
    assert a.threshold_ == p.threshold_ and a.n_fit_ == p.n_fit_ == len(y)
    assert a.evaluate(little, big, y) == p.evaluate(lp, bp)
    pd.testing.assert_frame_equal(a.curve(little, big, y), p.curve(lp, bp))
    assert np.array_equal(a.route(little), p.route(lp))
    # probabilities instead of logits: the same cascade
    pl, pb = scores.softmax(little), scores.softmax(big)
    assert Cascade(**kw).fit(pl, pb, y).threshold_ == a.threshold_
    # another score needs logits, which these Predictions carry
    m = Cascade(rule="no_loss", score="margin").fit(lp, bp)
    assert m.threshold_ == Cascade(rule="no_loss", score="margin").fit(little, big, y).threshold_


def test_y_replaces_the_labels_of_predictions():
    little, big, y = make(6, n=500)
    ids = [f"s{i}" for i in range(len(y))]
    lp = Predictions(ids, y, little.argmax(1), scores.max_softmax(little), model={"name": "L"})
    bp = Predictions(ids, y, big.argmax(1), scores.max_softmax(big), model={"name": "B"})
    other = (y + (np.arange(len(y)) % 7 == 0)) % 4
    rep = Cascade().fit(lp, bp, other).evaluate(lp, bp, other)
    assert rep.big_accuracy == pytest.approx((big.argmax(1) == other).mean())


def test_callable_score_and_route_with_no_threshold():
    little, big, y = make(7, n=200)
    casc = Cascade(score=lambda p: 1 - p[:, 0]).fit(little, big, y)
    assert np.array_equal(casc.route(little),
                          (1 - scores.softmax(little)[:, 0]) < casc.threshold_)
    tiny = Cascade(rule="guaranteed", max_loss=0.0).fit(little[:20], big[:20], y[:20])
    assert tiny.threshold_ is None  # nothing certified on 20 samples
    assert tiny.route(little).all()
    rep = tiny.evaluate(little, big, y)
    assert rep.frac_big == 1 and rep.accuracy == rep.big_accuracy and rep.accuracy_loss == 0
    frame = rep.to_frame()
    assert len(frame) == 1 and np.isnan(frame["threshold"].iloc[0])


def bad_inputs():
    little, big, y = make(8, n=30)
    nan = little.copy()
    nan[0, 0] = np.nan
    lp = Predictions([f"s{i}" for i in range(30)], y, little.argmax(1),
                     scores.max_softmax(little), model={"name": "L"})
    return [
        ((little, big, None), "y .*required"),
        ((little, big, y[:-1]), r"y has 29 values, expected 30 \(one per sample\)"),
        ((little, big, y + 4), r"\[0, 4\)"),
        ((little, big, -y - 1), "class indices >= 0"),
        ((little, big, y + 0.5), "integer"),
        ((nan, big, y), "NaN"),
        ((little, big[:, :3], y), "same shape"),
        ((little[:0], big[:0], y[:0]), "no samples"),
        ((little[:, 0], big, y), "2-D"),
        ((lp, big, y), "both as arrays or both as Predictions"),
    ]


@pytest.mark.parametrize("case", range(10))
def test_bad_inputs_give_one_clear_error(case):
    args, match = bad_inputs()[case]
    with pytest.raises(estimator.CascadeInputError, match=match):
        Cascade().fit(*args)


@pytest.mark.parametrize("kw,match", [
    (dict(rule="cheap"), "unknown rule"), (dict(max_loss=0.5 + 1), "as a fraction it means 150"),
    (dict(max_loss=-0.01), "max_loss must be >= 0"), (dict(rule="guaranteed", delta=0), "delta"),
    (dict(rule="guaranteed", method="bonferroni"), "unknown method"),
    (dict(costs=(1.0, float("nan"))), "positive"), (dict(costs=(0.0, 1.0)), "positive"),
    (dict(score="entropy"), "unknown score"),
])
def test_bad_options_are_refused(kw, match):
    """__init__ only stores (scikit-learn's rule); fit refuses, with one line."""
    casc = Cascade(**kw)
    assert casc.get_params()[next(iter(kw))] == kw[next(iter(kw))]
    with pytest.raises(ValueError, match=match):
        casc.fit(*make(1, n=20))


def test_route_before_fit_and_missing_logits():
    little, big, y = make(9, n=30)
    with pytest.raises(estimator.NotFittedError, match="fit"):
        Cascade().route(little)
    lp = Predictions([f"s{i}" for i in range(30)], y, little.argmax(1),
                     scores.max_softmax(little), model={"name": "L"})
    with pytest.raises(ValueError, match="needs logits.*max_softmax"):
        Cascade(score="margin").fit(lp, lp)


def test_a_registered_method_gets_the_calibration_arrays():
    seen = {}

    def everything(**kw):
        seen.update(kw)
        return np.ones(len(kw["thresholds"]), bool)

    saved = ltt.METHODS["binomial"]
    ltt.register_method("binomial", everything)  # a new implementation of a registered name
    try:
        little, big, y = make(10, n=100)
        casc = Cascade(rule="guaranteed", max_loss=0.01, method="binomial").fit(little, big, y)
        assert casc.threshold_ == 0.0  # every hypothesis rejected: the cheapest T
        assert len(seen["conf"]) == 100 and seen["max_loss"] == pytest.approx(0.01)
        assert seen["thresholds"][0] == 1.0  # descending T
    finally:
        ltt.register_method("binomial", saved)
    with pytest.raises(ValueError, match="unknown method 'test-all'"):
        ltt.register_method("test-all", everything)  # names.METHODS is the one list


def test_contract_example_runs_on_real_predictions():
    from littlebig_utils.data import registry as data
    little = data.load_imagenet_predictions("mobilenetv3_large_100")
    big = data.load_imagenet_predictions("resnext50_32x4d")
    casc = Cascade(rule="guaranteed", max_loss=0.005, delta=0.05, method="clopper-pearson",
                   costs=(0.22, 4.26))
    casc.fit(little, big)
    to_big = casc.route(little)
    report = casc.evaluate(little, big)
    curve = casc.curve(little, big)
    assert isinstance(report, CascadeReport) and 0 < casc.threshold_ < 1
    assert report.frac_big == pytest.approx(to_big.mean())
    assert report.accuracy_loss <= 0.005  # on its own fit data, the bound holds a fortiori
    assert list(report.to_frame().columns)[:3] == ["threshold", "n", "accuracy"]
    assert {"cost", "cost_reduction", "accuracy", "frac_big"} <= set(curve.columns)


def test_import_is_light():
    import subprocess
    import sys
    code = "import sys, littlebig_utils; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_import_leaves_warning_filters_alone_and_names_load_lazily():
    """Importing the package must not change process-global state (no warnings filter)."""
    import subprocess
    import sys
    code = ("import sys, warnings; before = list(warnings.filters); import littlebig_utils as lb; "
            "assert warnings.filters == before, 'filters changed'; "
            "assert 'pandas' not in sys.modules, 'pandas loaded at import'; "
            "from littlebig_utils import Cascade, Predictions; print(Cascade.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Cascade"


# ------------------------------------------------------------------ scikit-learn conventions

def test_init_only_stores_and_get_set_params_and_clone_work():
    from sklearn.base import clone
    casc = Cascade(rule="guaranteed", max_loss=0.5, method=["wsr"], costs=5)  # stored, not checked
    assert casc.get_params() == dict(rule="guaranteed", max_loss=0.5, delta=0.05, method=["wsr"],
                                     costs=5, score="max_softmax", inputs="auto")
    casc.set_params(max_loss=0.01, method="wsr", costs=(1.0, 4.0))
    assert (casc.max_loss, casc.method, casc.costs) == (0.01, "wsr", (1.0, 4.0))
    little, big, y = make(3, n=200)
    casc.fit(little, big, y)
    twin = clone(casc)
    assert twin.get_params() == casc.get_params() and not hasattr(twin, "threshold_")
    assert twin.fit(little, big, y).threshold_ == casc.threshold_
    assert "max_loss=0.01" in repr(casc)


def test_fitted_attributes_end_in_underscore_and_a_refit_overwrites_them():
    a, b, y = make(4, n=200)
    casc = Cascade(rule="max_loss", max_loss=0.05).fit(a, b, y)
    first = (casc.threshold_, casc.n_fit_, casc.n_classes_, casc.result_)
    assert casc.n_fit_ == 200 and casc.n_classes_ == 4
    c, d, z = make(5, n=50, c=6)
    casc.fit(c, d, z)
    assert (casc.n_fit_, casc.n_classes_) == (50, 6) and casc.result_ is not first[3]
    assert casc.threshold_ == Cascade(rule="max_loss", max_loss=0.05).fit(c, d, z).threshold_
    fitted = {k for k in vars(casc) if k.endswith("_")}
    assert fitted == {"threshold_", "result_", "n_fit_", "n_classes_"}


@pytest.mark.parametrize("kw,match", [
    (dict(method=["wsr"]), "unknown method \\['wsr'\\]"), (dict(score=["margin"]), "unknown score"),
    (dict(costs=5), "costs must be a pair"), (dict(max_loss=0.5), "if you meant 0.5 points pass 0.005"),
    (dict(inputs="guess"), "unknown inputs"),
])
def test_bad_parameters_name_the_field_instead_of_a_type_error(kw, match):
    with pytest.raises(estimator.CascadeInputError, match=match):
        Cascade(**kw).fit(*make(2, n=20))


@pytest.mark.parametrize("bad,match", [
    (lambda y: y.astype(float) + 0.5, "non-integer"), (lambda y: np.where(y == 0, -1, y), ">= 0"),
    (lambda y: np.array(["cat", "dog"] * (len(y) // 2)), "dtype <U3"),
    (lambda y: np.where(y == 0, np.nan, y), "NaN"),
])
def test_bad_labels_name_y(bad, match):
    little, big, y = make(6, n=20)
    with pytest.raises(estimator.CascadeInputError, match=f"^y .*{match}"):
        Cascade().fit(little, big, bad(y))


def test_route_refuses_another_class_count_than_fit_saw():
    little, big, y = make(7, n=100, c=4)
    casc = Cascade().fit(little, big, y)
    other, _, _ = make(7, n=10, c=5)
    with pytest.raises(estimator.CascadeInputError, match="little has 5 classes but the cascade "
                                                          "was fitted on 4"):
        casc.route(other)
    assert casc.route(little[:10]).shape == (10,)


# ------------------------------------------------------------------ probabilities vs logits

def _probs(seed=0, n=2000, c=10):
    """Probabilities of two models (the little one informative about its own errors)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    lo, bi = rng.normal(0, 1, (n, c)), rng.normal(0, 1, (n, c))
    lo[np.arange(n), y] += rng.uniform(0, 3, n)
    bi[np.arange(n), y] += rng.uniform(1, 4, n)
    return scores.softmax(lo), scores.softmax(bi), y


def test_probabilities_rounded_to_4_decimals_are_never_softmaxed_silently():
    """Issue 17: `Cascade().fit(np.round(p_little, 4), np.round(p_big, 4), y)` took the rounded
    probabilities for logits and softmaxed them again (threshold 0.150 instead of 0.519)."""
    p_little, p_big, y = _probs()
    rl, rb = np.round(p_little, 4), np.round(p_big, 4)
    assert np.abs(rl.sum(1) - 1).max() > 1e-5  # the rows no longer sum to 1 exactly
    with pytest.raises(estimator.CascadeInputError,
                       match="cannot tell probabilities from logits.*inputs='probs' or inputs='logits'"):
        Cascade().fit(rl, rb, y)
    exact = Cascade().fit(p_little, p_big, y).threshold_
    said = Cascade(inputs="probs").fit(rl, rb, y).threshold_
    assert said == pytest.approx(exact, abs=1e-4)  # the same T, up to the rounding
    twice = Cascade(inputs="logits").fit(rl, rb, y).threshold_  # what the old guess did
    assert twice < 0.5 * exact  # softmax of probabilities: a very different threshold
    # routing the exact probabilities with the intended model agrees with the exact fit
    casc = Cascade(inputs="probs").fit(rl, rb, y)
    assert (casc.route(p_little) == Cascade().fit(p_little, p_big, y).route(p_little)).mean() > 0.99


def test_unambiguous_inputs_need_no_declaration():
    little, big, y = make(11, n=200)                     # logits with negative values
    assert Cascade().fit(little, big, y).threshold_ == \
        Cascade(inputs="logits").fit(little, big, y).threshold_
    p_little, p_big, y = _probs(1, n=300)
    assert Cascade().fit(p_little, p_big, y).threshold_ == \
        Cascade(inputs="probs").fit(p_little, p_big, y).threshold_


def test_repr_shows_exactly_the_parameters_that_differ_from_the_defaults():
    assert repr(Cascade()) == "Cascade()"
    assert repr(Cascade(rule="max_loss", max_loss=0.01)) == "Cascade(rule='max_loss', max_loss=0.01)"
    assert repr(Cascade(max_loss=0)) == "Cascade(max_loss=0)"  # an int is not the float default
    assert repr(Cascade(costs=np.array([1.0, 2.0]))) == "Cascade(costs=array([1., 2.]))"


def _records(c_little=4, c_big=4, n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, min(c_little, c_big), n)
    ids = [f"s{i}" for i in range(n)]
    out = []
    for name, c in (("lit", c_little), ("big", c_big)):
        z = rng.normal(size=(n, c))
        p = scores.softmax(z)
        out.append(Predictions(ids, y, p.argmax(1), p.max(1), logits=z, model={"name": name}))
    return out


def test_errors_name_the_input_and_the_fix():
    lit, big = _records()
    with pytest.raises(ValueError, match="^y has 3 values, expected 60"):
        Cascade().fit(lit, big, y=[0, 1, 2])
    a, b, y = make(1, n=20, probs=True)
    with pytest.raises(ValueError, match="^y has 3 values, expected 20"):
        Cascade().fit(a, b, y[:3])
    with pytest.raises(ValueError, match=r"^y must lie in \[0, 4\)"):
        Cascade().fit(a, b, y + 4)
    with pytest.raises(ValueError, match="^big: cannot tell probabilities from logits"):
        Cascade().fit(a, np.round(b, 2) * 0.99, y)
    with pytest.raises(ValueError, match=r"^little \(20, 4\) and big \(19, 4\) must have the same "
                       r"shape \(same samples in the same order, same classes\)$"):
        Cascade().fit(a, b[:19], y)
    with pytest.raises(ValueError, match=r"^the score callable must return finite values in \[0, 1\] "
                       r"\(higher = keep with little\); map it there, e.g. a sigmoid$"):
        Cascade(score=lambda p: p.max(1) * 2).fit(a, b, y)
    bad = Predictions(lit.sample_ids, lit.labels, lit.preds, lit.conf,
                      logits=np.full((60, 4), np.nan), model={"name": "lit"})
    with pytest.raises(ValueError, match="^logits of 'lit': 240 values are NaN or infinite"):
        Cascade(score="margin").fit(bad, big)


def test_route_refuses_predictions_of_another_label_space():
    lit, big = _records()
    casc = Cascade().fit(lit, big)
    assert casc.n_classes_ == 4
    other, _ = _records(c_little=5)
    with pytest.raises(ValueError, match="^little has 5 classes but the cascade was fitted on 4"):
        casc.route(other)


def test_curve_columns_by_hand():
    a, b, y = make(2, n=40, probs=True)
    cur = Cascade(costs=(1.0, 3.0)).curve(a, b, y)
    assert list(cur.columns) == ["threshold", "n_big", "frac_big", "n_correct", "accuracy",
                                 "accuracy_loss", "n", "little_accuracy", "big_accuracy", "cost",
                                 "cost_reduction"]
    conf = a.max(1)
    for _, r in cur.iterrows():
        to_big = conf < r["threshold"]
        assert r["n_big"] == to_big.sum()
        assert r["cost"] == pytest.approx(1.0 + 3.0 * to_big.mean())
