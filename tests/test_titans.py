"""Titans distillation: losses on hand-computed cases, augmentation, deferral, a smoke training run.

Expected values are worked out by hand in the comments (small logits chosen so that the softmax
is a simple fraction), never by calling the function under test.
"""
import math

import numpy as np
import pytest
import torch

from littlebig_utils.run import distill as titans
from littlebig_utils.book.chapters import titans_distillation as chapter

LN3 = math.log(3.0)
# logits [ln 3, 0] -> softmax [3/4, 1/4];  [2 ln 3, 0] -> [9/10, 1/10];  [0, 0] -> [1/2, 1/2]


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_label_loss_is_cross_entropy_on_labels():
    logits = t([[LN3, 0.0], [LN3, 0.0]])
    per = titans.label_loss(logits, torch.tensor([0, 1]), reduction="none")
    # -ln(3/4) = ln(4/3);  -ln(1/4) = ln 4
    np.testing.assert_allclose(per.numpy(), [math.log(4 / 3), math.log(4)], rtol=1e-12)
    np.testing.assert_allclose(float(titans.label_loss(logits, torch.tensor([0, 1]))),
                               (math.log(4 / 3) + math.log(4)) / 2, rtol=1e-12)


def test_distillation_kl_temperature_one_and_two():
    teacher = t([[0.0, 0.0]])  # uniform at any temperature
    # T=1: KL([1/2,1/2] || [3/4,1/4]) = 1/2 ln(2/3) + 1/2 ln 2 = 1/2 ln(4/3)
    np.testing.assert_allclose(float(titans.distillation_kl(t([[LN3, 0.0]]), teacher, 1.0)),
                               0.5 * math.log(4 / 3), rtol=1e-12)
    # T=2 on logits [2 ln 3, 0]: softened student is again [3/4, 1/4]; times T^2 = 4
    np.testing.assert_allclose(float(titans.distillation_kl(t([[2 * LN3, 0.0]]), teacher, 2.0)),
                               4 * 0.5 * math.log(4 / 3), rtol=1e-12)
    # identical distributions: zero
    assert float(titans.distillation_kl(t([[1.0, 2.0, 3.0]]), t([[1.0, 2.0, 3.0]]), 3.0)) == \
        pytest.approx(0.0, abs=1e-12)


def test_hinton_loss_mixes_teacher_and_label_terms():
    student, teacher, y = t([[2 * LN3, 0.0]]), t([[0.0, 0.0]]), torch.tensor([0])
    # alpha=0.5, T=2: 0.5 * 4 * 1/2 ln(4/3) + 0.5 * CE(label 0, [9/10, 1/10]) = ln(4/3) + 0.5 ln(10/9)
    got = float(titans.hinton_loss(student, teacher, y, temperature=2.0, alpha=0.5))
    assert got == pytest.approx(math.log(4 / 3) + 0.5 * math.log(10 / 9), rel=1e-12)
    # alpha=0 is label-only, alpha=1 teacher-only
    assert float(titans.hinton_loss(student, teacher, y, 2.0, 0.0)) == pytest.approx(math.log(10 / 9))
    assert float(titans.hinton_loss(student, teacher, y, 2.0, 1.0)) == pytest.approx(
        2 * math.log(4 / 3))
    with pytest.raises(ValueError, match="alpha"):
        titans.hinton_loss(student, teacher, y, 2.0, 1.5)


def test_uniform_kl():
    # KL(u || [3/4, 1/4]) = 1/2 ln((1/2)/(3/4)) + 1/2 ln((1/2)/(1/4)) = 1/2 ln(4/3)
    per = titans.uniform_kl(t([[LN3, 0.0], [5.0, 5.0]]), reduction="none")
    np.testing.assert_allclose(per.numpy(), [0.5 * math.log(4 / 3), 0.0], atol=1e-12)


