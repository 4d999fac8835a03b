"""A real two-model cascade executor, and the protocol that times it against the big model alone.

MACs are a proxy; a deployment pays wall-clock time. This module runs a little and a big torch
model over a stream of inputs with the Little-Big rule (``conf < threshold`` goes to big) and
records when every answer became available, in three modes:

- ``resident``: both models in memory. The little model runs on each batch; escalated inputs
  wait in a queue and the big model runs on full batches; the last partial batch is flushed.
- ``swapped`` (memory-constrained, the paper's Table A.4): one model in memory at a time. The
  little model is loaded from disk, runs over a chunk and is dropped; the big model is then
  loaded from disk for that chunk's escalated inputs and dropped; loading time is counted.
- ``online``: one request at a time (batch 1); latency is per request.

Answers always come back in input order. A sample's latency is the time from when its batch
(resident), chunk (swapped) or request (online) was taken to when its final answer was ready.
On CUDA every model call is synchronised before the clock is read.

The timing protocol (`benchmark`) measures the little model alone, the big model alone and the
cascade in the same run, interleaved and repeated, so that the measured speedup, the speedup
predicted from the two models' own times (t_little + frac_big * t_big) and the executor's
overhead are all ratios of numbers taken under the same load.
"""
from __future__ import annotations

import functools
import gc
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from littlebig_utils.core import engine
from littlebig_utils.core.checks import check_threshold
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.run.devices import parse_device

__all__ = ["MODES", "ModelSpec", "CascadeRun", "ModelRun", "run_cascade",
           "run_model", "benchmark", "summarize", "Setting", "stratified_subset", "cifar_setting",
           "imagenet_setting", "build_setting", "measure_settings", "SPREAD"]

MODES = ("resident", "swapped", "online")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _free(device: torch.device, dropped: weakref.ref) -> None:
    """Return a dropped model's memory to the system (CUDA: its cached blocks too).

    Reference counting frees a model as soon as its last reference goes; a full garbage
    collection (half a second with a large heap) is paid only when a reference cycle kept it.
    """
    if dropped() is not None:
        gc.collect()
    if dropped() is not None:
        raise RuntimeError("a model the swapped executor dropped is still referenced elsewhere "
                           "(a hook or a global?); it would stay in memory beside the other one")
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ------------------------------------------------------------------------------------ models

@dataclass
class ModelSpec:
    """A model the executor can load from disk on demand: an architecture and a state dict file.

    `build` makes the architecture only; it is called on the meta device, so no memory is
    allocated and no random initialisation is paid for weights that the file replaces.
    """
    name: str
    build: Callable[[], nn.Module]
    weights: Path

    @classmethod
    def from_module(cls, name: str, module: nn.Module, build: Callable[[], nn.Module],
                    folder) -> "ModelSpec":
        """Save `module`'s state dict under `folder` and return the spec that reloads it."""
        path = Path(folder) / f"{name}.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(module.state_dict(), path)
        return cls(name, build, path)

    @classmethod
    def from_timm(cls, arch: str, folder, name: str | None = None, pretrained: bool = False,
                  seed: int = 0, **kwargs) -> "ModelSpec":
        """A timm architecture (random weights unless `pretrained`) saved under `folder`."""
        import timm
        build = functools.partial(timm.create_model, arch, pretrained=False, **kwargs)
        torch.manual_seed(seed)
        module = timm.create_model(arch, pretrained=pretrained, **kwargs)
        return cls.from_module(name or arch, module, build, folder)

    def load(self, device="cpu") -> nn.Module:
        """The model with its weights read from disk (weights_only: no pickle code runs)."""
        device = torch.device(device)
        state = torch.load(self.weights, map_location=device, weights_only=True)
        with torch.device("meta"):
            model = self.build()
        model.load_state_dict(state, assign=True)
        if any(t.is_meta for t in [*model.parameters(), *model.buffers()]):
            # a buffer that is not in the state dict (non-persistent) cannot be assigned:
            # build for real instead (slower, same result)
            model = self.build()
            model.load_state_dict(state)
        return model.to(device).eval()


def _as_module(model, device: torch.device) -> nn.Module:
    if isinstance(model, ModelSpec):
        return model.load(device)
    return model.to(device).eval()


