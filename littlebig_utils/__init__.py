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
import importlib

__version__ = "0.2.0"
__all__ = ["Cascade", "CascadeReport", "Predictions", "align", "split", "sweep", "pairs_table",
           "load", "predict", "__version__"]
_LAZY = {name: "core" for name in ("Cascade", "CascadeReport", "Predictions", "align", "split",
                                   "sweep", "pairs_table")}
_LAZY.update(load="data.reference", predict="run.predict")


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
