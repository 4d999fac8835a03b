"""cifar_study: the CIFAR chapters' loops over pairs, checked against brute force on small data."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import cifar_study as cs
from littlebig_utils.core import scores
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core import engine
from littlebig_utils.core import pairs as pt


def _record(name, logits, labels, gmacs):
    p = scores.softmax(logits)
    return Predictions(sample_ids=[f"s{i}" for i in range(len(labels))], labels=labels,
                       preds=p.argmax(1), conf=p.max(1), logits=logits,
                       model=dict(name=name, gmacs=gmacs), dataset="toy")


def _zoo(n=400, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 5, n)
    recs, gmacs = {}, {}
    for k, (name, skill, g) in enumerate([("a", 1.0, 0.1), ("b", 2.0, 0.3), ("c", 3.0, 0.9)]):
        logits = rng.normal(size=(n, 5)).astype(np.float32)
        logits[np.arange(n), labels] += skill * rng.random(n) * 2
        recs[name], gmacs[name] = _record(name, logits, labels, g), g
    return recs, gmacs


def _brute_no_loss(conf, lc, bc):
    """Cheapest T (fewest sent to big) with cascade correct count >= big's, over every cut."""
    best = None
    for t in np.unique(np.r_[conf, 1.0 + 1e-9]):
        to_big = conf < t
        if np.where(to_big, bc, lc).sum() >= bc.sum():
            if best is None or to_big.sum() < best[1]:
                best = (t, to_big.sum())
    return best


def test_heldout_difference_matches_a_brute_force_split():
    recs, g = _zoo()
    info, diff = cs.heldout_difference(recs["a"], recs["c"], g["a"], g["c"], calib_frac=0.5, seed=3)
    calib, test = engine.split_indices(400, 0.5, 3)
    la, lc = recs["a"], recs["c"]
    t, _ = _brute_no_loss(la.conf[calib], la.correct[calib], lc.correct[calib])
    to_big = la.conf[test] < t
    casc = np.where(to_big, lc.correct[test], la.correct[test])
    assert info["n_test"] == len(test) == diff.n
    assert info["frac_big"] == pytest.approx(to_big.mean())
    assert diff.diff == pytest.approx(casc.mean() - lc.correct[test].mean())
    assert diff.lo <= diff.diff <= diff.hi
    assert info["macs_reduction"] == pytest.approx(1 - (0.1 + to_big.mean() * 0.9) / 0.9)


def test_heldout_difference_refuses_misaligned_records():
    recs, g = _zoo()
    b = recs["c"].subset(np.arange(399, -1, -1))
    with pytest.raises(ValueError, match="same images"):
        cs.heldout_difference(recs["a"], b, g["a"], g["c"])


def test_score_comparison_max_softmax_equals_the_pair_summary_on_the_evaluation_part():
    recs, g = _zoo()
    calib, ev = engine.split_indices(400, 0.5, 0)
    pairs = pd.DataFrame(dict(little=["a", "b"], big=["c", "c"]))
    comp, temps = cs.score_comparison(recs, g, pairs, calib, ev)
    assert set(temps) == {"a", "b", "c"} and len(comp) == 2 * len(cs.SCORE_NAMES)
    row = comp[(comp.little == "a") & (comp.score == "max softmax")].iloc[0]
    ref = pt.pair_summary(recs["a"].subset(ev), recs["c"].subset(ev), g["a"], g["c"])
    assert row["macs_reduction"] == pytest.approx(ref["macs_reduction"])
    assert row["accuracy_gap"] == pytest.approx(
        recs["c"].subset(ev).accuracy - recs["a"].subset(ev).accuracy)
    with pytest.raises(ValueError, match="overlap"):
        cs.score_comparison(recs, g, pairs, calib, np.r_[ev, calib[:1]])


def test_score_summary_counts_unreached_as_nothing_saved_and_ties_as_wins():
    comp = pd.DataFrame(dict(
        little=["a", "a", "b", "b"], big=["c", "c", "c", "c"],
        score=["x", "y", "x", "y"], macs_reduction=[10.0, 10.0, np.nan, 40.0]))
    s = cs.score_summary(comp).set_index("score")
    assert s.loc["x", "median"] == 5.0 and s.loc["x", "min"] == 0.0
    assert s.loc["y", "median"] == 25.0 and s.loc["y", "wins"] == 2 and s.loc["x", "wins"] == 1
    assert list(cs.score_summary(comp)["score"]) == ["y", "x"]


