"""Chapter deferral_rules: its claims' statistics, parameter checks, tables and figures (the deferral
studies themselves are checked against brute force in test_deferral.py)."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import verdicts
from littlebig_utils.book.chapters import deferral_rules as chapter
from littlebig_utils.book.notebook import ParameterError


def _table():
    """A verdict_table as the chapter builds it: regimes, evals, a learned rule, two shares."""
    rows = []
    for regime, ev, gain, gmin in [
            ("clean", "original labels", 0.05, -0.2),
            ("label noise (fit on noisy)", "one annotator", 0.4, 0.2),
            ("label noise (fit on original)", "one annotator", 0.1, -0.1),
            ("shift (fit on clean)", chapter.JPEG, -0.3, -0.5),
            ("shift (fit on clean)", "gaussian_noise 3", 0.2, -0.1),
            (f"shift (fit on {chapter.JPEG})", chapter.JPEG, 0.02, -0.05),
            ("shift (fit on gaussian_noise 3)", "gaussian_noise 3", 0.5, 0.3),
            ("shift (fit on gaussian_blur 5)", "gaussian_blur 5", 0.3, -0.1),
            ("ImageNet a → b", "original", 0.01, -0.02)]:
        for share in (10.0, 20.0):
            g = pd.DataFrame([dict(mean=gain / 100, min=gmin / 100)])
            rows.append(dict(regime=regime, eval=ev, rule="learned (probs)", share=share,
                             confidence=90.0, learned=90.0 + gain, oracle=95.0, gain=gain,
                             gain_min=gmin, gain_max=gain + 0.1, verdict=chapter.verdict(g)))
    return pd.DataFrame(rows)


def test_chapter_numbers_pool_the_corruptions_and_keep_the_jpeg_copy_apart():
    n = chapter.chapter_numbers(_table())
    assert n["v_noise"] == "better on every split" and n["gain_noise"] == pytest.approx(0.4)
    assert n["gain_shift_fit"] == pytest.approx(0.4)  # noise 3 and blur 5 pooled
    assert n["best_shift_fit"] == pytest.approx(0.5)
    assert n["v_shift_fit"] == "better on every split"  # one of the two rows: half
    assert n["gain_jpeg"] == pytest.approx(0.02) and n["v_jpeg"] == "not better"
    assert n["gain_jpeg_clean"] == pytest.approx(-0.3)
    assert n["imnet_enough"].startswith("on average over the splits the learned rule stays within")
    assert "Reproduced" not in n["regimes"]  # claims get verdicts, rows get outcomes


def test_claim_numbers_take_the_row_where_the_learned_rule_gains_most():
    from littlebig_utils.book import claims
    found = chapter.claim_numbers(_table())
    helps = found["defer-learned-helps"]
    # best CIFAR row outside "clean": shift fit on gaussian_noise 3 (+0.5, splits +0.3 to +0.6)
    assert (helps["gain"], helps["gain_lo"], helps["gain_hi"]) == pytest.approx((0.005, 0.003, 0.006))
    assert helps["row"].startswith("shift (fit on gaussian_noise 3)") and "of 14 rows" in helps["row"]
    numbers = {k: x for k, x in helps.items() if k != "row"}
    assert claims.decide("defer-learned-helps", **numbers).label == verdicts.REPRODUCED
    suff = found["defer-confidence-suffices"]
    assert suff["gain"] == pytest.approx(0.0001) and suff["gain_hi"] == pytest.approx(0.0011)
    numbers = {k: x for k, x in suff.items() if k != "row"}
    assert claims.decide("defer-confidence-suffices", **numbers).label == verdicts.INCONCLUSIVE
    empty = chapter.claim_numbers(_table().iloc[:0])
    assert empty["defer-learned-helps"]["gain"] is None


def test_verdicts_markdown_shows_one_budget_with_readable_headers():
    md = chapter.verdicts_markdown(_table(), 0.2)
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(_table()) // 2
    assert "learned − confidence (points): mean (min to max)" in lines[0]
    assert "gain_min" not in md and "->" not in md
    assert "+0.40 (+0.20 to +0.50)" in md and "one annotator · probs |" in md
    assert "| better on every split |" in md and "Reproduced" not in md


def test_accuracy_and_guarantee_tables_have_readable_headers():
    acc = pd.DataFrame(dict(images=["clean"], n=[10], little=[91.7], big=[93.4]))
    assert "cifar_resnet20 top-1 (%)" in chapter.accuracy_markdown(acc, "cifar_resnet20", "x")
    gs = pd.DataFrame(dict(split=[0, 1], score=["confidence"] * 2, method=["wsr"] * 2,
                           frac_big=[0.2, 0.4], loss=[0.001, 0.003]))
    s = chapter.guarantee_summary(gs)
    assert s["frac_big"].iloc[0] == pytest.approx(0.3)
    md = chapter.guarantee_markdown(s)
    assert "| 30.00 |" in md and "loss against big (points)" in md and "frac_big" not in md


def test_kept_figure_uses_arrows_and_keeps_its_legend_off_the_bars():
    import matplotlib.pyplot as plt
    ms = pd.DataFrame(dict(pair=["a -> b", "a -> b"], method=["clopper-pearson", "wsr"],
                           kept=[0.7, 0.95], violation=[0.0, 0.02], violation_se=[0.0, 0.01]))
    fig = chapter.kept_figure(ms)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a → b"]
    fig.canvas.draw()
    assert ax.get_legend().get_window_extent().y1 <= ax.get_window_extent().y0
    plt.close(fig)
    assert chapter.guarantee_numbers(ms)["wsr_goal"] == "met"


GOOD = dict(n_splits=10, calib_frac=0.5, shares=[0.1, 0.2], n_shift=3000,
            corruptions=["gaussian_noise"], severities=[1, 3], imagenet_pairs=2, mc_draws=100,
            n_calib=5000, max_loss=0.005, delta=0.1, little="cifar_resnet20", big="cifar_resnet56")


def test_check_parameters_returns_the_max_loss_and_the_lists():
    assert chapter.check_parameters(**GOOD) == (0.005, [0.1, 0.2], ["gaussian_noise"], [1, 3])
    # papermill -p passes lists as their text
    text = dict(shares="[0.1, 0.3]", corruptions='["gaussian_blur"]', severities="[5]")
    assert chapter.check_parameters(**{**GOOD, **text}) == (0.005, [0.1, 0.3], ["gaussian_blur"], [5])


@pytest.mark.parametrize("name, value, match", [
    ("n_splits", "abc", "n_splits"), ("calib_frac", 1.5, "calib_frac"),
    ("shares", 0.2, "shares"), ("shares", [20], "shares"), ("n_shift", 10, "n_shift"),
    ("corruptions", ["fog"], "corruptions"), ("corruptions", "gaussian_noise", "corruptions"),
    ("severities", [6], "1..5"), ("severities", [0], "severities"), ("severities", "3", "severities"),
    ("mc_draws", 0, "mc_draws"), ("delta", 2, "delta"),
    ("max_loss", 0.5, "max_loss"), ("max_loss", "half", "max_loss"),
    ("little", "cifar_resnet56", "little and big"), ("big", "resnet34", "little and big"),
    ("seed", -1, "seed"),
])
def test_check_parameters_refuses_each_bad_parameter_in_one_line(name, value, match):
    with pytest.raises(ParameterError, match=match) as e:
        chapter.check_parameters(**{**GOOD, name: value})
    assert "\n" not in str(e.value)


def test_max_loss_in_points_shows_both_readings():
    with pytest.raises(ParameterError) as e:
        chapter.check_parameters(**{**GOOD, "max_loss": 0.5})
    assert "0.5" in str(e.value) and "0.005" in str(e.value)


def test_cifar_reads_clean_and_jpeg_from_the_cached_predictions(monkeypatch):
    """Clean and JPEG images come from the CIFAR chapters' cache (lossless / JPEG copy), the
    corruptions from run.corruptions; every set holds the first n images."""
    import littlebig_utils.run.corruptions as corruptions
    import littlebig_utils.run.predict as predict
    from littlebig_utils.core.predictions import Predictions
    calls = []

    def rec(model, dataset, n):
        rng = np.random.default_rng(len(dataset) + len(model))
        logits = rng.normal(size=(n, 10)).astype(np.float32)
        return Predictions([f"test_{i:05d}" for i in range(n)], rng.integers(0, 10, n),
                           logits.argmax(1), np.full(n, 0.5), logits, {"name": model}, dataset)

    def cached(model, dataset, limit=None):
        calls.append((model, dataset, limit))
        return rec(model, dataset, limit or 50)

    def corrupted(model, corruption, severity, seed, n):
        calls.append((model, corruption, severity, n))
        return rec(model, corruption, n)
    monkeypatch.setattr(predict, "cached_predictions", cached)
    monkeypatch.setattr(corruptions, "corrupted_predictions", corrupted)
    probs, pl, pb, y, ids = chapter._cifar("s", "t", None, 0, 0, 30, 40)
    assert probs.shape == (30, 10) and list(ids[:2]) == ["test_00000", "test_00001"]
    assert calls[-2:] == [("s", "cifar10-test", 40), ("t", "cifar10-test", 40)]
    chapter._cifar("s", "t", chapter.JPEG, 0, 0, 30, None)
    assert calls[-1] == ("t", "cifar10-test-jpeg", None)
    chapter._cifar("s", "t", "gaussian_blur", 3, 0, 30, None)
    assert calls[-1] == ("t", "gaussian_blur", 3, 30)
    with pytest.raises(ValueError, match="n_clean"):
        chapter._cifar("s", "t", None, 0, 0, 45, 40)
