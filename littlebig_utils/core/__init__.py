"""Core layer: numpy, pandas and scipy only (no torch, no matplotlib, no file registry).

Predictions and their alignment, one validator per quantity, the sweep engine, the pairs
table, p-values, threshold rules, scores, N-model cascades, uncertainty, studies on arrays,
and the `Cascade` estimator. Every value is a fraction (accuracy 0.7577, max_loss 0.005).
"""
from littlebig_utils.core.cascade import pairs_table, sweep
from littlebig_utils.core.estimator import Cascade, CascadeReport
from littlebig_utils.core.predictions import Predictions, align
from littlebig_utils.core.thresholds import split_indices as split

__all__ = ["Cascade", "CascadeReport", "Predictions", "align", "split", "sweep", "pairs_table"]
