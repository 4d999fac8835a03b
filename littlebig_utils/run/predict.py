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
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from littlebig_utils.run import cifar  # noqa: F401  (registers the CIFAR ResNets with timm)
from littlebig_utils.run.costs import count_gmacs, count_params_m
from littlebig_utils.run.devices import is_oom, parse_device
from littlebig_utils.run.datasets import DATASETS, open_dataset
from littlebig_utils._io import atomic_write
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core.scores import max_softmax

__all__ = ["predict", "cached_predictions", "create_model", "model_metadata", "check_model_name",
           "cached_path", "weights_digest",
           "WorkLockedError", "PREDICT_FORMAT", "WeightsNotCachedError", "predict_images",
           "cache_key", "code_modules", "code_key"]

DEFAULT_CHUNK = 2048
# Version of what predict computes and how it stores it: bump it when a change to this module,
# the datasets or the transforms can change saved numbers, so that cached results are redone.
PREDICT_FORMAT = 2


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


class WeightsNotCachedError(ValueError):
    """Pretrained weights are needed, not on this machine, and downloads are off."""


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in {"1", "true", "yes", "on"}
               for v in ("LITTLEBIG_OFFLINE", "HF_HUB_OFFLINE"))


def create_model(name: str, pretrained: bool = True, seed: int = 0) -> torch.nn.Module:
    """timm model in eval mode; a random initialisation is seeded, so it is reproducible.

    Offline (LITTLEBIG_OFFLINE or HF_HUB_OFFLINE set), pretrained weights come from the local
    caches only: a missing one fails at once with how to get it, instead of retrying the hub.
    """
    import timm
    check_model_name(name)
    torch.manual_seed(seed)
    if not (pretrained and _offline()) or name.startswith("cifar_resnet"):
        return timm.create_model(name, pretrained=pretrained).eval()
    import huggingface_hub.constants as hf_constants
    was = hf_constants.HF_HUB_OFFLINE
    hf_constants.HF_HUB_OFFLINE = True
    try:
        return timm.create_model(name, pretrained=True).eval()
    except OSError as exc:  # the hub's LocalEntryNotFoundError, or a URLError for url weights
        raise WeightsNotCachedError(
            f"pretrained weights of '{name}' are not cached on this machine and downloads are "
            "off (LITTLEBIG_OFFLINE/HF_HUB_OFFLINE); fetch them once online with `python -c "
            f"\"import timm; timm.create_model('{name}', pretrained=True)\"`, or use "
            f"--no-pretrained ({type(exc).__name__})") from exc
    finally:
        hf_constants.HF_HUB_OFFLINE = was


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


def weights_digest(model: torch.nn.Module) -> str:
    """Short sha256 of the state dict (names and bytes): which weights made a result."""
    h = hashlib.sha256()
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes()
                 if v.numel() else b"")
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- devices, ranks

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


class WorkLockedError(ValueError):
    """Another process is writing the same output (its work folder is locked)."""