def test_hard_mask_student_loss_picks_largest_losses():
    losses = torch.tensor([0.1, 3.0, 0.5, 2.0])
    assert titans.hard_mask_student_loss(losses, 0.5).tolist() == [False, True, False, True]
    assert titans.hard_mask_student_loss(losses, 0.25).tolist() == [False, True, False, False]
    # ceil: 0.3 * 4 = 1.2 -> 2 hard examples
    assert titans.hard_mask_student_loss(losses, 0.3).tolist() == [False, True, False, True]
    assert not titans.hard_mask_student_loss(losses, 0.0).any()
    with pytest.raises(ValueError, match="hard_frac"):
        titans.hard_mask_student_loss(losses, 1.0)


def test_hard_mask_teacher_prob_picks_least_confident_on_true_label():
    # teacher probability on the true label: 3/4, 1/4, 1/2, 9/10
    logits = np.array([[LN3, 0.0], [LN3, 0.0], [0.0, 0.0], [0.0, 2 * LN3]])
    labels = np.array([0, 1, 0, 1])
    assert titans.hard_mask_teacher_prob(logits, labels, 0.5).tolist() == [False, True, True, False]
    assert titans.hard_mask_teacher_prob(logits, labels, 0.25).tolist() == [False, True, False, False]


def test_titans_loss_distils_easy_and_flattens_hard():
    student = t([[2 * LN3, 0.0], [LN3, 0.0]])
    teacher = t([[0.0, 0.0], [0.0, 0.0]])
    y = torch.tensor([0, 0])
    easy = math.log(4 / 3) + 0.5 * math.log(10 / 9)  # hinton, alpha=0.5, T=2 (see above)
    hard = 0.5 * math.log(4 / 3)                     # KL(u || [3/4, 1/4])
    per = titans.titans_loss(student, teacher, y, hard_mask=[False, True], temperature=2.0,
                             alpha=0.5, hard_weight=2.0, reduction="none")
    np.testing.assert_allclose(per.numpy(), [easy, 2.0 * hard], rtol=1e-12)
    # no hard examples: exactly standard distillation
    per0 = titans.titans_loss(student, teacher, y, hard_mask=[False, False], temperature=2.0,
                              alpha=0.5, reduction="none")
    np.testing.assert_allclose(per0.numpy()[0], easy, rtol=1e-12)
    # default split ("student_loss" rule): the example with the larger distillation loss is hard.
    # example 2 (student [3/4, 1/4] at T=1, [~0.634, ~0.366] at T=2) is closer to the uniform
    # teacher than example 1, so example 1 has the larger loss and is the hard one.
    auto = titans.titans_loss(student, teacher, y, hard_frac=0.5, temperature=2.0, alpha=0.5,
                              reduction="none")
    # example 1 hard: KL(u || [9/10, 1/10]) = 1/2 ln((1/2)/(9/10)) + 1/2 ln((1/2)/(1/10)) = 1/2 ln(25/9)
    assert float(auto[0]) == pytest.approx(0.5 * math.log(25 / 9), rel=1e-12)
    with pytest.raises(ValueError, match="hard_mask"):
        titans.titans_loss(student, teacher, y, hard_mask=[True])


def test_titans_gradient_on_hard_example_pushes_towards_uniform():
    student = torch.tensor([[2.0, 0.0]], requires_grad=True)
    titans.titans_loss(student, t([[5.0, 0.0]]).float(), torch.tensor([0]),
                       hard_mask=[True]).backward()
    # descending the gradient lowers the top logit and raises the other one
    assert student.grad[0, 0] > 0 > student.grad[0, 1]


def test_augment_is_a_padded_crop_or_its_mirror():
    g = torch.Generator().manual_seed(0)
    images = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6) + 1
    out = titans.augment(images, g, pad=2)
    assert out.shape == images.shape
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(2):
        crops = [c for dy in range(5) for dx in range(5)
                 for c in (padded[i, :, dy:dy + 6, dx:dx + 6],
                           padded[i, :, dy:dy + 6, dx:dx + 6].flip(-1))]
        assert any(torch.equal(out[i], c) for c in crops)
    # deterministic for a seed; both flips and several offsets occur over many images
    again = titans.augment(images, torch.Generator().manual_seed(0), pad=2)
    assert torch.equal(out, again)
    many = titans.augment(torch.arange(36.0).reshape(1, 1, 6, 6).repeat(400, 1, 1, 1) + 1,
                          torch.Generator().manual_seed(1), pad=2)
    assert len({tuple(m.flatten().tolist()) for m in many}) > 20


