"""Compute cost from the architecture itself: torch's FlopCounterMode, 1 MAC = 2 FLOPs.

The model is built on the meta device (no weights are allocated or downloaded), so counting
a 100M-parameter network takes a fraction of a second and needs no internet.
"""
from __future__ import annotations

import functools
import hashlib
import json

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_gmacs", "arch_gmacs", "count_params_m", "structure_digest"]


def count_gmacs(model: torch.nn.Module, input_size, batch_size: int = 1) -> float:
    """GMACs per sample of `model` on an input of shape (C, H, W) (or H for square RGB)."""
    if isinstance(input_size, int):
        input_size = (3, input_size, input_size)
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    x = torch.empty((batch_size, *input_size), device=device)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 2e9 / batch_size


def count_params_m(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


def structure_digest(model: torch.nn.Module) -> str:
    """Digest of a model's module tree (names, types, parameter and buffer shapes)."""
    h = hashlib.sha256()
    for name, m in model.named_modules():
        h.update(f"{name}:{type(m).__module__}.{type(m).__qualname__}\n".encode())
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}\n".encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def arch_gmacs(arch: str, img_size: int, num_classes: int | None = None) -> tuple[float, float]:
    """(GMACs, params in millions) of a timm architecture at a square input size.

    Counting is cheap but not free (tracing one forward pass, about a second for the largest
    reference models on a busy machine), and every notebook needs the same numbers, so results
    are kept in a small JSON file in the cache folder, keyed by the architecture config (arch,
    input size, classes), the digest of the model's module tree and parameter shapes, and the
    torch and timm versions: a changed definition is counted again. Raises a ValueError naming
    close matches when timm does not know the architecture.
    """
    import timm
    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch.split('_')[0]}*")[:8]
        raise ValueError(f"unknown timm architecture '{arch}'. Close names: {close}")
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    with torch.device("meta"):  # no weights allocated: building is fast
        model = timm.create_model(arch, pretrained=False, **kwargs)
    key = (f"{arch}@{img_size}/{num_classes}/{structure_digest(model)}"
           f"/torch{torch.__version__}/timm{timm.__version__}")
    cache = _load_cache()
    if key in cache:
        return tuple(cache[key])
    result = (count_gmacs(model, img_size), count_params_m(model))
    _save_cache(key, result)
    return result


def _cache_file():
    from littlebig_utils.data.registry import cache_dir
    return cache_dir() / "gmacs.json"


def _load_cache() -> dict:
    try:
        return json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return {}


def _save_cache(key: str, value) -> None:
    from littlebig_utils._io import atomic_write
    cache = _load_cache()
    cache[key] = list(value)
    try:
        with atomic_write(_cache_file(), suffix=".json") as tmp:
            tmp.write_text(json.dumps(cache, indent=1, sort_keys=True))
    except OSError:  # a read-only cache only costs a recount next time
        pass