class _WorkLock:
    """Exclusive, non-blocking lock on `path` (fcntl.flock), the file removed on release.

    After the lock is taken the file is checked to still be the one at `path` (a releasing
    holder unlinks it), so two processes can never both believe they hold it.
    """

    def __init__(self, path: Path, what: Path):
        self.path, self.what, self.fd = Path(path), what, None

    def acquire(self) -> "_WorkLock":
        import fcntl
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise WorkLockedError(
                    f"another littlebig predict is writing {self.what} (lock file "
                    f"{self.path}); wait for it or choose another --out") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return self
            os.close(fd)  # a holder released (and removed) it between our open and lock
        raise WorkLockedError(f"could not take the lock file {self.path}")

    def release(self) -> None:
        if self.fd is not None:
            import fcntl
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            # unlock explicitly: forked DataLoader workers share the descriptor
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _manifest_digest(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _open_work(work: Path, manifest: dict, rank: int) -> None:
    """Work folder of this exact run, its manifest written before any chunk.

    A folder whose manifest differs (another model, weights, dataset, limit, chunk size) is
    refused, not mixed in; chunk files without a manifest (left by a run that was interrupted
    or raced) cannot be attributed to any run and are discarded.
    """
    path = work / "manifest.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = {"unreadable": True}
        if old != manifest:
            diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise ValueError(f"work folder {work} holds chunks of a different run (differs in "
                             f"{', '.join(diff)}); delete it to start afresh")
    elif rank == 0:
        work.mkdir(parents=True, exist_ok=True)
        stale = sorted(work.glob("chunk_*.npz"))
        if stale:
            warnings.warn(f"{work} holds {len(stale)} chunk files but no manifest; they belong "
                          "to no known run and are discarded", RuntimeWarning, stacklevel=3)
            for f in stale:
                f.unlink(missing_ok=True)
        with atomic_write(path, suffix=".json") as tmp:
            tmp.write_text(json.dumps(manifest, indent=1))


def _read_chunk(path: Path, digest: str, ids: np.ndarray) -> np.ndarray | None:
    """Logits of a finished chunk of this run, or None when the file is not one (then deleted)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            ok = (str(z["manifest"]) == digest and np.array_equal(z["sample_ids"], ids)
                  and z["logits"].ndim == 2 and len(z["logits"]) == len(ids))
            logits = z["logits"] if ok else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        logits = None
    if logits is None:
        warnings.warn(f"{path} is not a chunk of this run (other manifest, samples or a "
                      "truncated file); it is computed again", RuntimeWarning, stacklevel=3)
        path.unlink(missing_ok=True)
    return logits


def _check_writable(folder: Path) -> None:
    """Fail before any model runs when the output folder cannot be written."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write to {folder} ({probe} is not a writable folder); "
                         "choose another --out")


def _as_dataset(dataset, cfg: dict, data_root, limit, dataset_name: str | None):
    """A dataset object fed through the model's eval transform (name, object or arrays)."""
    from timm.data import create_transform

    from littlebig_utils.run.datasets import ImageArrayDataset
    transform = create_transform(**cfg, is_training=False)
    if isinstance(dataset, str):
        return open_dataset(dataset, transform, data_root=data_root, limit=limit)
    if isinstance(dataset, (tuple, list)):  # in-memory (images uint8 NHWC, labels[, ids])
        if len(dataset) not in (2, 3):
            raise ValueError("an in-memory dataset is (images, labels) or (images, labels, ids)")
        images, labels = dataset[0], dataset[1]
        ids = dataset[2] if len(dataset) == 3 else [f"{i:06d}" for i in range(len(labels))]
        dataset = ImageArrayDataset(images, labels, ids, name=dataset_name or "arrays")
    if getattr(dataset, "transform", True) is None and hasattr(dataset, "set_transform"):
        dataset.set_transform(transform)
    if limit is not None:
        dataset = dataset.take(limit)
    return dataset


