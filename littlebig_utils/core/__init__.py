"""Core layer: numpy, pandas and scipy only (no torch, no matplotlib, no file registry).

Modules: predictions (Predictions, align), checks (one validator per quantity), engine (the
one sweep engine: route, sweep, fixed thresholds, operating points, splits), pairs (pairs
table, best little per big, frontiers), pvalues and ltt (p-values; the fixed-sequence
procedure and threshold rules), scores (confidence and learned deferral scores), multistage,
uncertainty, experiments (repeated-split studies on arrays) and estimator (`Cascade`). Every
value is a fraction (accuracy 0.7577, max_loss 0.005, macs_reduction 0.867).

The public names load on first use, so that ``littlebig_utils.core.names`` (plain registry
names, standard library only) can be imported by the command line's parser without pulling
in numpy, pandas and scipy.
"""
from littlebig_utils._lazy import lazy

__all__ = ["Cascade", "CascadeReport", "Predictions", "align", "split", "sweep", "pairs_table"]
__getattr__, __dir__ = lazy(__name__, {
    "Cascade": ("estimator", "Cascade"), "CascadeReport": ("estimator", "CascadeReport"),
    "Predictions": ("predictions", "Predictions"), "align": ("predictions", "align"),
    "split": ("engine", "split_indices"), "sweep": ("engine", "sweep"),
    "pairs_table": ("pairs", "pairs_table")})
