"""Core layer: numpy, pandas and scipy only (no torch, no matplotlib, no file registry).

Modules: predictions (Predictions, align), checks (one validator per quantity), engine (the
one sweep engine: route, sweep, fixed thresholds, operating points, splits), pairs (pairs
table, best little per big, frontiers), pvalues and ltt (p-values; the fixed-sequence
procedure and threshold rules), scores (confidence and learned deferral scores), multistage,
uncertainty, experiments (repeated-split studies on arrays) and estimator (`Cascade`). Every
value is a fraction (accuracy 0.7577, max_loss 0.005, macs_reduction 0.867).

The public names load on first use, so that importing one module (``core.predictions``, as
reading reference files does) does not import scipy and every other module.
"""
import importlib

__all__ = ["Cascade", "CascadeReport", "Predictions", "align", "split", "sweep", "pairs_table"]
_LAZY = {"Cascade": ("estimator", "Cascade"), "CascadeReport": ("estimator", "CascadeReport"),
         "Predictions": ("predictions", "Predictions"), "align": ("predictions", "align"),
         "split": ("engine", "split_indices"), "sweep": ("engine", "sweep"),
         "pairs_table": ("pairs", "pairs_table")}


def __getattr__(name):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
