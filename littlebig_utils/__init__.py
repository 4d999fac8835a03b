"""littlebig: confidence-threshold model cascades (Little-Big, Titans), reproducibly.

    from littlebig_utils import Cascade, Predictions

The public names load on first use, so that ``littlebig --help`` and importing a submodule
stay light (no pandas, scipy or torch until a name that needs them is touched).
"""
import importlib

__version__ = "0.1.0"
__all__ = ["Cascade", "CascadeReport", "Predictions", "__version__"]
_LAZY = {"Cascade": "estimator", "CascadeReport": "estimator", "Predictions": "predictions"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
