"""littlebig_utils.book.chapters.transfer_real: the second dataset's folder parameter and the
exercise's threshold chosen on other labels."""
import numpy as np
import pytest

from littlebig_utils.book.chapters import transfer_real as chapter
from littlebig_utils.book.notebook import ParameterError
from littlebig_utils.core import pairs as pt
from test_studies import _records


@pytest.mark.parametrize("bad", ["/no/such/folder", 5, ["a"]])
def test_second_dataset_refuses_what_is_not_a_folder(bad):
    r = _records(n=100)
    pairs = pt.pairs_table(r, {k: p.model["gmacs"] for k, p in r.items()})
    with pytest.raises(ParameterError, match=r"^parameter second_dir=.* is not a folder of MODEL.npz"):
        chapter.second_dataset(bad, r, pairs)


def test_second_dataset_reads_the_models_found_and_the_markdown_is_in_points(tmp_path):
    r = _records(n=300, seed=1)
    pairs = pt.pairs_table(r, {k: p.model["gmacs"] for k, p in r.items()})
    for k in ("A", "C"):
        r[k].save(tmp_path / f"{k}.npz")
    table = chapter.second_dataset(str(tmp_path), r, pairs[pairs["threshold"].notna()])
    assert list(zip(table["little"], table["big"])) == [("A", "C")]  # B's file is absent
    row = table.iloc[0]
    to_big = r["A"].conf < row["threshold"]
    right = np.where(to_big, r["C"].correct, r["A"].correct)
    assert row["accuracy_change"] == pytest.approx(right.mean() - r["C"].accuracy)  # a fraction
    md = chapter.second_markdown(table, "V2")
    assert f"{100 * row['accuracy_change']:+.2f}" in md and "change (points, cascade − big)" in md
    assert md.startswith(":::{table} ") and ":name: tab-transfer-second" in md  # numbered
    assert "as `second_dir`" in chapter.second_markdown(None, "V2")  # the claims say "not testable"


def test_claim_numbers_decide_lb_transfer_real():
    import pandas as pd
    from littlebig_utils.book import claims, verdicts
    head = pd.Series({"macs_reduction": 0.866, "change": -0.0002, "ci_lo": -0.0021, "ci_hi": 0.0017})
    got = chapter.claim_numbers(head)
    assert got == {"reduction": 0.866, "diff": -0.0002, "diff_lo": -0.0021, "diff_hi": 0.0017}
    v = claims.decide("lb-transfer-real", **got)
    assert v.label == verdicts.INCONCLUSIVE  # the interval lies across the reported -0.04 points
    sure = dict(got, diff=0.001, diff_lo=0.0, diff_hi=0.002)
    assert claims.decide("lb-transfer-real", **sure).label == verdicts.REPRODUCED
    assert claims.decide("lb-transfer-real", **dict(sure, reduction=0.5)).label == verdicts.PARTLY
    for claim_id in ("lb-transfer-v2", "lb-v2-threshold"):
        assert claims.decide(claim_id).label == verdicts.NOT_TESTABLE


def test_real_threshold_is_the_no_loss_point_on_the_other_labels():
    r = _records(n=400, seed=3)
    lo, bi = r["A"], r["C"]
    rng = np.random.default_rng(1)
    lc, bc = rng.uniform(size=400) < 0.6, rng.uniform(size=400) < 0.75
    valid = rng.uniform(size=400) < 0.9
    t = chapter.real_threshold(lo, bi, lc, bc, valid)
    # brute force: the lowest-cost T whose cascade accuracy on the valid images reaches big's
    best = None
    for cand in np.unique(np.r_[lo.conf, 1.0 + 1e-9]):
        right = np.where(lo.conf < cand, bc, lc)
        if right[valid].sum() >= bc[valid].sum():
            best = cand
            break
    assert best is not None
    assert (lo.conf < t).sum() == (lo.conf < best).sum()  # the same images go to big
    # little never right, big always: only T = 1 (every image to big) loses nothing
    assert chapter.real_threshold(lo, bi, np.zeros(400, bool), np.ones(400, bool), None) == 1.0
