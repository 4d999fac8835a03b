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


# ------------------------------------------------------------------ the committed GMACs table

def table_counts(arch: str, img_size: int) -> tuple[float, float]:
    """(GMACs, params in millions) of one row of the committed table
    (littlebig_utils/data/gmacs.csv): `arch_gmacs` of a timm architecture, or a CIFAR ResNet of
    a depth that timm does not register (ResNet-110 of the CIFAR-10 reference predictions),
    built from run.cifar on the meta device."""
    import timm

    from littlebig_utils.run import cifar  # registers the pretrained cifar_resnet* with timm
    if arch.startswith("cifar_resnet") and not timm.is_model(arch):
        with torch.device("meta"):
            model = cifar.CifarResNet(int(arch.removeprefix("cifar_resnet")))
        return count_gmacs(model, img_size), count_params_m(model)
    return arch_gmacs(arch, img_size)


def write_table(path=None) -> list[dict]:
    """Recount every row of the committed GMACs table and rewrite it (its comment lines and
    the dataset, model, arch, timm_tag and img_size of each row are kept; gmacs and params_m
    are counted again). Returns the rows. Run it after a torch or timm upgrade that changes a
    count: `python -m littlebig_utils.run.costs --write-table`, then commit the file."""
    import csv
    import io

    from littlebig_utils._io import atomic_write
    from littlebig_utils.data.reference import GMACS_TABLE
    path = GMACS_TABLE if path is None else path
    lines = open(path).read().splitlines(keepends=True)
    comments = [line for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    fields = ["dataset", "model", "arch", "timm_tag", "img_size", "gmacs", "params_m"]
    out = io.StringIO()
    out.writelines(comments)
    writer = csv.DictWriter(out, fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        gmacs, params = table_counts(row["arch"], int(row["img_size"]))
        row.update(gmacs=repr(float(gmacs)), params_m=repr(float(params)))
        writer.writerow({k: row[k] for k in fields})
    with atomic_write(path, suffix=".csv") as tmp:
        tmp.write_text(out.getvalue())
    return rows


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(prog="python -m littlebig_utils.run.costs",
                                     description="Recount the committed GMACs table.")
    parser.add_argument("--write-table", action="store_true", required=True,
                        help="recount littlebig_utils/data/gmacs.csv and rewrite it")
    parser.parse_args()
    for row in write_table():
        print(f"{row['dataset']:13} {row['model']:22} {float(row['gmacs']):12.6f} GMACs "
              f"{float(row['params_m']):9.3f} M params")
