"""The prediction stage: run a timm model over a dataset into a Predictions record, once.

This is the only expensive stage of the book, so it is built to finish: the samples are cut
into fixed chunks, each written atomically to a work folder as soon as it is done, so a killed
run restarts from its last finished chunk (and, chunks being the same batches, ends with the
same numbers as an uninterrupted run); a batch that does not fit in memory is split in halves
until it does; with ``torchrun`` every process takes a DistributedSampler share of each chunk
and rank 0 writes the gathered result. Everything downstream reads the saved Predictions.

    predict(model, dataset, ...) -> Predictions         # model / dataset objects or names
    cached_predictions(model_name, dataset_name) -> Predictions   # computed once into results/
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from . import cifar  # noqa: F401  (registers the CIFAR ResNets with timm)
from .costs import count_gmacs, count_params_m
from .datasets import DATASETS, open_dataset
from .predictions import Predictions, atomic_write
from .scores import max_softmax

__all__ = ["predict", "cached_predictions", "create_model", "model_metadata", "check_model_name",
           "default_device", "is_oom", "cached_path"]

_OOM_TYPES = tuple({getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError),
                    torch.cuda.OutOfMemoryError})
DEFAULT_CHUNK = 2048


# --------------------------------------------------------------------------- models

def check_model_name(name: str) -> None:
    """A ValueError listing close timm names when `name` is not a timm model."""
    import difflib
    import timm
    base = name.split(".")[0]
    if timm.is_model(base):
        return
    names = timm.list_models()
    close = difflib.get_close_matches(base, names, n=6, cutoff=0.6)
    if not close:
        close = timm.list_models(f"*{base.split('_')[0]}*")[:6]
    raise ValueError(f"unknown model '{name}'" + (f"; close timm names: {', '.join(close)}"
                                                   if close else "") +
                     " (`timm.list_models('*pattern*')` lists all)")


def create_model(name: str, pretrained: bool = True, seed: int = 0) -> torch.nn.Module:
    """timm model in eval mode; a random initialisation is seeded, so it is reproducible."""
    import timm
    check_model_name(name)
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=pretrained).eval()


def _data_config(model) -> dict:
    from timm.data import resolve_data_config
    return resolve_data_config(model=model)


def model_metadata(model: torch.nn.Module, name: str | None = None, pretrained: bool | None = None,
                   data_config: dict | None = None) -> dict:
    """Name, timm tag, cost at the actual input size (FlopCounterMode), params and data config."""
    cfg = data_config or _data_config(model)
    pcfg = getattr(model, "pretrained_cfg", {}) or {}
    arch = pcfg.get("architecture") or name or type(model).__name__
    tag = pcfg.get("tag") or ""
    input_size = tuple(int(v) for v in cfg["input_size"])
    return {
        "name": name or arch,
        "source": "timm",
        "timm_tag": f"{arch}.{tag}" if tag else arch,
        "pretrained": pretrained,
        "gmacs": count_gmacs(model, input_size),
        "params_m": count_params_m(model),
        "img_size": int(input_size[-1]),
        "input_size": list(input_size),
        "crop_pct": float(cfg.get("crop_pct", 1.0)),
        "interpolation": str(cfg.get("interpolation", "")),
        "mean": [float(v) for v in cfg["mean"]],
        "std": [float(v) for v in cfg["std"]],
    }


def _weights_digest(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes()
                 if v.numel() else b"")
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- devices, ranks

def default_device() -> torch.device:
    """This process's GPU when there is one (LOCAL_RANK under torchrun), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def _dist_setup(device: torch.device) -> tuple[int, int]:
    """(rank, world size); joins the process group that torchrun describes in the environment."""
    import torch.distributed as dist
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _gather(logits: torch.Tensor, n: int, world: int) -> torch.Tensor:
    """Undo DistributedSampler's interleaving (shuffle=False: rank r holds samples r, r+W, ...)."""
    import torch.distributed as dist
    parts = [torch.empty_like(logits) for _ in range(world)]
    dist.all_gather(parts, logits.contiguous())
    return torch.stack(parts, 1).reshape(-1, logits.shape[-1])[:n]


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, _OOM_TYPES) or (isinstance(exc, RuntimeError)
                                           and "out of memory" in str(exc).lower())


