"""Chapter `fig03_threshold_curves` (notebooks/fig03_threshold_curves.ipynb): one pair's
operating points and the reference models' table (the data layer's, in fractions).
"""
from __future__ import annotations

import pandas as pd

from littlebig_utils.core.engine import no_loss_point

__all__ = ["no_loss_point", "models_table"]


def models_table() -> pd.DataFrame:
    """The reference models: timm tag, input size, measured top-1 and its residual against timm's
    published top-1 (fractions), GMACs, parameters, and whether the match is flagged."""
    from littlebig_utils.data import reference
    return reference.models_table()