def predict(model, dataset, *, batch_size: int = 256, device=None, out=None, work_dir=None,
            chunk_size: int = DEFAULT_CHUNK, num_workers: int | None = None, progress: bool = True,
            pretrained: bool | None = None, data_root=None, limit: int | None = None,
            name: str | None = None, keep_work: bool = False, seed: int = 0,
            dataset_name: str | None = None) -> Predictions:
    """Labels, predictions, max-softmax confidences and full logits of `model` on `dataset`.

    `model`: a torch module (timm models carry their data config; `name` names it) or a timm
    name, created with `pretrained` (default True; random weights are seeded). `dataset`: a
    name from `datasets.DATASETS` (images fed through the model's timm eval transform), a
    dataset with `sample_ids` and `labels` attributes whose items are `(tensor, label)` (one
    without a transform gets the model's), or in-memory arrays `(images uint8 NHWC, labels[,
    sample_ids])` named `dataset_name`. With `out` (an .npz file) the result is saved there
    atomically and progress is kept in `work_dir` (default: a hidden folder beside `out`),
    locked against a second run and described by a manifest (model, weights digest, dataset,
    samples, chunk size) that every chunk is checked against; a killed run resumes from it.
    Returns the Predictions on rank 0 and None on the other ranks.
    """
    if batch_size < 1 or chunk_size < 1:
        raise ValueError("batch_size and chunk_size must be positive")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of samples, got {limit}")
    if out is not None:
        out = Path(out)
        if out.suffix != ".npz":
            raise ValueError(f"--out must be an .npz file (Predictions are saved as npz), got {out}")
        _check_writable(out.parent)
    device = parse_device(device)
    if isinstance(model, str):
        name = name or model
        pretrained = True if pretrained is None else pretrained
        model = create_model(model, pretrained=pretrained, seed=seed)
    model.eval()
    cfg = _data_config(model)
    dataset = _as_dataset(dataset, cfg, data_root, limit, dataset_name)
    dataset_name = getattr(dataset, "name", "") or dataset_name or type(dataset).__name__
    meta = model_metadata(model, name, pretrained, cfg)
    model.to(device)
    rank, world = _dist_setup(device)
    n = len(dataset)
    if n == 0:
        raise ValueError(f"dataset '{dataset_name}' is empty")
    sample_ids = np.asarray(dataset.sample_ids).astype(str)
    bounds = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]

    work = lock = None
    digest = ""
    if work_dir is not None or out is not None:
        work = Path(work_dir) if work_dir is not None else out.parent / f".{out.name}.work"
        if rank == 0:
            lock = _WorkLock(work.parent / f".{work.name}.lock", out or work).acquire()
    try:
        if work is not None:
            ids_digest = hashlib.sha256("\n".join(sample_ids).encode()).hexdigest()[:16]
            manifest = {"format": PREDICT_FORMAT, "model": meta["name"],
                        "timm_tag": meta["timm_tag"], "weights": weights_digest(model),
                        "dataset": dataset_name, "n": n, "sample_ids": ids_digest,
                        "chunk_size": chunk_size, "input_size": meta["input_size"]}
            digest = _manifest_digest(manifest)
            _open_work(work, manifest, rank)
        result = _run(model, dataset, sample_ids, bounds, work, digest, meta, device, rank, world,
                      batch_size, num_workers, progress, dataset_name)
        if result is not None and out is not None:
            result.save(out)
            if work is not None and not keep_work:
                shutil.rmtree(work, ignore_errors=True)
        return result
    finally:
        if lock is not None:
            lock.release()


def _one_line_errors(loader):
    """Batches of `loader`; a DataError raised in a worker process comes back as the worker's
    one-line message (torch wraps it in the worker's whole traceback)."""
    from littlebig_utils.data.registry import DataError
    try:
        yield from loader
    except DataError as exc:
        lines = [ln for ln in str(exc).splitlines() if ln.strip()]
        if len(lines) > 1:
            last = lines[-1]
            raise DataError(last.split("DataError: ", 1)[-1]) from None
        raise