def _forward(model: nn.Module, x: torch.Tensor, device: torch.device):
    """(predicted class, max softmax) of one batch as numpy arrays; host copy = synchronised."""
    logits = model(x.to(device, non_blocking=True))
    conf, pred = logits.float().softmax(dim=-1).max(dim=-1)
    _sync(device)
    return pred.cpu().numpy(), conf.cpu().numpy()


# ------------------------------------------------------------------------------------ results

@dataclass
class ModelRun:
    """One model alone over the inputs (the baselines)."""
    name: str
    device: str
    batch_size: int
    preds: np.ndarray
    conf: np.ndarray
    latency_s: np.ndarray
    wall_s: float
    cpu_s: float = float("nan")  # process CPU time: robust to other jobs on a shared CPU

    @property
    def n(self) -> int:
        return len(self.preds)

    @property
    def throughput(self) -> float:
        return self.n / self.wall_s

    @property
    def per_sample_s(self) -> float:
        return self.wall_s / self.n


@dataclass
class CascadeRun:
    """What the executor answered, what it escalated, and when each answer was ready."""
    mode: str
    device: str
    batch_size: int
    preds: np.ndarray          # final answer per input, input order
    conf: np.ndarray           # confidence of the final answer (big's where escalated)
    little_conf: np.ndarray    # the little model's confidence (what routing used)
    to_big: np.ndarray         # escalated to the big model
    latency_s: np.ndarray      # per input: answer ready minus batch/chunk/request taken
    wall_s: float              # first input taken to last answer ready, loading included
    cpu_s: float = float("nan")  # process CPU time over the same span
    little_s: float = 0.0      # time inside the little model's calls (transfers included)
    big_s: float = 0.0
    load_s: float = 0.0        # swapped mode: reading and building models (counted in wall_s)
    big_batch_sizes: list = field(default_factory=list)
    loads: int = 0

    @property
    def n(self) -> int:
        return len(self.preds)

    @property
    def n_big(self) -> int:
        return int(self.to_big.sum())

    @property
    def frac_big(self) -> float:
        return self.n_big / self.n if self.n else float("nan")

    @property
    def throughput(self) -> float:
        return self.n / self.wall_s

    @property
    def mean_latency_ms(self) -> float:
        return 1e3 * float(np.mean(self.latency_s))

    @property
    def p95_latency_ms(self) -> float:
        return 1e3 * float(np.percentile(self.latency_s, 95))


# ------------------------------------------------------------------------------------ executor

class _Router:
    """conf < threshold, or a recorded escalation set replayed by input index."""

    def __init__(self, threshold, escalate, n):
        if (threshold is None) == (escalate is None):
            raise ValueError("give exactly one of `threshold` (route on the little model's "
                             "confidence) or `escalate` (replay a recorded escalation mask)")
        self.threshold = None if threshold is None else check_threshold(threshold)
        if escalate is not None:
            escalate = np.asarray(escalate, dtype=bool)
            if escalate.shape != (n,):
                raise ValueError(f"escalate must be a boolean mask of shape ({n},), "
                                 f"got {escalate.shape}")
        self.escalate = escalate

    def __call__(self, idx: np.ndarray, conf: np.ndarray) -> np.ndarray:
        if self.escalate is not None:
            return self.escalate[idx]
        return conf < self.threshold


def _check_inputs(inputs, big_inputs):
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch.Tensor of shape (N, ...), got {type(inputs)}")
    big_inputs = inputs if big_inputs is None else big_inputs
    if len(big_inputs) != len(inputs):
        raise ValueError(f"big_inputs has {len(big_inputs)} samples, inputs {len(inputs)}: "
                         "they must be the same samples, each at its model's input size")
    return big_inputs


