"""core.engine: the sweep engine against brute-force loops, boundaries and error messages
(small arrays: mutation testing runs these hundreds of times)."""
import warnings

import numpy as np
import pandas as pd
import pytest

from littlebig_utils.core import engine
from littlebig_utils.core.checks import InputError
from littlebig_utils.core.predictions import Predictions


def _data(n=50, seed=0):
    rng = np.random.default_rng(seed)
    conf = np.round(rng.random(n), 1)
    lc = rng.random(n) < 0.3 + 0.6 * conf
    bc = rng.random(n) < 0.8
    return conf, lc, bc


def test_costs_need_both_or_neither_and_name_each():
    conf, lc, bc = _data()
    with pytest.raises(InputError, match="^give both little_gmacs and big_gmacs, or neither$"):
        engine.sweep_arrays(conf, lc, bc, little_gmacs=1.0)
    with pytest.raises(InputError, match="^give both little_gmacs and big_gmacs, or neither$"):
        engine.evaluate_thresholds(conf, lc, bc, [0.5], big_gmacs=1.0)
    with pytest.raises(InputError, match="^little_gmacs must be a finite positive number"):
        engine.sweep_arrays(conf, lc, bc, little_gmacs=-1.0, big_gmacs=2.0)
    with pytest.raises(InputError, match="^big_gmacs must be a finite positive number"):
        engine.sweep_arrays(conf, lc, bc, little_gmacs=1.0, big_gmacs=0.0)
    t = engine.sweep_arrays(conf, lc, bc, [0.5], little_gmacs=1.0, big_gmacs=4.0).iloc[0]
    assert t["gmacs"] == pytest.approx(1.0 + 4.0 * (conf < 0.5).mean())
    assert t["macs_reduction"] == pytest.approx(1 - t["gmacs"] / 4.0)


