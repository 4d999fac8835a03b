"""Titans distillation: losses on hand-computed cases, augmentation, cache names, resumable
training, the stage on real images (tiny), the chapter's cascades, intervals and verdict.

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


# ------------------------------------------------------------------------- cache names

# one changed value per setting of TrainConfig (a new setting must be added here)
CHANGED = dict(arch="cifar_resnet32", init="scratch", epochs=3, seed=1, n_train=5_000,
               batch_size=64, lr=0.02, momentum=0.8, weight_decay=5e-4, warmup_frac=0.1,
               temperature=2.0, alpha=0.5, hard_rule="student_loss", hard_frac=0.3,
               hard_weight=2.0, teacher="cifar_resnet44")
UNUSED = {"labels": {"temperature", "alpha", "hard_rule", "hard_frac", "hard_weight", "teacher"},
          "hinton": {"hard_rule", "hard_frac", "hard_weight"}, "titans": set()}


def test_every_setting_is_tested_for_the_key():
    import dataclasses
    assert set(CHANGED) | {"objective"} == {f.name for f in dataclasses.fields(titans.TrainConfig)}


@pytest.mark.parametrize("objective", titans.OBJECTIVES)
def test_config_key_changes_with_each_setting_the_objective_uses(objective):
    import dataclasses
    base = titans.TrainConfig(objective=objective)
    assert base.key() == titans.TrainConfig(objective=objective).key()
    for name, value in CHANGED.items():
        other = dataclasses.replace(base, **{name: value})
        if name in UNUSED[objective]:  # no needless retraining when an unused setting changes
            assert other.key() == base.key(), name
        else:
            assert other.key() != base.key(), name
    assert len({titans.TrainConfig(objective=o).key() for o in titans.OBJECTIVES}) == 3


@pytest.mark.parametrize("bad, match", [
    (dict(objective="nope"), "objective"), (dict(hard_rule="x"), "hard_rule"),
    (dict(init="imagenet"), "init"), (dict(epochs=0), "epochs"), (dict(n_train=0), "n_train"),
    (dict(hard_frac=1.0), "hard_frac"), (dict(alpha=1.5), "alpha"), (dict(lr=0.0), "lr"),
    (dict(arch="cifar_resnet8"), "no pretrained checkpoint"), (dict(arch="resnet_nope"), "unknown")])
def test_config_refuses_bad_settings_with_one_line(bad, match):
    with pytest.raises(ValueError, match=match) as info:
        titans.TrainConfig(**bad)
    assert "\n" not in str(info.value)


def test_student_stem_names_data_teacher_and_training_code(monkeypatch):
    import inspect
    labels_cfg = titans.TrainConfig(objective="labels")
    titans_cfg = titans.TrainConfig(objective="titans")
    stem = titans.student_stem(titans_cfg, "data0", "teacher0")
    assert stem.startswith(titans_cfg.name()) and stem == titans.student_stem(titans_cfg, "data0",
                                                                              "teacher0")
    assert titans.student_stem(titans_cfg, "data1", "teacher0") != stem      # other images
    assert titans.student_stem(titans_cfg, "data0", "teacher1") != stem      # other teacher logits
    # a labels-only student uses no teacher: its name ignores the teacher's logits
    assert (titans.student_stem(labels_cfg, "data0", "teacher0")
            == titans.student_stem(labels_cfg, "data0", None))
    with pytest.raises(ValueError, match="teacher"):
        titans.student_stem(titans_cfg, "data0", None)
    # the training code is part of the name; code that only orchestrates the stage is not
    real = inspect.getsource

    def edited(target):
        return lambda obj: real(obj) + ("\nx = 1\n" if obj is target else "")
    monkeypatch.setattr(inspect, "getsource", edited(titans.titans_loss))
    assert titans.student_stem(titans_cfg, "data0", "teacher0") != stem
    monkeypatch.setattr(inspect, "getsource", edited(titans.train_student))
    assert titans.student_stem(titans_cfg, "data0", "teacher0") != stem
    monkeypatch.setattr(inspect, "getsource", edited(titans.run_stage))
    assert titans.student_stem(titans_cfg, "data0", "teacher0") == stem


def test_array_digest_follows_values_dtype_and_shape():
    a = np.arange(12, dtype=np.int64)
    assert titans.array_digest(a) == titans.array_digest(a.copy())
    assert titans.array_digest(a) != titans.array_digest(a.astype(np.int32))
    assert titans.array_digest(a) != titans.array_digest(a.reshape(3, 4))
    b = a.copy()
    b[5] += 1
    assert titans.array_digest(a) != titans.array_digest(b)
    assert titans.array_digest(a, b) != titans.array_digest(b, a)


# ----------------------------------------------------------- training: resume, cache

def _tiny_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    return images, labels, rng.normal(size=(n, 10)).astype(np.float32)


def _tiny_cfg(**kw):
    kw = dict(dict(arch="cifar_resnet8", init="scratch", epochs=3, batch_size=16, lr=0.05,
                   n_train=None), **kw)
    return titans.TrainConfig(**kw)


class Killed(Exception):
    pass


def _kill_after(monkeypatch, n_batches):
    """Make the n-th batch from now raise, as a killed process would stop; returns the counter."""
    real, seen = titans.augment, []

    def counting(*a, **k):
        seen.append(1)
        if len(seen) == n_batches:
            raise Killed
        return real(*a, **k)
    monkeypatch.setattr(titans, "augment", counting)
    return seen


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("objective, rule", [("labels", "teacher_prob"), ("hinton", "teacher_prob"),
                                             ("titans", "teacher_prob"), ("titans", "student_loss")])
def test_resume_after_an_interrupted_epoch_gives_the_uninterrupted_weights(
        objective, rule, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    images, labels, t = _tiny_data()
    cfg = _tiny_cfg(objective=objective, hard_rule=rule)
    ref, ref_history = titans.train_student(cfg, images, labels, t, checkpoint=tmp_path / "a.pt")
    ckpt = tmp_path / "b.pt"
    _kill_after(monkeypatch, 3 + 2)  # 40 images / 16 = 3 batches per epoch: dies in epoch 2
    with pytest.raises(Killed):
        titans.train_student(cfg, images, labels, t, checkpoint=ckpt)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    seen = _kill_after(monkeypatch, 0)  # count only
    resumed, history = titans.train_student(cfg, images, labels, t, checkpoint=ckpt)
    assert len(seen) == 2 * 3  # epochs 2 and 3 only
    assert _same_weights(resumed, ref)
    drop = lambda h: [{k: v for k, v in row.items() if k != "seconds"} for row in h]  # noqa: E731
    assert drop(history) == drop(ref_history) and [h["epoch"] for h in history] == [1, 2, 3]
    # and the run did train: the weights moved away from the seeded initialisation
    assert not _same_weights(resumed, titans.create("cifar_resnet8", "scratch", seed=0))


def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    images, labels, t = _tiny_data()
    ckpt = tmp_path / "c.pt"
    titans.train_student(_tiny_cfg(objective="labels", epochs=1), images, labels, t, checkpoint=ckpt)
    other = _tiny_cfg(objective="labels", seed=1)
    seen = _kill_after(monkeypatch, 0)
    model, _ = titans.train_student(other, images, labels, t, checkpoint=ckpt)
    assert len(seen) == 3 * 3  # all three epochs
    monkeypatch.undo()
    fresh, _ = titans.train_student(other, images, labels, t)
    assert _same_weights(model, fresh)


def test_training_refuses_missing_teacher_logits_and_mismatched_lengths():
    images, labels, t = _tiny_data(8)
    with pytest.raises(ValueError, match="teacher's logits"):
        titans.train_student(_tiny_cfg(objective="hinton"), images, labels, None)
    with pytest.raises(ValueError, match="one of each"):
        titans.train_student(_tiny_cfg(objective="hinton"), images, labels[:5], t)


def test_load_or_train_saves_resumes_and_reuses(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    torch.set_num_threads(1)
    images, labels, t = _tiny_data()
    cfg = _tiny_cfg(objective="titans", epochs=2)
    _kill_after(monkeypatch, 3 + 1)  # killed at the first batch of epoch 2
    with pytest.raises(Killed):
        titans.load_or_train(cfg, images, labels, t)
    weights, meta_path, ckpt = titans.student_paths(
        titans.student_stem(cfg, titans.array_digest(images, labels), titans.array_digest(t)))
    assert ckpt.is_file() and not weights.is_file()
    seen = _kill_after(monkeypatch, 0)
    model, meta = titans.load_or_train(cfg, images, labels, t)
    assert len(seen) == 3 and weights.is_file() and not ckpt.is_file()
    assert meta["stem"] == weights.stem and len(meta["history"]) == 2

    def no_training(*a, **k):
        raise AssertionError("retrained although the student was cached")
    monkeypatch.setattr(titans, "train_student", no_training)
    again, meta2 = titans.load_or_train(cfg, images, labels, t)
    assert meta2 == meta and _same_weights(again, model)
    # other teacher logits: another student (a distilling objective only)
    with pytest.raises(AssertionError, match="retrained"):
        titans.load_or_train(cfg, images, labels, t + 1)
    labels_cfg = dataclasses_replace(cfg, objective="labels")
    monkeypatch.undo()
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    first, _ = titans.load_or_train(labels_cfg, images, labels, t)
    monkeypatch.setattr(titans, "train_student", no_training)
    second, _ = titans.load_or_train(labels_cfg, images, labels, t + 1)
    assert _same_weights(first, second)


def dataclasses_replace(cfg, **kw):
    import dataclasses
    return dataclasses.replace(cfg, **kw)


# ------------------------------------------------------------ the stage on real images

@pytest.fixture(scope="module")
def lossless_ok():
    from littlebig_utils.data.registry import DataError
    try:
        titans.test_data(10)
        titans.training_data(10)
    except DataError as e:  # the reference data is not on this machine: only that is skipped
        pytest.skip(f"lossless CIFAR-10 not available: {e}")


def test_stage_trains_once_then_reuses_everything(lossless_ok, tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    torch.set_num_threads(1)
    base = titans.TrainConfig(arch="cifar_resnet8", init="scratch", n_train=64, epochs=1,
                              batch_size=32)
    stage = titans.run_stage(base, seeds=[0], n_test=100, progress=False)
    names = ["labels", "hinton", "titans_teacher_prob", "titans_student_loss"]
    assert list(stage["students"]) == [(n, 0) for n in names]
    assert stage["n_train"] == 64 and len(stage["teacher"]) == 100
    assert stage["teacher"].accuracy > 0.85 and stage["teacher_train_accuracy"] > 0.95
    ids = stage["teacher"].sample_ids
    for (name, seed), p in stage["students"].items():
        np.testing.assert_array_equal(p.sample_ids, ids)
        assert p.logits.shape == (100, 10)
        assert stage["meta"][name, seed]["config"]["objective"] == name.split("_")[0]

    def nothing_to_do(*a, **k):
        raise AssertionError("recomputed although cached")
    import littlebig_utils.run.predict as pr
    monkeypatch.setattr(titans, "train_student", nothing_to_do)
    monkeypatch.setattr(pr, "predict", nothing_to_do)
    again = titans.run_stage(base, seeds=[0], n_test=100, progress=False)
    for key, p in stage["students"].items():
        np.testing.assert_array_equal(again["students"][key].logits, p.logits)


def test_fine_tuning_from_scratch_learns_on_real_images(lossless_ok, tmp_path, monkeypatch):
    """1,000 real training images, 3 epochs: the loss drops and test accuracy beats chance."""
    torch.set_num_threads(1)
    images, labels, _ = titans.training_data(1000)
    cfg = titans.TrainConfig(arch="cifar_resnet8", init="scratch", objective="labels", epochs=3,
                             n_train=1000, batch_size=50, lr=0.05)
    model, history = titans.train_student(cfg, images, labels)
    assert history[-1]["loss"] < 0.9 * history[0]["loss"], history
    test_images, test_labels, _ = titans.test_data(500)
    with torch.no_grad():
        pred = model(titans._normalize(titans._nchw(test_images))).argmax(1).numpy()
    assert (pred == test_labels).mean() > 0.2


def test_command_line_refuses_bad_settings_with_one_line(capsys):
    for argv, match in ((["--n-train", "abc"], "--n-train"), (["--objectives", "nope"], "objective"),
                        (["--arch", "cifar_resnet8"], "no pretrained checkpoint"),
                        (["--seeds", ""], "at least one")):
        assert titans.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and match in err and "\n" not in err


def test_book_settings_are_one_set():
    """`make titans` (the module's defaults), the chapter's `study` defaults and the notebook's
    parameters train the same students, so that the book reuses what `make titans` trained."""
    import ast
    import inspect
    from pathlib import Path

    import nbformat
    root = Path(__file__).resolve().parents[1]
    nb = nbformat.read(root / "notebooks" / "titans_distillation.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params = {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(cell.source).body}
    d = titans.TrainConfig()
    expected = dict(student_arch=d.arch, student_init=d.init, teacher_arch=d.teacher,
                    objectives=list(titans.OBJECTIVES), hard_rules=list(titans.HARD_RULES),
                    seeds=list(titans.SEEDS), n_train=d.n_train, epochs=d.epochs,
                    batch_size=d.batch_size, lr=d.lr, temperature=d.temperature, alpha=d.alpha,
                    hard_frac=d.hard_frac, hard_weight=d.hard_weight, n_test=None)
    assert {k: params[k] for k in expected} == expected
    sig = inspect.signature(chapter.study).parameters
    for k, v in expected.items():
        default = sig[k].default
        assert (list(default) if isinstance(default, tuple) else default) == v, k
    args = titans._parser().parse_args([])
    assert args.epochs == d.epochs and args.n_train == str(d.n_train) and args.lr == d.lr
    make = (root / "Makefile").read_text()
    assert "-m littlebig_utils.run.distill" in make


# ------------------------------------------------------------------- the chapter

def _preds(name, conf, preds, labels):
    from littlebig_utils.core.predictions import Predictions
    n = len(labels)
    return Predictions([f"test_{i:05d}" for i in range(n)], labels, preds, conf,
                       model={"name": name}, dataset="cifar10-test")


def test_cascade_row_by_hand():
    # student conf 0.9, 0.8, 0.6, 0.55 predicts class 0 everywhere; labels 0, 1, 0, 1:
    # right on the 0.9 and 0.6 images. Teacher right on all but the last: 3/4.
    labels = np.array([0, 1, 0, 1])
    student = _preds("s", [0.9, 0.8, 0.6, 0.55], [0, 0, 0, 0], labels)
    teacher = _preds("t", [0.7] * 4, [0, 1, 0, 0], labels)
    row, table = chapter.cascade_row(student, teacher, 0.1, 1.0, budgets=(0.25, 0.5, 0.6, 0.75))
    assert row["student_accuracy"] == 0.5 and row["teacher_accuracy"] == 0.75
    # deferring 0.55 (both wrong) changes nothing; then 0.6 (student right, teacher right) too;
    # the teacher's 3/4 needs the 0.8 image deferred as well: 3 of 4 deferred, below T = 0.9
    assert row["frac_deferred"] == 0.75 and row["threshold"] == pytest.approx(0.9)
    assert row["gmacs"] == pytest.approx(0.85) and row["macs_reduction"] == pytest.approx(0.15)
    # the least confident 1, 2, 2 (floor of 2.4) and 3 images deferred
    assert [row[f"acc_at_{f:g}"] for f in (0.25, 0.5, 0.6, 0.75)] == [0.5, 0.5, 0.5, 0.75]
    assert table["accuracy"].max() <= 1.0  # fractions
    # a wrong student at confidence 1 is never deferred: the teacher's accuracy is not reached
    sure = _preds("s", [1.0, 0.8, 0.6, 0.55], [1, 1, 0, 1], labels)
    row, _ = chapter.cascade_row(sure, _preds("t", [0.7] * 4, [0, 1, 0, 1], labels), 0.1, 1.0,
                                 budgets=(0.5,))
    assert np.isnan(row["frac_deferred"]) and np.isnan(row["macs_reduction"])
    assert row["acc_at_0.5"] == 0.75


def test_seed_interval_by_hand():
    mean, lo, hi = chapter.seed_interval([0.01, 0.02, 0.03])
    # mean 0.02, sd 0.01, t(0.975, 2) = 4.302653
    half = 4.302652729911275 * 0.01 / math.sqrt(3)
    assert mean == pytest.approx(0.02) and lo == pytest.approx(0.02 - half)
    assert hi == pytest.approx(0.02 + half)
    assert chapter.seed_interval([0.01, 0.01]) == (0.01, 0.01, 0.01)
    m, lo, hi = chapter.seed_interval([0.01])
    assert m == 0.01 and np.isnan(lo) and np.isnan(hi)
    assert all(np.isnan(chapter.seed_interval([])))


def _results(acc, saving=None, budgets=(0.1, 0.5)):
    """One row per student and seed; acc: {student: [per-seed accuracy at every budget]}."""
    import pandas as pd
    rows = []
    for name, per_seed in acc.items():
        for seed, a in enumerate(per_seed):
            red = (saving or {}).get(name, np.nan)
            rows.append(dict(student=name, seed=seed, student_accuracy=a - 0.02,
                             teacher_accuracy=0.93, macs_reduction=red,
                             frac_deferred=np.nan if np.isnan(red) else 0.3,
                             **{f"acc_at_{f:g}": a for f in budgets}))
    return pd.DataFrame(rows)


def test_paired_differences_are_paired_by_seed():
    res = _results({"labels": [0.90, 0.91, 0.92], "hinton": [0.90, 0.92, 0.91],
                    "titans_student_loss": [0.91, 0.93, 0.92]})
    d = chapter.paired_differences(res, budgets=(0.1,))
    h = d[d["baseline"] == "hinton"].iloc[0]
    # differences 0.01, 0.01, 0.01: exact, zero-width interval, won in all three seeds
    assert h["diff"] == pytest.approx(0.01) and h["lo"] == pytest.approx(0.01)
    assert h["wins"] == 3 and h["seeds"] == 3
    lab = d[d["baseline"] == "labels"].iloc[0]
    # 0.01, 0.02, 0.00: mean 0.01, sd 0.01
    assert lab["diff"] == pytest.approx(0.01)
    assert lab["hi"] - lab["diff"] == pytest.approx(4.302652729911275 * 0.01 / math.sqrt(3))
    assert lab["wins"] == 2


def test_claim_numbers_decide_titans_cascade_by_the_registrys_rule():
    from littlebig_utils.book import claims
    from littlebig_utils.book import verdicts as v
    b = (0.1, 0.5)
    base = {"labels": [0.90, 0.91, 0.92], "hinton": [0.905, 0.912, 0.918]}
    ahead = {**base, "titans_teacher_prob": [0.92, 0.93, 0.94]}
    got = chapter.claim_numbers(_results(ahead), b)
    # per seed: +1.5, +1.8, +2.2 points at both budgets; t interval over 3 seeds
    d = np.array([0.015, 0.018, 0.022])
    half = 4.302652729911275 * d.std(ddof=1) / math.sqrt(3)
    assert got["gain"] == pytest.approx(d.mean())
    assert (got["gain_lo"], got["gain_hi"]) == (pytest.approx(d.mean() - half), pytest.approx(d.mean() + half))
    assert claims.decide("titans-cascade", **got).label == v.REPRODUCED
    # the better of two Titans students is compared
    two = {**ahead, "titans_student_loss": [0.80, 0.80, 0.80]}
    assert chapter.claim_numbers(_results(two), b)["gain"] == pytest.approx(d.mean())
    # on average ahead, but the interval over seeds includes the bound: the data cannot decide
    noisy = {**base, "titans_teacher_prob": [0.93, 0.90, 0.93]}
    assert claims.decide("titans-cascade", **chapter.claim_numbers(_results(noisy), b)).label == v.INCONCLUSIVE
    behind = {**base, "titans_teacher_prob": [0.89, 0.90, 0.91]}
    assert claims.decide("titans-cascade", **chapter.claim_numbers(_results(behind), b)).label == v.NOT_REPRODUCED
    # one seed (no interval) or no Hinton student: not testable, never decided on one number
    single = _results({k: x[:1] for k, x in ahead.items()})
    assert claims.decide("titans-cascade", **chapter.claim_numbers(single, b)).label == v.NOT_TESTABLE
    no_hinton = _results({k: x for k, x in ahead.items() if k != "hinton"})
    assert claims.decide("titans-cascade", **chapter.claim_numbers(no_hinton, b)).label == v.NOT_TESTABLE


def test_teacher_gaps_and_students_table():
    res = _results({"hinton": [0.92, 0.93, 0.94], "labels": [0.93, 0.93, 0.93]},
                   {"hinton": 0.2})
    gaps = chapter.teacher_gaps(res, teacher_gmacs=1.0, student_gmacs=0.25, budgets=(0.1, 0.5))
    h = gaps[(gaps["student"] == "hinton") & (gaps["budget"] == 0.5)].iloc[0]
    assert h["diff"] == pytest.approx(0.0) and h["relative_cost"] == pytest.approx(0.75)
    assert gaps[gaps["student"] == "labels"]["lo"].iloc[0] == pytest.approx(0.0)
    s = _study(res)
    t = chapter.students_table(s, budgets=(0.1, 0.5))
    assert list(t["student"]) == [chapter.STUDENT_LABELS[k] for k in ("published", "hinton",
                                                                      "labels")]
    assert list(t["deferred to match teacher"]) == ["10.0 %", "30.0 %", "not reached"]
    assert t["alone (%)"].iloc[1] == pytest.approx(91.0)
    assert np.isnan(t["MACs saved there (%)"].iloc[2])


def _study(res):
    import pandas as pd
    published = dict(student_accuracy=0.9173, teacher_accuracy=0.93, threshold=0.5,
                     frac_deferred=0.1, gmacs=0.35, macs_reduction=0.65,
                     **{"acc_at_0.1": 0.92, "acc_at_0.5": 0.93})
    table = pd.DataFrame(dict(frac_big=[0.0, 1.0], accuracy=[0.9, 0.93], gmacs=[0.25, 1.25]))
    curves = {(n, int(s)): table for n, s in res[["student", "seed"]].itertuples(index=False)}
    return chapter.Study(res.assign(train_seconds=1.0), curves, published, table, 0.93, 0.99, 0.25,
                         1.0, 100, 100, [0, 1, 2], 1, pd.DataFrame(),
                         {"student": 0.9173, "teacher": 0.9339})


def test_deferral_figure_keeps_its_legend_below_the_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    s = _study(_results({"hinton": [0.92, 0.93, 0.94]}))
    fig = chapter.deferral_figure(s, budgets=(0.1, 0.5))
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    assert all(legend.y1 <= ax.get_window_extent().y0 for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        chapter.STUDENT_LABELS["published"], "(b) Hinton distillation", "teacher alone (93.00 %)"]
    plt.close(fig)


def test_check_archs_refuses_with_one_line():
    from littlebig_utils.book.notebook import ParameterError
    with pytest.raises(ParameterError, match="must be a CIFAR ResNet"):
        chapter.check_archs("resnet18", "cifar_resnet56")
    with pytest.raises(ParameterError, match="not cheaper"):
        chapter.check_archs("cifar_resnet56", "cifar_resnet20")
    gs, gt = chapter.check_archs("cifar_resnet20", "cifar_resnet56")
    assert 0 < gs < gt


def test_page_tables_have_one_row_per_comparison_and_student():
    res = _results({"labels": [0.90, 0.91, 0.92], "hinton": [0.905, 0.912, 0.918],
                    "titans_teacher_prob": [0.92, 0.93, 0.94]})
    d = chapter.differences_table(chapter.paired_differences(res, budgets=(0.1, 0.5)))
    assert list(d.columns) == ["comparison", "10 % deferred", "50 % deferred"]
    assert list(d["comparison"]) == [
        "(c1) Titans, hard = low teacher probability − (b) Hinton distillation",
        "(c1) Titans, hard = low teacher probability − (a) labels only"]
    assert d.iloc[0, 1].startswith("+1.83 [") and d.iloc[0, 1].endswith("(3/3)")
    g = chapter.gaps_table(chapter.teacher_gaps(res, 1.0, 0.25, budgets=(0.1, 0.5)))
    assert list(g.columns) == ["student", "10 % deferred (35 % of the cost)",
                               "50 % deferred (75 % of the cost)"]
    assert list(g["student"]) == [chapter.STUDENT_LABELS[k] for k in
                                  ("labels", "hinton", "titans_teacher_prob")]
    assert g.iloc[0, 1].startswith("-2.00 [")  # labels: 0.91 - 0.93 on average


def test_claim_numbers_are_the_better_titans_minus_hinton_at_equal_cost():
    res = _results({"hinton": [0.90, 0.91, 0.92], "titans_teacher_prob": [0.91, 0.93, 0.92],
                    "titans_student_loss": [0.89, 0.90, 0.91]})
    # per seed, mean over the budgets (equal here): teacher_prob - hinton = 0.01, 0.02, 0.00
    got = chapter.claim_numbers(res, budgets=(0.1, 0.5))
    half = 4.302652729911275 * 0.01 / math.sqrt(3)
    assert got["gain"] == pytest.approx(0.01)
    assert got["gain_lo"] == pytest.approx(0.01 - half) and got["gain_hi"] == pytest.approx(0.01 + half)
    assert all(np.isnan(v) for v in chapter.claim_numbers(res[res["student"] != "hinton"],
                                                           budgets=(0.1, 0.5)).values())
