"""littlebig: confidence-threshold model cascades (Little-Big, Titans), reproducibly.

    from littlebig_utils import Cascade, Predictions, load

Four layers, imported in one direction only (import-linter checks it, `make test` runs it)::

    book  (matplotlib, myst-nb, papermill: chapters, figures, verdicts)
      |
    run   (torch, timm: models, datasets, predict, runtime, distillation)
      |
    data  (reference files, checksummed registry, load)
      |
    core  (numpy, pandas, scipy: predictions, the sweep engine, thresholds, Cascade)

The public names load on first use, so that ``littlebig --help`` and ``import littlebig_utils``
stay light (no pandas, scipy or torch until a name that needs them is touched; torch only
with `predict`).
"""
from littlebig_utils._lazy import lazy

__version__ = "0.2.0"
__all__ = ["Cascade", "CascadeReport", "Predictions", "align", "split", "sweep", "pairs_table",
           "load", "predict", "__version__"]
__getattr__, __dir__ = lazy(__name__, {
    **{name: ("core", name) for name in ("Cascade", "CascadeReport", "Predictions", "align",
                                         "split", "sweep", "pairs_table")},
    "load": ("data.reference", "load"), "predict": ("run.predict", "predict")})
