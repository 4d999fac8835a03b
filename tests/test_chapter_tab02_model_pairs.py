"""Chapter tab02_model_pairs: the pairs set apart and the tolerance loop."""
import numpy as np
import pytest
from littlebig_utils.book import headlines
from littlebig_utils.book.chapters import tab02_model_pairs as chapter


def test_tolerance_gain_is_never_negative(zoo):
    best = headlines.best_meaningful_per_big(zoo.pairs)
    g = chapter.tolerance_gain(zoo, best, 0.005)
    assert len(g) == len(best) and (g["gain"] >= -1e-9).all()
    assert (chapter.tolerance_gain(zoo, best, 0.0)["gain"].abs() < 1e-9).all()


def test_tolerance_gain_against_a_loop_over_thresholds(zoo):
    best = headlines.best_meaningful_per_big(zoo.pairs)
    g = chapter.tolerance_gain(zoo, best, 0.01).set_index("big")
    for _, r in best.iterrows():
        lo, bi = zoo.records[r.little], zoo.records[r.big]
        ok = []  # every threshold where the cascade is at most one point below big
        for t in sorted(set(lo.conf) | {1.1}):
            to_big = lo.conf < t
            acc = np.where(to_big, bi.correct, lo.correct).mean()
            if acc >= r.big_accuracy - 0.01 - 1e-12:
                ok.append(1 - (zoo.gmacs[r.little] + to_big.mean() * zoo.gmacs[r.big]) / zoo.gmacs[r.big])
        assert g.loc[r.big, "tolerant"] == pytest.approx(max(ok))
        assert g.loc[r.big, "gain"] == pytest.approx(max(ok) - r.macs_reduction)


def test_set_apart_near_and_degenerate_companions(zoo):
    near, deg = chapter.set_apart(zoo.pairs)
    gap = zoo.pairs.big_accuracy - zoo.pairs.little_accuracy
    for _, r in near.iterrows():  # the best genuine companion of its big model, < 1 point apart
        rows = zoo.pairs[(zoo.pairs.big == r.big) & ~zoo.pairs.degenerate & zoo.pairs.macs_reduction.notna()]
        assert r.little == rows.sort_values("macs_reduction").little.iloc[-1]
        assert 0 < r.big_accuracy - r.little_accuracy < 0.01
    assert deg.degenerate.all() and set(deg.big) == set(
        zoo.pairs[zoo.pairs.degenerate & zoo.pairs.macs_reduction.notna()].big)
    assert (gap[zoo.pairs.degenerate] <= 0).all()
    # a wider min_gap sets apart every genuine best companion closer than it
    wide, _ = chapter.set_apart(zoo.pairs, min_gap=1.0)
    assert len(wide) == len(zoo.pairs[~zoo.pairs.degenerate & zoo.pairs.macs_reduction.notna()].big.unique())
