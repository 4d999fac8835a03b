"""Chapter tab03_baselines: targets, cheapest cascades and single models, Table 3, fairness numbers."""
import pandas as pd
import pytest
from littlebig_utils.book.chapters import tab03_baselines as chapter
from littlebig_utils.book.notebook import ParameterError
from littlebig_utils.core import pairs as pt
from littlebig_utils.core import engine


def test_measured_at_targets_cheapest_single_and_cascade(zoo):
    acc = sorted(zoo.accuracy.values())
    targets = {"mid": acc[2], "impossible": 1.0}
    m = chapter.measured_at_targets(zoo, targets).set_index("target")
    ok = {k: zoo.gmacs[k] for k, a in zoo.accuracy.items() if a >= acc[2] - 1e-12}
    assert m.loc["mid", "single"] == min(ok, key=ok.get)
    c = pt.cheapest_cascade_at(zoo.records, zoo.gmacs, acc[2])
    assert m.loc["mid", "cascade_gmacs"] == pytest.approx(c["gmacs"])
    assert pd.isna(m.loc["impossible", "cascade"]) and pd.isna(m.loc["impossible", "single"])


def test_best_at_any_cost_is_the_best_threshold_of_every_pair(zoo):
    best = chapter.best_at_any_cost(zoo)
    for _, r in zoo.pairs.iterrows():
        assert engine.sweep(zoo.records[r.little], zoo.records[r.big]).accuracy.max() <= best["accuracy"] + 1e-9


def fake_deit():
    return pd.DataFrame({"top1": [0.7986, 0.8198, 0.8138, 0.8308, 0.8380], "gmacs": [4.6, 17.6, 4.6, 4.6, 17.6]},
                        index=["DeiT-S", "DeiT-B", "DeiT III-S (ImageNet-1k only)",
                               "DeiT III-S (ImageNet-21k pre-training)", "DeiT III-B (ImageNet-1k only)"])


def test_table3_never_invents_the_papers_numbers(zoo):
    acc = sorted(zoo.accuracy.values())
    measured = chapter.measured_at_targets(zoo, {"DeiT-S, timm (fb_in1k)": acc[1],
                                                   "DeiT-B, timm (fb_in1k)": 1.0})
    t = chapter.table3(fake_deit(), measured)
    missing = t[t.status == chapter.NOT_IN_SOURCES]
    assert len(missing) == 4 and missing[["top1", "gmacs"]].isna().all().all()
    ours = t[t.status == "measured"]
    assert len(ours) == 2 and ours.top1.isna().sum() == 1  # nothing reaches 100 %
    f = chapter.fairness_numbers(fake_deit(), measured)
    assert f["avit_gap"] == pytest.approx(79.86 - 78.9)
    assert f["deit3_s_macs_vs_b"] == pytest.approx(100 * (1 - 4.6 / 17.6))
    ms = measured.iloc[0]
    assert f["s_cascade_vs_single_pct"] == pytest.approx(100 * (1 - ms.cascade_gmacs / ms.single_gmacs))
    assert f["b_cascade"] == "no pair" and f["b_single"] == "no single reference model"


def test_targets_are_fractions_and_percent_is_refused_with_both_readings():
    assert chapter.check_targets({"a": 0.789, "b": 0.7981}) == {"a": 0.789, "b": 0.7981}
    with pytest.raises(ParameterError, match=r"targets\['a'\].*got 78.9: read as percent it is 0.789"):
        chapter.check_targets({"a": 78.9})  # the parameter's old unit
    for bad in ({"a": "x"}, {"a": float("nan")}, {"a": 0}, {"a": True}, {"a": 150}):
        with pytest.raises(ParameterError, match=r"^parameter targets\['a'\] must be a top-1 accuracy as a fraction"):
            chapter.check_targets(bad)
    for bad in ("0.789", 0.789, {}, None):
        with pytest.raises(ParameterError, match="^parameter targets must be a non-empty dict"):
            chapter.check_targets(bad)
