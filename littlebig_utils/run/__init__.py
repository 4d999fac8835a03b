"""Run layer: torch and timm. Models (CIFAR ResNets, timm's create_model, FlopCounterMode
costs, one default device), torch datasets, resumable cached predict, the runtime executor and
distillation. Imported only when a network has to run."""
import importlib

__all__ = ["default_device", "create_model", "count_gmacs"]
# `predict` is a submodule here (run.predict.predict is the function, littlebig_utils.predict)
_LAZY = {"create_model": "predict", "default_device": "devices", "count_gmacs": "costs"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
