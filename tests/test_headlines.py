"""What several ImageNet chapters share (littlebig_utils.book.headlines) against brute-force references;
the records are `make_records`, which the chapter tests import too."""
import numpy as np
import pandas as pd
import pytest
from littlebig_utils.book import headlines
from littlebig_utils.core.predictions import Predictions


def make_records(n=600, seed=1):
    """Five models on the same images, accuracy rising with cost, confidences informative."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    specs = [("a", 0.5, 0.55, 5), ("b", 1.0, 0.62, 12), ("c", 2.0, 0.625, 20), ("d", 4.0, 0.70, 40),
             ("e", 8.0, 0.60, 60)]  # e: expensive but worse than d (degenerate pairs)
    out = {}
    for name, g, acc, params in specs:
        right = rng.random(n) < acc
        preds = np.where(right, labels, (labels + 1 + rng.integers(0, 8, n)) % 10)
        conf = np.clip(np.where(right, 0.55, 0.35) + 0.45 * rng.random(n), 0, 1).round(4)
        out[name] = Predictions(np.arange(n).astype(str), labels, preds, conf,
                                model={"name": name, "gmacs": g, "params_m": params})
    return out


def brute_meaningful(pairs, gap=0.01):
    rows = []
    for _, r in pairs.iterrows():
        if (r.big_accuracy - r.little_accuracy >= gap and not r.degenerate
                and np.isfinite(r.macs_reduction) and r.little_gmacs < r.big_gmacs):
            rows.append(r)
    return pd.DataFrame(rows)


def test_typical_reduction_is_the_median_over_meaningful_pairs_only(zoo):
    ref = brute_meaningful(zoo.pairs)
    t = headlines.typical_reduction(zoo.pairs)
    assert t["n"] == len(ref) > 0
    # quoted numbers are percent; the pair table holds fractions
    assert t["median"] == pytest.approx(100 * float(np.median(ref["macs_reduction"])))
    assert t["min"] == pytest.approx(100 * ref["macs_reduction"].min())
    # pairs less than a point apart do not move it: a 0.1-point pair with 99 % saving is ignored
    fake = zoo.pairs.iloc[:1].assign(little="x", big="y", little_accuracy=0.700,
                                     big_accuracy=0.701, macs_reduction=0.99, degenerate=False)
    assert headlines.typical_reduction(pd.concat([zoo.pairs, fake]))["median"] == t["median"]
    assert "median" in t["definition"] and "1 point" in t["definition"]
    empty = headlines.typical_reduction(zoo.pairs, min_gap=0.99)
    assert empty["n"] == 0 and np.isnan(empty["median"])


def test_best_meaningful_per_big_is_the_best_meaningful_row_of_each_big(zoo):
    best = headlines.best_meaningful_per_big(zoo.pairs)
    ref = brute_meaningful(zoo.pairs)
    assert set(best["big"]) == set(ref["big"])
    for _, r in best.iterrows():
        assert r.big_accuracy - r.little_accuracy >= 0.01
        assert r.macs_reduction == pytest.approx(ref[ref.big == r.big].macs_reduction.max())
    view, formats, headers = headlines.table2_view(best)
    assert len(view.columns) <= 6 and set(formats) <= set(view.columns)
    np.testing.assert_allclose(view["to_big"], 100 * best["frac_big"])
    np.testing.assert_allclose(view["gap"], 100 * (best["big_accuracy"] - best["little_accuracy"]))
    np.testing.assert_allclose(view["saved"], 100 * best["macs_reduction"])


def test_smoke_subset_takes_the_same_images_of_every_model():
    recs = make_records()
    sub = headlines.smoke_subset(recs, seed=3, n=100)
    ids = [tuple(p.sample_ids) for p in sub.values()]
    assert len(set(ids)) == 1 and len(ids[0]) == 100
    assert headlines.smoke_subset(recs, seed=3, n=100)["a"].sample_ids.tolist() == list(ids[0])
    assert len(headlines.smoke_subset(recs, n=10_000)["a"]) == 600  # capped at what exists
    z = headlines.load_zoo(smoke=True, records=recs)
    assert "smoke" in z.dataset and len(z.records["a"]) == 600


def test_cascade_vs_big_counts_the_discordant_images(zoo):
    r = headlines.best_meaningful_per_big(zoo.pairs).iloc[0]
    d = headlines.cascade_vs_big(zoo, r.little, r.big, r.threshold)
    lp, bp = zoo.records[r.little], zoo.records[r.big]
    casc = [bp.correct[i] if lp.conf[i] < r.threshold else lp.correct[i] for i in range(len(lp))]
    plus = sum(c and not b for c, b in zip(casc, bp.correct))
    minus = sum(b and not c for c, b in zip(casc, bp.correct))
    assert (d.n_cascade_only, d.n_big_only, d.n) == (plus, minus, len(lp))
    assert d.diff == pytest.approx(r.accuracy - r.big_accuracy)  # no loss: >= 0
    assert d.lo <= d.diff <= d.hi
    big_alone = headlines.cascade_vs_big(zoo, r.little, r.big, 1.0)
    # T = 1 escalates all but confidence-1 images
    assert big_alone.n_big_only + big_alone.n_cascade_only <= int((lp.conf >= 1.0).sum())
