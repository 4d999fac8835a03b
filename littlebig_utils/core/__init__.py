"""Core layer: numpy, pandas and scipy only (no torch, no matplotlib, no file registry).

Predictions and their alignment, one validator per quantity, the sweep engine, the pairs
table, p-values, threshold rules, scores, N-model cascades, uncertainty, studies on arrays,
and the `Cascade` estimator. Every value is a fraction (accuracy 0.7577, max_loss 0.005).

The public names load on first use, so that ``littlebig_utils.core.names`` (plain registry
names, standard library only) can be imported by the command line's parser without pulling
in numpy, pandas and scipy.
"""
from littlebig_utils._lazy import lazy

__all__ = ["Cascade", "CascadeReport", "Predictions", "align", "split", "sweep", "pairs_table"]
__getattr__, __dir__ = lazy(__name__, {
    "Cascade": ("estimator", "Cascade"), "CascadeReport": ("estimator", "CascadeReport"),
    "Predictions": ("predictions", "Predictions"), "align": ("predictions", "align"),
    "split": ("thresholds", "split_indices"), "sweep": ("cascade", "sweep"),
    "pairs_table": ("cascade", "pairs_table")})