class _Forward:
    """model(x) in slices of at most `max_batch`, halving it whenever memory runs out."""

    def __init__(self, model, device, max_batch: int):
        self.model, self.device, self.max_batch = model, device, max_batch

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        outs, start = [], 0
        while start < len(x):
            size = min(self.max_batch, len(x) - start)
            try:
                xb = x[start:start + size].to(self.device, non_blocking=True)
                out = self.model(xb).float()
            except Exception as exc:
                if not is_oom(exc) or size == 1:
                    raise
                del exc
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                self.max_batch = max(1, size // 2)
                warnings.warn(f"out of memory at batch size {size}; retrying with "
                              f"{self.max_batch}", RuntimeWarning, stacklevel=2)
                continue
            outs.append(out)
            start += size
        return torch.cat(outs)


# --------------------------------------------------------------------------- the stage

def _chunk_file(work: Path, k: int) -> Path:
    return work / f"chunk_{k:05d}.npz"


def _open_work(work: Path, manifest: dict, rank: int) -> None:
    """Work folder of this exact run; a folder left by a different run is refused, not mixed in."""
    path = work / "manifest.json"
    if path.is_file():
        old = json.loads(path.read_text())
        if old != manifest:
            diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise ValueError(f"work folder {work} holds chunks of a different run (differs in "
                             f"{', '.join(diff)}); delete it to start afresh")
    elif rank == 0:
        work.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(manifest, indent=1))