def test_budget_table_is_the_brute_force_best_within_the_budget():
    recs, g = _zoo()
    pairs = pd.DataFrame(dict(little=["a", "a", "b"], big=["b", "c", "c"]))
    budget = 0.5
    out = cs.budget_table(recs, g, pairs, budget)
    assert (out["gmacs"] <= budget + 1e-12).all()
    assert list(out["accuracy"]) == sorted(out["accuracy"], reverse=True)
    for r in out.itertuples():
        la, lb = recs[r.little], recs[r.big]
        best = 0
        for t in np.unique(np.r_[0.0, la.conf, 1.0 + 1e-9]):
            to_big = la.conf < t
            if g[r.little] + to_big.mean() * g[r.big] <= budget + 1e-12:
                best = max(best, np.where(to_big, lb.correct, la.correct).sum())
        assert r.accuracy == pytest.approx(best / 400)


def test_models_table_puts_the_independent_jpeg_accuracy_beside_ours():
    recs, g = _zoo()
    recs = {"cifar_resnet20": recs["a"]}
    t = cs.models_table(recs, {"cifar_resnet20": 0.04}).iloc[0]
    assert t["top1_manifest_jpeg"] == 0.8103
    assert t["top1_stored_lossless"] == pytest.approx(0.9178)
    assert t["top1"] == pytest.approx(recs["cifar_resnet20"].accuracy)
    assert cs.depth("cifar_resnet56") == 56 and cs.depth("resnet110") is None


def test_fraction_curves_spread_the_share_sent_to_big_and_keep_the_legend_off_the_axes():
    import matplotlib.pyplot as plt
    recs, g = _zoo()
    table = engine.sweep(recs["a"], recs["c"])
    fig = cs.fraction_curves(table, "a", "c", recs["a"].accuracy, recs["c"].accuracy,
                             engine.no_loss_point(table))
    ax = fig.axes[0]
    assert ax.get_xlim() == (0, 100) and "%" in ax.get_xlabel() and "%" in ax.get_ylabel()
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0  # below the plotting area
    plt.close(fig)


def _pairs_frame(gaps, reductions):
    n = len(gaps)
    return pd.DataFrame(dict(little=[f"l{i}" for i in range(n)], big=[f"b{i}" for i in range(n)],
                             little_accuracy=0.80, big_accuracy=[0.80 + g / 100 for g in gaps],
                             threshold=0.9, frac_big=0.2, macs_reduction=[r / 100 for r in reductions],
                             accuracy=0.81,
                             degenerate=[g <= 0 for g in gaps], little_gmacs=0.1, big_gmacs=1.0))


def test_reduction_verdict_uses_the_median_over_meaningful_pairs():
    from littlebig_utils.book import selection
    from littlebig_utils.book import verdicts
    pairs = _pairs_frame([2.0, 1.5, 0.5, 3.0], [20.0, 40.0, 90.0, 35.0])
    m = selection.meaningful_pairs(pairs)
    v = cs.reduction_verdict(m)
    assert v.label == verdicts.REPRODUCED and "35.0 %" in v.reason and "3 meaningful" in v.reason
    assert cs.reduction_verdict(m[m["macs_reduction"] < 0.30]).label == verdicts.NOT_REPRODUCED
    assert cs.reduction_verdict(m.iloc[:0]).label == verdicts.NOT_TESTABLE


def test_pairs_markdown_marks_meaningful_pairs_and_shows_percentages():
    md = cs.pairs_markdown(_pairs_frame([2.0, 0.5, -1.0], [20.0, 90.0, 50.0]))
    rows = md.strip().splitlines()[2:]
    assert rows[0].endswith("| yes |") and rows[1].endswith("| no |") and rows[2].endswith("| no |")
    assert "| 20.0 |" in rows[0] and "| 2.00 |" in rows[0]  # frac_big 0.2 shown as 20.0 %
    assert "top-1 JPEG, manifest (%)" in cs.models_markdown(cs.models_table(*_zoo_named()))


def _zoo_named():
    recs, g = _zoo()
    return {"cifar_resnet20": recs["a"]}, {"cifar_resnet20": 0.04}