def test_sweep_without_valid_samples_is_nan_without_warnings():
    conf, lc, bc = _data(10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = engine.sweep_arrays(conf, lc, bc, valid=np.zeros(10, bool))
        ev = engine.evaluate_thresholds(conf, lc, bc, [0.3, 0.6], masks=[np.zeros(10, bool),
                                                                         np.ones(10, bool)],
                                        valid=np.r_[np.zeros(5, bool), np.ones(5, bool)])
        empty = engine.sweep_arrays([], [], [])
    assert table["accuracy"].isna().all() and (table["n_valid"] == 0).all()
    assert ev["accuracy"].isna().iloc[0] and ev["frac_big"].isna().iloc[0]
    assert ev["n"].iloc[0] == 0 and ev["n_valid"].iloc[1] == 5
    assert empty["frac_big"].isna().all()
    for col in ("n", "n_valid", "n_big", "n_correct", "accuracy", "loss"):
        assert ev[col].dtype == np.float64, col


def test_evaluate_thresholds_equals_a_loop_over_rows():
    conf, lc, bc = _data(40, seed=3)
    rng = np.random.default_rng(1)
    t = [0.0, 0.35, None, 1.0, np.nan]
    masks = rng.random((5, 40)) < 0.7
    valid = rng.random(40) < 0.8
    for missing in ("nan", "big"):
        ev = engine.evaluate_thresholds(conf, lc, bc, t, masks, valid, 1.0, 5.0, missing, chunk=2)
        for i, x in enumerate(t):
            m, r = masks[i], ev.iloc[i]
            none = x is None or np.isnan(x)
            to_big = (conf < (2.0 if none else x)) & m
            right = np.where(to_big, bc, lc) & m & valid
            assert r["n"] == m.sum() and r["n_valid"] == (m & valid).sum()
            assert r["big_accuracy"] == pytest.approx((bc & m & valid).sum() / (m & valid).sum())
            assert r["little_accuracy"] == pytest.approx((lc & m & valid).sum() / (m & valid).sum())
            if none and missing == "nan":
                assert np.isnan(r["n_big"]) and np.isnan(r["accuracy"]) and np.isnan(r["gmacs"])
                continue
            assert r["n_big"] == to_big.sum() and r["n_correct"] == right.sum()
            assert r["frac_big"] == pytest.approx(to_big.sum() / m.sum())
            assert r["loss"] == pytest.approx(r["big_accuracy"] - right.sum() / (m & valid).sum())
            gmacs = 5.0 if none else 1.0 + 5.0 * to_big.sum() / m.sum()
            assert r["gmacs"] == pytest.approx(gmacs)
            assert r["macs_reduction"] == pytest.approx(1 - gmacs / 5.0)


def test_evaluate_thresholds_error_messages():
    conf, lc, bc = _data(6)
    with pytest.raises(InputError, match="^missing must be 'nan' or 'big', got 'zero'$"):
        engine.evaluate_thresholds(conf, lc, bc, [0.5], missing="zero")
    with pytest.raises(InputError, match=r"^masks have shape \(1, 5\), expected \(2, 6\)$"):
        engine.evaluate_thresholds(conf, lc, bc, [0.5, 0.6], masks=np.ones((1, 5), bool))
    with pytest.raises(InputError, match="^valid has 2 values, expected 6"):
        engine.evaluate_thresholds(conf, lc, bc, [0.5], valid=[True, False])
    with pytest.raises(InputError, match="^little_correct has 2 values, expected 6"):
        engine.evaluate_thresholds(conf, lc[:2], bc, [0.5])
    with pytest.raises(InputError, match="^big_correct has 2 values, expected 6"):
        engine.evaluate_thresholds(conf, lc, bc[:2], [0.5])
    with pytest.raises(InputError, match="^threshold must lie in"):
        engine.evaluate_thresholds(conf, lc, bc, [1.5])


def test_no_loss_thresholds_equal_the_sweep_per_subset_and_name_their_inputs():
    conf, lc, bc = _data(30, seed=2)
    conf[:3] = 1.0
    rng = np.random.default_rng(2)
    masks = rng.random((7, 30)) < 0.6
    valid = rng.random(30) < 0.9
    got = engine.no_loss_thresholds(conf, lc, bc, masks, valid, chunk=3)
    for m, g in zip(masks, got):
        p = engine.no_loss_point(engine.sweep_arrays(conf[m], lc[m], bc[m], valid=valid[m]))
        assert g == pytest.approx(np.nan if p is None else p["threshold"], nan_ok=True)
    with pytest.raises(InputError, match="^big_correct has 2 values, expected 30"):
        engine.no_loss_thresholds(conf, lc, bc[:2], masks)
    with pytest.raises(InputError, match="^little_correct has 2 values, expected 30"):
        engine.no_loss_thresholds(conf, lc[:2], bc, masks)
    with pytest.raises(InputError, match="^valid has 2 values, expected 30"):
        engine.no_loss_thresholds(conf, lc, bc, masks, [True, False])
    with pytest.raises(InputError, match="^masks have 4 columns, expected 30"):
        engine.no_loss_thresholds(conf, lc, bc, np.ones((2, 4), bool))


def test_split_indices_sizes_seeds_and_messages():
    calib, test = engine.split_indices(10, 0.3, 4)
    perm = np.random.default_rng(4).permutation(10)
    np.testing.assert_array_equal(calib, np.sort(perm[:3]))
    np.testing.assert_array_equal(test, np.sort(perm[3:]))
    with pytest.raises(InputError, match="leaves the calibration split empty"):
        engine.split_indices(10, 0.01, 0)
    with pytest.raises(InputError, match="leaves the test split empty"):
        engine.split_indices(10, 0.99, 0)
    got = [(s, list(c)) for s, c, _ in engine.splits(10, 0.3, 3, seed=2)]
    assert got == [(s, list(engine.split_indices(10, 0.3, 2 + s)[0])) for s in range(3)]
    with pytest.raises(InputError, match="^n_splits must be at least 1, got 0"):
        list(engine.splits(10, 0.3, 0))
    masks = engine.split_masks(10, 0.3, [2, 3])
    for row, seed in zip(masks, [2, 3]):
        np.testing.assert_array_equal(np.flatnonzero(row), engine.split_indices(10, 0.3, seed)[0])


def test_deferral_curve_area_exact():
    # scores 0.1 < 0.5 (tie of two) < 0.9; little right on 0, 3; big right on 1, 2, 3
    curve = engine.deferral_curve([0.1, 0.5, 0.5, 0.9], [True, False, False, True],
                                  [False, True, True, True])
    assert list(curve["n_deferred"]) == [0, 1, 3, 4]
    np.testing.assert_allclose(curve["accuracy"], [0.5, 0.25, 0.75, 0.75])
    np.testing.assert_allclose(curve["threshold"], [0.1, 0.5, 0.9, np.inf])
    # trapezoids over x = 0, .25, .75, 1
    area = 0.25 * (0.5 + 0.25) / 2 + 0.5 * (0.25 + 0.75) / 2 + 0.25 * (0.75 + 0.75) / 2
    assert engine.curve_area(curve) == pytest.approx(area)
    assert engine.accuracy_at(curve, [0.5])[0] == pytest.approx(0.5)
    with pytest.raises(InputError, match=r"^score must be 1-d \(one value per sample\)"):
        engine.deferral_curve([[0.1, 0.2]], [True], [True])
    with pytest.raises(InputError, match="^score contains NaN"):
        engine.deferral_curve([np.nan], [True], [True])


def test_sweep_of_records_realigns_overrides_by_sample_id():
    conf, lc, bc = _data(8, seed=5)
    ids = [f"s{i}" for i in range(8)]
    labels = np.zeros(8, int)
    little = Predictions(ids, labels, (~lc).astype(int), conf, model={"gmacs": 1.0})
    order = np.arange(8)[::-1]
    big = Predictions(np.array(ids)[order], labels, (~bc[order]).astype(int), np.full(8, 0.9),
                      model={"gmacs": 3.0})
    want = engine.sweep_arrays(conf, lc, bc, little_gmacs=1.0, big_gmacs=3.0)
    pd.testing.assert_frame_equal(engine.sweep(little, big), want)
    flip = ~bc
    got = engine.sweep(little, big, big_correct=flip[order], little_gmacs=2.0, big_gmacs=4.0)
    pd.testing.assert_frame_equal(got, engine.sweep_arrays(conf, lc, flip, little_gmacs=2.0,
                                                           big_gmacs=4.0))
    with pytest.raises(InputError, match="^big_correct has 3 values but its record has 8"):
        engine.sweep(little, big, big_correct=[True] * 3)
    nocost = Predictions(ids, labels, labels, conf)
    assert "gmacs" not in engine.sweep(nocost, big).columns


def test_operating_points_boundaries():
    # 10 samples; big right on all, little wrong on the two least confident
    conf = np.array([0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95])
    lc = np.arange(10) >= 2
    bc = np.ones(10, bool)
    table = engine.sweep_arrays(conf, lc, bc)
    assert engine.no_loss_point(table)["threshold"] == 0.25
    assert engine.max_loss_point(table, 0.1)["threshold"] == 0.15  # exactly 1 of 10 lost: allowed
    assert engine.max_loss_point(table, 0.099)["threshold"] == 0.25
    assert engine.matched_accuracy_point(table, 0.9)["threshold"] == 0.15
    assert engine.cheapest(table, np.zeros(len(table), bool)) is None
    b = engine.budget_point(table, frac_big=0.1)
    assert b["n_big"] == 1 and b["threshold"] == 0.15
    with pytest.raises(InputError, match="^give exactly one budget: gmacs or frac_big$"):
        engine.budget_point(table)
    assert bool(engine.loses_more(1, 4, 0.24)) and not engine.loses_more(1, 4, 0.25)
    with pytest.raises(KeyError, match="column 'n_valid' missing"):
        engine.total(table.drop(columns="n_valid"), "n_valid")
    with pytest.raises(InputError, match="^empty sweep table$"):
        engine.total(table.iloc[:0], "n")


def test_counts_and_candidates_by_brute_force():
    conf, lc, bc = _data(20, seed=7)
    t = np.array([0.0, 0.3, 0.35, 1.0])
    k, (a, b), (ta, tb) = engine.counts_below(conf, t, lc, bc)
    for i, x in enumerate(t):
        assert k[i] == (conf < x).sum()
        assert a[i] == lc[conf < x].sum() and b[i] == bc[conf < x].sum()
    assert (ta, tb) == (lc.sum(), bc.sum())
    np.testing.assert_array_equal(engine.candidate_thresholds(conf),
                                  np.unique(np.r_[0.0, 1.0, conf]))
    lt = engine.loss_table(conf, lc, bc, [0.0, 0.5])
    for _, r in lt.iterrows():
        kept = conf >= r["threshold"]
        assert r["n_loss"] == (kept & ~lc & bc).sum() and r["n_gain"] == (kept & lc & ~bc).sum()
        assert r["risk"] == pytest.approx((r["n_loss"] - r["n_gain"]) / 20)
    np.testing.assert_array_equal(engine.rank_thresholds([0.5, 0.1, 0.9, 0.3], [0.5]),
                                  [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(engine.rank_thresholds([], [0.5]), [0.0, 1.0])
    np.testing.assert_array_equal(engine.route([0.2, 0.5, 0.7], 0.5), [True, False, False])
