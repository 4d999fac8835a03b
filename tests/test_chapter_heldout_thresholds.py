"""littlebig_utils.book.chapters.heldout_thresholds: the chapter's study of every pair, its
numbers and table in the page's units, and the margin exercise against a loop over splits."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import studies
from littlebig_utils.book.chapters import heldout_thresholds as chapter
from littlebig_utils.core import engine
from littlebig_utils.core import pairs as pt
from test_studies import _records


def test_heldout_pairs_rows_equal_single_pair_runs():
    r = _records()
    pairs = pt.pairs_table(r, {k: p.model["gmacs"] for k, p in r.items()})
    pairs = pairs[pairs["macs_reduction"].notna()].head(2)
    table = chapter.heldout_pairs(r, pairs, n_splits=5, seed=1)
    assert len(table) == 2
    for (_, p), (_, row) in zip(pairs.iterrows(), table.iterrows()):
        one = studies.heldout_summary(studies.heldout_runs(r[p["little"]], r[p["big"]],
                                                           p["little_gmacs"], p["big_gmacs"], 5, 0.2, 1))
        assert row["loss_rate"] == one["loss_rate"]
        assert row["heldout_reduction"] == pytest.approx(one["heldout_reduction"])
        # fractions, like the pair table they come from (the chapter's CSV)
        assert row["gap"] == pytest.approx(p["big_accuracy"] - p["little_accuracy"])
        assert row["same_data_reduction"] == pytest.approx(p["macs_reduction"])


def _table():
    return pd.DataFrame({"little": ["a", "b", "c"], "big": ["x", "x", "y"],
                         "gap": [0.013, 0.0116, 0.0172], "same_data_reduction": [0.876, 0.871, 0.851],
                         "heldout_reduction": [0.8776, 0.863, 0.828], "oracle_reduction": [0.87, 0.86, 0.84],
                         "loss_rate": [0.55, 0.45, 0.5], "mean_change": [-0.00284, -0.00049, -0.00155],
                         "mean_loss_when_lost": [0.009, 0.008, 0.01],
                         "p05_change": [-0.0133, -0.0148, -0.0178]})


def test_pairs_numbers_in_percent_and_points():
    n = chapter.pairs_numbers(_table())
    assert n["n_overview"] == 3
    assert n["median_loss_rate"] == pytest.approx(50.0)
    assert (n["min_loss_rate"], n["max_loss_rate"]) == (pytest.approx(45.0), pytest.approx(55.0))
    assert n["all_mean_loss"] == pytest.approx(0.9)
    assert n["all_worst_p05"] == pytest.approx(-1.78)
    assert n["median_held_reduction"] == pytest.approx(86.3)
    assert n["median_oracle_reduction"] == pytest.approx(86.0)


def test_heldout_pairs_markdown_shows_points_and_percent_sorted():
    md = chapter.heldout_pairs_markdown(_table(), top=2)
    lines = md.splitlines()
    assert "gap (points)" in lines[0] and "splits losing (%)" in lines[0]
    assert lines[2] == "| a → x | 1.30 | 87.6 | 87.8 | 55 | -0.284 | -1.330 |"
    assert lines[3].startswith("| b → x | 1.16 | 87.1 |") and len(lines) == 4  # top 2


def test_pair_numbers_quote_the_operating_point_and_the_summary():
    row = pd.Series({"macs_reduction": 0.8759, "threshold": 0.2688, "big_accuracy": 0.78,
                     "little_accuracy": 0.767})
    held = dict(n_splits=20, loss_rate=0.55, mean_change=-0.0028, t_lo=0.1)
    n = chapter.pair_numbers(row, held)
    assert n["paper_reduction"] == pytest.approx(87.59) and n["paper_t"] == 0.2688
    assert n["gap"] == pytest.approx(1.3) and n["loss_rate"] == pytest.approx(55.0)
    assert n["mean_change"] == pytest.approx(-0.28) and n["t_lo"] == 0.1 and n["n_splits"] == 20


def test_margin_runs_equal_a_loop_over_splits():
    r = _records(n=500, seed=4)
    lo, bi = r["A"], r["C"]
    out = chapter.margin_runs(lo, bi, 1.0, 5.0, 0.01, n_splits=6, calib_frac=0.3, seed=2)
    assert len(out) == 6
    for s in range(6):
        cal, test = engine.split_indices(len(lo), 0.3, 2 + s)
        tab = engine.sweep_arrays(lo.conf[cal], lo.correct[cal], bi.correct[cal])
        target = bi.correct[cal].mean() + 0.01
        ok = tab[tab["accuracy"] >= target - 1e-12]
        if ok.empty:  # no T reaches big + margin: the big model alone
            right, frac_big = bi.correct[test], 1.0
        else:
            t = ok.sort_values(["frac_big", "threshold"]).iloc[0]["threshold"]
            to_big = lo.conf[test] < t
            right, frac_big = np.where(to_big, bi.correct[test], lo.correct[test]), to_big.mean()
            assert out["macs_reduction"].iloc[s] == pytest.approx(1 - (1.0 + frac_big * 5.0) / 5.0)
        assert out["n_correct"].iloc[s] == right.sum()
        assert out["big_n_correct"].iloc[s] == bi.correct[test].sum()


def test_claim_numbers_decide_lb_heldout_on_held_out_numbers():
    from littlebig_utils.book import claims, verdicts
    table = pd.DataFrame({"heldout_reduction": [0.2, 0.5, 0.865]})
    got = chapter.claim_numbers({"loss_rate": 0.54}, table)
    assert got == {"loss_rate": 0.54, "heldout_reduction": 0.5}  # fractions; the median over pairs
    v = claims.decide("lb-heldout", **got)
    assert v.label == verdicts.PARTLY and v.claim_id == "lb-heldout"  # saving holds, "no loss" fails
    assert "54.0 %" in v.reason and "50.0 %" in v.reason
    assert claims.decide("lb-heldout", **chapter.claim_numbers({"loss_rate": 0.05}, table)).label \
        == verdicts.REPRODUCED
    empty = chapter.claim_numbers({"loss_rate": 0.5}, table.iloc[:0])
    assert empty["heldout_reduction"] is None
    assert claims.decide("lb-heldout", **empty).label == verdicts.NOT_TESTABLE
