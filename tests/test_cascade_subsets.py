"""Thresholds chosen on one subset and applied to another, against per-subset loops."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from hypothesis_budget import examples
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core import engine
from littlebig_utils.core import pairs as pt

GRID = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]  # few values: ties, 0 and 1 are frequent

case = st.integers(2, 120).flatmap(lambda n: st.tuples(
    arrays(np.float64, n, elements=st.sampled_from(GRID)),
    arrays(bool, n), arrays(bool, n), arrays(bool, n),
    arrays(bool, (5, n))))


def loop_thresholds(conf, lc, bc, masks, valid):
    """One subset at a time, through the reference sweep and its no-loss point."""
    out = []
    for m in masks:
        if not m.any():
            out.append(np.nan)
            continue
        table = engine.sweep_arrays(conf[m], lc[m], bc[m], valid=valid[m])
        point = engine.no_loss_point(table)
        out.append(np.nan if point is None else float(point["threshold"]))
    return np.array(out)


@settings(max_examples=examples(300), deadline=None)
@given(case)
def test_no_loss_thresholds_equal_the_per_subset_sweep(data):
    conf, lc, bc, valid, masks = data
    masks[:, 0] = True  # no empty subset
    got = engine.no_loss_thresholds(conf, lc, bc, masks, valid=valid, chunk=2)
    np.testing.assert_array_equal(got, loop_thresholds(conf, lc, bc, masks, valid))


def test_no_loss_thresholds_on_real_predictions():
    from littlebig_utils.data import registry as data
    little = data.load_imagenet_predictions("mixnet_m")
    big = data.load_imagenet_predictions("resnet101")
    masks = engine.split_masks(len(little), 0.2, range(6))
    valid = np.ones(len(little), bool)
    got = engine.no_loss_thresholds(little.conf, little.correct, big.correct, masks)
    np.testing.assert_array_equal(got, loop_thresholds(little.conf, little.correct, big.correct,
                                                       masks, valid))
    # different splits choose different thresholds: the seeds really resample
    assert len(np.unique(got)) > 1


def brute_evaluate(conf, lc, bc, t, m, valid):
    to_big = (conf < t) & m
    right = np.where(to_big, bc, lc) & m & valid
    return to_big.sum(), right.sum(), (m & valid).sum()


@settings(max_examples=examples(200), deadline=None)
@given(case)
def test_evaluate_thresholds_equals_a_loop(data):
    conf, lc, bc, valid, masks = data
    masks[:, 0] = True
    valid[0] = True
    t = np.array(GRID[:5])
    t[2] = np.nan  # "no threshold found"
    table = engine.evaluate_thresholds(conf, lc, bc, t, masks, valid=valid, little_gmacs=1.0,
                                        big_gmacs=5.0, chunk=2)
    for s in range(5):
        row = table.iloc[s]
        if np.isnan(t[s]):
            assert np.isnan(row["accuracy"]) and np.isnan(row["gmacs"])
            continue
        n_big, n_correct, n_valid = brute_evaluate(conf, lc, bc, t[s], masks[s], valid)
        assert row["n_big"] == n_big and row["n_correct"] == n_correct
        assert row["accuracy"] == pytest.approx(n_correct / n_valid)
        assert row["big_accuracy"] == pytest.approx((bc & masks[s] & valid).sum() / n_valid)
        assert row["gmacs"] == pytest.approx(1.0 + 5.0 * n_big / masks[s].sum())


def test_evaluate_thresholds_matches_sweep_on_all_samples():
    rng = np.random.default_rng(0)
    conf = rng.uniform(size=300)
    lc, bc = rng.uniform(size=300) < conf, rng.uniform(size=300) < 0.8
    t = np.array([0.0, 0.3, 0.77, 1.0])
    got = engine.evaluate_thresholds(conf, lc, bc, t, little_gmacs=1.0, big_gmacs=3.0)
    ref = engine.sweep_arrays(conf, lc, bc, thresholds=t, little_gmacs=1.0, big_gmacs=3.0)
    for col in ["n_big", "n_correct", "frac_big", "accuracy", "gmacs", "macs_reduction"]:
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float), err_msg=col)


def test_split_masks_sizes_and_reproducibility():
    a = engine.split_masks(1000, 0.2, [3, 4, 5])
    assert a.shape == (3, 1000) and (a.sum(1) == 200).all()
    assert np.array_equal(engine.split_masks(1000, 0.2, [5])[0], a[2])  # seed, not position
    assert not np.array_equal(a[0], a[1])
    for bad in [0.0, 1.0, 1.5]:
        with pytest.raises(ValueError):
            engine.split_masks(1000, bad, [0])


def _record(name, ids, labels, preds, conf, gmacs):
    return Predictions(ids, labels, preds, conf, model={"name": name, "gmacs": gmacs})


def test_transfer_table_applies_fixed_thresholds_to_other_predictions(tmp_path):
    """Thresholds fixed on one dataset, applied to another saved as Predictions files."""
    rng = np.random.default_rng(1)
    n = 400
    gm = {"s": 1.0, "m": 2.0, "l": 8.0}
    labels = rng.integers(0, 10, n)

    def make(ids, acc, seed):
        r = np.random.default_rng(seed)
        out = {}
        for k, a in acc.items():
            right = r.uniform(size=len(ids)) < a
            conf = np.clip(r.uniform(size=len(ids)) * 0.5 + 0.5 * right, 0, 1)
            out[k] = _record(k, ids, labels[:len(ids)], np.where(right, labels[:len(ids)],
                             (labels[:len(ids)] + 1) % 10), conf, gm[k])
        return out

    fix = make([f"a{i}" for i in range(n)], {"s": 0.6, "m": 0.7, "l": 0.8}, 2)
    other = make([f"b{i}" for i in range(300)], {"s": 0.5, "m": 0.65, "l": 0.7}, 3)
    # a second dataset read back from Predictions files, with one record in another order
    for k, p in other.items():
        p.save(tmp_path / f"{k}.npz")
    loaded = {k: Predictions.load(tmp_path / f"{k}.npz") for k in gm}
    loaded["l"] = loaded["l"].subset(np.arange(300)[::-1])
    pairs = pt.pairs_table(fix, gm)
    out = pt.transfer_table(pairs, loaded)
    assert list(out.columns) == pt.TRANSFER_COLUMNS
    assert len(out) == pairs["threshold"].notna().sum()
    for _, r in out.iterrows():
        little, big = other[r["little"]], other[r["big"]]
        to_big = little.conf < r["threshold"]
        acc = np.where(to_big, big.correct, little.correct).mean()
        assert r["accuracy"] == pytest.approx(acc)
        assert r["accuracy_change"] == pytest.approx(acc - big.accuracy)
        assert r["gmacs"] == pytest.approx(gm[r["little"]] + to_big.mean() * gm[r["big"]])
    # overriding correctness (as with ReaL labels) changes accuracy, not the routing
    correct = {k: np.ones(300, bool) for k in gm}
    same = pt.transfer_table(pairs, other, correct=correct)
    assert (same["accuracy"] == 1).all() and np.allclose(same["frac_big"], out["frac_big"])
    with pytest.raises(ValueError, match=r"^'s' and 'l' list their samples in different orders; "
                       r"`correct` and `valid` need records in one order \(align them\)$"):
        pt.transfer_table(pairs, loaded, correct=correct)


def test_transfer_table_every_column_against_a_loop_and_skipped_pairs():
    """Each column from the definition; pairs without a threshold or a record are left out
    (wherever they stand in the pairs table), and the overrides are each model's own."""
    rng = np.random.default_rng(5)
    n = 500
    ids = [f"s{i}" for i in range(n)]
    labels = rng.integers(0, 10, n)
    recs = {}
    for k, acc, g in (("s", 0.55, 1.0), ("m", 0.7, 3.0), ("l", 0.85, 9.0)):
        right = rng.random(n) < acc
        recs[k] = _record(k, ids, labels, np.where(right, labels, (labels + 1) % 10),
                          np.clip(0.6 * rng.random(n) + 0.4 * right, 0, 1), g)
    gm = {"s": 1.0, "m": 3.0, "l": 9.0, "x": 2.0}
    pairs = pd.DataFrame([
        dict(little="s", big="m", threshold=np.nan),   # no threshold: left out
        dict(little="s", big="l", threshold=np.nan),   # idem, both records present
        dict(little="x", big="l", threshold=0.5),      # little model not in records
        dict(little="s", big="x", threshold=0.5),      # big model not in records
        dict(little="s", big="l", threshold=0.62),
        dict(little="m", big="l", threshold=0.8),
    ])
    pairs["little_gmacs"] = pairs["little"].map(gm)
    pairs["big_gmacs"] = pairs["big"].map(gm)
    correct = {k: rng.random(n) < 0.5 for k in recs}
    valid = rng.random(n) < 0.7

    def expected(little, big, t, lc, bc, v):
        to_big = recs[little].conf < t
        right = np.where(to_big, bc, lc)
        acc, big_acc = right[v].mean(), bc[v].mean()
        cost = gm[little] + to_big.mean() * gm[big]
        return dict(little=little, big=big, threshold=t, accuracy=acc, big_accuracy=big_acc,
                    little_accuracy=lc[v].mean(), accuracy_change=acc - big_acc,
                    frac_big=to_big.mean(), gmacs=cost,
                    macs_reduction=1 - cost / gm[big])

    everything = np.ones(n, bool)
    for kw in ({}, {"valid": valid}, {"correct": correct}, {"correct": correct, "valid": valid}):
        out = pt.transfer_table(pairs, recs, **kw)
        assert list(out.columns) == pt.TRANSFER_COLUMNS
        assert out[["little", "big"]].values.tolist() == [["s", "l"], ["m", "l"]], kw
        v = kw.get("valid", everything)
        for (_, row), (a, b, t) in zip(out.iterrows(), [("s", "l", 0.62), ("m", "l", 0.8)]):
            c = kw.get("correct", {k: r.correct for k, r in recs.items()})
            want = expected(a, b, t, c[a], c[b], v)
            for k, w in want.items():
                assert row[k] == (pytest.approx(w) if isinstance(w, float) else w), (kw, k)
    empty = pt.transfer_table(pairs.iloc[:4], recs)
    assert empty.empty and list(empty.columns) == pt.TRANSFER_COLUMNS
