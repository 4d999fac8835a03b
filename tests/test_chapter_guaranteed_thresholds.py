"""littlebig_utils.book.chapters.guaranteed_thresholds: the empty-guarantee warning, the glued
numbers per rule and label set, and the one-split exercise against a direct computation."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import studies
from littlebig_utils.book.chapters import guaranteed_thresholds as chapter
from littlebig_utils.core import engine, ltt
from littlebig_utils.core import experiments
from littlebig_utils.core import pairs as pt
from test_studies import _pairs_frame, _records


def test_guarantee_warning_only_for_an_empty_guarantee():
    pairs = _pairs_frame()
    assert chapter.little_meets_max_loss(pairs.iloc[0], 0.005)       # gap 0.004 <= 0.005
    assert not chapter.little_meets_max_loss(pairs.iloc[1], 0.005)   # gap 0.02
    assert not chapter.little_meets_max_loss(studies.guarantee_pair(pairs, 0.03), 0.03)
    assert "Empty guarantee" in chapter.guarantee_warning(pairs.iloc[0], 0.005)
    assert "0.40 points below x, within epsilon = 0.5" in chapter.guarantee_warning(pairs.iloc[0], 0.005)
    assert chapter.guarantee_warning(pairs.iloc[1], 0.005) is None
    with pytest.raises(ValueError, match="50 accuracy points"):  # points refused, both readings
        chapter.little_meets_max_loss(pairs.iloc[0], 0.5)


def _study():
    r = _records(n=500, seed=7)
    pairs = pt.pairs_table(r, {k: p.model["gmacs"] for k, p in r.items()})
    row = pairs[(pairs["little"] == "A") & (pairs["big"] == "C")].iloc[0]
    runs = experiments.split_study(r["A"].conf, r["A"].correct, r["C"].correct, [0.005, 0.01],
                                   [0.05, 0.1], 8, 0.2, 3, little_gmacs=1.0, big_gmacs=5.0,
                                   shifted={"ReaL": (r["A"].correct, r["C"].correct, None)})
    return r, row, studies.summarize_study(runs)


def test_guarantee_numbers_per_rule_and_label_set():
    _, _, summary = _study()
    n = chapter.guarantee_numbers(summary, 0.01, 0.1)
    g = studies.pick(summary, labels="original", rule="guaranteed", max_loss=0.01, delta=0.1)
    assert n["viol_guar"] == pytest.approx(100 * g["violation_rate"])
    assert n["red_guar"] == pytest.approx(100 * g["macs_reduction"])
    assert n["loss_guar"] == pytest.approx(100 * g["loss"])
    e = studies.pick(summary, labels="ReaL", rule="empirical-no-loss", max_loss=0.01, delta=None)
    assert n["real_found_noloss"] == pytest.approx(100 * e["found"])  # prefix of the label set
    assert {"viol_oracle", "real_viol_plugin", "frac_plugin"} <= set(n)


def test_numbers_quote_the_pair_the_splits_and_the_price_of_the_guarantee():
    r, row, summary = _study()
    n = chapter.numbers(r["A"], r["C"], row, summary, 8, 0.2, 3, 0.005, 0.05)
    assert n["eps"] == 0.5 and n["delta_pct"] == 5.0 and n["calib_pct"] == 20.0
    assert n["n_calib"] == 100 and n["n_splits"] == 8
    assert n["given_up"] == pytest.approx(n["red_oracle"] - n["red_guar"])
    held = studies.heldout_summary(studies.heldout_runs(r["A"], r["C"], 1.0, 5.0, 8, 0.2, 3))
    assert n["heldout_loss_rate"] == pytest.approx(100 * held["loss_rate"])
    assert n["gap"] == pytest.approx(100 * (row["big_accuracy"] - row["little_accuracy"]))


@pytest.mark.parametrize("method", ["clopper-pearson", "hoeffding-bentkus"])
def test_one_split_is_the_guaranteed_threshold_judged_on_the_test_side(method):
    r, row, _ = _study()
    lo, bi = r["A"], r["C"]
    got = chapter.one_split(lo, bi, row, 0.5, method, 0.05, 0.1, seed=5)
    cal, test = engine.split_indices(len(lo), 0.5, 5)
    g = ltt.guaranteed_threshold(lo.conf[cal], lo.correct[cal], bi.correct[cal], 0.05, 0.1, method)
    assert (g.threshold is None) == (method == "hoeffding-bentkus")  # both cases are exercised
    if g.threshold is None:  # nothing certified: the big model alone saves nothing
        assert got["macs_reduction"] == 0.0
    else:
        to_big = lo.conf[test] < g.threshold
        right = np.where(to_big, bi.correct[test], lo.correct[test])
        assert got["n_correct"] == right.sum()
        assert got["macs_reduction"] == pytest.approx(1 - (1.0 + to_big.mean() * 5.0) / 5.0)


def test_rules_markdown_lists_the_rules_in_points():
    _, _, summary = _study()
    md = chapter.rules_markdown(summary, "original", 0.005, 0.05)
    lines = md.splitlines()
    assert "loss > epsilon (%)" in lines[0] and "mean loss (points)" in lines[0]
    assert [l.split(" | ")[0] for l in lines[2:]] == ["| " + v for v in chapter.RULE_NAMES.values()]


def test_claim_numbers_decide_ours_guaranteed_with_an_exact_interval():
    from scipy.stats import binomtest
    from littlebig_utils.book import claims, verdicts
    row = pd.Series({"violation_rate": 3 / 200, "n": 200})
    got = chapter.claim_numbers(row, 0.05)
    ci = binomtest(3, 200).proportion_ci(0.95, method="exact")
    assert got["violation_rate_lo"] == pytest.approx(ci.low) and got["violation_rate_hi"] == pytest.approx(ci.high)
    assert got["violation_rate"] == 0.015 and got["delta"] == 0.05
    v = claims.decide("ours-guaranteed", **got)
    assert v.label == verdicts.VERIFIED  # ours: never a reproduction label
    few = claims.decide("ours-guaranteed", **chapter.claim_numbers(pd.Series({"violation_rate": 0.0, "n": 10}), 0.05))
    assert few.label == verdicts.INCONCLUSIVE  # 0 of 10 splits: the interval reaches past delta
    bad = claims.decide("ours-guaranteed", **chapter.claim_numbers(pd.Series({"violation_rate": 0.2, "n": 200}), 0.05))
    assert bad.label == verdicts.NOT_VERIFIED
    with pytest.raises(ValueError):
        chapter.claim_numbers(row, 5)  # delta in percent is refused