def test_deferral_curve_endpoints_and_cost():
    # 4 samples; student conf 0.9, 0.8, 0.6, 0.55 (2 classes: logits [ln(c/(1-c)), 0])
    conf = np.array([0.9, 0.8, 0.6, 0.55])
    s_logits = np.stack([np.log(conf / (1 - conf)), np.zeros(4)], axis=1)
    s_correct_labels = np.array([0, 0, 1, 1])      # student predicts 0 everywhere: right on 2
    t_logits = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # right on first 3
    table = titans.deferral_curve(s_logits, t_logits, s_correct_labels, 0.1, 1.0)
    first = table.iloc[0]           # threshold 0: nothing deferred
    assert first["frac_big"] == 0 and first["accuracy"] == pytest.approx(50.0)
    assert first["gmacs"] == pytest.approx(0.1)
    last = table.iloc[-1]           # threshold 1: everything deferred
    assert last["frac_big"] == 1 and last["accuracy"] == pytest.approx(75.0)
    assert last["gmacs"] == pytest.approx(1.1)
    # deferring the two least confident (0.55, 0.6): student right on 0.9, 0.8; teacher on 0.6
    row = table[np.isclose(table["threshold"], 0.8)].iloc[0]
    assert row["frac_big"] == 0.5 and row["accuracy"] == pytest.approx(75.0)


def test_config_key_changes_with_any_setting():
    a = titans.TrainConfig()
    assert a.key() == titans.TrainConfig().key()
    assert a.key() != titans.TrainConfig(seed=1).key()
    assert a.key() != titans.TrainConfig(hard_frac=0.3).key()
    # settings an objective does not use do not change its key (no needless retraining)
    assert titans.TrainConfig(objective="labels", hard_frac=0.4, alpha=0.5).key() == \
        titans.TrainConfig(objective="labels").key()
    assert titans.TrainConfig(objective="hinton", hard_frac=0.4).key() == \
        titans.TrainConfig(objective="hinton").key()
    assert titans.TrainConfig(objective="hinton", alpha=0.5).key() != \
        titans.TrainConfig(objective="hinton").key()
    with pytest.raises(ValueError, match="objective"):
        titans.TrainConfig(objective="nope")


# ------------------------------------------------------------------- smoke: real images

@pytest.fixture(scope="module")
def jpeg_ok():
    from littlebig_utils.run import cifar
    from littlebig_utils.data.registry import DataError
    try:
        cifar.load_jpeg_split("train")
        cifar.load_jpeg_split("test")
    except DataError as e:  # the reference data is not on this machine: only that is skipped
        pytest.skip(f"CIFAR-10 JPEG copy not available: {e}")


@pytest.mark.parametrize("objective", ["labels", "titans"])
def test_smoke_training_learns(jpeg_ok, objective, tmp_path, monkeypatch):
    """1,000 real training images, 3 epochs: loss drops and test accuracy beats chance (10 %)."""
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    torch.set_num_threads(2)
    from littlebig_utils.run import cifar
    cfg = titans.TrainConfig(arch="cifar_resnet8", objective=objective, epochs=3, n_train=1000,
                             batch_size=50, lr=0.05)
    model, history = titans.load_or_train(cfg, log=None)
    assert history[-1]["loss"] < 0.9 * history[0]["loss"], history
    images, labels, _ = cifar.load_jpeg_split("test")
    logits = titans.predict_logits(model, images[:1000])
    accuracy = (logits.argmax(1) == labels[:1000]).mean()
    assert accuracy > 0.2, f"test accuracy {accuracy:.3f} is not above chance (0.1)"
    if objective == "titans":
        assert history[0]["hard_frac"] == pytest.approx(0.2, abs=0.02)

    # cached: a second call loads the same weights without training
    def no_training(*a, **k):
        raise AssertionError("retrained although the weights were cached")
    monkeypatch.setattr(titans, "train_student", no_training)
    again, history2 = titans.load_or_train(cfg, log=None)
    assert history2 == history
    np.testing.assert_array_equal(titans.predict_logits(again, images[:50]), logits[:50])


