"""The result chapters' shared logic (littlebig_utils.book.headlines) against brute-force references."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from littlebig_utils.book import headlines
from littlebig_utils.book import verdicts
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core import engine
from littlebig_utils.core import pairs as pt


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


@pytest.fixture(scope="module")
def zoo():
    return headlines.load_zoo(records=make_records())


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


def test_frontier_points_and_verdict(zoo):
    best = headlines.best_meaningful_per_big(zoo.pairs)
    pts = headlines.frontier_points(zoo, best)
    casc = pts[pts.kind != "single model"]
    assert len(casc) == len(best)
    # a cascade holds both models: parameters add up
    r = best.iloc[0]
    got = casc[casc.big == r.big].params_m.iloc[0]
    assert got == zoo.records[r.little].model["params_m"] + zoo.records[r.big].model["params_m"]
    v = headlines.verdict_frontier(pts)
    assert v.label in (verdicts.PARTLY, verdicts.NOT_REPRODUCED)  # our costs stop at 8 GMACs
    only_single = pts[pts.kind == "single model"]
    assert headlines.verdict_frontier(only_single).label == verdicts.NOT_REPRODUCED
    wide = pts.assign(gmacs=pts.gmacs * 1000)
    assert headlines.verdict_frontier(wide).label == v.label.replace(verdicts.PARTLY, verdicts.REPRODUCED)


def test_frontier_figure_labels_do_not_overlap(zoo):
    import matplotlib.pyplot as plt
    best = headlines.best_meaningful_per_big(zoo.pairs)
    fig = headlines.frontier_figure(headlines.frontier_points(zoo, best), best)
    ax = fig.axes[0]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    names = [t for t in ax.texts if t.get_text() in zoo.records]
    assert sorted(t.get_text() for t in names) == sorted(zoo.records)
    from matplotlib.text import Text
    boxes = [Text.get_window_extent(t, r) for t in names]
    for i in range(len(boxes)):
        for j in range(i):
            assert not boxes[i].overlaps(boxes[j]), (names[i].get_text(), names[j].get_text())
    arrows = [t for t in ax.texts if t.get_text() == "" and t.arrow_patch is not None]
    assert len(arrows) == len(best)  # the caption promises one arrow per big model
    # legend outside the axes (below them)
    leg = ax.get_legend().get_window_extent(r)
    assert leg.y1 <= ax.get_window_extent(r).y0
    plt.close(fig)


def test_heatmap_text_is_readable_and_cells_are_classified(zoo):
    import matplotlib.pyplot as plt
    fig = headlines.reduction_heatmap(zoo.pairs)
    ax = fig.axes[0]
    assert min(t.get_fontsize() for t in ax.texts) >= 9
    cells = [t.get_text() for t in ax.texts]
    assert cells.count("deg.") == int(zoo.pairs.degenerate.sum())
    n_none = int((~zoo.pairs.degenerate & ~(zoo.pairs.macs_reduction > 0)).sum())
    assert cells.count("none") == n_none
    plt.close(fig)


def test_verdict_all_pairs(zoo):
    v = headlines.verdict_all_pairs(zoo.pairs)
    assert v.label in verdicts.LABELS and str(len(zoo.pairs)) in v.reason
    assert headlines.verdict_all_pairs(zoo.pairs, min_gap=0.99).label == verdicts.NOT_TESTABLE


def test_budget_best_against_every_threshold(zoo):
    budget = 1.5
    best_c, best_s = headlines.budget_best(zoo, budget)
    top = -1.0
    for a in zoo.records:
        for b in zoo.records:
            if zoo.gmacs[a] < zoo.gmacs[b]:
                t = engine.sweep(zoo.records[a], zoo.records[b])
                ok = t[t.gmacs <= budget + 1e-12]
                if len(ok):
                    top = max(top, ok.accuracy.max())
    assert best_c["accuracy"] == pytest.approx(top) and best_c["gmacs"] <= budget + 1e-12
    single = {k: v for k, v in zoo.accuracy.items() if zoo.gmacs[k] <= budget}
    assert best_s["name"] == max(single, key=single.get)
    assert headlines.budget_best(zoo, 0.1) == (None, None)


def test_tolerance_gain_is_never_negative(zoo):
    best = headlines.best_meaningful_per_big(zoo.pairs)
    g = headlines.tolerance_gain(zoo, best, 0.005)
    assert len(g) == len(best) and (g["gain"] >= -1e-9).all()
    assert (headlines.tolerance_gain(zoo, best, 0.0)["gain"].abs() < 1e-9).all()


def test_measured_at_targets_cheapest_single_and_cascade(zoo):
    acc = sorted(zoo.accuracy.values())
    targets = {"mid": acc[2], "impossible": 1.0}
    m = headlines.measured_at_targets(zoo, targets).set_index("target")
    ok = {k: zoo.gmacs[k] for k, a in zoo.accuracy.items() if a >= acc[2] - 1e-12}
    assert m.loc["mid", "single"] == min(ok, key=ok.get)
    c = pt.cheapest_cascade_at(zoo.records, zoo.gmacs, acc[2])
    assert m.loc["mid", "cascade_gmacs"] == pytest.approx(c["gmacs"])
    assert pd.isna(m.loc["impossible", "cascade"]) and pd.isna(m.loc["impossible", "single"])


def test_best_at_any_cost_and_companion_choice(zoo):
    best = headlines.best_at_any_cost(zoo)
    for _, r in zoo.pairs.iterrows():
        assert engine.sweep(zoo.records[r.little], zoo.records[r.big]).accuracy.max() <= best["accuracy"] + 1e-9
    ch = headlines.companion_choice(zoo.pairs)
    ref = brute_meaningful(zoo.pairs)
    for _, r in ch.iterrows():
        rows = ref[ref.big == r.big]
        assert r.best == rows.sort_values("macs_reduction").little.iloc[-1]
        assert r.cheapest == rows.sort_values("little_gmacs").little.iloc[0]
        assert r.differ == (r.best != r.cheapest)


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


def fake_deit():
    return pd.DataFrame({"top1": [0.7986, 0.8198, 0.8138, 0.8308, 0.8380], "gmacs": [4.6, 17.6, 4.6, 4.6, 17.6]},
                        index=["DeiT-S", "DeiT-B", "DeiT III-S (ImageNet-1k only)",
                               "DeiT III-S (ImageNet-21k pre-training)", "DeiT III-B (ImageNet-1k only)"])


def test_table3_never_invents_the_papers_numbers(zoo):
    acc = sorted(zoo.accuracy.values())
    measured = headlines.measured_at_targets(zoo, {"DeiT-S, timm (fb_in1k)": acc[1],
                                                   "DeiT-B, timm (fb_in1k)": 1.0})
    t = headlines.table3(fake_deit(), measured)
    missing = t[t.status == headlines.NOT_IN_SOURCES]
    assert len(missing) == 4 and missing[["top1", "gmacs"]].isna().all().all()
    ours = t[t.status == "measured"]
    assert len(ours) == 2 and ours.top1.isna().sum() == 1  # nothing reaches 100 %
    f = headlines.fairness_numbers(fake_deit(), measured)
    assert f["avit_gap"] == pytest.approx(79.86 - 78.9)
    assert f["deit3_s_macs_vs_b"] == pytest.approx(100 * (1 - 4.6 / 17.6))
    ms = measured.iloc[0]
    assert f["s_cascade_vs_single_pct"] == pytest.approx(100 * (1 - ms.cascade_gmacs / ms.single_gmacs))
    assert f["b_cascade"] == "no pair" and f["b_single"] == "no single reference model"


def test_verdict_markdown_keeps_the_label_as_the_admonition_title():
    from markdown_it import MarkdownIt
    v = verdicts.Verdict(verdicts.PARTLY, "the median is 42 % here.")
    text = headlines.verdict_markdown(v, claim="30–80 % (reported).")
    first = text.splitlines()[0]
    assert first == "```{admonition} Verdict: Partly reproduced"
    assert ":class: important" in text and "The median is 42 % here." in text
    tokens = MarkdownIt().parse(text)
    assert [t.type for t in tokens] == ["fence"]  # one directive block, nothing outside it
