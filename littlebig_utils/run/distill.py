"""Titans: distil a little student for the easy inputs and defer the hard ones to the teacher.

Rawat, Zaheer, Menon, Ahmed, Kumar, "When in Doubt, Summon the Titans: Efficient Inference with
Large Models", arXiv 2110.10305 (2021). What the abstract states (and all this module relies on
as *verified*): a two-stage framework based on distillation; the large teacher guides the
lightweight student "to only make correct predictions on a subset of 'easy' examples"; for the
"hard" examples the system falls back to the teacher; this lets a smaller student reach a
better cost/accuracy trade-off than standard distillation.

What could NOT be verified: the paper's full text (its exact objective, its exact easy/hard
criterion, its exact deferral rule) was not retrievable from this project's sources -- only the
abstract. The Titans pieces below are therefore an implementation *of the abstract's
description*, built so that the paper's exact formula drops in:

* ``hard_mask_*`` -- the easy/hard split, pluggable (``HARD_RULES``). ``"student_loss"``: within
  each batch, the fraction ``hard_frac`` of examples on which the student matches the teacher
  worst (largest per-example distillation loss) are "hard". ``"teacher_prob"``: the fraction
  ``hard_frac`` of training examples with the lowest teacher probability on the true label,
  fixed before training.
* ``titans_loss`` -- standard distillation on the easy examples; on the hard ones the student is
  pulled towards the uniform distribution (KL(uniform || student)): it is taught *not* to
  commit, so that its confidence is low there. Stage 1 of the two-stage framework. Stage 2 (the
  student answers when its max softmax is at least T, else the teacher) is the cascade rule of
  the core.

Baselines on the same student, data, budget and seeds: ``label_loss`` (cross-entropy on the
labels) and ``hinton_loss`` (Hinton, Vinyals, Dean 2015: ``alpha * T^2 * KL(p_teacher^T ||
p_student^T) + (1 - alpha) * CE(label, p_student)``).

The stage (``run_stage``; ``python -m littlebig_utils.run.distill`` / ``make titans``):
teacher logits on the first ``n_train`` lossless training images (``cifar10-train``, computed
once by `predict.cached_predictions`), one student per objective and seed trained on the
default device (a checkpoint after every epoch: a killed run resumes where it stopped, with the
weights an uninterrupted run gives), and every student's predictions on the lossless test set,
all cached under ``results/titans/``. A student's file is named by every training setting, the
digest of the training images, labels and teacher logits, and the digest of the training code,
so a change of any of them trains again and nothing else does. Teacher targets are the
teacher's logits on the *un-augmented* images; the student sees randomly cropped and flipped
versions (offline distillation).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from littlebig_utils._io import atomic_write, results_dir
from littlebig_utils.run import cifar  # registers the CIFAR ResNets with timm

__all__ = [
    "OBJECTIVES", "HARD_RULES", "INITS", "SEEDS", "label_loss", "distillation_kl", "hinton_loss",
    "uniform_kl", "titans_loss", "hard_mask_student_loss", "hard_mask_teacher_prob", "augment",
    "create", "TrainConfig", "array_digest", "student_stem", "student_paths", "train_student",
    "load_or_train", "student_names", "training_data", "test_data", "student_predictions",
    "run_stage", "main",
]

OBJECTIVES = ("labels", "hinton", "titans")
HARD_RULES = ("teacher_prob", "student_loss")
INITS = ("pretrained", "scratch")
SEEDS = (0, 1, 2)  # the book's seeds (the chapter's `seeds` parameter; `make titans`)


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


def _check_hard_frac(hard_frac: float) -> None:
    if not 0.0 <= hard_frac < 1.0:
        raise ValueError(f"hard_frac must lie in [0, 1), got {hard_frac}")


def hard_mask_student_loss(per_example_loss: torch.Tensor, hard_frac: float) -> torch.Tensor:
    """Boolean mask of the ``ceil(hard_frac * n)`` examples with the largest loss (ties: first).

    The "student_loss" easy/hard rule: hard = where the student currently matches the teacher
    worst, i.e. what a small student cannot fit. Computed on detached losses, per batch.
    """
    _check_hard_frac(hard_frac)
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
    _check_hard_frac(hard_frac)
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
    """uint8 NCHW -> the checkpoints' normalisation (the transform `predict` applies)."""
    return (x_uint8.float().div_(255) - _MEAN.to(x_uint8.device)) / _STD.to(x_uint8.device)


