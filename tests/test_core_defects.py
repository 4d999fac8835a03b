"""Regression tests for the core defects of issue 11 (each fails on the code before the fix),
the golden pairs table, and tests that kill the mutants named in the issue."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from littlebig_utils.core import engine
from littlebig_utils.core import experiments
from littlebig_utils.core import ltt
from littlebig_utils.core import pairs as pt
from littlebig_utils import cli
from littlebig_utils.core.predictions import Predictions
from reference_impl import fixed_sequence
from test_cli import _save_pair

GOLDEN = Path(__file__).parent / "golden" / "pairs_imagenet_val.csv"


def draw(rng, n):
    conf = np.round(rng.uniform(size=n), 3)
    lc = rng.uniform(size=n) < 0.3 + 0.6 * conf
    bc = rng.uniform(size=n) < 0.85
    return conf, lc, bc


# ------------------------------------------------------------------ golden pairs table

def test_pairs_cli_equals_the_golden_table(tmp_path):
    """`littlebig pairs --dataset imagenet-val` against a committed table (computed by the
    per-pair implementation before the fast one replaced it)."""
    out = tmp_path / "pairs.csv"
    assert cli.main(["pairs", "--dataset", "imagenet-val", "--out", str(out)]) == 0
    got, want = pd.read_csv(out), pd.read_csv(GOLDEN)
    assert list(got.columns) == list(want.columns) == pt.PAIR_COLUMNS
    for col in ["little", "big", "degenerate"]:
        assert got[col].tolist() == want[col].tolist(), col
    for col in ["threshold", "accuracy", "little_accuracy", "big_accuracy", "gmacs",
                "little_gmacs", "big_gmacs", "macs_reduction", "frac_big"]:
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, atol=0, err_msg=col)


# ------------------------------------------------------------------ sweeps survive a CSV

def test_a_sweep_saved_as_csv_gives_the_same_no_loss_point(tmp_path):
    rng = np.random.default_rng(0)
    conf, lc, bc = draw(rng, 2000)
    table = engine.sweep_arrays(conf, lc, bc, little_gmacs=1.0, big_gmacs=5.0)
    table.to_csv(tmp_path / "s.csv", index=False)
    back = pd.read_csv(tmp_path / "s.csv")
    assert engine.no_loss_point(back)["threshold"] == engine.no_loss_point(table)["threshold"]
    assert engine.total(back, "big_n_correct") == bc.sum()
    r = ltt.empirical_threshold(conf, lc, bc)
    assert r.threshold == engine.no_loss_point(back)["threshold"]


# ------------------------------------------------------------------ defect 5: empty splits

from test_cli import _save_pair  # noqa: E402  (one helper for both files)


@pytest.mark.parametrize("n,frac", [(200, "0.999999"), (200, "0.000001"), (1, "0.5"),
                                    (0, "0.5")])
def test_threshold_cli_refuses_an_empty_split(tmp_path, capsys, n, frac):
    lf, bf = _save_pair(tmp_path, n)
    out = tmp_path / "t.csv"
    rc = cli.main(["threshold", "--little-file", str(lf), "--big-file", str(bf),
                   "--calib-frac", frac, "--out", str(out)])
    assert rc != 0 and not out.exists()
    assert "empty" in capsys.readouterr().err


def test_split_generator_refuses_empty_sides_and_is_one_convention():
    for n, f in [(10, 0.01), (10, 0.99), (1, 0.5), (0, 0.5)]:
        with pytest.raises(ValueError, match="empty"):
            engine.split_indices(n, f, 0)
    masks = engine.split_masks(1000, 0.2, [3, 4])
    for row, seed in zip(masks, [3, 4]):
        assert np.array_equal(np.flatnonzero(row), engine.split_indices(1000, 0.2, seed)[0])


# ------------------------------------------------------------------ defect 6: sweep inputs

def test_sweep_realigns_overrides_with_the_records():
    rng = np.random.default_rng(1)
    n = 500
    conf, lc, bc = draw(rng, n)
    labels = rng.integers(0, 5, n)
    ids = np.array([f"s{i}" for i in range(n)])
    little = Predictions(ids, labels, labels, conf, model={"name": "L"})
    big = Predictions(ids, labels, labels, rng.random(n), model={"name": "B"})
    other_lc, other_bc = rng.random(n) < 0.5, rng.random(n) < 0.8  # e.g. ReaL correctness
    valid = rng.random(n) < 0.9
    want = engine.sweep_arrays(conf, other_lc, other_bc, valid=valid)
    perm = rng.permutation(n)
    # big listed in another order, its override given in its own order
    got = engine.sweep(little, big.subset(perm), little_correct=other_lc,
                        big_correct=other_bc[perm], valid=valid)
    pd.testing.assert_frame_equal(got, want)
    with pytest.raises(ValueError, match="one value per sample"):
        engine.sweep(little, big, big_correct=other_bc[:-1])


@pytest.mark.parametrize("kw,match", [
    (dict(little_correct=np.full(4, 0.7)), "booleans"),
    (dict(big_correct=np.array([0, 1, 2, 1])), "booleans"),
    (dict(conf=np.array([0.1, 0.5, 1.2, 0.3])), r"\[0, 1\]"),
    (dict(conf=np.array([0.1, -0.5, 0.2, 0.3])), r"\[0, 1\]"),
    (dict(conf=np.array([0.1, np.nan, 0.2, 0.3])), "NaN"),
    (dict(little_gmacs=float("nan")), "positive"), (dict(little_gmacs=-1.0), "positive"),
    (dict(big_gmacs=0.0), "positive"), (dict(big_gmacs=float("inf")), "positive"),
])
def test_sweep_arrays_refuses_bad_values(kw, match):
    args = dict(conf=np.array([0.1, 0.5, 0.9, 0.3]), little_correct=np.array([1, 0, 1, 1], bool),
                big_correct=np.array([1, 1, 0, 1], bool), little_gmacs=1.0, big_gmacs=4.0) | kw
    with pytest.raises(ValueError, match=match):
        engine.sweep_arrays(**args)


@pytest.mark.parametrize("bad", [float("nan"), -1.0, 0.0, float("inf")])
def test_pairs_table_refuses_bad_gmacs(bad):
    ids, labels = ["a", "b", "c"], [0, 1, 0]
    recs = {k: Predictions(ids, labels, [0, 1, 1], [0.2, 0.5, 0.9], model={"name": k})
            for k in "xyz"}
    with pytest.raises(ValueError, match="GMACs of 'y'"):
        pt.pairs_table(recs, {"x": 1.0, "y": bad, "z": 3.0})


# ------------------------------------------------------------------ guaranteed vs references

def hb_p_value(k_loss, k_gain, n, eps):
    """Hoeffding-Bentkus p-value of the mean of (loss + 1) / 2 against (1 + eps) / 2, by hand."""
    alpha, mean = (1 + eps) / 2, (n + k_loss - k_gain) / (2 * n)
    a = min(mean, alpha)
    h = (a * math.log(a / alpha) if a > 0 else 0) + \
        ((1 - a) * math.log((1 - a) / (1 - alpha)) if a < 1 else 0)
    return min(math.exp(-n * h), math.e * stats.binom.cdf(math.ceil(n * mean - 1e-9), n, alpha))


@pytest.mark.parametrize("method", ["hoeffding-bentkus", "binomial"])
@pytest.mark.parametrize("seed", range(3))
def test_guaranteed_equals_a_reference_loop_over_p_values(method, seed):
    rng = np.random.default_rng(seed)
    conf, lc, bc = draw(rng, 1500)
    eps, delta = 0.1, 0.1
    ts = sorted(set([0.0, 1.0] + list(conf)), reverse=True)
    ps = []
    for t in ts:
        kept = conf >= t
        k_loss, k_gain = int((kept & ~lc & bc).sum()), int((kept & lc & ~bc).sum())
        ps.append(hb_p_value(k_loss, k_gain, len(conf), eps) if method != "binomial"
                  else stats.binom.cdf(k_loss, len(conf), eps))
    want = fixed_sequence(ts, ps, delta)
    got = ltt.guaranteed_threshold(conf, lc, bc, eps, delta, method).threshold
    assert got == want
    assert want is not None and want < 1.0  # the case is not trivial


def test_guaranteed_stops_at_the_first_failure():
    """Kills the mutant without the fixed-sequence stop: a later (lower) T is rejected again
    after a failure, so continuing would return a cheaper, uncertified threshold."""
    n = 2000
    conf = np.full(n, 0.1)
    lc = np.ones(n, bool)
    bc = np.ones(n, bool)
    conf[:60], lc[:60] = 0.9, False          # kept at T <= 0.9: little wrong, big right
    conf[60:460], bc[60:460] = 0.5, False    # kept at T <= 0.5: little right, big wrong
    reject = ltt.rejections(*[[0, 60, 60, 60], [0, 0, 400, 400]], n, 0.02, 0.05)
    assert reject.tolist() == [True, False, True, True]  # the non-monotone sequence
    r = ltt.guaranteed_threshold(conf, lc, bc, max_loss=0.02, delta=0.05)
    assert r.threshold == 1.0 and r.n_tested == 2


# ------------------------------------------------------------------ transfer and split study

def test_transfer_table_uses_valid():
    rng = np.random.default_rng(2)
    n = 600
    labels = rng.integers(0, 5, n)
    ids = [f"s{i}" for i in range(n)]
    recs = {}
    for k, acc, g in (("s", 0.6, 1.0), ("l", 0.8, 5.0)):
        right = rng.random(n) < acc
        recs[k] = Predictions(ids, labels, np.where(right, labels, (labels + 1) % 5),
                              np.clip(0.5 * rng.random(n) + 0.5 * right, 0, 1),
                              model={"name": k, "gmacs": g})
    pairs = pt.pairs_table(recs, {"s": 1.0, "l": 5.0})
    valid = rng.random(n) < 0.5
    out = pt.transfer_table(pairs, recs, valid=valid).iloc[0]
    t = pairs["threshold"].iloc[0]
    right = np.where(recs["s"].conf < t, recs["l"].correct, recs["s"].correct)
    assert out["accuracy"] == pytest.approx(right[valid].mean())
    assert out["big_accuracy"] == pytest.approx(recs["l"].correct[valid].mean())
    assert out["accuracy"] != pytest.approx(right.mean())


def test_split_study_every_rule_equals_its_direct_call():
    """Kills rule swaps inside split_study: each rule's T is the direct call's on the split."""
    rng = np.random.default_rng(9)
    conf, lc, bc = draw(rng, 2000)
    eps, delta, seed = 0.03, 0.2, 5
    df = experiments.split_study(conf, lc, bc, [eps], [delta], n_splits=3, calib_frac=0.4, seed=seed)
    for s in range(3):
        calib, test = engine.split_indices(len(conf), 0.4, seed + s)
        c = (conf[calib], lc[calib], bc[calib])
        full = engine.sweep_arrays(conf[test], lc[test], bc[test])
        oracle = engine.max_loss_point(full, eps)
        want = {"empirical-no-loss": ltt.empirical_threshold(*c).threshold,
                "empirical-max-loss": ltt.empirical_threshold(*c, eps).threshold,
                "guaranteed": ltt.guaranteed_threshold(*c, eps, delta).threshold,
                "oracle": None if oracle is None else float(oracle["threshold"])}
        assert len(set(want.values())) == 4  # the four rules differ here: a swap shows
        got = df[df["split"] == s].set_index("rule")["threshold"]
        for rule, t in want.items():
            assert got[rule] == pytest.approx(np.nan if t is None else t, nan_ok=True), rule


def test_two_stage_multistage_equals_the_fixed_threshold_evaluator():
    from littlebig_utils.core import multistage
    rng = np.random.default_rng(4)
    conf, lc, bc = draw(rng, 700)
    valid = rng.random(700) < 0.8
    for t in (0.0, 0.3, 0.777, 1.0):
        m = multistage.evaluate([conf], [lc, bc], [1.0, 6.0], [t], valid)
        e = engine.evaluate_thresholds(conf, lc, bc, [t], valid=valid, little_gmacs=1.0,
                                   big_gmacs=6.0).iloc[0]
        assert m["n_correct"] == e["n_correct"] and m["accuracy"] == pytest.approx(e["accuracy"])
        assert m["gmacs"] == pytest.approx(e["gmacs"])
