"""Compute cost from the architecture itself: torch's FlopCounterMode, 1 MAC = 2 FLOPs.

The model is built on the meta device (no weights are allocated or downloaded), so counting
a 100M-parameter network takes a fraction of a second and needs no internet.
"""
from __future__ import annotations

import functools

import torch
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_gmacs", "arch_gmacs", "count_params_m"]


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


@functools.lru_cache(maxsize=None)
def arch_gmacs(arch: str, img_size: int, num_classes: int | None = None) -> tuple[float, float]:
    """(GMACs, params in millions) of a timm architecture at a square input size.

    Raises a ValueError naming close matches when timm does not know the architecture.
    """
    import timm
    if not timm.is_model(arch):
        close = timm.list_models(f"*{arch.split('_')[0]}*")[:8]
        raise ValueError(f"unknown timm architecture '{arch}'. Close names: {close}")
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    with torch.device("meta"):
        model = timm.create_model(arch, pretrained=False, **kwargs)
    return count_gmacs(model, img_size), count_params_m(model)
