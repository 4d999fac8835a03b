"""Titans: distil a little student for the easy inputs and defer the hard ones to the teacher.

Rawat, Zaheer, Menon, Ahmed, Kumar, "When in Doubt, Summon the Titans: Efficient Inference with
Large Models", arXiv 2110.10305 (2021). What the abstract states (and all this module relies on
as *verified*): a two-stage framework based on distillation; the large teacher guides the
lightweight student "to only make correct predictions on a subset of 'easy' examples"; for the
"hard" examples the system falls back to the teacher; this lets a smaller student reach a
better cost/accuracy trade-off than standard distillation.

What could NOT be verified: the paper's full text (its exact objective, its exact easy/hard
criterion, its exact deferral rule) was not retrievable from this project's sources -- only the
abstract and the first lines of the introduction (ar5iv.labs.arxiv.org/html/2110.10305). The
Titans pieces below are therefore an implementation *of the abstract's description*, built so
that the paper's exact formula drops in:

* ``hard_mask_*`` -- the easy/hard split, pluggable (``HARD_RULES``). Default
  ``"student_loss"``: within each batch, the fraction ``hard_frac`` of examples on which the
  student matches the teacher worst (largest per-example distillation loss) are "hard" -- the
  examples beyond the student's capacity. ``"teacher_prob"``: the fraction ``hard_frac`` of
  training examples with the lowest teacher probability on the true label, fixed before training.
* ``titans_loss`` -- standard distillation on the easy examples; on the hard ones the student is
  pulled towards the uniform distribution (KL(uniform || student)), i.e. it is taught *not* to
  commit, so that its confidence is low there. Stage 1 of the two-stage framework.
* ``deferral_curve`` -- stage 2, the deferral rule: the student answers when its max softmax is at
  least the threshold T, otherwise the teacher answers (the rule of ``core.engine``); every T is
  swept.

Baselines on the same student, budget and seeds: ``label_loss`` (cross-entropy on the labels) and
``hinton_loss`` (Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", 2015:
``alpha * T^2 * KL(p_teacher^T || p_student^T) + (1 - alpha) * CE(label, p_student)``).

Teacher targets are the teacher's logits on the *un-augmented* training images, computed once and
cached; the student sees randomly cropped/flipped versions of those images (offline distillation
with cached logits, an approximation of re-running the teacher on every augmented batch).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from littlebig_utils.core import engine
from littlebig_utils.run import cifar  # noqa: F401  (cifar registers the CIFAR ResNets with timm)
from littlebig_utils._io import results_dir
from littlebig_utils._io import atomic_write

__all__ = [
    "OBJECTIVES", "HARD_RULES", "label_loss", "hinton_loss", "uniform_kl", "titans_loss",
    "hard_mask_student_loss", "hard_mask_teacher_prob", "TrainConfig", "augment", "predict_logits",
    "predictions_of", "student_paths",
    "teacher_logits", "train_student", "load_or_train", "deferral_curve", "softmax_conf",
]

OBJECTIVES = ("labels", "hinton", "titans")
HARD_RULES = ("student_loss", "teacher_prob")


# ------------------------------------------------------------------------------------ losses
# Every loss returns one value per example (reduction="none") or their mean; per-example values
# are what the Titans split needs and what the tests check by hand.

def _reduce(per_example: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return per_example
    if reduction == "mean":
        return per_example.mean()
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def label_loss(student_logits, labels, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy on the ground-truth labels: the "labels only" baseline."""
    return F.cross_entropy(student_logits, labels, reduction=reduction)


def distillation_kl(student_logits, teacher_logits, temperature: float) -> torch.Tensor:
    """Per-example T^2 * KL(softmax(teacher/T) || softmax(student/T)).

    The T^2 factor keeps the gradient scale independent of T (Hinton et al. 2015, section 2).
    """
    t = float(temperature)
    log_ps = F.log_softmax(student_logits / t, dim=1)
    log_pt = F.log_softmax(teacher_logits / t, dim=1)
    return t * t * (log_pt.exp() * (log_pt - log_ps)).sum(dim=1)