def run_cascade(little, big, inputs: torch.Tensor, threshold: float | None = None, *,
                mode: str = "resident", big_inputs: torch.Tensor | None = None,
                escalate=None, device=None, batch_size: int = 32,
                chunk_size: int | None = None, warmup: bool = True) -> CascadeRun:
    """Run the Little-Big cascade over `inputs` (CPU tensor, N first) and time it.

    `little`/`big` are modules or `ModelSpec`s (swapped mode needs specs: it reloads them).
    `big_inputs` holds the same samples at the big model's input size (default: `inputs`).
    `escalate` replays a recorded escalation mask instead of thresholding, e.g. to time
    random-weight models with the routing that the real models produce.
    `chunk_size` (swapped mode) is how many inputs the little model sees per load (default all).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = parse_device(device)
    big_inputs = _check_inputs(inputs, big_inputs)
    router = _Router(threshold, escalate, len(inputs))
    with torch.inference_mode():
        if mode == "swapped":
            if not (isinstance(little, ModelSpec) and isinstance(big, ModelSpec)):
                raise TypeError("swapped mode loads the models from disk: pass ModelSpec objects "
                                "(ModelSpec.from_module / from_timm)")
            return _run_swapped(little, big, inputs, big_inputs, router, device, batch_size,
                                chunk_size or len(inputs), warmup)
        little_m, big_m = _as_module(little, device), _as_module(big, device)
        if mode == "resident":
            return _run_resident(little_m, big_m, inputs, big_inputs, router, device,
                                 batch_size, warmup)
        return _run_online(little_m, big_m, inputs, big_inputs, router, device, warmup)


class _Answers:
    """Per-input results filled in whatever order the models produce them."""

    def __init__(self, n):
        self.preds = np.full(n, -1, dtype=np.int64)
        self.conf = np.full(n, np.nan)
        self.little_conf = np.full(n, np.nan)
        self.to_big = np.zeros(n, dtype=bool)
        self.taken = np.full(n, np.nan)
        self.ready = np.full(n, np.nan)

    def answer_little(self, model, x, idx, router, device, t0) -> tuple[float, np.ndarray]:
        """Run the little model on inputs `idx`, keep its confident answers; (seconds, escalated)."""
        t = time.perf_counter()
        pred, conf = _forward(model, x, device)
        now = time.perf_counter()
        esc = router(idx, conf)
        self.little_conf[idx], self.to_big[idx] = conf, esc
        keep = idx[~esc]
        self.preds[keep], self.conf[keep], self.ready[keep] = pred[~esc], conf[~esc], now - t0
        return now - t, esc

    def answer_big(self, model, big_inputs, idx, device, t0) -> float:
        """Run the big model on the escalated inputs `idx`, record its answers; seconds taken."""
        t = time.perf_counter()
        pred, conf = _forward(model, big_inputs[torch.from_numpy(idx)], device)
        now = time.perf_counter()
        self.preds[idx], self.conf[idx], self.ready[idx] = pred, conf, now - t0
        return now - t

    def run(self, mode, device, batch_size, wall_s, cpu0, **kw) -> CascadeRun:
        kw["cpu_s"] = time.process_time() - cpu0
        if np.isnan(self.ready).any():  # a bug in the executor, never the caller's fault
            raise RuntimeError(f"executor left {int(np.isnan(self.ready).sum())} inputs unanswered")
        return CascadeRun(mode, str(device), batch_size, self.preds, self.conf,
                          self.little_conf, self.to_big, self.ready - self.taken, wall_s, **kw)


def _warm(model, x, device):
    _forward(model, x, device)
    _forward(model, x, device)


def _run_resident(little, big, inputs, big_inputs, router, device, bs, warmup) -> CascadeRun:
    n = len(inputs)
    if warmup and n:
        _warm(little, inputs[:bs], device)
        _warm(big, big_inputs[:bs], device)
    out = _Answers(n)
    little_s = big_s = 0.0
    big_sizes, queue = [], np.empty(0, dtype=np.int64)

    def run_big(idx, t0):
        nonlocal big_s
        big_s += out.answer_big(big, big_inputs, idx, device, t0)
        big_sizes.append(len(idx))

    _sync(device)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, n, bs):
        idx = np.arange(start, min(start + bs, n))
        out.taken[idx] = time.perf_counter() - t0
        secs, esc = out.answer_little(little, inputs[start:start + bs], idx, router, device, t0)
        little_s += secs
        queue = np.concatenate([queue, idx[esc]])
        while len(queue) >= bs:
            run_big(queue[:bs], t0)
            queue = queue[bs:]
    if len(queue):
        run_big(queue, t0)  # flush the final partial batch
    wall = time.perf_counter() - t0
    return out.run("resident", device, bs, wall, cpu0, little_s=little_s, big_s=big_s,
                   big_batch_sizes=big_sizes)


def _run_swapped(little, big, inputs, big_inputs, router, device, bs, chunk,
                 warmup) -> CascadeRun:
    n = len(inputs)
    if warmup and n:  # steady state: kernels and allocator warm, models not resident
        for spec, x in ((little, inputs[:bs]), (big, big_inputs[:bs])):
            m = spec.load(device)
            _warm(m, x, device)
            ref = weakref.ref(m)
            del m
            _free(device, ref)
    out = _Answers(n)
    little_s = big_s = load_s = 0.0
    big_sizes, loads = [], 0
    _sync(device)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for c0 in range(0, n, chunk):
        chunk_idx = np.arange(c0, min(c0 + chunk, n))
        out.taken[chunk_idx] = time.perf_counter() - t0
        t = time.perf_counter()
        model = little.load(device)
        _sync(device)
        load_s += time.perf_counter() - t
        loads += 1
        for start in range(c0, chunk_idx[-1] + 1, bs):
            idx = np.arange(start, min(start + bs, chunk_idx[-1] + 1))
            secs, _ = out.answer_little(model, inputs[idx[0]:idx[-1] + 1], idx, router, device, t0)
            little_s += secs
        ref = weakref.ref(model)
        del model
        _free(device, ref)
        escalated = chunk_idx[out.to_big[chunk_idx]]
        if len(escalated) == 0:
            continue
        t = time.perf_counter()
        model = big.load(device)
        _sync(device)
        load_s += time.perf_counter() - t
        loads += 1
        for s in range(0, len(escalated), bs):
            idx = escalated[s:s + bs]
            big_s += out.answer_big(model, big_inputs, idx, device, t0)
            big_sizes.append(len(idx))
        ref = weakref.ref(model)
        del model
        _free(device, ref)
    wall = time.perf_counter() - t0
    return out.run("swapped", device, bs, wall, cpu0, little_s=little_s, big_s=big_s, load_s=load_s,
                   big_batch_sizes=big_sizes, loads=loads)


def _run_online(little, big, inputs, big_inputs, router, device, warmup) -> CascadeRun:
    n = len(inputs)
    if warmup and n:
        _warm(little, inputs[:1], device)
        _warm(big, big_inputs[:1], device)
    out = _Answers(n)
    little_s = big_s = 0.0
    _sync(device)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for i in range(n):
        idx = np.array([i])
        t = time.perf_counter()
        out.taken[i] = t - t0
        pred, conf = _forward(little, inputs[i:i + 1], device)
        now = time.perf_counter()
        little_s += now - t
        esc = router(idx, conf)
        out.little_conf[i], out.to_big[i] = conf[0], esc[0]
        if esc[0]:
            pred, conf = _forward(big, big_inputs[i:i + 1], device)
            t, now = now, time.perf_counter()
            big_s += now - t
        out.preds[i], out.conf[i], out.ready[i] = pred[0], conf[0], now - t0
    wall = time.perf_counter() - t0
    return out.run("online", device, 1, wall, cpu0, little_s=little_s, big_s=big_s,
                   big_batch_sizes=[1] * int(out.to_big.sum()))


def run_model(model, inputs: torch.Tensor, *, device=None, batch_size: int = 32,
              warmup: bool = True, name: str = "") -> ModelRun:
    """One model alone over `inputs` in batches (batch_size=1: online), timed like the cascade."""
    device = parse_device(device)
    with torch.inference_mode():
        m = _as_module(model, device)
        n = len(inputs)
        if warmup and n:
            _warm(m, inputs[:batch_size], device)
        preds = np.empty(n, dtype=np.int64)
        conf = np.empty(n)
        latency = np.empty(n)
        _sync(device)
        cpu0, t0 = time.process_time(), time.perf_counter()
        for start in range(0, n, batch_size):
            t = time.perf_counter()
            sl = slice(start, start + batch_size)
            preds[sl], conf[sl] = _forward(m, inputs[sl], device)
            latency[sl] = time.perf_counter() - t
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    name = name or getattr(model, "name", type(m).__name__)
    return ModelRun(name, str(device), batch_size, preds, conf, latency, wall, cpu)


# ------------------------------------------------------------------------------------ protocol

def benchmark(little: ModelSpec, big: ModelSpec, inputs: torch.Tensor, *,
              big_inputs: torch.Tensor | None = None, threshold: float | None = None,
              escalate=None, device=None, batch_size: int = 32, n_online: int = 0,
              repeats: int = 3, modes=MODES, chunk_size: int | None = None,
              log: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Raw timings: one row per (repeat, run), baselines and cascades interleaved.

    Each repeat times little alone, big alone and each batch-mode cascade over all `inputs`
    (order rotated from one repeat to the next, so slow drifts in machine load do not favour
    one run), then, if "online" is in `modes`, the same three at batch 1 on the first
    `n_online` inputs. Resident baselines and cascades load their models once, outside the clock;
    those copies stay loaded while the swapped runs time their own loads (timing only: the
    swapped executor itself never holds both models, as tests/test_runtime.py checks).
    """
    device = parse_device(device)
    big_inputs = _check_inputs(inputs, big_inputs)
    little_m, big_m = little.load(device), big.load(device)
    batch_modes = [m for m in modes if m != "online"]
    rows = []

    def record(repeat, run, r):
        row = dict(repeat=repeat, run=run, device=str(device), n=len(r.preds),
                   batch_size=r.batch_size, wall_s=r.wall_s, cpu_s=r.cpu_s, throughput=r.throughput,
                   mean_latency_ms=1e3 * float(np.mean(r.latency_s)),
                   p95_latency_ms=1e3 * float(np.percentile(r.latency_s, 95)))
        if isinstance(r, CascadeRun):
            row.update(n_big=r.n_big, little_s=r.little_s, big_s=r.big_s, load_s=r.load_s,
                       loads=r.loads, n_big_batches=len(r.big_batch_sizes))
        rows.append(row)
        if log:
            log(f"  repeat {repeat} {run:>14}: {r.throughput:9.2f} samples/s")

    for repeat in range(repeats):
        jobs = [("little", lambda: run_model(little_m, inputs, device=device,
                                             batch_size=batch_size)),
                ("big", lambda: run_model(big_m, big_inputs, device=device,
                                          batch_size=batch_size))]
        for mode in batch_modes:
            models = (little, big) if mode == "swapped" else (little_m, big_m)
            jobs.append((mode, functools.partial(
                run_cascade, *models, inputs, threshold, mode=mode, big_inputs=big_inputs,
                escalate=escalate, device=device, batch_size=batch_size, chunk_size=chunk_size)))
        k = repeat % len(jobs)
        for run, job in jobs[k:] + jobs[:k]:
            record(repeat, run, job())
        if "online" in modes and n_online:
            x, bx = inputs[:n_online], big_inputs[:n_online]
            esc = None if escalate is None else np.asarray(escalate)[:n_online]
            online = [("little_online",
                       lambda: run_model(little_m, x, device=device, batch_size=1)),
                      ("big_online", lambda: run_model(big_m, bx, device=device, batch_size=1)),
                      ("online", lambda: run_cascade(little_m, big_m, x, threshold, mode="online",
                                                     big_inputs=bx, escalate=esc, device=device))]
            k = repeat % len(online)
            for run, job in online[k:] + online[:k]:
                record(repeat, run, job())
    return pd.DataFrame(rows)


