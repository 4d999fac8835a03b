"""littlebig_utils.book.studies (the studies several chapters share): each study equals a
brute-force loop over splits / pairs; the chapters' own code is tested in test_chapter_<notebook>.py."""
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
    s = studies.heldout_summary(runs)  # fractions, like every frame of the package
    assert s["loss_rate"] == 0.5
    assert s["mean_loss_when_lost"] == pytest.approx(0.003)
    assert s["worst_loss"] == pytest.approx(0.004)
    assert s["mean_change"] == pytest.approx(-0.00125)
    assert s["p05_change"] == pytest.approx(np.quantile(runs["change"], 0.05))
    assert s["lost_cheaper"] == 0.5  # split 0 saved more than its oracle, split 2 less
    assert s["heldout_reduction"] == pytest.approx(0.75)
    assert s["oracle_reduction"] == pytest.approx(0.75)
    assert (s["t_lo"], s["n_splits"]) == (pytest.approx(0.515), 4)
    page = studies.heldout_percent(s)  # the page's units: percent and points
    assert page["loss_rate"] == 50.0 and page["mean_loss_when_lost"] == pytest.approx(0.3)
    assert page["worst_loss"] == pytest.approx(0.4) and page["mean_change"] == pytest.approx(-0.125)
    assert page["heldout_reduction"] == pytest.approx(75.0) and page["lost_cheaper"] == 50.0
    assert page["t_lo"] == s["t_lo"] and page["n_splits"] == 4  # thresholds and counts as they are
    no_loss = studies.heldout_summary(runs.assign(lost=False, change=0.001))
    assert no_loss["mean_loss_when_lost"] == 0.0 and np.isnan(no_loss["lost_cheaper"])


def test_checked_parameters_name_the_parameter_and_an_example():
    assert studies.checked("calib_frac", "calib_frac", 0.2, 0.2) == 0.2
    assert studies.checked("delta", "deltas", [0.05, 0.1], [0.05, 0.1]) == [0.05, 0.1]
    assert studies.checked("method", "method", "binomial", "clopper-pearson") == "binomial"
    with pytest.raises(ParameterError, match=r"^parameter calib_frac must lie strictly between 0 and 1, got 1 "
                                             r"\(e.g. -p calib_frac 0.2\)$"):
        studies.checked("calib_frac", "calib_frac", 1, 0.2)
    with pytest.raises(ParameterError, match=r"^parameter calib_frac must be a number in \(0, 1\), got 'abc'"):
        studies.checked("calib_frac", "calib_frac", "abc", 0.2)
    with pytest.raises(ParameterError, match=r"^parameter deltas must be a non-empty list, got 0.05 "
                                             r"\(e.g. -p deltas '\[0.05, 0.1\]'\)$"):
        studies.checked("delta", "deltas", 0.05, [0.05, 0.1])
    with pytest.raises(ParameterError, match=r"^parameter deltas is the probability .* got 5 \(e.g. -p deltas 0.05\)"):
        studies.checked("delta", "deltas", [0.05, 5], [0.05, 0.1])
    with pytest.raises(ParameterError, match=r"^unknown parameter method 'wsr2'; choose one of clopper-pearson"):
        studies.checked("method", "method", "wsr2", "clopper-pearson")
    with pytest.raises(ParameterError, match=r"^unknown parameter method \['wsr'\]"):
        studies.checked("method", "method", ["wsr"], "clopper-pearson")
    # a max_loss that reads as points: both readings, as the core's one validator says them
    with pytest.raises(ParameterError, match=r"^parameter max_loss=0.5 is refused: as a fraction it means 50 "
                                             r"accuracy points; if you meant 0.5 points pass 0.005"):
        studies.checked("max_loss", "max_loss", 0.5, 0.005)


def _pairs_frame():
    return pd.DataFrame({
        "little": ["a", "b", "c"], "big": ["x", "x", "x"],
        "little_accuracy": [0.796, 0.780, 0.750], "big_accuracy": [0.8, 0.8, 0.8],
        "little_gmacs": [1.0, 1.0, 1.0], "big_gmacs": [10.0, 10.0, 10.0],
        "degenerate": [False, False, False], "macs_reduction": [0.9, 0.8, 0.5],
        "accuracy": [0.8, 0.8, 0.8]})


def test_guarantee_pair_skips_pairs_whose_little_model_meets_max_loss():
    pairs = _pairs_frame()
    row = studies.guarantee_pair(pairs, 0.005, min_gap=0.0)
    assert row["little"] == "b"  # "a" has the larger reduction (gap 0.004 <= 0.005): an empty guarantee
    assert studies.guarantee_pair(pairs, 0.03)["little"] == "c"
    with pytest.raises(ParameterError, match=r"more than 6 points \(max_loss 0.06\) below .*lower max_loss"):
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
    assert s["loss_rate"] == pytest.approx(studies.heldout_summary(runs)["loss_rate"])
    assert s["macs_reduction"] == pytest.approx(runs["macs_reduction"].mean())




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
