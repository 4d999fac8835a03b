"""littlebig_utils.book.studies: each study equals a brute-force loop over splits / pairs."""
import numpy as np
import pandas as pd
import pytest
from littlebig_utils.core import experiments
from littlebig_utils.core import pairs as pt
from littlebig_utils.book import studies
from littlebig_utils.book.notebook import ParameterError
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core import engine


def _records(n=600, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    ids = [f"s{i}" for i in range(n)]
    out = {}
    for name, p_right, g in (("A", 0.6, 1.0), ("B", 0.7, 2.0), ("C", 0.8, 5.0)):
        conf = rng.uniform(size=n)
        right = rng.uniform(size=n) < p_right * (0.5 + conf)  # confident -> more often right
        preds = np.where(right, labels, (labels + 1) % 5)
        out[name] = Predictions(ids, labels, preds, conf, model={"name": name, "gmacs": g})
    return out


def _brute_heldout(lo, bi, lg, bg, n_splits, frac, seed):
    rows = []
    for s in range(n_splits):
        cal, test = engine.split_indices(len(lo), frac, seed + s)
        point = engine.no_loss_point(engine.sweep_arrays(lo.conf[cal], lo.correct[cal], bi.correct[cal]))
        t = 2.0 if point is None else float(point["threshold"])  # none: big alone
        to_big = lo.conf[test] < t
        right = np.where(to_big, bi.correct[test], lo.correct[test])
        frac_big = to_big.mean()
        rows.append(dict(change=right.mean() - bi.correct[test].mean(),
                         lost=right.sum() < bi.correct[test].sum(),
                         red=1 - ((lg if point is not None else 0) + frac_big * bg) / bg))
    return pd.DataFrame(rows)


def test_heldout_runs_equal_a_loop_over_splits():
    r = _records()
    runs = studies.heldout_runs(r["A"], r["C"], 1.0, 5.0, n_splits=12, calib_frac=0.3, seed=4)
    ref = _brute_heldout(r["A"], r["C"], 1.0, 5.0, 12, 0.3, 4)
    assert list(runs["seed"]) == list(range(4, 16))  # split s uses seed + s
    np.testing.assert_allclose(runs["change"], ref["change"], atol=1e-9)
    np.testing.assert_array_equal(runs["lost"], ref["lost"])
    np.testing.assert_allclose(runs["macs_reduction"], ref["red"], atol=1e-9)


def test_heldout_summary_definitions():
    runs = pd.DataFrame({"threshold": [0.5, 0.6, 0.7, 0.8],
                         "change": [-0.002, 0.001, -0.004, 0.0],
                         "lost": [True, False, True, False], "macs_reduction": [0.8, 0.7, 0.9, 0.6],
                         "oracle_macs_reduction": [0.7, 0.75, 0.95, 0.6]})
    s = studies.heldout_summary(runs)  # the quoted numbers: points and percent
    assert s["loss_rate"] == 50.0
    assert s["mean_loss_when_lost"] == pytest.approx(0.3)
    assert s["worst_loss"] == pytest.approx(0.4)
    assert s["mean_change"] == pytest.approx(-0.125)
    assert s["lost_cheaper"] == 50.0  # split 0 saved more than its oracle, split 2 less
    assert s["heldout_reduction"] == pytest.approx(75.0)
    assert s["oracle_reduction"] == pytest.approx(75.0)


def test_heldout_pairs_rows_equal_single_pair_runs():
    r = _records()
    pairs = pt.pairs_table(r, {k: p.model["gmacs"] for k, p in r.items()})
    pairs = pairs[pairs["macs_reduction"].notna()].head(2)
    table = studies.heldout_pairs(r, pairs, n_splits=5, seed=1)
    for (_, p), (_, row) in zip(pairs.iterrows(), table.iterrows()):
        one = studies.heldout_summary(studies.heldout_runs(r[p["little"]], r[p["big"]],
                                                           p["little_gmacs"], p["big_gmacs"], 5, 0.2, 1))
        assert row["loss_rate"] == one["loss_rate"]
        assert row["heldout_reduction"] == pytest.approx(one["heldout_reduction"])


def _pairs_frame():
    return pd.DataFrame({
        "little": ["a", "b", "c"], "big": ["x", "x", "x"],
        "little_accuracy": [0.796, 0.780, 0.750], "big_accuracy": [0.8, 0.8, 0.8],
        "little_gmacs": [1.0, 1.0, 1.0], "big_gmacs": [10.0, 10.0, 10.0],
        "degenerate": [False, False, False], "macs_reduction": [0.9, 0.8, 0.5],
        "accuracy": [0.8, 0.8, 0.8]})


def test_guarantee_pair_skips_pairs_whose_little_model_meets_max_loss():
    pairs = _pairs_frame()
    assert studies.little_meets_max_loss(pairs.iloc[0], 0.005)       # gap 0.004 <= 0.005
    assert not studies.little_meets_max_loss(pairs.iloc[1], 0.005)   # gap 0.02
    row = studies.guarantee_pair(pairs, 0.005, min_gap=0.0)
    assert row["little"] == "b"  # "a" has the larger reduction but an empty guarantee
    assert studies.guarantee_pair(pairs, 0.03)["little"] == "c"
    assert not studies.little_meets_max_loss(studies.guarantee_pair(pairs, 0.03), 0.03)
    with pytest.raises(ParameterError, match="more than 6 points below .*lower epsilon"):
        studies.guarantee_pair(pairs, 0.06)


def test_summarize_study_and_pick():
    runs = pd.DataFrame({"pair": "p", "labels": "original", "rule": ["guaranteed"] * 4,
                         "max_loss": 0.005, "delta": 0.05, "violated": [True, False, False, False],
                         "found": [True, True, False, True], "loss": [0.007, 0.002, 0.0, -0.001],
                         "n_lost": [7, 2, 0, -1],
                         "frac_big": [0.1, 0.2, 1.0, 0.3], "macs_reduction": [0.8, 0.7, 0, 0.6]})
    s = studies.summarize_study(runs)
    row = studies.pick(s, rule="guaranteed", delta=0.05)
    assert row["violation_rate"] == 0.25 and row["loss_rate"] == 0.5 and row["found"] == 0.75
    assert row["violation_se"] == pytest.approx(np.sqrt(0.25 * 0.75 / 4))
    with pytest.raises(KeyError):
        studies.pick(s, rule="oracle")


def test_label_transfer_sign_and_interval_by_hand():
    r = _records(n=400, seed=3)
    gm = {k: p.model["gmacs"] for k, p in r.items()}
    pairs = pt.pairs_table(r, gm)
    pairs = pairs[pairs["threshold"].notna() & (pairs["little"] == "A") & (pairs["big"] == "C")]
    rng = np.random.default_rng(9)
    other = {k: rng.uniform(size=400) < 0.7 for k in r}  # "other labels": new correctness
    valid = rng.uniform(size=400) < 0.9
    row = studies.label_transfer(pairs, r, other, valid).iloc[0]
    t = pairs.iloc[0]["threshold"]
    casc = np.where(r["A"].conf < t, other["C"], other["A"])
    expected = casc[valid].mean() - other["C"][valid].mean()  # cascade - big
    assert row["change"] == pytest.approx(expected)
    assert row["ci_lo"] <= row["change"] <= row["ci_hi"]
    assert row["n"] == valid.sum()
    assert row["macs_reduction"] == pytest.approx(pairs.iloc[0]["macs_reduction"])
    # the oracle T on the new labels is the no-loss point of a sweep on those labels
    point = engine.no_loss_point(engine.sweep_arrays(r["A"].conf, other["A"], other["C"], valid=valid))
    assert row["oracle_threshold"] == pytest.approx(point["threshold"])


def test_split_study_no_loss_rule_gives_the_heldout_loss_rate():
    """The guarantee chapter's empirical no-loss rows and the held-out chapter's runs are the same
    splits and the same rule: the same held-out loss rate (the 55 % vs 50 % defect)."""
    r = _records(n=500, seed=7)
    lo, bi = r["A"], r["C"]
    runs = studies.heldout_runs(lo, bi, 1.0, 5.0, n_splits=15, calib_frac=0.2, seed=3)
    study = experiments.split_study(lo.conf, lo.correct, bi.correct, [0.005], [0.05], 15, 0.2, 3,
                                   little_gmacs=1.0, big_gmacs=5.0)
    s = studies.pick(studies.summarize_study(study), labels="original", rule="empirical-no-loss",
                     delta=None)
    assert 100 * s["loss_rate"] == pytest.approx(studies.heldout_summary(runs)["loss_rate"])
    assert s["macs_reduction"] == pytest.approx(runs["macs_reduction"].mean())


def test_guarantee_warning_only_for_an_empty_guarantee():
    pairs = _pairs_frame()
    assert "Empty guarantee" in studies.guarantee_warning(pairs.iloc[0], 0.005)
    assert "0.40 points below x, within epsilon = 0.5" in studies.guarantee_warning(pairs.iloc[0], 0.005)
    assert studies.guarantee_warning(pairs.iloc[1], 0.005) is None


def test_titans_summary_and_status():
    from littlebig_utils.book import verdicts
    students = pd.DataFrame({"student": ["labels", "hinton", "titans_teacher_prob", "titans_student_loss"],
                             "student_accuracy": [0.80, 0.82, 0.815, 0.81],
                             "macs_reduction": [-0.05, np.nan, -0.02, -0.01]})
    s = studies.titans_summary(students)
    assert s["n_costlier"] == 4 and s["titans_best"] == "titans_teacher_prob"
    assert s["hinton_accuracy"] == 0.82 and s["titans_best_accuracy"] == 0.815
    students.loc[2, "macs_reduction"] = 0.1
    assert studies.titans_summary(students)["n_costlier"] == 3
    assert studies.status(verdicts.Verdict(verdicts.NOT_REPRODUCED, "x")) == "Answered against the paper"
    assert studies.status(verdicts.Verdict(verdicts.NOT_TESTABLE, "x")) == "Open"
    with pytest.raises(KeyError):
        studies.titans_summary(students.drop(columns="macs_reduction"))


def test_transfer_row_refuses_a_pair_without_threshold():
    r = _records(n=300, seed=2)
    pairs = pt.pairs_table(r, {k: p.model["gmacs"] for k, p in r.items()})
    ok = pairs[pairs["threshold"].notna()].iloc[0]
    correct = {k: p.correct for k, p in r.items()}
    row = studies.transfer_row(pairs, r, correct, None, ok["little"], ok["big"])
    assert row["change"] == pytest.approx(row["original_change"])  # same labels: same change
    pairs.loc[pairs.index[0], "threshold"] = np.nan
    first = pairs.iloc[0]
    with pytest.raises(ParameterError, match="no threshold to transfer"):
        studies.transfer_row(pairs, r, correct, None, first["little"], first["big"])
