"""Numbers for the book's prose: glued from the computation, never typed."""
from __future__ import annotations

import numpy as np


def plain(value):
    """numpy scalars -> Python scalars, so that glue's text/plain is formattable ({glue:text}`x:.1f`)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(name: str, value, display: bool = False) -> None:
    """myst-nb glue of a value (numpy scalars converted)."""
    from myst_nb import glue as _glue
    _glue(name, plain(value), display=display)


def glue_many(display: bool = False, **values) -> None:
    for name, value in values.items():
        glue(name, value, display=display)