# ------------------------------------------------------------------ predictions via predict()

def _tiny_cifar(n=7, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n),
            np.array([f"test_{i:05d}" for i in range(n)]))


def test_predict_logits_go_through_predict_and_equal_a_plain_forward(monkeypatch):
    import littlebig_utils.run.predict as pr
    calls, real = [], pr.predict
    monkeypatch.setattr(pr, "predict", lambda *a, **k: calls.append(k) or real(*a, **k))
    torch.manual_seed(0)
    model = titans.create("cifar_resnet8")
    images, _, _ = _tiny_cifar()
    got = titans.predict_logits(model, images, batch_size=3)
    with torch.no_grad():
        ref = model(titans._normalize(titans._nchw(images))).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert len(calls) == 1 and got.dtype == np.float32 and got.shape == (7, 10)


def test_teacher_logits_cache_is_redone_when_the_prediction_code_changes(monkeypatch):
    import littlebig_utils.run.predict as pr
    from littlebig_utils.run import cifar
    images, labels, ids = _tiny_cifar()
    monkeypatch.setattr(cifar, "load_jpeg_split", lambda split: (images, labels, ids))
    made = []

    def fake_create(arch, pretrained=False):  # a small random teacher, no checkpoint needed
        import timm
        torch.manual_seed(0)
        made.append(arch)
        return timm.create_model("cifar_resnet8", num_classes=10)

    monkeypatch.setattr(titans, "create", fake_create)
    first = titans.teacher_logits("test", "cifar_resnet20")
    np.testing.assert_array_equal(titans.teacher_logits("test", "cifar_resnet20"), first)
    assert len(made) == 1  # cached
    monkeypatch.setattr(pr, "PREDICT_FORMAT", pr.PREDICT_FORMAT + 1)
    np.testing.assert_array_equal(titans.teacher_logits("test", "cifar_resnet20"), first)
    assert len(made) == 2  # another code version: computed again, not read from the old file


def test_student_cache_is_named_by_the_training_code_and_the_teacher(monkeypatch):
    import littlebig_utils.run.predict as pr
    from littlebig_utils.data import registry as data
    labels_cfg = titans.TrainConfig(objective="labels")
    hinton_cfg = titans.TrainConfig(objective="hinton")
    before = {c: titans.student_paths(c)[0] for c in (labels_cfg, hinton_cfg)}
    assert titans.student_paths(hinton_cfg)[0] == before[hinton_cfg]
    monkeypatch.setattr(pr, "PREDICT_FORMAT", pr.PREDICT_FORMAT + 1)  # other teacher logits
    assert titans.student_paths(hinton_cfg)[0] != before[hinton_cfg]
    assert titans.student_paths(labels_cfg)[0] == before[labels_cfg]  # uses no teacher
    monkeypatch.setattr(data, "code_digest", lambda *m: "f" * 16)  # other code
    assert titans.student_paths(labels_cfg)[0] != before[labels_cfg]


def test_cache_keys_digest_the_moved_modules_that_compute_them(monkeypatch):
    """Predictions, teacher logits and students are keyed by the code of the run-layer modules
    that make them (not package __init__ files, nor a function standing in for its module),
    and by the module that now defines the confidence, wherever the core puts it."""
    import inspect
    import sys
    from pathlib import Path

    import littlebig_utils.run.predict as pr
    from littlebig_utils.core.scores import max_softmax
    from littlebig_utils.data import registry as data
    seen = []

    def recording_digest(*modules):
        assert all(inspect.ismodule(m) for m in modules)
        assert all(Path(inspect.getsourcefile(m)).name != "__init__.py" for m in modules)
        seen.append({m.__name__ for m in modules})
        return "0" * 16

    monkeypatch.setattr(data, "code_digest", recording_digest)
    run_modules = {"littlebig_utils.run.predict", "littlebig_utils.run.datasets",
                   "littlebig_utils.run.cifar", "littlebig_utils.run.costs",
                   max_softmax.__module__}
    pr.cache_key("cifar_resnet20", "cifar10-test")
    titans._teacher_key("cifar_resnet56", "train")
    titans.student_paths(titans.TrainConfig(objective="labels"))
    assert seen == [run_modules, run_modules,
                    {"littlebig_utils.run.distill", "littlebig_utils.run.cifar"}]
    assert sys.modules[max_softmax.__module__] in pr.code_modules()


