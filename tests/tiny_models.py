"""Tiny models and datasets that the prediction tests build themselves (also imported by the
subprocesses those tests start)."""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn

CFG = dict(input_size=(3, 16, 16), mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3), crop_pct=1.0,
           interpolation="bilinear", num_classes=5)


class TinyNet(nn.Module):
    """conv 3->4 (3x3, pad 1) -> global mean -> linear 4->5; MACs known in closed form."""

    def __init__(self, sleep: float = 0.0, oom_above: int | None = None, oom_message=None):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, 5)
        self.pretrained_cfg = dict(CFG)
        self.sleep, self.oom_above, self.oom_message = sleep, oom_above, oom_message
        self.seen = []  # batch sizes actually run

    def forward(self, x):
        if self.oom_above is not None and x.shape[0] > self.oom_above:
            if self.oom_message:
                raise RuntimeError(self.oom_message)
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.seen.append(int(x.shape[0]))
        if self.sleep:
            time.sleep(self.sleep)
        return self.fc(self.conv(x).mean((2, 3)))

    @staticmethod
    def macs(h: int, w: int) -> int:
        return h * w * 4 * 3 * 9 + 4 * 5


def tiny_model(seed: int = 0, **kwargs) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(**kwargs).eval()


def tiny_dataset(n: int = 23, seed: int = 0, size: int = 16):
    from timm.data import create_transform

    from littlebig_utils.run.datasets import ImageArrayDataset
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    labels = rng.integers(0, 5, n)
    ids = [f"s{i:03d}" for i in range(n)]
    tf = create_transform(**{k: v for k, v in CFG.items() if k != "num_classes"}, is_training=False)
    return ImageArrayDataset(images, labels, ids, transform=tf, name="tiny")
