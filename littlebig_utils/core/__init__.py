"""Core layer: numpy, pandas and scipy only (no torch, no matplotlib, no file registry).

Modules: predictions (Predictions, align), checks (one validator per quantity), engine (the
one sweep engine: route, sweep, fixed thresholds, operating points, splits), pairs (pairs
table, best little per big, frontiers), pvalues and ltt (p-values; the fixed-sequence
procedure and threshold rules), scores, deferral, multistage, uncertainty, experiments
(repeated-split studies on arrays) and estimator (`Cascade`). Every value is a fraction
(accuracy 0.7577, max_loss 0.005, macs_reduction 0.867).
"""
from littlebig_utils.core.engine import split_indices as split
from littlebig_utils.core.engine import sweep
from littlebig_utils.core.estimator import Cascade, CascadeReport
from littlebig_utils.core.pairs import pairs_table
from littlebig_utils.core.predictions import Predictions, align

__all__ = ["Cascade", "CascadeReport", "Predictions", "align", "split", "sweep", "pairs_table"]
