"""The pairs that the throughput/latency benchmark times (the paper's Table A.4 and ours).

A setting is two loadable models, the inputs each model sees, the routing and the two models'
GMACs. Two kinds:

- CIFAR-10: the pretrained ResNet-20 -> ResNet-56 on the real test images; the threshold is the
  no-loss point of the sweep of the two models' own predictions on those images, and the
  executor routes on the little model's real confidence.
- ImageNet-size: a pair of the reference models, timed with random weights at each model's own
  input size (compute does not depend on the weight values), replaying exactly the escalations
  that the real reference predictions make at their no-loss threshold, on a subset of samples
  drawn so that its fraction sent to big matches the full validation set's.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch

from . import cascade, runtime
from .predictions import Predictions

__all__ = ["Setting", "SETTINGS", "build", "cifar_setting", "imagenet_setting",
           "stratified_subset"]

SETTINGS = ("cifar_resnet20->cifar_resnet56",
            "mobilenetv3_large_100->gluon_senet154",
            "efficientnet_b1->efficientnet_b3a")


@dataclass
class Setting:
    name: str
    kind: str                      # "cifar" or "imagenet"
    little: runtime.ModelSpec
    big: runtime.ModelSpec
    inputs: torch.Tensor           # at the little model's input size
    big_inputs: torch.Tensor       # the same samples at the big model's input size
    little_gmacs: float
    big_gmacs: float
    threshold: float               # no-loss threshold of the sweep
    frac_big_full: float           # fraction sent to big on the whole dataset at that threshold
    n_full: int                    # samples the threshold was chosen on
    escalate: np.ndarray | None = None   # replayed routing (ImageNet); None: route on conf
    info: dict = field(default_factory=dict)

    @property
    def route_kwargs(self) -> dict:
        """`threshold=` for real routing or `escalate=` for replayed routing."""
        if self.escalate is None:
            return dict(threshold=self.threshold)
        return dict(escalate=self.escalate)


def stratified_subset(to_big: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n sample indices, round(n * frac_big) of them escalated, spread evenly through the order.

    The samples are drawn at random within each group (escalated, kept); escalated ones are
    placed at evenly spaced positions so that every prefix (the online benchmark times the
    first requests) keeps the full set's fraction sent to big as nearly as possible.
    """
    to_big = np.asarray(to_big, dtype=bool)
    if not 0 < n <= len(to_big):
        raise ValueError(f"n must be in 1..{len(to_big)}, got {n}")
    rng = np.random.default_rng(seed)
    k = int(round(n * to_big.mean()))
    order = np.empty(n, dtype=np.int64)
    slots = np.zeros(n, dtype=bool)
    slots[np.floor((np.arange(k) + 0.5) * n / k).astype(int)] = True
    order[slots] = rng.choice(np.flatnonzero(to_big), k, replace=False)
    order[~slots] = rng.choice(np.flatnonzero(~to_big), n - k, replace=False)
    return order


def _pair(name: str) -> tuple[str, str]:
    little, sep, big = name.partition("->")
    if not sep:
        raise ValueError(f"a setting is named 'little->big', got {name!r}")
    return little, big


def cifar_setting(folder, n: int, little: str = "cifar_resnet20", big: str = "cifar_resnet56",
                  n_sweep: int | None = None, device="cpu", batch_size: int = 500) -> Setting:
    """Pretrained CIFAR ResNets on the first `n` test images; threshold from the first
    `n_sweep` (default all 10,000) test images' own predictions."""
    import timm

    from . import cifar
    from .costs import arch_gmacs
    images, labels, ids = cifar.load_jpeg_split("test")
    n_sweep = len(images) if n_sweep is None else n_sweep
    specs = [runtime.ModelSpec.from_module(a, timm.create_model(a, pretrained=True),
                                           functools.partial(timm.create_model, a), folder)
             for a in (little, big)]
    x = cifar.to_tensor(images[:max(n, n_sweep)])
    records = []
    for spec in specs:
        r = runtime.run_model(spec, x[:n_sweep], device=device, batch_size=batch_size)
        records.append(Predictions(ids[:n_sweep], labels[:n_sweep], r.preds, r.conf,
                                   model=dict(name=spec.name), dataset="cifar10-test-jpeg"))
    table = cascade.sweep(*records)
    point = cascade.no_loss_point(table)
    lg, bg = arch_gmacs(little, 32)[0], arch_gmacs(big, 32)[0]
    return Setting(
        name=f"{little}->{big}", kind="cifar", little=specs[0], big=specs[1],
        inputs=x[:n], big_inputs=x[:n], little_gmacs=lg, big_gmacs=bg,
        threshold=float(point["threshold"]), frac_big_full=float(point["frac_big"]),
        n_full=n_sweep,
        info=dict(little_accuracy=100 * records[0].accuracy, big_accuracy=100 * records[1].accuracy,
                  cascade_accuracy=float(point["accuracy"]), records=records,
                  weights="pretrained (akamaster checkpoints)", img_size=(32, 32),
                  dataset="CIFAR-10 test (JPEG copy)"))