#: per-repeat quantities whose spread (min and max over repeats) `summarize` also reports
SPREAD = ("throughput", "big_throughput", "speedup_measured", "mean_latency_ms", "overhead")


def summarize(raw: pd.DataFrame, little_gmacs: float, big_gmacs: float) -> pd.DataFrame:
    """One row per cascade mode: medians over repeats of throughput, latency and the ratios,
    and for the quantities in `SPREAD` their min and max over repeats (columns `<name>_min`,
    `<name>_max`), so that a table shows how far single repeats stray from the median.

    Ratios are formed within each repeat (cascade and baselines timed back to back) and the
    median taken afterwards. Time-predicted wall time = n * t_little + n_big * t_big from the
    models alone at the same batch size (batch 1 for online); overhead = measured / predicted - 1.
    In swapped mode the overhead includes loading; `overhead_no_load` leaves it out.
    `overhead_cpu` and `speedup_cpu` are the same ratios in process CPU time, which other jobs
    on a shared CPU disturb far less than wall-clock time (meaningful on CPU, with one thread).
    """
    rows = []
    for mode in [m for m in MODES if m in set(raw["run"])]:
        suffix = "_online" if mode == "online" else ""
        per_repeat = []
        for repeat, g in raw.groupby("repeat"):
            g = g.set_index("run")
            if mode not in g.index:
                continue
            c, lt, bt = g.loc[mode], g.loc["little" + suffix], g.loc["big" + suffix]
            t_little, t_big = lt["wall_s"] / lt["n"], bt["wall_s"] / bt["n"]
            predicted = c["n"] * t_little + c["n_big"] * t_big
            frac = c["n_big"] / c["n"]
            per_repeat.append(dict(
                throughput=c["throughput"], mean_latency_ms=c["mean_latency_ms"],
                p95_latency_ms=c["p95_latency_ms"], big_throughput=bt["throughput"],
                big_mean_latency_ms=bt["mean_latency_ms"], big_p95_latency_ms=bt["p95_latency_ms"],
                little_throughput=lt["throughput"],
                speedup_measured=c["throughput"] / bt["throughput"],
                speedup_time_predicted=(c["n"] * t_big) / predicted,
                speedup_macs=big_gmacs / (little_gmacs + frac * big_gmacs),
                overhead=c["wall_s"] / predicted - 1.0,
                overhead_no_load=(c["wall_s"] - c["load_s"]) / predicted - 1.0,
                load_s=c["load_s"],
                overhead_cpu=c["cpu_s"] / (c["n"] * lt["cpu_s"] / lt["n"]
                                           + c["n_big"] * bt["cpu_s"] / bt["n"]) - 1.0,
                speedup_cpu=(c["n"] * bt["cpu_s"] / bt["n"]) / c["cpu_s"],
                t_little_ms=1e3 * t_little, t_big_ms=1e3 * t_big))
        per = pd.DataFrame(per_repeat)
        spread = {f"{c}_{s}": float(getattr(per[c], s)()) for c in SPREAD for s in ("min", "max")}
        first = raw[raw["run"] == mode].iloc[0]
        rows.append(dict(mode=mode, device=first["device"], n=int(first["n"]),
                         batch_size=int(first["batch_size"]), n_big=int(first["n_big"]),
                         frac_big=first["n_big"] / first["n"], repeats=len(per_repeat),
                         **per.median().to_dict(), **spread))
    return pd.DataFrame(rows)




