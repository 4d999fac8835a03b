"""Where networks run: the one default device of the run layer, device strings, and out-of-
memory errors (predict, the runtime executor and distillation all use these)."""
from __future__ import annotations

import os
import re

import torch

__all__ = ["default_device", "parse_device", "is_oom"]

_OOM_TYPES = tuple({getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError),
                    torch.cuda.OutOfMemoryError})
_DEVICE_FORMS = "cpu, cuda, cuda:N (N = GPU index) or mps"


def default_device() -> torch.device:
    """This process's GPU when there is one (LOCAL_RANK under torchrun), else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")


def parse_device(device) -> torch.device:
    """A torch.device from a string such as 'cuda:1' (None: `default_device()`), with a
    one-line error for anything else or for a device this machine does not have."""
    if device is None:
        return default_device()
    if isinstance(device, torch.device):
        dev = device
    else:
        text = str(device).strip()
        if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", text):
            raise ValueError(f"--device {device!r} is not a device; use {_DEVICE_FORMS}")
        dev = torch.device(text)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {dev} asked for, but torch sees no CUDA GPU here; "
                             "use --device cpu (or leave --device out)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {dev} asked for, but torch sees only "
                             f"{torch.cuda.device_count()} GPU(s) (cuda:0 .. "
                             f"cuda:{torch.cuda.device_count() - 1})")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                    and torch.backends.mps.is_available()):
        raise ValueError("device mps asked for, but torch sees no Apple GPU here; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {dev} is not supported; use {_DEVICE_FORMS}")
    return dev


def is_oom(exc: BaseException) -> bool:
    """True for an out-of-memory error (CUDA's own type, or a RuntimeError saying so)."""
    return isinstance(exc, _OOM_TYPES) or (isinstance(exc, RuntimeError)
                                           and "out of memory" in str(exc).lower())
