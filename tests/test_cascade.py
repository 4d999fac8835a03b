"""The vectorized sweep against a brute-force loop, on random and on real predictions."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from hypothesis_budget import examples

from littlebig_utils.core import checks
from littlebig_utils.core import engine
from littlebig_utils.core import pairs as pt
from littlebig_utils.core.predictions import Predictions, PredictionsError


def brute_force(conf, lc, bc, thresholds, valid=None):
    """One threshold at a time, straight from the definition."""
    valid = np.ones(len(conf), bool) if valid is None else valid
    rows = []
    for t in thresholds:
        to_big = conf < t
        correct = np.where(to_big, bc, lc)
        rows.append((t, to_big.sum(), to_big.mean(), correct[valid].sum(),
                     correct[valid].mean()))
    return pd.DataFrame(rows, columns=["threshold", "n_big", "frac_big", "n_correct", "accuracy"])


def records(conf, lc, bc, n_classes=5, seed=0):
    rng = np.random.default_rng(seed)
    n = len(conf)
    labels = rng.integers(0, n_classes, n)
    wrong = (labels + 1) % n_classes
    ids = [f"s{i}" for i in range(n)]
    little = Predictions(ids, labels, np.where(lc, labels, wrong), conf, model={"name": "L", "gmacs": 1.0})
    big = Predictions(ids, labels, np.where(bc, labels, wrong), rng.uniform(size=n),
                      model={"name": "B", "gmacs": 4.0})
    return little, big


# confidences drawn from a small grid so that ties are frequent
conf_strategy = st.integers(1, 300).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])),
    arrays(bool, n), arrays(bool, n), arrays(bool, n)))


@settings(max_examples=examples(200), deadline=None)
@given(conf_strategy)
def test_sweep_equals_brute_force(data):
    conf, lc, bc, valid = data
    if not valid.any():
        valid[0] = True
    table = engine.sweep_arrays(conf, lc, bc, valid=valid, little_gmacs=1.0, big_gmacs=4.0)
    # every distinct threshold is present, including 0 and 1
    assert np.array_equal(table["threshold"], np.unique(np.r_[0.0, 1.0, conf]))
    ref = brute_force(conf, lc, bc, table["threshold"].to_numpy(), valid)
    for col in ["n_big", "n_correct"]:
        assert np.array_equal(table[col], ref[col]), col
    np.testing.assert_allclose(table["accuracy"], ref["accuracy"])
    np.testing.assert_allclose(table["frac_big"], ref["frac_big"])
    np.testing.assert_allclose(table["gmacs"], 1.0 + ref["frac_big"] * 4.0)


@settings(max_examples=examples(100), deadline=None)
@given(conf_strategy)
def test_no_loss_point_is_the_cheapest_qualifying_threshold(data):
    conf, lc, bc, _ = data
    table = engine.sweep_arrays(conf, lc, bc, little_gmacs=1.0, big_gmacs=4.0)
    point = engine.no_loss_point(table)
    ref = brute_force(conf, lc, bc, np.unique(np.r_[0.0, 1.0, conf]))
    ok = ref[ref["n_correct"] >= bc.sum()]
    if ok.empty:
        assert point is None
    else:
        assert point["n_big"] == ok["n_big"].min()
        assert point["n_correct"] >= bc.sum()


@pytest.mark.parametrize("lc_value,bc_value", [(True, True), (False, False), (True, False), (False, True)])
def test_all_correct_and_all_wrong_models(lc_value, bc_value):
    conf = np.random.default_rng(1).uniform(size=50)
    lc, bc = np.full(50, lc_value), np.full(50, bc_value)
    table = engine.sweep_arrays(conf, lc, bc, little_gmacs=1.0, big_gmacs=3.0)
    ref = brute_force(conf, lc, bc, table["threshold"].to_numpy())
    assert np.array_equal(table["n_correct"], ref["n_correct"])
    point = engine.no_loss_point(table)
    if lc_value >= bc_value:  # little at least as good: threshold 0, nothing escalated
        assert point["threshold"] == 0.0 and point["n_big"] == 0
    else:  # little always wrong, big always right: only "everything to big" matches
        assert point["frac_big"] == 1.0


def test_sweep_on_real_pair_matches_brute_force():
    from littlebig_utils.data import registry as data
    little = data.load_imagenet_predictions("mobilenetv3_large_100")
    big = data.load_imagenet_predictions("resnext50_32x4d")
    thresholds = np.linspace(0, 1, 41)
    table = engine.sweep(little, big, thresholds=thresholds)
    ref = brute_force(little.conf, little.correct, big.correct, thresholds)
    assert np.array_equal(table["n_correct"], ref["n_correct"])
    # the end points are the two models alone
    assert table["n_correct"].iloc[0] == little.correct.sum()
    full = engine.sweep(little, big, thresholds=[np.nextafter(little.conf.max(), 2)])
    assert full["n_correct"].iloc[0] == big.correct.sum()


def test_route_sends_strictly_below_threshold():
    conf = np.array([0.2, 0.5, 0.5, 0.9])
    to_big = engine.route(conf, 0.5)
    assert to_big.tolist() == [True, False, False, False]  # 0.5 is not below 0.5


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), "high", None])
def test_threshold_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match=r"threshold"):
        checks.check_threshold(bad)
    conf = np.array([0.3, 0.6])
    little, big = records(conf, np.array([1, 0], bool), np.array([1, 1], bool))
    with pytest.raises(ValueError, match=r"threshold"):
        engine.route(little.conf, bad)
    with pytest.raises(ValueError, match=r"threshold"):
        engine.sweep(little, big, thresholds=[0.5, bad])


def test_nan_confidences_are_refused():
    with pytest.raises(PredictionsError, match="NaN"):
        records(np.array([0.3, np.nan]), np.ones(2, bool), np.ones(2, bool))
    with pytest.raises(ValueError, match="NaN"):
        engine.sweep_arrays(np.array([0.3, np.nan]), np.ones(2, bool), np.ones(2, bool))


def test_budget_and_matched_accuracy_points():
    rng = np.random.default_rng(3)
    conf = rng.uniform(size=2000)
    lc = rng.uniform(size=2000) < conf  # confident -> more often right
    bc = rng.uniform(size=2000) < 0.9
    table = engine.sweep_arrays(conf, lc, bc, little_gmacs=1.0, big_gmacs=10.0)
    b = engine.budget_point(table, gmacs=3.0)
    within = table[table["gmacs"] <= 3.0]
    assert b["n_correct"] == within["n_correct"].max() and b["gmacs"] <= 3.0
    target = float(table["accuracy"].median())
    m = engine.matched_accuracy_point(table, target)
    assert m["accuracy"] >= target
    assert m["n_big"] == table[table["accuracy"] >= target]["n_big"].min()
    with pytest.raises(ValueError):
        engine.budget_point(table)


def test_pairs_table_contract_columns_and_degenerate_flag():
    rng = np.random.default_rng(0)
    conf = rng.uniform(size=500)
    a, b = records(conf, rng.uniform(size=500) < 0.6, rng.uniform(size=500) < 0.8)
    c, _ = records(rng.uniform(size=500), rng.uniform(size=500) < 0.9, np.ones(500, bool))
    recs = {"a": a, "b": b, "c": c}
    for k, r in recs.items():
        r.model["name"] = k
    t = pt.pairs_table(recs, {"a": 1.0, "b": 2.0, "c": 0.5})
    assert list(t.columns) == pt.PAIR_COLUMNS
    assert len(t) == 3  # ordered pairs with little cheaper than big
    row = t[(t.little == "c") & (t.big == "a")].iloc[0]
    assert row.degenerate == (row.little_accuracy >= row.big_accuracy)
    for _, r in t.iterrows():
        if not np.isnan(r.gmacs):
            assert r.gmacs == pytest.approx(r.little_gmacs + r.frac_big * r.big_gmacs)
            assert r.macs_reduction == pytest.approx(1 - r.gmacs / r.big_gmacs)
            assert r.accuracy >= r.big_accuracy - 1e-9


@settings(max_examples=examples(100), deadline=None)
@given(conf_strategy, st.sampled_from(["gmacs", "frac_big"]), st.floats(0, 1),
       st.sampled_from([(1.0, 4.0), (6e4, 4.1e5)]))
def test_budget_point_is_the_most_accurate_within_budget_then_cheapest(data, by, where, costs):
    """Against a loop: budgets landing exactly on an operating point include it, in GMACs or in
    a finer unit (MFLOPs: large numbers); among equally accurate points the one sending fewest
    samples to big wins."""
    conf, lc, bc, _ = data
    lg, bg = costs
    table = engine.sweep_arrays(conf, lc, bc, little_gmacs=lg, big_gmacs=bg)
    budget = float(np.quantile(table[by], where, method="nearest"))  # an attained value
    point = engine.budget_point(table, **{by: budget})
    ref = brute_force(conf, lc, bc, table["threshold"].to_numpy())
    ref["gmacs"] = lg + ref["frac_big"] * bg
    ok = ref[ref[by] <= budget]
    best = ok[ok["n_correct"] == ok["n_correct"].max()]
    assert point is not None
    assert point["n_correct"] == best["n_correct"].iloc[0]
    assert point["n_big"] == best["n_big"].min()
    assert point[by] <= budget


def test_budget_point_refuses_zero_or_two_budgets_and_finds_none_below_the_little_model():
    table = engine.sweep_arrays(np.array([0.2, 0.7]), np.array([0, 1], bool),
                                 np.array([1, 1], bool), little_gmacs=1.0, big_gmacs=4.0)
    for kw in ({}, {"gmacs": 2.0, "frac_big": 0.5}):
        with pytest.raises(ValueError, match="^give exactly one budget: gmacs or frac_big$"):
            engine.budget_point(table, **kw)
    assert engine.budget_point(table, gmacs=0.5) is None  # cheaper than the little model alone
    assert engine.budget_point(table, frac_big=0.5)["n_big"] == 1


@settings(max_examples=examples(60), deadline=None)
@given(conf_strategy)
def test_pair_summary_is_the_pairs_table_row_and_the_sweep_no_loss_point(data):
    conf, lc, bc, _ = data
    little, big = records(conf, lc, bc)
    row = pt.pair_summary(little, big)  # GMACs from the records' metadata (1 and 4)
    table_row = pt.pairs_table({"L": little, "B": big}, {"L": 1.0, "B": 4.0}).iloc[0]
    assert set(row) == set(pt.PAIR_COLUMNS)
    for k in pt.PAIR_COLUMNS:
        assert row[k] == table_row[k] or (pd.isna(row[k]) and pd.isna(table_row[k])), k
    assert (row["little"], row["big"], row["little_gmacs"], row["big_gmacs"]) == ("L", "B", 1.0, 4.0)
    point = engine.no_loss_point(engine.sweep(little, big))
    if point is None:
        assert np.isnan(row["threshold"]) and np.isnan(row["gmacs"])
    else:
        assert row["threshold"] == point["threshold"]
        assert row["frac_big"] == point["frac_big"] and row["gmacs"] == point["gmacs"]
        assert row["accuracy"] == pytest.approx(point["accuracy"])
    assert row["little_accuracy"] == pytest.approx(lc.mean())
    assert row["big_accuracy"] == pytest.approx(bc.mean())
    assert row["degenerate"] == bool(lc.sum() >= bc.sum())
    # explicit costs win over the metadata; records in another order are aligned first
    shuffled = big.subset(np.arange(len(big))[::-1])
    again = pt.pair_summary(little, shuffled, little_gmacs=2.0, big_gmacs=8.0)
    assert (again["little_gmacs"], again["big_gmacs"]) == (2.0, 8.0)
    assert again["threshold"] == row["threshold"] or np.isnan(row["threshold"])


def test_pair_summary_refuses_missing_costs_and_empty_records():
    little, big = records(np.array([0.3, 0.8]), np.array([0, 1], bool), np.array([1, 1], bool))
    del big.model["gmacs"]
    with pytest.raises(ValueError, match=r"GMACs of 'B' must be a finite positive number \(cost per sample, e.g. GMACs\), got None"):
        pt.pair_summary(little, big)
    assert pt.pair_summary(little, big, big_gmacs=4.0)["big_gmacs"] == 4.0
    del little.model["gmacs"]
    with pytest.raises(ValueError, match=r"GMACs of 'L' must be a finite positive number \(cost per sample, e.g. GMACs\), got None"):
        pt.pair_summary(little, big, big_gmacs=4.0)
    empty_l, empty_b = little.subset(np.arange(0)), big.subset(np.arange(0))
    with pytest.raises(ValueError, match="^the predictions hold no samples$"):
        pt.pair_summary(empty_l, empty_b, little_gmacs=1.0, big_gmacs=4.0)


def test_sweep_overrides_in_the_records_own_order_are_used_as_given():
    rng = np.random.default_rng(8)
    conf = rng.uniform(size=200)
    little, big = records(conf, rng.uniform(size=200) < 0.6, rng.uniform(size=200) < 0.8)
    other_lc, other_bc = rng.uniform(size=200) < 0.5, rng.uniform(size=200) < 0.9
    got = engine.sweep(little, big, little_correct=other_lc, big_correct=other_bc)
    want = engine.sweep_arrays(conf, other_lc, other_bc, little_gmacs=1.0, big_gmacs=4.0)
    pd.testing.assert_frame_equal(got, want)


# ------------------------------------------------------------------ "loses at most max_loss": once

def test_within_loss_divides_by_the_valid_samples_and_includes_the_boundary():
    """One definition: big_n_correct - n_correct <= max_loss * n_valid (exactly at the boundary
    qualifies; one more lost image does not). With a `valid` mask the denominator is n_valid,
    not n: here n = 200, n_valid = 100, so 0.02 allows 2 lost images, not 4."""
    conf = np.linspace(0.0, 0.99, 200)
    lc = np.ones(200, bool)
    bc = np.ones(200, bool)
    lc[150:154] = False              # the 4 most confident of these are kept longest
    valid = np.zeros(200, bool)
    valid[100:] = True               # only the upper half counts for accuracy
    t = engine.sweep_arrays(conf, lc, bc, valid=valid)
    lost = engine.total(t, "big_n_correct") - t["n_correct"]
    ok = engine.within_loss(t, 0.02)
    assert (ok == (lost <= 2)).all() and ok.any() and (~ok).any()
    assert engine.total(t, "n_valid") == 100
    point = engine.max_loss_point(t, 0.02)
    assert lost[t["threshold"] == point["threshold"]].iloc[0] == 2  # the boundary itself
    # the cheapest qualifying row: no row with fewer escalations qualifies
    assert not ok[t["n_big"] < point["n_big"]].any()
    assert engine.no_loss_point(t)["threshold"] == engine.max_loss_point(t, 0.0)["threshold"]


def test_cheapest_prefers_fewest_escalations_then_the_lowest_threshold():
    import pandas as pd
    t = pd.DataFrame({"threshold": [0.9, 0.3, 0.5, 0.7], "n_big": [5, 2, 2, 3]})
    assert engine.cheapest(t, [True, True, True, True])["threshold"] == 0.3
    assert engine.cheapest(t, [True, False, True, True])["threshold"] == 0.5
    assert engine.cheapest(t, [False] * 4) is None