# ------------------------------------------------------------------------------------ settings
# A benchmark setting is two loadable models, the inputs each sees, the routing and the two
# models' GMACs. Which pairs are timed, and on how many samples, is experiment configuration:
# it lives in the notebook that times them (notebooks/tabA4_throughput_latency.ipynb).
#
# - CIFAR-10 pairs (names cifar_*): pretrained CIFAR ResNets on the real test images; the
#   threshold is the no-loss point of the sweep of the two models' own predictions there, and
#   the executor routes on the little model's real confidence.
# - ImageNet-size pairs: two reference models, timed with random weights at each model's own
#   input size (compute does not depend on the weight values), replaying exactly the
#   escalations that the real reference predictions make at their no-loss threshold, on a
#   subset of samples drawn so that its fraction sent to big matches the full set's.

@dataclass
class Setting:
    name: str
    kind: str                      # "cifar" or "imagenet"
    little: ModelSpec
    big: ModelSpec
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
    """Pretrained CIFAR ResNets on the first `n` lossless test images (`cifar10-test`);
    threshold from the first `n_sweep` (default all 10,000) test images' own predictions, which
    are the cached ones of every CIFAR chapter (`predict.cached_predictions`)."""
    from littlebig_utils.run import cifar
    from littlebig_utils.run.costs import arch_gmacs
    from littlebig_utils.run.predict import cached_predictions, create_model
    images, _, _ = cifar.load_lossless_split("test")
    n_sweep = len(images) if n_sweep is None else n_sweep
    if not 0 < n <= len(images) or not 0 < n_sweep <= len(images):
        raise ValueError(f"n and n_sweep must lie in 1..{len(images)} test images, got {n} and "
                         f"{n_sweep}")
    specs = [ModelSpec.from_module(a, create_model(a, pretrained=True),
                                   functools.partial(create_model, a, pretrained=False), folder)
             for a in (little, big)]
    x = cifar.to_tensor(np.array(images[:n]))  # a writable copy: torch warns on read-only arrays
    # the sweep's records come from the one model -> Predictions path, cached (the full test
    # set under the key the CIFAR chapters use); run_model only times
    limit = None if n_sweep == len(images) else n_sweep
    records = [cached_predictions(a, "cifar10-test", limit=limit, device=device,
                                  batch_size=batch_size) for a in (little, big)]
    table = engine.sweep(*records)
    point = engine.no_loss_point(table)
    lg, bg = arch_gmacs(little, 32)[0], arch_gmacs(big, 32)[0]
    return Setting(
        name=f"{little}->{big}", kind="cifar", little=specs[0], big=specs[1],
        inputs=x, big_inputs=x, little_gmacs=lg, big_gmacs=bg,
        threshold=float(point["threshold"]), frac_big_full=float(point["frac_big"]),
        n_full=n_sweep,
        info=dict(little_accuracy=records[0].accuracy, big_accuracy=records[1].accuracy,
                  cascade_accuracy=float(point["accuracy"]), records=records,
                  weights="pretrained (akamaster checkpoints)", img_size=(32, 32),
                  dataset="CIFAR-10 test (lossless)"))