def _nchw(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC -> NCHW tensor (a copy: decoded images may be read-only arrays)."""
    return torch.from_numpy(np.array(images, dtype=np.uint8)).permute(0, 3, 1, 2).contiguous()


def _check_arch(arch: str, init: str) -> None:
    import timm
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if not timm.is_model(arch):
        raise ValueError(f"unknown architecture {arch!r}; the CIFAR students are "
                         f"{', '.join(f'cifar_resnet{d}' for d in sorted(cifar.DEPTHS))}")
    depth = arch.removeprefix("cifar_resnet")
    if init == "pretrained" and (not depth.isdigit() or int(depth) not in cifar.CHECKPOINTS):
        raise ValueError(f"no pretrained checkpoint for {arch!r}; init='pretrained' needs one "
                         f"of {', '.join(f'cifar_resnet{d}' for d in sorted(cifar.CHECKPOINTS))}"
                         ", or use init='scratch'")


def create(arch: str, init: str = "scratch", seed: int = 0) -> torch.nn.Module:
    """A 10-class CIFAR student: the published checkpoint of `arch` (init="pretrained", only
    ResNet-20/32/44/56 have one) or a random initialisation seeded by `seed` ("scratch")."""
    import timm
    _check_arch(arch, init)
    if init == "pretrained":
        return timm.create_model(arch, pretrained=True, num_classes=10)
    torch.manual_seed(seed)
    return timm.create_model(arch, pretrained=False, num_classes=10)


# -------------------------------------------------------------------------------- settings

@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained student besides its data; hashed into its name.

    The book's values (the chapter's parameters and `make titans`): a ResNet-20 student started
    from its published checkpoint and fine-tuned for 2 epochs on the first 8,000 lossless
    training images, with the teacher's logits as targets (``n_train=None``: all 50,000).
    Sized for `make book` on two CPU cores: 12 students (4 objectives x 3 seeds) x 126 batches
    at about 0.5 s of single-thread CPU each, plus the teacher's logits and the students' test
    predictions, is about 1,000 s of CPU, 10-17 min from nothing on an idle 2-core machine.
    """
    arch: str = "cifar_resnet20"
    init: str = "pretrained"           # one of INITS
    objective: str = "titans"          # one of OBJECTIVES
    epochs: int = 2
    seed: int = 0
    n_train: int | None = 8_000        # the first n_train images of cifar10-train; None: all
    batch_size: int = 128
    lr: float = 0.01                   # peak SGD learning rate (linear warm-up, cosine decay)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_frac: float = 0.05
    temperature: float = 4.0
    alpha: float = 0.9
    hard_rule: str = "teacher_prob"    # one of HARD_RULES (titans only)
    hard_frac: float = 0.2
    hard_weight: float = 1.0
    teacher: str = "cifar_resnet56"

    def __post_init__(self):
        for name, value, allowed in (("objective", self.objective, OBJECTIVES),
                                     ("hard_rule", self.hard_rule, HARD_RULES),
                                     ("init", self.init, INITS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        _check_arch(self.arch, self.init)
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_train is not None and self.n_train < 1:
            raise ValueError(f"n_train must be a positive number of images (or None: all), "
                             f"got {self.n_train}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.warmup_frac < 1.0:
            raise ValueError(f"warmup_frac must lie in [0, 1), got {self.warmup_frac}")
        _check_hard_frac(self.hard_frac)
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")

    @property
    def distils(self) -> bool:
        return self.objective != "labels"

    def key(self) -> str:
        """Hash of every setting this objective uses; the others are hashed at their defaults,
        so e.g. changing ``hard_frac`` does not retrain the labels-only student."""
        d = dataclasses.asdict(self)
        defaults = dataclasses.asdict(TrainConfig())
        unused = {"labels": ("temperature", "alpha", "hard_rule", "hard_frac", "hard_weight",
                             "teacher"),
                  "hinton": ("hard_rule", "hard_frac", "hard_weight"), "titans": ()}
        for k in unused[self.objective]:
            d[k] = defaults[k]
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    def label(self) -> str:
        """The student's name in tables: labels, hinton, titans_<hard rule>."""
        return f"titans_{self.hard_rule}" if self.objective == "titans" else self.objective

    def name(self) -> str:
        return f"{self.arch}_{self.label()}_e{self.epochs}_s{self.seed}_{self.key()}"


def student_names(objectives, hard_rules) -> list[tuple[str, str | None, str]]:
    """(objective, hard rule or None, name) of every student a study trains per seed."""
    for o in objectives:
        if o not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {o!r}")
    out = [(o, None, o) for o in objectives if o != "titans"]
    if "titans" in objectives:
        out += [("titans", r, f"titans_{r}") for r in hard_rules]
    return out


# ----------------------------------------------------------------------------- cache names

def array_digest(*arrays) -> str:
    """Short sha256 of arrays' dtypes, shapes and bytes: the identity of data a result used."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.view(np.uint8).reshape(-1) if a.dtype != object else str(a.tolist()).encode())
    return h.hexdigest()[:16]


def _code_digest() -> str:
    """Digest of the code a trained student depends on (losses, augmentation, the training loop,
    the CIFAR ResNets), without docstrings: a change elsewhere in the package keeps the students."""
    from littlebig_utils.data import registry as data
    return data.code_digest(*_TRAINING_CODE)


def student_stem(cfg: TrainConfig, data_digest: str, teacher_digest: str | None = None) -> str:
    """File stem of a trained student: its settings (`TrainConfig.name`) and a hash of the
    training data, the teacher's logits (distilling objectives only) and the training code."""
    if cfg.distils and not teacher_digest:
        raise ValueError(f"objective {cfg.objective!r} distils: its name needs the teacher "
                         "logits' digest")
    blob = json.dumps({"data": data_digest, "code": _code_digest(),
                       "teacher": teacher_digest if cfg.distils else None}, sort_keys=True)
    return f"{cfg.name()}_{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


def student_paths(stem: str) -> tuple[Path, Path, Path]:
    """(weights .pt, metadata .json, epoch checkpoint .ckpt.pt) in results/titans/students."""
    folder = results_dir("titans", "students")
    return folder / f"{stem}.pt", folder / f"{stem}.json", folder / f"{stem}.ckpt.pt"


# -------------------------------------------------------------------------------- training

def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _batch_loss(cfg: TrainConfig, out, y, t, fixed_hard):
    """(mean loss, number of hard examples) of one batch under the config's objective."""
    if cfg.objective == "labels":
        return label_loss(out, y), 0
    if cfg.objective == "hinton":
        return hinton_loss(out, t, y, cfg.temperature, cfg.alpha), 0
    mask = fixed_hard
    if mask is None:
        kd = hinton_loss(out, t, y, cfg.temperature, cfg.alpha, reduction="none")
        mask = hard_mask_student_loss(kd, cfg.hard_frac)
    loss = titans_loss(out, t, y, hard_mask=mask, temperature=cfg.temperature, alpha=cfg.alpha,
                       hard_weight=cfg.hard_weight)
    return loss, int(mask.sum())


def train_student(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray,
                  t_logits: np.ndarray | None = None, *, checkpoint: Path | None = None,
                  device=None, progress: bool = False, desc: str = ""):
    """Train one student; returns (model in eval mode on `device`, history: one dict per epoch).

    Deterministic for a given config, data, device and thread count: weights from the
    checkpoint or ``torch.manual_seed(seed)``, batch order and augmentation from a generator
    seeded alike. With `checkpoint`, the state after each epoch (weights, optimizer, schedule,
    generator, history) is saved there atomically, and a run finding one resumes after its
    epoch: a killed run ends with the weights an uninterrupted run gives.
    """
    from tqdm.auto import tqdm

    from littlebig_utils.run.devices import parse_device
    if cfg.distils and t_logits is None:
        raise ValueError(f"objective {cfg.objective!r} needs the teacher's logits (t_logits)")
    if len(images) != len(labels) or (t_logits is not None and len(t_logits) != len(labels)):
        raise ValueError(f"{len(images)} images, {len(labels)} labels and "
                         f"{'no' if t_logits is None else len(t_logits)} teacher logits: "
                         "give one of each per training image")
    device = parse_device(device)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = create(cfg.arch, cfg.init, cfg.seed).to(device)
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    opt = torch.optim.SGD([{"params": decay, "weight_decay": cfg.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    n = len(labels)
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: _lr_factor(s, total, max(1, int(cfg.warmup_frac * total))))
    history, start = [], 0
    if checkpoint is not None and Path(checkpoint).is_file():
        # on the CPU: the generator's state must stay a CPU tensor; the weights and the
        # optimizer's buffers are copied to the model's device when loaded
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if state.get("name") == cfg.name() and state.get("n") == n:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["schedule"])
            gen.set_state(state["generator"])
            history, start = list(state["history"]), int(state["epoch"])
    x_all = _nchw(images)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    t_all = None if t_logits is None else torch.as_tensor(np.asarray(t_logits), dtype=torch.float32)
    fixed_hard = None
    if cfg.objective == "titans" and cfg.hard_rule == "teacher_prob":
        fixed_hard = torch.as_tensor(hard_mask_teacher_prob(t_logits, labels, cfg.hard_frac))
    bar = tqdm(total=total, initial=start * steps_per_epoch, unit="batch",
               desc=desc or cfg.name(), disable=not progress, leave=False)
    for epoch in range(start, cfg.epochs):
        model.train()
        t0, loss_sum, correct, hard_n = time.time(), 0.0, 0, 0
        order = torch.randperm(n, generator=gen)
        for b in range(steps_per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            x = _normalize(augment(x_all[idx], gen).to(device, non_blocking=True))
            y = y_all[idx].to(device)
            t = None if t_all is None else t_all[idx].to(device)
            out = model(x)
            hard = None if fixed_hard is None else fixed_hard[idx].to(device)
            loss, n_hard = _batch_loss(cfg, out, y, t, hard)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += int((out.argmax(1) == y).sum())
            hard_n += n_hard
            bar.update(1)
        history.append(dict(epoch=epoch + 1, loss=loss_sum / n, train_accuracy=correct / n,
                            hard_frac=hard_n / n, seconds=time.time() - t0, device=device.type))
        if checkpoint is not None:
            with atomic_write(checkpoint, suffix=".pt") as tmp:
                torch.save({"name": cfg.name(), "n": n, "epoch": epoch + 1,
                            "model": model.state_dict(), "optimizer": opt.state_dict(),
                            "schedule": sched.state_dict(), "generator": gen.get_state(),
                            "history": history}, tmp)
    bar.close()
    model.eval()
    return model, history


def load_or_train(cfg: TrainConfig, images: np.ndarray, labels: np.ndarray,
                  t_logits: np.ndarray | None = None, *, data_digest: str | None = None,
                  device=None, progress: bool = False):
    """(model in eval mode, metadata dict with 'stem' and 'history'): the cached student, or a
    new one trained (resuming from its epoch checkpoint) and saved under results/titans/students.

    `data_digest` names the training data (default: `array_digest` of images and labels).
    """
    from littlebig_utils.run.devices import parse_device
    device = parse_device(device)
    data_digest = data_digest or array_digest(images, labels)
    teacher_digest = array_digest(t_logits) if cfg.distils else None
    stem = student_stem(cfg, data_digest, teacher_digest)
    weights, meta_path, checkpoint = student_paths(stem)
    if weights.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("config") == dataclasses.asdict(cfg):
            model = create(cfg.arch, "scratch")
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
            return model.to(device).eval(), meta
    model, history = train_student(cfg, images, labels, t_logits if cfg.distils else None,
                                   checkpoint=checkpoint, device=device, progress=progress,
                                   desc=f"{cfg.label()} seed {cfg.seed}")
    meta = {"stem": stem, "config": dataclasses.asdict(cfg), "data": data_digest,
            "teacher_logits": teacher_digest, "history": history}
    with atomic_write(weights, suffix=".pt") as tmp:
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, tmp)
    with atomic_write(meta_path, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(meta, indent=1))
    checkpoint.unlink(missing_ok=True)
    return model, meta


# what `_code_digest` reads: the functions themselves, not the module's names for them
_TRAINING_CODE = (label_loss, distillation_kl, hinton_loss, uniform_kl, hard_mask_student_loss,
                  hard_mask_teacher_prob, titans_loss, augment, _normalize, _nchw, create,
                  _lr_factor, _batch_loss, train_student, cifar.ShortcutA, cifar.BasicBlock,
                  cifar.CifarResNet, cifar._create)


# ------------------------------------------------------------------------------- the stage

def training_data(n_train: int | None):
    """(images uint8 NHWC, labels, ids) of the first `n_train` lossless training images."""
    return cifar.load_lossless_split("train", limit=n_train)


def test_data(n_test: int | None):
    """(images, labels, ids) of the first `n_test` lossless test images (None: all 10,000)."""
    return cifar.load_lossless_split("test", limit=n_test)


def student_predictions(model: torch.nn.Module, stem: str, images, labels, ids,
                        dataset: str = "cifar10-test"):
    """Predictions of a trained student on test images, computed once into
    results/titans/predictions (named by the student and the digest of the images, labels and
    the prediction code)."""
    from littlebig_utils.core.predictions import Predictions
    from littlebig_utils.run import predict
    key = hashlib.sha256(json.dumps({
        "student": stem, "data": array_digest(images, labels, np.asarray(ids).astype(str)),
        "format": predict.PREDICT_FORMAT, "code": predict.code_key()},
        sort_keys=True).encode()).hexdigest()[:12]
    path = results_dir("titans", "predictions") / f"{stem}__{dataset}_{len(ids)}__{key}.npz"
    if path.is_file():
        return Predictions.load(path)
    preds = predict.predict_images(model, images, labels, ids, name=stem, dataset_name=dataset)
    preds.save(path)
    return preds


def run_stage(base: TrainConfig = TrainConfig(), objectives=OBJECTIVES, hard_rules=HARD_RULES,
              seeds=SEEDS, n_test: int | None = None, *, device=None, progress: bool = True):
    """Everything the Titans chapter needs, trained or computed only where not cached.

    Returns a dict: ``teacher`` (Predictions of the teacher on the test images), ``students``
    ({(name, seed): Predictions on the test images}), ``meta`` ({(name, seed): the student's
    metadata, with its training history}), ``teacher_train_accuracy`` (a fraction, on the
    training images) and ``n_train`` (images trained on).
    """
    from tqdm.auto import tqdm

    from littlebig_utils.run.devices import parse_device
    from littlebig_utils.run.predict import cached_predictions
    device = parse_device(device)
    names = student_names(objectives, hard_rules)
    seeds = [int(s) for s in seeds]
    if not names or not seeds:
        raise ValueError("give at least one objective and one seed")
    images, labels, ids = training_data(base.n_train)
    data_digest = array_digest(images, labels, ids.astype(str))
    distils = any(o != "labels" for o, _, _ in names)
    t_logits, teacher_train_accuracy = None, float("nan")
    if distils:
        teacher_train = cached_predictions(base.teacher, "cifar10-train", limit=base.n_train,
                                           progress=progress, device=device)
        if not np.array_equal(teacher_train.sample_ids.astype(str), ids.astype(str)):
            raise ValueError(f"the cached teacher logits on cifar10-train are not for the first "
                             f"{len(ids)} training images; delete {base.teacher}'s cached file")
        t_logits = teacher_train.logits
        teacher_train_accuracy = float((t_logits.argmax(1) == labels).mean())
    test_images, test_labels, test_ids = test_data(n_test)
    teacher = cached_predictions(base.teacher, "cifar10-test", limit=n_test, progress=progress,
                                 device=device)
    students, metas = {}, {}
    jobs = [(o, r, name, s) for o, r, name in names for s in seeds]
    for objective, rule, name, seed in tqdm(jobs, desc="Titans students", unit="student",
                                            disable=not progress):
        cfg = dataclasses.replace(base, objective=objective, seed=seed,
                                  hard_rule=rule or base.hard_rule)
        model, meta = load_or_train(cfg, images, labels, t_logits, data_digest=data_digest,
                                    device=device, progress=progress)
        students[name, seed] = student_predictions(model, meta["stem"], test_images,
                                                   test_labels, test_ids)
        metas[name, seed] = meta
    return dict(teacher=teacher, students=students, meta=metas, n_train=len(labels),
                teacher_train_accuracy=teacher_train_accuracy)


# ------------------------------------------------------------------------- command line

def _parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m littlebig_utils.run.distill",
        description="Train (or reuse) the Titans chapter's students: one per objective and seed, "
                    "cached and resumable under results/titans/. The defaults are the book's.")
    p.add_argument("--arch", default=d.arch, help="student architecture (a CIFAR ResNet)")
    p.add_argument("--init", default=d.init, choices=INITS,
                   help="start from the published checkpoint, or from a seeded random init")
    p.add_argument("--teacher", default=d.teacher)
    p.add_argument("--objectives", default=",".join(OBJECTIVES), help="comma-separated")
    p.add_argument("--hard-rules", default=",".join(HARD_RULES), help="comma-separated")
    p.add_argument("--seeds", default=",".join(map(str, SEEDS)), help="comma-separated")
    p.add_argument("--n-train", default=str(d.n_train),
                   help="first N training images, or 'all' (50,000)")
    p.add_argument("--n-test", default="all", help="first N test images, or 'all' (10,000)")
    for name in ("epochs", "batch_size"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    for name in ("lr", "momentum", "weight_decay", "warmup_frac", "temperature", "alpha",
                 "hard_frac", "hard_weight"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(d, name))
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N (default: a GPU if any)")
    return p


def _count(text: str, what: str) -> int | None:
    if text.strip().lower() in ("all", "none"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"--{what} must be a number of images or 'all', got {text!r}") from None


def main(argv=None) -> int:
    """`make titans`: train what is missing, with progress bars, and print one line per student."""
    args = _parser().parse_args(argv)
    try:
        base = TrainConfig(arch=args.arch, init=args.init, teacher=args.teacher,
                           n_train=_count(args.n_train, "n-train"), epochs=args.epochs,
                           batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                           weight_decay=args.weight_decay, warmup_frac=args.warmup_frac,
                           temperature=args.temperature, alpha=args.alpha,
                           hard_frac=args.hard_frac, hard_weight=args.hard_weight)
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        started = time.time()
        stage = run_stage(base, [o.strip() for o in args.objectives.split(",") if o.strip()],
                          [r.strip() for r in args.hard_rules.split(",") if r.strip()], seeds,
                          _count(args.n_test, "n-test"), device=args.device, progress=True)
    except ValueError as exc:  # DataError, bad settings: one line, exit 2
        print(f"error: {exc}", file=sys.stderr)
        return 2
    teacher = stage["teacher"]
    print(f"teacher {base.teacher}: {100 * teacher.accuracy:.2f} % on {len(teacher):,} test images")
    for (name, seed), p in stage["students"].items():
        spent = sum(h["seconds"] for h in stage["meta"][name, seed]["history"])
        print(f"{name:>22} seed {seed}: {100 * p.accuracy:.2f} % (trained in {spent / 60:.1f} min)")
    print(f"Titans stage ready in {(time.time() - started) / 60:.1f} min "
          f"(results/titans/; students trained on {stage['n_train']:,} images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
