"""Chapter multistage: the pruned search, best pair vs best 3-model cascade, and the held-out check."""
import numpy as np
import pytest
from littlebig_utils.book import studies
from littlebig_utils.book.chapters import multistage as chapter
from littlebig_utils.core import engine
from littlebig_utils.core import multistage
from littlebig_utils.core import pairs as pt
from test_studies import _records


def test_multistage_heldout_matches_direct_evaluation():
    r = _records(n=300, seed=5)
    gm = {k: p.model["gmacs"] for k, p in r.items()}
    levels = multistage.default_levels(20)
    out = chapter.multistage_heldout(r, gm, ["A", "B", "C"], "A", levels, n_splits=3, calib_frac=0.2, seed=2)
    held = studies.heldout_runs(r["A"], r["C"], 1.0, 5.0, 3, 0.2, 2)
    np.testing.assert_allclose(out["pair_change"], held["change"])
    cal, test = engine.split_indices(300, 0.2, 2)  # split 0
    grids = [multistage.threshold_grid(r[k].conf, levels) for k in "AB"]
    point = multistage.no_loss_point(multistage.evaluate_grid(
        [r[k].conf[cal] for k in "AB"], [r[k].correct[cal] for k in "ABC"], [1.0, 2.0, 5.0], grids))
    if point is not None:
        ev = multistage.evaluate([r[k].conf[test] for k in "AB"], [r[k].correct[test] for k in "ABC"],
                                 [1.0, 2.0, 5.0], [point["threshold_1"], point["threshold_2"]])
        assert out["triple_change"].iloc[0] == pytest.approx(
            ev["accuracy"] - r["C"].correct[test].mean())


def test_pair_vs_triple_takes_each_big_models_best():
    r = _records(n=400, seed=11)
    gm = {k: p.model["gmacs"] for k, p in r.items()}
    pairs = pt.pairs_table(r, gm)
    triples = multistage.search(r, gm, n_stages=3, levels=multistage.default_levels(30))
    cmp = chapter.pair_vs_triple(pairs, triples)
    best = pt.best_little_per_big(pairs).set_index("big")
    for b, row in cmp.iterrows():
        if b in best.index:
            assert row["pair_reduction"] == pytest.approx(best.loc[b, "macs_reduction"])
        ok = triples[(triples["big"] == b) & ~triples["degenerate"] & triples["gmacs"].notna()]
        if len(ok):
            assert row["triple_gmacs"] == pytest.approx(ok["gmacs"].min())
            assert row["gain"] == pytest.approx(row["triple_reduction"] - row["pair_reduction"],
                                                       nan_ok=True)
    assert "→" in chapter.pair_vs_triple_markdown(cmp) or cmp["triple"].isna().all()


def test_search_triples_prunes_only_what_cannot_beat_the_best_pair():
    r = _records(n=400, seed=11)
    gm = {k: p.model["gmacs"] for k, p in r.items()}
    pairs = pt.pairs_table(r, gm)
    levels = multistage.default_levels(30)
    full = multistage.search(r, gm, n_stages=3, levels=levels)
    pruned = chapter.search_triples(r, gm, pairs, levels)
    best = pt.best_little_per_big(pairs).set_index("big")["gmacs"]
    kept = full[[gm[s.split(" → ")[0]] < best.get(b, np.inf) for s, b in zip(full.stages, full.big)]]
    assert sorted(pruned.stages) == sorted(kept.stages)


def test_multistage_heldout_refuses_records_in_another_order():
    r = _records(n=300, seed=5)
    gm = {k: p.model["gmacs"] for k, p in r.items()}
    r["B"] = r["B"].subset(np.arange(300)[::-1])
    with pytest.raises(ValueError, match="same samples in the same order"):
        chapter.multistage_heldout(r, gm, ["A", "B", "C"], "A", multistage.default_levels(20), 2, 0.2)