def _run(model, dataset, sample_ids, bounds, work, digest, meta, device, rank, world, batch_size,
         num_workers, progress, dataset_name):
    """The forward passes over every chunk not already finished in `work`."""
    from tqdm import tqdm
    n = len(sample_ids)
    chunks: dict[int, np.ndarray] = {}
    if work is not None and rank == 0:
        for k, (s, e) in enumerate(bounds):
            if _chunk_file(work, k).is_file():
                logits = _read_chunk(_chunk_file(work, k), digest, sample_ids[s:e])
                if logits is not None:
                    chunks[k] = logits
    if world > 1:  # every rank must skip the same chunks
        import torch.distributed as dist
        flags = torch.tensor([k in chunks for k in range(len(bounds))], dtype=torch.uint8,
                             device=device)
        dist.broadcast(flags, 0)
        done = [bool(f) for f in flags.tolist()]
    else:
        done = [k in chunks for k in range(len(bounds))]
    bar = tqdm(total=n, initial=sum(e - s for (s, e), d in zip(bounds, done) if d), unit="img",
               desc=f"{meta['name']} on {dataset_name}", disable=not progress or rank != 0)
    forward = _Forward(model, device, batch_size)
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
        from littlebig_utils.run.datasets import ImageArrayDataset
        per_rank = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        num_workers = 0 if isinstance(dataset, ImageArrayDataset) else max(0, min(8, per_rank - 1))
    loader = DataLoader(dataset, batch_sampler=[idx for _, idx in plan], num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    outs = []
    for j, (x, _) in enumerate(_one_line_errors(loader)):
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
            chunks[k] = logits
            if work is not None:
                with atomic_write(_chunk_file(work, k), suffix=".npz") as tmp:
                    np.savez(tmp, logits=logits, sample_ids=sample_ids[s:e],
                             manifest=np.array(digest))
        if world > 1:
            torch.distributed.barrier()
        bar.update(e - s)
    bar.close()
    if rank != 0:
        return None
    logits = np.concatenate([chunks[k] for k in range(len(bounds))]).astype(np.float32)
    preds, conf = logits.argmax(1), max_softmax(logits)
    meta["num_classes"] = int(logits.shape[1])
    return Predictions(sample_ids, dataset.labels, preds, conf, logits, meta, dataset_name)


def predict_images(model: torch.nn.Module, images: np.ndarray, labels=None, sample_ids=None, *,
                   name: str = "", dataset_name: str = "arrays", device=None,
                   batch_size: int = 256, progress: bool = False) -> Predictions:
    """Predictions of a torch module on uint8 NHWC images held in memory (CIFAR-10).

    The in-memory form of `predict` for callers that hold a model and images already (Titans,
    the runtime tables): same transform, forward pass and record. `device` defaults to the
    one the model's parameters live on, so the model is not moved; `labels` default to zeros
    (then only the logits mean anything) and ids to 000000, 000001, ...
    """
    images = np.asarray(images)
    labels = np.zeros(len(images), np.int64) if labels is None else np.asarray(labels)
    if sample_ids is None:
        sample_ids = [f"{i:06d}" for i in range(len(images))]
    if device is None:
        param = next(model.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
    return predict(model, (images, labels, sample_ids), name=name or None,
                   dataset_name=dataset_name, batch_size=batch_size, device=device,
                   progress=progress, num_workers=0)


# --------------------------------------------------------------------------- cached results

def _weights_source(model_name: str, pretrained: bool, seed: int = 0) -> str:
    """What determines the weights of a timm name: its checkpoint's sha256 or hub tag, or the
    seeded random initialisation of this torch and timm."""
    import timm
    if not pretrained:
        return f"random/seed{seed}/torch{torch.__version__}/timm{timm.__version__}"
    if model_name.startswith("cifar_resnet"):
        depth = int(model_name.removeprefix("cifar_resnet").split(".")[0])
        key = cifar.CHECKPOINTS.get(depth)
        if key is None:
            raise ValueError(f"no pretrained CIFAR ResNet-{depth}; available: "
                             f"{sorted(cifar.CHECKPOINTS)}")
        from littlebig_utils.data.registry import REGISTRY
        return f"sha256:{REGISTRY[key].sha256}"
    from timm.models import get_pretrained_cfg
    cfg = get_pretrained_cfg(model_name)
    where = (cfg.hf_hub_id or cfg.url or cfg.file) if cfg is not None else ""
    return f"{model_name}/{where}/timm{timm.__version__}"


def _dataset_source(dataset_name: str, data_root=None) -> str:
    """What determines a dataset's images and labels, cheaply (the reference data is verified
    when it is read; an image folder is named by its path and its modification time)."""
    from littlebig_utils.data import registry as data
    from littlebig_utils.run.datasets import CIFAR10_SPLITS, ROOT_ENV, resolve_root
    if dataset_name == "cifar10-test-jpeg":
        return f"{data.TREES['cifar10/jpeg/test']}/{data.REGISTRY[cifar.LABELS_KEY].sha256}"
    if dataset_name in CIFAR10_SPLITS and data_root is None:  # the PNG sprites and labels
        sprites, labels = cifar.LOSSLESS_FILES[CIFAR10_SPLITS[dataset_name]]
        return "/".join(data.REGISTRY[cifar.LOSSLESS + f].sha256 for f in (*sprites, labels))
    if dataset_name in CIFAR10_SPLITS:  # official batches from the given archive or folder
        root = Path(data_root).expanduser().resolve()
        return f"batches:{root}/{root.stat().st_mtime_ns if root.exists() else 'missing'}"
    if dataset_name in ROOT_ENV:
        root = resolve_root(dataset_name, data_root).resolve()
        return f"{root}/{root.stat().st_mtime_ns}"
    return dataset_name


def code_modules() -> tuple:
    """The modules whose code decides a saved prediction: this stage, the datasets and their
    decoding, the CIFAR models, the cost count in the metadata, and the module that defines the
    confidence (found from the function, so that the key follows it if it moves). The caches
    of predictions and of the Titans teacher's logits are keyed by their code digest."""
    from littlebig_utils.run import costs, datasets
    return (sys.modules[__name__], datasets, cifar, costs, sys.modules[max_softmax.__module__])


def code_key() -> str:
    """`data.code_digest` of `code_modules()`."""
    from littlebig_utils.data import registry as data
    return data.code_digest(*code_modules())


def cache_key(model_name: str, dataset_name: str, limit: int | None = None,
              pretrained: bool = True, seed: int = 0, data_root=None) -> str:
    """Key of a cached result: weights, data, limit and the code that computes predictions."""
    blob = json.dumps({
        "model": model_name, "weights": _weights_source(model_name, pretrained, seed),
        "dataset": dataset_name, "data": _dataset_source(dataset_name, data_root),
        "limit": limit, "format": PREDICT_FORMAT, "code": code_key()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def cached_path(model_name: str, dataset_name: str, limit: int | None = None,
                pretrained: bool = True, seed: int = 0, data_root=None) -> Path:
    """results/predictions/<dataset>__<model>[__random][__n<limit>]__<cache_key>.npz"""
    from littlebig_utils._io import results_dir
    tag = "" if pretrained else "__random"
    n = f"__n{limit}" if limit else ""
    key = cache_key(model_name, dataset_name, limit, pretrained, seed, data_root)
    return results_dir("predictions") / f"{dataset_name}__{model_name}{tag}{n}__{key}.npz"


CACHE_WAIT_S = 3600.0  # how long cached_predictions waits for another process computing the same entry


def cached_predictions(model_name: str, dataset_name: str, *, limit: int | None = None,
                       pretrained: bool = True, data_root=None, batch_size: int = 256,
                       progress: bool = False, seed: int = 0, **kwargs) -> Predictions:
    """Predictions of a timm model on a dataset, computed once and reused from results/predictions.

    `limit` takes the first `limit` samples (notebooks' smoke mode). The file is named by
    `cache_key` (weights, data, limit and the code of the prediction stage), so a result made
    by other weights, data or code is never reused; a file whose content disagrees with its
    name (other model, dataset or length) is refused.
    """
    if dataset_name not in DATASETS:
        open_dataset(dataset_name)  # raises with the known names
    check_model_name(model_name)
    import time
    path = cached_path(model_name, dataset_name, limit, pretrained, seed, data_root)
    waited = 0.0
    while True:
        if path.is_file():
            p = Predictions.load(path)
            if (p.name != model_name or p.dataset != dataset_name
                    or (limit is not None and len(p) > limit)):
                from littlebig_utils.core.predictions import PredictionsError
                raise PredictionsError(f"{path} holds {p.name} on {p.dataset} ({len(p)} samples), "
                                       f"not {model_name} on {dataset_name}; delete it")
            return p
        try:
            return predict(model_name, dataset_name, pretrained=pretrained, data_root=data_root,
                           limit=limit, out=path, batch_size=batch_size, progress=progress,
                           seed=seed, **kwargs)
        except WorkLockedError:
            # another process is computing this very cache entry: wait for it, then reuse it
            if waited > CACHE_WAIT_S:
                raise
            time.sleep(1.0)
            waited += 1.0