def imagenet_setting(folder, n: int, little: str, big: str, seed: int = 0) -> Setting:
    """Random-weight timm models at the reference models' sizes, replaying real escalations."""
    from littlebig_utils.data.reference import REFERENCE_ARCH, load
    recs = load("imagenet-val", [little, big])
    lp, bp = recs[little], recs[big]
    point = engine.no_loss_point(engine.sweep(lp, bp))
    threshold = float(point["threshold"])
    to_big = engine.route(lp.conf, threshold)
    idx = stratified_subset(to_big, n, seed)
    sizes = (int(lp.model["img_size"]), int(bp.model["img_size"]))
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, sizes[0], sizes[0], generator=g)
    big_inputs = torch.randn(n, 3, sizes[1], sizes[1], generator=g)
    specs = [ModelSpec.from_timm(REFERENCE_ARCH[name][0], folder, name=name, seed=seed)
             for name in (little, big)]
    return Setting(
        name=f"{little}->{big}", kind="imagenet", little=specs[0], big=specs[1],
        inputs=inputs, big_inputs=big_inputs, little_gmacs=float(lp.model["gmacs"]),
        big_gmacs=float(bp.model["gmacs"]), threshold=threshold,
        frac_big_full=float(point["frac_big"]), n_full=len(lp), escalate=to_big[idx],
        info=dict(little_accuracy=lp.accuracy, big_accuracy=bp.accuracy,
                  cascade_accuracy=float(point["accuracy"]), subset=lp.sample_ids[idx],
                  weights="random (timing only)", img_size=sizes,
                  archs=(REFERENCE_ARCH[little][0], REFERENCE_ARCH[big][0]),
                  dataset="ImageNet-1k val routing, random 3-channel inputs"))


def build_setting(name: str, folder, n: int, **kwargs) -> Setting:
    """A setting by name ('little->big'); CIFAR pairs are the ones named cifar_*."""
    little, big = _pair(name)
    if little.startswith("cifar_"):
        return cifar_setting(folder, n, little, big, **kwargs)
    return imagenet_setting(folder, n, little, big, **kwargs)


def measure_settings(names, folder, *, device="cpu", n_samples: dict, batch_size: dict, n_online: dict,
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
        s = build_setting(name, folder, n_samples[kind], **extra)
        raw = benchmark(s.little, s.big, s.inputs, big_inputs=s.big_inputs,
                                device=device, batch_size=batch_size[kind],
                                n_online=n_online[kind], repeats=repeats, log=log,
                                **s.route_kwargs)
        summary = summarize(raw, s.little_gmacs, s.big_gmacs)
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
