"""Chapters cifar_pairs and confidence_scores, and the CIFAR chapters' shared module: their loops
over pairs checked against brute force on small data, their verdicts and parameter checks."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import cifar_study
from littlebig_utils.book.chapters import cifar_pairs as cs
from littlebig_utils.book.chapters import confidence_scores as scs
from littlebig_utils.book.notebook import ParameterError
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
    comp, temps = scs.score_comparison(recs, g, pairs, calib, ev)
    assert set(temps) == {"a", "b", "c"} and len(comp) == 2 * len(scs.SCORE_NAMES)
    row = comp[(comp.little == "a") & (comp.score == "max softmax")].iloc[0]
    ref = pt.pair_summary(recs["a"].subset(ev), recs["c"].subset(ev), g["a"], g["c"])
    assert row["macs_reduction"] == pytest.approx(ref["macs_reduction"])
    assert row["accuracy_gap"] == pytest.approx(
        recs["c"].subset(ev).accuracy - recs["a"].subset(ev).accuracy)
    with pytest.raises(ValueError, match="overlap"):
        scs.score_comparison(recs, g, pairs, calib, np.r_[ev, calib[:1]])


def test_score_summary_counts_unreached_as_nothing_saved_and_ties_as_wins():
    comp = pd.DataFrame(dict(
        little=["a", "a", "b", "b"], big=["c", "c", "c", "c"],
        score=["x", "y", "x", "y"], macs_reduction=[10.0, 10.0, np.nan, 40.0]))
    s = scs.score_summary(comp).set_index("score")
    assert s.loc["x", "median"] == 5.0 and s.loc["x", "min"] == 0.0
    assert s.loc["y", "median"] == 25.0 and s.loc["y", "wins"] == 2 and s.loc["x", "wins"] == 1
    assert list(scs.score_summary(comp)["score"]) == ["y", "x"]


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


def test_models_table_puts_the_published_and_the_jpeg_accuracy_beside_ours():
    recs, g = _zoo()
    ours = {"cifar_resnet20": recs["a"], "cifar_resnet56": recs["c"]}
    jpeg = {"cifar_resnet20": recs["b"], "cifar_resnet56": recs["a"]}
    t = cs.models_table(ours, jpeg).set_index("model")
    assert t.loc["cifar_resnet20", "top1_published"] == 0.9173
    assert t.loc["cifar_resnet56", "top1_published"] == 0.9339
    assert t.loc["cifar_resnet20", "top1"] == pytest.approx(recs["a"].accuracy)
    assert t.loc["cifar_resnet20", "top1_jpeg"] == pytest.approx(recs["b"].accuracy)
    assert t.loc["cifar_resnet56", "gmacs"] == 0.9
    assert np.isnan(cs.models_table(ours)["top1_jpeg"]).all()
    md = cs.models_markdown(t.reset_index())
    assert "| 91.73 |" in md and "top-1, published (%)" in md
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


def _diff(d, lo, hi):
    from littlebig_utils.core.uncertainty import Difference
    return Difference(d, lo, hi, 1000, 5, 5, 1.0, "mcnemar-exact", 0.95)


def test_claim_numbers_decide_lb_cifar_from_the_median_and_the_heldout_interval():
    """A verdict must follow from every number its chapter shows, the held-out one included
    (the chapter once said "Reproduced" beside a held-out loss whose interval lay below 0)."""
    from littlebig_utils.book import claims, selection, verdicts
    m = selection.meaningful_pairs(_pairs_frame([2.0, 1.5, 0.5, 3.0], [20.0, 40.0, 90.0, 35.0]))
    n = cs.claim_numbers(m, _diff(-0.0104, -0.0196, -0.0011))
    assert n["median_reduction"] == pytest.approx(0.35)  # 3 meaningful pairs: 20, 35, 40 %
    assert (n["heldout_diff"], n["heldout_diff_lo"], n["heldout_diff_hi"]) == (-0.0104, -0.0196, -0.0011)
    assert claims.decide("lb-cifar", **n).label == verdicts.PARTLY
    ok = cs.claim_numbers(m, _diff(0.001, 0.0, 0.006))
    assert claims.decide("lb-cifar", **ok).label == verdicts.REPRODUCED
    open_ = cs.claim_numbers(m, _diff(-0.002, -0.01, 0.006))
    assert claims.decide("lb-cifar", **open_).label == verdicts.INCONCLUSIVE
    none = cs.claim_numbers(m.iloc[:0], _diff(0.0, 0.0, 0.0))
    assert none["median_reduction"] is None
    assert claims.decide("lb-cifar", **none).label == verdicts.NOT_TESTABLE


def test_pairs_markdown_marks_meaningful_pairs_and_shows_percentages():
    md = cs.pairs_markdown(_pairs_frame([2.0, 0.5, -1.0], [20.0, 90.0, 50.0]))
    rows = md.strip().splitlines()[2:]
    assert rows[0].endswith("| yes |") and rows[1].endswith("| no |") and rows[2].endswith("| no |")
    assert "| 20.0 |" in rows[0] and "| 2.00 |" in rows[0]  # frac_big 0.2 shown as 20.0 %


def test_jpeg_numbers_recompute_the_chapter_on_other_predictions():
    recs, _ = _zoo()
    named = {"cifar_resnet20": recs["a"], "cifar_resnet44": recs["b"], "cifar_resnet56": recs["c"]}
    g = {"cifar_resnet20": 0.1, "cifar_resnet44": 0.3, "cifar_resnet56": 0.9}
    models = cs.models_table(named, named)
    out = cs.jpeg_numbers(named, g, models, "cifar_resnet20", "cifar_resnet56")
    pairs = pt.pairs_table(named, g)
    from littlebig_utils.book import selection
    m = selection.meaningful_pairs(pairs)
    assert out["jpeg_n_meaningful"] == len(m) > 0
    assert out["jpeg_median"] == pytest.approx(100 * m["macs_reduction"].median())
    assert out["jpeg_drop_min"] == out["jpeg_drop_max"] == 0.0
    _, d = cs.heldout_difference(named["cifar_resnet20"], named["cifar_resnet56"], 0.1, 0.9)
    assert out["jpeg_ho"].startswith(f"{100 * d.diff:+.2f} points")


def test_score_bars_and_summary_markdown_show_percent():
    import matplotlib.pyplot as plt
    recs, g = _zoo()
    calib, ev = engine.split_indices(400, 0.5, 0)
    comp, _ = scs.score_comparison(recs, g, pd.DataFrame(dict(little=["a"], big=["c"])), calib, ev)
    fig = scs.score_bars(comp, "t")
    heights = sorted(p.get_height() for p in fig.axes[0].patches if p.get_height())
    assert heights[-1] == pytest.approx(100 * comp["macs_reduction"].max())
    plt.close(fig)
    md = scs.summary_markdown(scs.score_summary(comp))
    assert "median MACs reduction (%)" in md


def test_confidence_claim_is_the_best_other_score_against_max_softmax():
    from littlebig_utils.book import claims, verdicts
    summary = pd.DataFrame(dict(score=["margin", "max softmax", "negative entropy"],
                                median=[0.5, 0.25, 0.1], min=[0.1, 0.1, 0.0], max=[0.6, 0.3, 0.2],
                                wins=[1, 1, 0], pairs=[2, 2, 2]))
    n = scs.claim_numbers(summary)
    assert n == {"best_gain": pytest.approx(0.25)}
    assert claims.decide("lb-max-softmax", **n).label == verdicts.NOT_REPRODUCED
    summary.loc[0, "median"] = 0.255  # half a point better than max softmax: within 1 point
    assert claims.decide("lb-max-softmax", **scs.claim_numbers(summary)).label == verdicts.REPRODUCED


@pytest.mark.parametrize("kwargs, match", [
    (dict(models="cifar_resnet20"), "list of CIFAR ResNets"),
    (dict(models=["cifar_resnet20"]), "two or more"),
    (dict(models=["cifar_resnet20", "resnet34"]), "two or more different"),
    (dict(models=["cifar_resnet20", "cifar_resnet20"]), "two or more different"),
    (dict(dataset="cifar10-train"), "parameter dataset"),
    (dict(smoke=True, smoke_n="abc"), "parameter smoke_n"),
    (dict(smoke=True, smoke_n=10), "parameter smoke_n"),
])
def test_cifar_predictions_refuse_bad_parameters_in_one_line(kwargs, match):
    with pytest.raises(ParameterError, match=match) as e:
        cifar_study.predictions(**kwargs)
    assert "\n" not in str(e.value)


def test_cifar_predictions_use_one_cache_key_per_subset(monkeypatch):
    calls = []
    import littlebig_utils.run.predict as predict

    def fake(model, dataset, limit=None):
        calls.append((model, dataset, limit))
        return model
    monkeypatch.setattr(predict, "cached_predictions", fake)
    assert cifar_study.predictions(["cifar_resnet20", "cifar_resnet56"], "cifar10-test-jpeg") \
        == {"cifar_resnet20": "cifar_resnet20", "cifar_resnet56": "cifar_resnet56"}
    cifar_study.predictions(smoke=True, smoke_n=1000)
    cifar_study.predictions('["cifar_resnet20", "cifar_resnet44"]')  # papermill -p text
    assert calls[-1] == ("cifar_resnet44", "cifar10-test", None)
    calls.pop(), calls.pop()
    assert calls[:2] == [("cifar_resnet20", "cifar10-test-jpeg", None),
                         ("cifar_resnet56", "cifar10-test-jpeg", None)]
    assert calls[2:] == [(m, "cifar10-test", 1000) for m in cifar_study.MODELS]


def test_unknown_reference_model_is_a_one_line_parameter_error():
    with pytest.raises(ParameterError, match="references"):
        cs.references(["resnet1100"], 10)
    with pytest.raises(ParameterError, match="references"):
        cs.references("resnet110", 10)