def predict(model, dataset, *, batch_size: int = 256, device=None, out=None, work_dir=None,
            chunk_size: int = DEFAULT_CHUNK, num_workers: int | None = None, progress: bool = True,
            pretrained: bool | None = None, data_root=None, limit: int | None = None,
            name: str | None = None, keep_work: bool = False, seed: int = 0) -> Predictions:
    """Labels, predictions, max-softmax confidences and full logits of `model` on `dataset`.

    `model`: a torch module (timm models carry their data config) or a timm name, created with
    `pretrained` (default True; random weights are seeded). `dataset`: a name from
    `datasets.DATASETS` (images fed through the model's timm eval transform) or a dataset with
    `sample_ids` and `labels` attributes whose items are `(tensor, label)`. With `out` (an
    .npz file) the result is saved there atomically and progress is kept in `work_dir`
    (default: a hidden folder beside `out`), from which a killed run resumes (chunks made with
    another batch size are reused: the same samples, equal up to float rounding). Returns the
    Predictions on rank 0 and None on the other ranks.
    """
    if batch_size < 1 or chunk_size < 1:
        raise ValueError("batch_size and chunk_size must be positive")
    if out is not None:
        out = Path(out)
        if out.suffix != ".npz":
            raise ValueError(f"--out must be an .npz file (Predictions are saved as npz), got {out}")
    device = torch.device(device) if device is not None else default_device()
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device} asked for, but torch sees no CUDA GPU here; "
                         "use --device cpu (or leave --device out)")
    if isinstance(model, str):
        name = name or model
        pretrained = True if pretrained is None else pretrained
        model = create_model(model, pretrained=pretrained, seed=seed)
    model.eval()
    cfg = _data_config(model)
    if isinstance(dataset, str):
        from timm.data import create_transform
        dataset = open_dataset(dataset, create_transform(**cfg, is_training=False),
                               data_root=data_root, limit=limit)
    elif limit is not None:
        dataset = dataset.take(limit)
    dataset_name = getattr(dataset, "name", "") or type(dataset).__name__
    meta = model_metadata(model, name, pretrained, cfg)
    model.to(device)
    rank, world = _dist_setup(device)
    n = len(dataset)
    if n == 0:
        raise ValueError(f"dataset '{dataset_name}' is empty")
    bounds = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]

    work = None
    if work_dir is not None or out is not None:
        work = Path(work_dir) if work_dir is not None else out.parent / f".{out.name}.work"
        ids_digest = hashlib.sha256("\n".join(dataset.sample_ids).encode()).hexdigest()[:16]
        _open_work(work, {"model": meta["name"], "timm_tag": meta["timm_tag"],
                          "weights": _weights_digest(model), "dataset": dataset_name,
                          "n": n, "sample_ids": ids_digest, "chunk_size": chunk_size,
                          "input_size": meta["input_size"]}, rank)

    from tqdm import tqdm
    done = [work is not None and _chunk_file(work, k).is_file() for k in range(len(bounds))]
    bar = tqdm(total=n, initial=sum(e - s for (s, e), d in zip(bounds, done) if d), unit="img",
               desc=f"{meta['name']} on {dataset_name}", disable=not progress or rank != 0)
    forward = _Forward(model, device, batch_size)
    chunks: dict[int, np.ndarray] = {}
    # One loader over every unfinished chunk (its workers live for the whole run), with batches
    # that never straddle a chunk: each chunk is sharded across ranks by DistributedSampler.
    plan = []  # (chunk number, dataset indices of one batch)
    for k, (s, e) in enumerate(bounds):
        if done[k]:
            continue
        mine = list(range(s, e))
        if world > 1:
            from torch.utils.data import DistributedSampler
            shard = DistributedSampler(range(e - s), num_replicas=world, rank=rank, shuffle=False)
            mine = [s + i for i in shard]
        plan += [(k, mine[b:b + batch_size]) for b in range(0, len(mine), batch_size)]
    if num_workers is None:  # decoding files needs workers; images held in memory do not
        from .datasets import ImageArrayDataset
        per_rank = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        num_workers = 0 if isinstance(dataset, ImageArrayDataset) else max(0, min(8, per_rank - 1))
    loader = DataLoader(dataset, batch_sampler=[idx for _, idx in plan], num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    outs = []
    for j, (x, _) in enumerate(loader):
        outs.append(forward(x))
        k = plan[j][0]
        if j + 1 < len(plan) and plan[j + 1][0] == k:
            continue
        s, e = bounds[k]  # chunk k is complete on this rank
        logits = torch.cat(outs)
        outs = []
        if world > 1:
            logits = _gather(logits, e - s, world)
        logits = logits.cpu().numpy()
        if rank == 0:
            if work is not None:
                with atomic_write(_chunk_file(work, k), suffix=".npz") as tmp:
                    np.savez(tmp, logits=logits, sample_ids=dataset.sample_ids[s:e])
            else:
                chunks[k] = logits
        if world > 1:
            torch.distributed.barrier()
        bar.update(e - s)
    bar.close()

    parts = []
    for k, (s, e) in enumerate(bounds):
        if k in chunks:
            parts.append(chunks[k])
            continue
        if rank != 0:
            return None
        with np.load(_chunk_file(work, k), allow_pickle=False) as z:
            if not np.array_equal(z["sample_ids"], dataset.sample_ids[s:e]):
                raise ValueError(f"{_chunk_file(work, k)} does not hold samples {s}..{e - 1}; "
                                 f"delete {work} and run again")
            parts.append(z["logits"])
    logits = np.concatenate(parts).astype(np.float32)
    preds, conf = logits.argmax(1), max_softmax(logits)
    meta["num_classes"] = int(logits.shape[1])
    result = Predictions(dataset.sample_ids, dataset.labels, preds, conf, logits, meta,
                         dataset_name)
    if out is not None:
        result.save(out)
        if work is not None and not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- cached results

def cached_path(model_name: str, dataset_name: str, limit: int | None = None,
                pretrained: bool = True) -> Path:
    from .paths import results_dir
    tag = "" if pretrained else "__random"
    n = f"__n{limit}" if limit else ""
    return results_dir("predictions") / f"{dataset_name}__{model_name}{tag}{n}.npz"


def cached_predictions(model_name: str, dataset_name: str, *, limit: int | None = None,
                       pretrained: bool = True, data_root=None, batch_size: int = 256,
                       progress: bool = False, **kwargs) -> Predictions:
    """Predictions of a timm model on a dataset, computed once and reused from results/predictions.

    `limit` takes the first `limit` samples (notebooks' smoke mode), cached under its own name.
    """
    if dataset_name not in DATASETS:
        open_dataset(dataset_name)  # raises with the known names
    path = cached_path(model_name, dataset_name, limit, pretrained)
    if path.is_file():
        return Predictions.load(path)
    return predict(model_name, dataset_name, pretrained=pretrained, data_root=data_root,
                   limit=limit, out=path, batch_size=batch_size, progress=progress, **kwargs)
