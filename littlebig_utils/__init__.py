"""littlebig: confidence-threshold model cascades (Little-Big, Titans), reproducibly.

    from littlebig_utils import Cascade, Predictions

Importing the package is light (numpy, pandas, scipy; no torch).
"""
from .estimator import Cascade, CascadeReport  # noqa: F401
from .predictions import Predictions  # noqa: F401

__version__ = "0.1.0"
__all__ = ["Cascade", "CascadeReport", "Predictions", "__version__"]
