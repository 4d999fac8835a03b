"""Names of a package that load on first use (PEP 562), so importing the package stays light.

    __getattr__, __dir__ = lazy(__name__, {"Cascade": ("estimator", "Cascade"), ...})

Each public name maps to (submodule, attribute); the value is imported when first touched and
cached in the package's namespace. Standard library only.
"""
from __future__ import annotations

import importlib
import sys

__all__ = ["lazy"]


def lazy(package: str, names: dict[str, tuple[str, str]]):
    """`__getattr__` and `__dir__` for `package`, loading `names` from its submodules."""

    def __getattr__(name):
        if name in names:
            module, attr = names[name]
            value = getattr(importlib.import_module(f".{module}", package), attr)
            setattr(sys.modules[package], name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
