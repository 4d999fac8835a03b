"""Chapters transfer_shift and transfer_cifar10h: a threshold fixed on one set of predictions
applied to another, checked against a loop over images; verdicts from constructed intervals."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import verdicts
from littlebig_utils.book.chapters import transfer_cifar10h as th
from littlebig_utils.book.chapters import transfer_shift as ts
from littlebig_utils.book.notebook import ParameterError
from littlebig_utils.core import pairs as core_pairs
from littlebig_utils.core import scores
from littlebig_utils.core.predictions import Predictions


def _record(name, logits, labels, gmacs, ids=None):
    p = scores.softmax(logits)
    ids = [f"test_{i:05d}" for i in range(len(labels))] if ids is None else ids
    return Predictions(sample_ids=ids, labels=labels, preds=p.argmax(1), conf=p.max(1),
                       logits=logits, model=dict(name=name, gmacs=gmacs), dataset="toy")


def _zoo(n=300, seed=0, noise=0.0):
    """Three models of rising skill; `noise` > 0 gives a 'shifted' copy of the same images."""
    rng = np.random.default_rng(seed)
    labels = np.random.default_rng(99).integers(0, 5, n)
    out = {}
    for k, (name, skill, g) in enumerate([("a", 1.0, 0.1), ("b", 2.0, 0.3), ("c", 3.0, 0.9)]):
        base = np.random.default_rng(10 + k)
        logits = base.normal(size=(n, 5)).astype(np.float32)
        logits[np.arange(n), labels] += skill * base.random(n) * 2
        logits += noise * rng.normal(size=logits.shape).astype(np.float32)
        out[name] = _record(name, logits, labels, g)
    return out


def test_transfer_equals_a_loop_over_images():
    src, shifted = _zoo(), _zoo(noise=1.5)
    t = 0.7
    r = ts.transfer(shifted["a"], shifted["c"], t, 0.1, 0.9)
    lo, bi = shifted["a"], shifted["c"]
    right, sent, plus, minus = [], 0, 0, 0
    for i in range(len(lo)):
        up = lo.conf[i] < t
        sent += up
        c = bi.correct[i] if up else lo.correct[i]
        right.append(c)
        plus += c and not bi.correct[i]
        minus += bi.correct[i] and not c
    assert r["accuracy"] == pytest.approx(np.mean(right))
    assert r["frac_big"] == pytest.approx(sent / len(lo))
    assert r["diff"] == pytest.approx(np.mean(right) - bi.accuracy)
    assert (r["cascade_only"], r["big_only"]) == (plus, minus)
    assert r["lo"] <= r["diff"] <= r["hi"]
    assert r["macs_reduction"] == pytest.approx(1 - (0.1 + sent / len(lo) * 0.9) / 0.9)
    assert src["a"].accuracy != shifted["a"].accuracy  # the shift changed something


def test_transfer_refuses_misaligned_predictions():
    z = _zoo()
    with pytest.raises(ValueError, match="same images"):
        ts.transfer(z["a"], z["c"].subset(np.arange(299, -1, -1)), 0.5, 0.1, 0.9)


def test_shift_table_keeps_each_pairs_lossless_threshold_and_skips_degenerate_pairs():
    src, shifted = _zoo(), _zoo(noise=1.5)
    pairs = core_pairs.pairs_table(src, {"a": 0.1, "b": 0.3, "c": 0.9})
    table = ts.shift_table(pairs, {ts.LOSSLESS: src, ts.JPEG: shifted, "only a": {"a": src["a"]}})
    genuine = pairs[~pairs["degenerate"] & pairs["threshold"].notna()]
    assert len(table) == 2 * len(genuine) > 0 and set(table["set"]) == {ts.LOSSLESS, ts.JPEG}
    for _, r in table.iterrows():
        p = genuine[(genuine["little"] == r["little"]) & (genuine["big"] == r["big"])].iloc[0]
        assert r["threshold"] == p["threshold"]
        if r["set"] == ts.LOSSLESS:  # in-sample no-loss point: at least the big model
            assert r["diff"] >= 0 and r["frac_big"] == pytest.approx(p["frac_big"])
    md = ts.pairs_markdown(table)
    assert md.count("\n") == 2 + len(genuine) and "lossless → shifted" in md
    assert "cascade − big (points, 95 % CI)" in ts.pair_markdown(table)


def _rows(*intervals):
    return pd.DataFrame([dict(set=name, diff=(lo + hi) / 2, lo=lo, hi=hi, frac_big=0.2)
                         for name, lo, hi in intervals])


@pytest.mark.parametrize("intervals, label", [
    ([("JPEG copy", -0.0005, 0.004), ("blur 1", 0.0, 0.01), ("blur 5", -0.0006, 0.0)],
     verdicts.REPRODUCED),
    ([("JPEG copy", -0.03, -0.01), ("blur 1", -0.02, -0.001)], verdicts.NOT_REPRODUCED),
    ([("JPEG copy", 0.0, 0.01), ("blur 1", 0.0, 0.01), ("blur 5", -0.03, -0.01)], verdicts.PARTLY),
    ([("JPEG copy", -0.01, 0.01), ("blur 1", 0.0, 0.01)], verdicts.INCONCLUSIVE),
])
def test_claim_judges_the_jpeg_copy_and_the_worst_corruption(intervals, label):
    from littlebig_utils.book import claims
    rows = _rows(("lossless", 0.0, 0.002), ("lossless, first 3,000", -0.03, -0.02), *intervals)
    n = ts.claim_numbers(rows)
    corr = [r for r in intervals if r[0] != "JPEG copy"]
    worst = min(corr, key=lambda r: (r[1] + r[2]) / 2)  # the lossless rows are never judged
    assert (n["corrupted_diff_lo"], n["corrupted_diff_hi"]) == (worst[1], worst[2])
    assert (n["jpeg_diff_lo"], n["jpeg_diff_hi"]) == intervals[0][1:]
    assert claims.decide("lb-transfer-shift", **n).label == label
    none = ts.claim_numbers(rows.iloc[:2])
    assert none["jpeg_diff"] is None and none["corrupted_diff"] is None
    assert claims.decide("lb-transfer-shift", **none).label == verdicts.NOT_TESTABLE


def test_outcome_uses_the_reported_loss_as_bound():
    assert ts.outcome(dict(lo=-0.0007, hi=0.01)) == "holds"
    assert ts.outcome(dict(lo=-0.002, hi=-0.0008)) == "fails"
    assert ts.outcome(dict(lo=-0.002, hi=0.0)) == "open"


def test_numbers_and_figure_of_a_pair():
    import matplotlib.pyplot as plt
    src, shifted = _zoo(), _zoo(noise=1.5)
    pairs = core_pairs.pairs_table(src, {"a": 0.1, "b": 0.3, "c": 0.9})
    table = ts.shift_table(pairs, {ts.LOSSLESS: src, ts.JPEG: shifted})
    row = pairs[(pairs["little"] == "a") & (pairs["big"] == "c")]
    pair = ts.shift_table(row, {ts.LOSSLESS: src, ts.JPEG: shifted,
                                "lossless, first 100": ts.first(src, 100),
                                "noise 3": ts.first(_zoo(noise=3.0), 100)})
    n = ts.numbers(pair, table)
    j = pair.set_index("set").loc[ts.JPEG]
    assert n["frac_jpeg"] == pytest.approx(100 * j["frac_big"])
    assert n["n_corr"] == 1 and n["worst_set"] == "noise 3"
    assert n["n_pairs"] == len(table[table["set"] == ts.JPEG])
    fig = ts.shift_figure(pair, "t")
    assert len(fig.axes[0].get_yticklabels()) == len(pair)
    plt.close(fig)


def test_corrupted_refuses_unknown_corruptions_in_one_line():
    from littlebig_utils.book import cifar_study
    for corruptions, severities in ((["fog"], [1]), (["gaussian_noise"], [6]), ([], [1]),
                                    ("gaussian_noise", [1]), (["gaussian_noise"], [True])):
        with pytest.raises(ParameterError, match="parameters corruptions and severities") as e:
            ts.corrupted(["a"], corruptions, severities, 0, 10)
        assert "\n" not in str(e.value)
    assert cifar_study.check_corruptions('["gaussian_blur"]', "[1, 5]") == (["gaussian_blur"], [1, 5])


# ------------------------------------------------------------------ transfer_cifar10h

def test_cifar10h_labels_are_joined_by_image_id_not_by_position():
    from littlebig_utils.run.datasets import cifar10h_labels
    majority, valid, soft = cifar10h_labels()
    ids = [f"test_{i:05d}" for i in (7, 3, 9990)]
    y = np.array([1, 2, 3])
    rec = Predictions(ids, y, majority[[7, 3, 9990]], np.full(3, 0.9), None, {"name": "m"}, "toy")
    correct, v, s = th.human_labels({"m": rec})
    assert correct["m"].all()  # its predictions are the majority labels of images 7, 3, 9990
    np.testing.assert_array_equal(v, valid[[7, 3, 9990]])
    np.testing.assert_allclose(s, soft[[7, 3, 9990]])
    other = Predictions(ids[::-1], y, y, np.full(3, 0.9), None, {"name": "o"}, "toy")
    with pytest.raises(ValueError, match="other images"):
        th.human_labels({"m": rec, "o": other})


def test_cifar10h_claim_tolerates_the_reported_loss():
    from littlebig_utils.book import claims
    head = pd.Series(dict(change=0.0002, ci_lo=-0.0003, ci_hi=0.001))
    assert th.claim_numbers(head) == dict(diff=0.0002, diff_lo=-0.0003, diff_hi=0.001)
    assert claims.decide("lb-transfer-cifar10h", **th.claim_numbers(head)).label == verdicts.REPRODUCED
    head = pd.Series(dict(change=0.0002, ci_lo=-0.0058, ci_hi=0.0062))
    assert claims.decide("lb-transfer-cifar10h", **th.claim_numbers(head)).label \
        == verdicts.INCONCLUSIVE


def test_cifar10h_jpeg_numbers_equal_the_shared_label_transfer():
    """The chapter's own JPEG-copy transfer gives what `studies.label_transfer` gives."""
    from littlebig_utils.book import studies
    z = _zoo(n=300)
    pairs = core_pairs.pairs_table(z, {"a": 0.1, "b": 0.3, "c": 0.9})
    correct, valid, _ = th.human_labels(z)
    ref = studies.label_transfer(pairs[(pairs["little"] == "a") & (pairs["big"] == "c")], z,
                                 correct, valid).iloc[0]
    out = th.jpeg_numbers(z, "a", "c")
    assert out["jpeg_t"] == ref["threshold"]
    assert out["jpeg_change"] == (f"{100 * ref['change']:+.2f} points (95 % CI "
                                  f"{100 * ref['ci_lo']:+.2f} to {100 * ref['ci_hi']:+.2f})")
