"""Chapter fig01_macs_vs_accuracy: frontier points, verdict, figure and budget search."""
import pytest
from littlebig_utils.book import headlines
from littlebig_utils.book import verdicts
from littlebig_utils.book.chapters import fig01_macs_vs_accuracy as chapter
from littlebig_utils.core import engine


def test_frontier_points_and_verdict(zoo):
    best = headlines.best_meaningful_per_big(zoo.pairs)
    pts = chapter.frontier_points(zoo, best)
    casc = pts[pts.kind != "single model"]
    assert len(casc) == len(best)
    # a cascade holds both models: parameters add up
    r = best.iloc[0]
    got = casc[casc.big == r.big].params_m.iloc[0]
    assert got == zoo.records[r.little].model["params_m"] + zoo.records[r.big].model["params_m"]
    v = chapter.verdict_frontier(pts)
    assert v.label in (verdicts.PARTLY, verdicts.NOT_REPRODUCED)  # our costs stop at 8 GMACs
    only_single = pts[pts.kind == "single model"]
    assert chapter.verdict_frontier(only_single).label == verdicts.NOT_REPRODUCED
    wide = pts.assign(gmacs=pts.gmacs * 1000)
    assert chapter.verdict_frontier(wide).label == v.label.replace(verdicts.PARTLY, verdicts.REPRODUCED)


def test_frontier_figure_labels_do_not_overlap(zoo):
    import matplotlib.pyplot as plt
    best = headlines.best_meaningful_per_big(zoo.pairs)
    fig = chapter.frontier_figure(chapter.frontier_points(zoo, best), best)
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


def test_budget_best_against_every_threshold(zoo):
    budget = 1.5
    best_c, best_s = chapter.budget_best(zoo, budget)
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
    assert chapter.budget_best(zoo, 0.1) == (None, None)


def test_frontier_shift_is_the_single_frontier_against_all_points(zoo):
    pts = chapter.frontier_points(zoo, headlines.best_meaningful_per_big(zoo.pairs))
    single = pts[pts.kind == "single model"]
    shift = chapter.frontier_shift(pts)
    assert list(shift["name"]) == list(chapter.pareto_front(single)["name"])
    for _, r in shift.iterrows():  # the cheapest point of all that reaches the model's accuracy
        ok = pts[pts.accuracy >= r.accuracy - 1e-12]
        assert r.gmacs_at_same_accuracy == pytest.approx(ok.gmacs.min())