def hinton_loss(student_logits, teacher_logits, labels, temperature: float = 4.0,
                alpha: float = 0.9, reduction: str = "mean") -> torch.Tensor:
    """Standard distillation: alpha * T^2 * KL(teacher^T || student^T) + (1-alpha) * CE(label)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha weighs the teacher term and must lie in [0, 1], got {alpha}")
    per = (alpha * distillation_kl(student_logits, teacher_logits, temperature)
           + (1.0 - alpha) * F.cross_entropy(student_logits, labels, reduction="none"))
    return _reduce(per, reduction)


def uniform_kl(student_logits, reduction: str = "mean") -> torch.Tensor:
    """KL(uniform || softmax(student)) = -log K - mean_k log p_k: zero iff the student is uniform."""
    log_ps = F.log_softmax(student_logits, dim=1)
    k = student_logits.shape[1]
    return _reduce(-math.log(k) - log_ps.mean(dim=1), reduction)


def hard_mask_student_loss(per_example_loss: torch.Tensor, hard_frac: float) -> torch.Tensor:
    """Boolean mask of the ``ceil(hard_frac * n)`` examples with the largest loss (ties: first).

    The "student_loss" easy/hard rule: hard = where the student currently matches the teacher
    worst, i.e. what a small student cannot fit. Computed on detached losses, per batch.
    """
    if not 0.0 <= hard_frac < 1.0:
        raise ValueError(f"hard_frac must lie in [0, 1), got {hard_frac}")
    n = per_example_loss.shape[0]
    k = math.ceil(hard_frac * n)
    mask = torch.zeros(n, dtype=torch.bool, device=per_example_loss.device)
    if k:
        order = torch.argsort(per_example_loss.detach(), descending=True, stable=True)
        mask[order[:k]] = True
    return mask


def hard_mask_teacher_prob(teacher_logits, labels, hard_frac: float) -> np.ndarray:
    """Boolean mask of the ``ceil(hard_frac * n)`` examples with the lowest teacher probability
    on the true label (ties: first): the "teacher_prob" rule, fixed once for the training set."""
    if not 0.0 <= hard_frac < 1.0:
        raise ValueError(f"hard_frac must lie in [0, 1), got {hard_frac}")
    logits = torch.as_tensor(np.asarray(teacher_logits), dtype=torch.float32)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    p_true = F.softmax(logits, dim=1).gather(1, labels[:, None])[:, 0].numpy()
    k = math.ceil(hard_frac * len(p_true))
    mask = np.zeros(len(p_true), dtype=bool)
    mask[np.argsort(p_true, kind="stable")[:k]] = True
    return mask


def titans_loss(student_logits, teacher_logits, labels, hard_mask=None, hard_frac: float = 0.2,
                temperature: float = 4.0, alpha: float = 0.9, hard_weight: float = 1.0,
                reduction: str = "mean") -> torch.Tensor:
    """Distil on the easy examples, teach "don't commit" (uniform) on the hard ones.

    per-example loss = hinton_loss            on easy examples
                     = hard_weight * KL(u || p_student)   on hard examples
    ``hard_mask`` (bool per example) gives the split; when None, the "student_loss" rule picks
    the ``hard_frac`` of the batch with the largest distillation loss. This is the abstract's
    "guide the student to only make correct predictions on a subset of easy examples"
    (arXiv 2110.10305, abstract); swap this function for the paper's exact objective if known.
    """
    kd = hinton_loss(student_logits, teacher_logits, labels, temperature, alpha, reduction="none")
    if hard_mask is None:
        hard_mask = hard_mask_student_loss(kd, hard_frac)
    hard_mask = torch.as_tensor(hard_mask, dtype=torch.bool, device=kd.device)
    if hard_mask.shape != kd.shape:
        raise ValueError(f"hard_mask has shape {tuple(hard_mask.shape)}, expected {tuple(kd.shape)}")
    per = torch.where(hard_mask, hard_weight * uniform_kl(student_logits, reduction="none"), kd)
    return _reduce(per, reduction)


# ------------------------------------------------------------------------------ data, models

def augment(images: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop with zero padding `pad` and random horizontal flip, per image, on (N,C,H,W)."""
    n, c, h, w = images.shape
    padded = F.pad(images, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = dy[:, None] + torch.arange(h)
    cols = dx[:, None] + torch.arange(w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


_MEAN = torch.tensor(cifar.MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(cifar.STD).view(1, 3, 1, 1)


def _normalize(x_uint8: torch.Tensor) -> torch.Tensor:
    return (x_uint8.float().div_(255) - _MEAN) / _STD


def _nchw(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def create(arch: str, pretrained: bool = False) -> torch.nn.Module:
    import timm
    return timm.create_model(arch, pretrained=pretrained, num_classes=10)


def predict_logits(model: torch.nn.Module, images: np.ndarray, batch_size: int = 500,
                   labels=None, ids=None, name: str = "") -> np.ndarray:
    """float32 logits (N, 10) of `model` on uint8 NHWC images (eval mode, no augmentation).

    Goes through `predict.predict` (the project's one model -> predictions path), on the
    device the model already lives on; `labels` and `ids` only label the record.
    """
    return predictions_of(model, images, labels, ids, name, batch_size).logits


def predictions_of(model: torch.nn.Module, images: np.ndarray, labels=None, ids=None,
                   name: str = "", batch_size: int = 500, dataset_name: str = "cifar10-jpeg"):
    """Predictions of `model` on in-memory CIFAR images, via `predict.predict_images`."""
    from littlebig_utils.run.predict import predict_images
    return predict_images(model, images, labels, ids, name=name, dataset_name=dataset_name,
                          batch_size=batch_size)


def softmax_conf(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(max softmax probability, argmax) of each row (scores.softmax: the one softmax)."""
    from littlebig_utils.core.scores import softmax
    p = softmax(logits)
    return p.max(axis=1), p.argmax(axis=1)


def _teacher_key(teacher: str, split: str) -> str:
    """Key of cached teacher logits: the teacher's weights, the images and the prediction code."""
    from littlebig_utils.data import registry as data
    from littlebig_utils.run import predict
    blob = json.dumps({"weights": predict._weights_source(teacher, True),
                       "data": data.TREES[f"cifar10/jpeg/{split}"],
                       "format": predict.PREDICT_FORMAT, "code": predict.code_key()},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def teacher_logits(split: str, teacher: str = "cifar_resnet56", ids=None) -> np.ndarray:
    """Teacher logits on the JPEG `split` ('train' | 'test'), computed once and cached.

    The cache (results_dir('titans')/teacher_<name>_<split>_<key>.npz, the key naming the
    teacher's weights, the images and the prediction code) stores the sample ids; `ids`
    selects and orders rows (a subset); ids missing from the cache are computed and added.
    """
    images, _, all_ids = cifar.load_jpeg_split(split)
    path = results_dir("titans") / f"teacher_{teacher}_{split}_{_teacher_key(teacher, split)}.npz"
    want = all_ids if ids is None else np.asarray(ids).astype(str)
    cached_ids, cached = np.array([], dtype=str), np.zeros((0, 10), np.float32)
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            cached_ids, cached = z["ids"].astype(str), z["logits"]
    index = {s: i for i, s in enumerate(cached_ids)}
    missing = [s for s in want if s not in index]
    if missing:
        pos = {s: i for i, s in enumerate(all_ids.astype(str))}
        rows = np.array([pos[s] for s in missing])
        new = predict_logits(create(teacher, pretrained=True), images[rows], ids=missing,
                             name=teacher)
        cached_ids = np.concatenate([cached_ids, np.asarray(missing)])
        cached = np.concatenate([cached, new])
        with atomic_write(path, suffix=".npz") as tmp:
            np.savez(tmp, ids=cached_ids, logits=cached)
        index = {s: i for i, s in enumerate(cached_ids)}
    return cached[np.array([index[s] for s in want], dtype=np.int64)]


# -------------------------------------------------------------------------------- training

@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained student; its hash keys the weight cache."""
    arch: str = "cifar_resnet8"
    objective: str = "titans"          # one of OBJECTIVES
    epochs: int = 3
    seed: int = 0
    n_train: int | None = 20_000       # None: all 50,000 JPEG training images
    batch_size: int = 128
    lr: float = 0.1                    # peak SGD learning rate (linear warm-up, cosine decay)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_frac: float = 0.05
    temperature: float = 4.0
    alpha: float = 0.9
    hard_rule: str = "student_loss"    # one of HARD_RULES (titans only)
    hard_frac: float = 0.2
    hard_weight: float = 1.0
    teacher: str = "cifar_resnet56"

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.hard_rule not in HARD_RULES:
            raise ValueError(f"hard_rule must be one of {HARD_RULES}, got {self.hard_rule!r}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")

    def key(self) -> str:
        """Hash of the settings that affect this objective; the others are hashed at their
        defaults, so e.g. changing ``hard_frac`` does not retrain the labels-only student."""
        d = dataclasses.asdict(self)
        defaults = dataclasses.asdict(TrainConfig())
        unused = {"labels": ("temperature", "alpha", "hard_rule", "hard_frac", "hard_weight"),
                  "hinton": ("hard_rule", "hard_frac", "hard_weight"), "titans": ()}
        for k in unused[self.objective]:
            d[k] = defaults[k]
        blob = json.dumps(d, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def name(self) -> str:
        return f"{self.arch}_{self.objective}_e{self.epochs}_s{self.seed}_{self.key()}"


def train_subset(n_train: int | None, seed: int = 0):
    """(images, labels, ids) of the JPEG training set, or a random subset of `n_train` of them.

    The subset's seed is fixed (not the training seed): every student sees the same images.
    """
    images, labels, ids = cifar.load_jpeg_split("train")
    if n_train is not None and n_train < len(labels):
        rows = np.sort(np.random.default_rng(seed).permutation(len(labels))[:n_train])
        images, labels, ids = images[rows], labels[rows], ids[rows]
    return images, labels, ids


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def train_student(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray,
                  t_logits: np.ndarray | None = None, log=print):
    """Train a student from scratch; returns (model, history DataFrame-ready list of dicts).

    Deterministic for a given config, machine and thread count: weights from
    ``torch.manual_seed(seed)``, batch order and augmentation from a generator seeded alike.
    """
    if cfg.objective != "labels" and t_logits is None:
        raise ValueError(f"objective {cfg.objective!r} needs the teacher's logits (t_logits)")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = create(cfg.arch)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    x_all = _nchw(images)
    y_all = torch.as_tensor(labels, dtype=torch.int64)
    t_all = None if t_logits is None else torch.as_tensor(t_logits, dtype=torch.float32)
    fixed_hard = None
    if cfg.objective == "titans" and cfg.hard_rule == "teacher_prob":
        fixed_hard = torch.as_tensor(hard_mask_teacher_prob(t_logits, labels, cfg.hard_frac))
    n = len(y_all)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _lr_factor(s, total, max(1, int(cfg.warmup_frac * total))))
    history = []
    for epoch in range(cfg.epochs):
        model.train()
        t0, loss_sum, correct, hard_n = time.time(), 0.0, 0, 0
        order = torch.randperm(n, generator=gen)
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            x = _normalize(augment(x_all[idx], gen))
            y = y_all[idx]
            out = model(x)
            if cfg.objective == "labels":
                loss = label_loss(out, y)
            elif cfg.objective == "hinton":
                loss = hinton_loss(out, t_all[idx], y, cfg.temperature, cfg.alpha)
            else:
                mask = None if fixed_hard is None else fixed_hard[idx]
                kd = hinton_loss(out, t_all[idx], y, cfg.temperature, cfg.alpha, reduction="none")
                if mask is None:
                    mask = hard_mask_student_loss(kd, cfg.hard_frac)
                hard_n += int(mask.sum())
                loss = titans_loss(out, t_all[idx], y, hard_mask=mask,
                                   temperature=cfg.temperature, alpha=cfg.alpha,
                                   hard_weight=cfg.hard_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += int((out.argmax(1) == y).sum())
        row = dict(epoch=epoch + 1, loss=loss_sum / n, train_accuracy=correct / n,
                   hard_frac=hard_n / n, seconds=time.time() - t0)
        history.append(row)
        if log:
            log(f"[{cfg.name()}] epoch {row['epoch']}/{cfg.epochs} loss {row['loss']:.4f} "
                f"train acc {100 * row['train_accuracy']:.2f} % ({row['seconds']:.0f} s)")
    model.eval()
    return model, history


def student_paths(cfg: TrainConfig) -> tuple[Path, Path]:
    """(weights .pt, metadata .json) of a trained student in results_dir('titans', 'students'):
    named by the config, the code that trains it and (when it distils) the teacher's logits."""
    import sys

    from littlebig_utils.data import registry as data
    blob = json.dumps({"code": data.code_digest(sys.modules[__name__], cifar),
                       "data": data.TREES["cifar10/jpeg/train"],
                       "teacher": None if cfg.objective == "labels"
                       else _teacher_key(cfg.teacher, "train")}, sort_keys=True)
    stem = f"{cfg.name()}_{hashlib.sha256(blob.encode()).hexdigest()[:8]}"
    folder = results_dir("titans", "students")
    return folder / f"{stem}.pt", folder / f"{stem}.json"


def load_or_train(cfg: TrainConfig, log=print):
    """(model, history) from the cache under results_dir('titans'), training on a miss.

    The cache key is the hash of the whole config, of the training code and of the teacher's
    cached logits (`student_paths`), so changing any setting or the code retrains and a
    rebuild with the same settings does not.
    """
    weights, meta = student_paths(cfg)
    model = create(cfg.arch)
    if weights.is_file() and meta.is_file():
        saved = json.loads(meta.read_text())
        if saved.get("config") == dataclasses.asdict(cfg):
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            model.eval()
            return model, saved["history"]
    images, labels, ids = train_subset(cfg.n_train, seed=0)
    t_logits = None if cfg.objective == "labels" else teacher_logits("train", cfg.teacher, ids)
    model, history = train_student(cfg, images, labels, t_logits, log=log)
    with atomic_write(weights, suffix=".pt") as tmp:
        torch.save(model.state_dict(), tmp)
    with atomic_write(meta, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps({"config": dataclasses.asdict(cfg), "history": history},
                                        indent=1))
    return model, history


# --------------------------------------------------------------------------------- deferral

def deferral_curve(student_logits, teacher_logits_, labels, student_gmacs: float,
                   teacher_gmacs: float):
    """Cascade table over every threshold: student answers when max softmax >= T, else teacher.

    Columns from ``engine.sweep_arrays``: threshold, frac_big (fraction deferred to the
    teacher), accuracy (a fraction), gmacs (= student + frac_big * teacher per sample).
    """
    labels = np.asarray(labels)
    conf, s_pred = softmax_conf(student_logits)
    _, t_pred = softmax_conf(teacher_logits_)
    return engine.sweep_arrays(conf, s_pred == labels, t_pred == labels,
                                little_gmacs=student_gmacs, big_gmacs=teacher_gmacs)


# ------------------------------------------------------------------------------------ study
# The chapter's loop over (objective, easy/hard rule, seed), its per-student summary and its
# verdict, once here instead of in notebooks/titans_distillation.ipynb.

STUDENT_LABELS = {"labels": "(a) labels only", "hinton": "(b) Hinton distillation",
                  "titans_teacher_prob": "(c1) Titans, hard = low teacher probability",
                  "titans_student_loss": "(c2) Titans, hard = high student loss"}


def student_row(student_logits, teacher_logits_, labels, student_gmacs: float,
                teacher_gmacs: float, budgets=(0.1, 0.25, 0.5), tolerance: float = 0.01):
    """(summary dict, deferral table) of one trained student cascaded with the teacher.

    no_loss: the cheapest T whose cascade accuracy is at least the teacher's (NaN columns when
    none is); near: the cheapest within `tolerance` (a fraction of accuracy) of the teacher;
    acc_at_<f>: the most accurate cascade deferring at most the fraction f (equal-cost
    comparison). Accuracies and MACs reductions are fractions."""
    labels = np.asarray(labels)
    table = deferral_curve(student_logits, teacher_logits_, labels, student_gmacs, teacher_gmacs)
    teacher_acc = float((np.asarray(teacher_logits_).argmax(1) == labels).mean())
    point = engine.no_loss_point(table)
    near = engine.matched_accuracy_point(table, teacher_acc - tolerance)

    def at(p, col):
        return np.nan if p is None else float(p[col])
    row = dict(student_accuracy=float((np.asarray(student_logits).argmax(1) == labels).mean()),
               teacher_accuracy=teacher_acc, threshold=at(point, "threshold"),
               frac_deferred=at(point, "frac_big"), gmacs=at(point, "gmacs"),
               macs_reduction=at(point, "macs_reduction"),
               frac_deferred_near=at(near, "frac_big"), gmacs_near=at(near, "gmacs"),
               macs_reduction_near=at(near, "macs_reduction"))
    for f in budgets:
        row[f"acc_at_{f:g}"] = float(engine.budget_point(table, frac_big=f)["accuracy"])
    return row, table


def student_names(objectives, hard_rules) -> list[tuple[str, str | None, str]]:
    """(objective, hard rule or None, name) of every student the chapter trains."""
    out = [(o, None, o) for o in objectives if o != "titans"]
    if "titans" in objectives:
        out += [("titans", r, f"titans_{r}") for r in hard_rules]
    return out


def run_study(base: TrainConfig, objectives, hard_rules, seeds, test_images, test_labels,
              t_test, student_gmacs: float, teacher_gmacs: float, budgets=(0.1, 0.25, 0.5),
              tolerance: float = 0.01, log=None):
    """Train (or load from the cache) one student per objective / hard rule / seed, all with
    `base`'s other settings, and cascade each with the teacher on the test images.

    Returns (one row per student and seed, {(name, seed): deferral table}, training history
    rows). `log=None` keeps training silent (a book page shows no training log)."""
    import pandas as pd
    rows, curves, histories = [], {}, []
    for objective, rule, name in student_names(objectives, hard_rules):
        for seed in seeds:
            cfg = dataclasses.replace(base, objective=objective, seed=seed,
                                      hard_rule=rule or TrainConfig.hard_rule)
            model, history = load_or_train(cfg, log=log)
            histories += [dict(h, student=name, seed=seed) for h in history]
            row, curves[name, seed] = student_row(
                predict_logits(model, test_images), t_test, test_labels, student_gmacs,
                teacher_gmacs, budgets, tolerance)
            rows.append(dict(student=name, seed=seed, **row,
                             train_seconds=sum(h["seconds"] for h in history)))
    return pd.DataFrame(rows), curves, pd.DataFrame(histories)


def summarize_students(results, budgets=(0.1, 0.25, 0.5)):
    """Means over seeds per student, plus `acc_equal_cost` (mean accuracy over the budgets)
    and `reached` (seeds whose cascade matches the teacher at all)."""
    cols = ["student_accuracy", "frac_deferred", "gmacs", "macs_reduction", "frac_deferred_near",
            "gmacs_near", "macs_reduction_near"] + [f"acc_at_{f:g}" for f in budgets]
    s = results.groupby("student", sort=False)[cols].mean()
    s["reached"] = results.groupby("student", sort=False)["frac_deferred"].apply(
        lambda x: int(np.isfinite(x).sum()))
    s["acc_equal_cost"] = s[[f"acc_at_{f:g}" for f in budgets]].mean(axis=1)
    return s










__all__ += ["STUDENT_LABELS", "student_row", "student_names", "run_study", "summarize_students"]