def test_a_code_change_in_any_keyed_module_renames_the_caches(monkeypatch):
    import inspect

    import littlebig_utils.run.predict as pr
    from littlebig_utils.data import registry as data
    cfg = titans.TrainConfig(objective="hinton")
    before = (pr.cache_key("cifar_resnet20", "cifar10-test"),
              titans._teacher_key("cifar_resnet56", "train"), titans.student_paths(cfg)[0])
    real = inspect.getsource
    for module in pr.code_modules():
        monkeypatch.setattr(inspect, "getsource", lambda m, _real=real, _changed=module:
                            _real(m) + ("\nx = 1\n" if m is _changed else ""))
        after = (pr.cache_key("cifar_resnet20", "cifar10-test"),
                 titans._teacher_key("cifar_resnet56", "train"), titans.student_paths(cfg)[0])
        assert all(a != b for a, b in zip(after, before)), module.__name__
    monkeypatch.setattr(inspect, "getsource", real)
    assert data.code_digest(*pr.code_modules()) == pr.code_key()


# ------------------------------------------------------------------------- study and verdict

def _two_class(conf):
    conf = np.asarray(conf, dtype=float)
    return np.stack([np.log(conf / (1 - conf)), np.zeros(len(conf))], axis=1)


def test_student_row_no_loss_near_and_equal_cost_points_by_hand():
    # student conf 0.9, 0.8, 0.6, 0.55 predicts class 0 everywhere; labels 0, 1, 0, 1:
    # right on the 0.9 and 0.6 images. Teacher right on all but the last: 75 %.
    s_logits = _two_class([0.9, 0.8, 0.6, 0.55])
    labels = np.array([0, 1, 0, 1])
    t_logits = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    row, table = titans.student_row(s_logits, t_logits, labels, 0.1, 1.0, budgets=(0.25, 0.5),
                                    tolerance=25.0)
    assert row["student_accuracy"] == 50.0 and row["teacher_accuracy"] == 75.0
    # deferring 0.55 (teacher wrong, student wrong) changes nothing; 0.55 + 0.6 loses the 0.6
    # image; the teacher's 75 % needs the 0.8 image deferred: all but 0.9 -> 3/4 deferred
    assert row["frac_deferred"] == 0.75 and row["threshold"] == pytest.approx(0.9)
    assert row["gmacs"] == pytest.approx(0.1 + 0.75) and row["macs_reduction"] == pytest.approx(15.0)
    # within 25 points (>= 50 %): nothing deferred already
    assert row["frac_deferred_near"] == 0.0
    # at most a quarter deferred: defer 0.55 -> still 50 %; at most half: best is 50 % too
    assert row["acc_at_0.25"] == 50.0 and row["acc_at_0.5"] == 50.0
    assert len(table) >= 4


def _results(hinton, titans_sp, titans_tp, saving=(np.nan,) * 4, seeds=(0, 1)):
    rows = []
    for k, seed in enumerate(seeds):
        for name, acc, red in (("labels", 50.0, saving[0]), ("hinton", hinton[k], saving[1]),
                               ("titans_student_loss", titans_sp[k], saving[2]),
                               ("titans_teacher_prob", titans_tp[k], saving[3])):
            rows.append(dict(student=name, seed=seed, **{"acc_at_0.1": acc, "acc_at_0.5": acc},
                             macs_reduction=red, frac_deferred=np.nan if np.isnan(red) else 0.5))
    import pandas as pd
    return pd.DataFrame(rows)