def imagenet_setting(folder, n: int, little: str, big: str, seed: int = 0) -> Setting:
    """Random-weight timm models at the reference models' sizes, replaying real escalations."""
    from .reference import REFERENCE_ARCH, load_reference
    recs = load_reference([little, big])
    lp, bp = recs[little], recs[big]
    point = cascade.no_loss_point(cascade.sweep(lp, bp))
    threshold = float(point["threshold"])
    to_big = cascade.route(lp.conf, threshold)
    idx = stratified_subset(to_big, n, seed)
    sizes = (int(lp.model["img_size"]), int(bp.model["img_size"]))
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, sizes[0], sizes[0], generator=g)
    big_inputs = torch.randn(n, 3, sizes[1], sizes[1], generator=g)
    specs = [runtime.ModelSpec.from_timm(REFERENCE_ARCH[name][0], folder, name=name, seed=seed)
             for name in (little, big)]
    return Setting(
        name=f"{little}->{big}", kind="imagenet", little=specs[0], big=specs[1],
        inputs=inputs, big_inputs=big_inputs, little_gmacs=float(lp.model["gmacs"]),
        big_gmacs=float(bp.model["gmacs"]), threshold=threshold,
        frac_big_full=float(point["frac_big"]), n_full=len(lp), escalate=to_big[idx],
        info=dict(little_accuracy=100 * lp.accuracy, big_accuracy=100 * bp.accuracy,
                  cascade_accuracy=float(point["accuracy"]), subset=lp.sample_ids[idx],
                  weights="random (timing only)", img_size=sizes,
                  archs=(REFERENCE_ARCH[little][0], REFERENCE_ARCH[big][0]),
                  dataset="ImageNet-1k val routing, random 3-channel inputs"))


def build(name: str, folder, n: int, **kwargs) -> Setting:
    """A setting by name ('little->big'); CIFAR pairs are the ones named cifar_*."""
    little, big = _pair(name)
    if little.startswith("cifar_"):
        return cifar_setting(folder, n, little, big, **kwargs)
    return imagenet_setting(folder, n, little, big, **kwargs)


def measure(names, folder, *, device="cpu", n_samples: dict, batch_size: dict, n_online: dict,
            repeats: int = 3, cifar_sweep_n: int | None = None, log=print):
    """Build and time each setting; (summary, raw timings, settings) with one summary row per
    (setting, mode). `n_samples`, `batch_size` and `n_online` are keyed by kind (cifar/imagenet)."""
    import pandas as pd
    summaries, raws, built = [], [], {}
    for name in names:
        kind = "cifar" if name.startswith("cifar_") else "imagenet"
        if log:
            log(f"{name}: building ({kind})")
        extra = dict(n_sweep=cifar_sweep_n, device=device) if kind == "cifar" else {}
        s = build(name, folder, n_samples[kind], **extra)
        raw = runtime.benchmark(s.little, s.big, s.inputs, big_inputs=s.big_inputs,
                                device=device, batch_size=batch_size[kind],
                                n_online=n_online[kind], repeats=repeats, log=log,
                                **s.route_kwargs)
        summary = runtime.summarize(raw, s.little_gmacs, s.big_gmacs)
        for df in (raw, summary):
            df.insert(0, "setting", name)
        summary.insert(1, "kind", kind)
        summary["threshold"] = s.threshold
        summary["frac_big_full"] = s.frac_big_full
        summary["little_gmacs"], summary["big_gmacs"] = s.little_gmacs, s.big_gmacs
        summaries.append(summary)
        raws.append(raw)
        built[name] = s
        # the weight files can be large (senet154: 460 MB); keep only what later settings need
        for spec in (s.little, s.big):
            spec.weights.unlink(missing_ok=True)
    return pd.concat(summaries, ignore_index=True), pd.concat(raws, ignore_index=True), built