def test_verdict_follows_the_numbers():
    from littlebig_utils.book import verdicts as v
    b = (0.1, 0.5)
    # Titans behind Hinton, no cascade cheaper than the teacher: not testable at this budget
    out = chapter.verdict(_results((60, 61), (59, 60), (58, 58)), b)
    assert out.label == v.NOT_TESTABLE and "-1.00 points" in out.reason
    # behind Hinton although a cascade saves MACs: not reproduced
    out = chapter.verdict(_results((60, 61), (59, 60), (58, 58), saving=(np.nan, 10.0, -5, -5)), b)
    assert out.label == v.NOT_REPRODUCED
    # ahead on average but not in every seed: partly
    out = chapter.verdict(_results((60, 61), (62, 60.5), (58, 58), saving=(np.nan, 10, 12, 1)), b)
    assert out.label == v.PARTLY and "+0.75 points" in out.reason
    # ahead in every seed and a Titans cascade is cheaper than the teacher: reproduced
    out = chapter.verdict(_results((60, 61), (62, 62), (58, 58), saving=(np.nan, 10, 12, 1)), b)
    assert out.label == v.REPRODUCED
    # ahead in every seed but every cascade costs more than the teacher: partly
    out = chapter.verdict(_results((60, 61), (62, 62), (58, 58)), b)
    assert out.label == v.PARTLY and "no cascade reaches" in out.reason


def test_summarize_students_means_over_seeds_and_counts_reached():
    res = _results((60, 62), (59, 60), (58, 58), saving=(np.nan, 10.0, -5, np.nan))
    res["student_accuracy"] = 1.0
    for c in ("gmacs", "frac_deferred_near", "gmacs_near", "macs_reduction_near"):
        res[c] = 0.0
    s = titans.summarize_students(res, budgets=(0.1, 0.5))
    assert s.loc["hinton", "acc_equal_cost"] == 61.0
    assert s.loc["hinton", "reached"] == 2 and s.loc["titans_teacher_prob", "reached"] == 0
    assert list(s.index) == ["labels", "hinton", "titans_student_loss", "titans_teacher_prob"]


def test_student_names_cover_each_titans_rule():
    names = titans.student_names(["labels", "hinton", "titans"], ["teacher_prob", "student_loss"])
    assert [n for *_, n in names] == ["labels", "hinton", "titans_teacher_prob", "titans_student_loss"]
    assert titans.student_names(["hinton"], ["teacher_prob"]) == [("hinton", None, "hinton")]


def test_deferral_figure_keeps_its_legend_below_the_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    s_logits = _two_class([0.9, 0.8, 0.6, 0.55])
    labels = np.array([0, 1, 0, 1])
    t_logits = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    row, table = titans.student_row(s_logits, t_logits, labels, 0.1, 1.0)
    res = pd.DataFrame([dict(student="hinton", seed=0, **row)])
    fig = chapter.deferral_figure({("hinton", 0): table}, res, 75.0, 1.0)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_window_extent().y0 for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "(b) Hinton distillation", "teacher alone (75.00 %)"]
    plt.close(fig)


def test_check_archs_refuses_with_one_line():
    from littlebig_utils.book.notebook import ParameterError
    with pytest.raises(ParameterError, match="must be a CIFAR ResNet"):
        chapter.check_archs("resnet18", "cifar_resnet56")
    with pytest.raises(ParameterError, match="not cheaper"):
        chapter.check_archs("cifar_resnet56", "cifar_resnet20")
    gs, gt = chapter.check_archs("cifar_resnet20", "cifar_resnet56")
    assert 0 < gs < gt


def test_students_table_shows_unreached_shares_as_words():
    import pandas as pd
    s = pd.DataFrame(dict(student_accuracy=[50.0], frac_deferred=[np.nan], macs_reduction=[np.nan],
                          frac_deferred_near=[0.5], acc_equal_cost=[60.0]),
                     index=pd.Index(["hinton"], name="student"))
    row = chapter.students_table(s, tolerance=1.0).iloc[0]
    assert row["student"] == "(b) Hinton distillation"
    assert row["deferred to match teacher"] == "not reached" and row["deferred within 1 point"] == "50.0 %"
