"""Book layer: matplotlib, myst-nb and papermill. Notebook helpers and `ParameterError`, the
plot style, verdicts and the claims registry, pair selection, the explorer, and `chapters/`: one module per notebook,
named after it. Only notebooks, tests and the Makefile import it; the CLI never does."""

__all__ = ["notebook", "plots", "verdicts", "claims", "selection", "explorer", "chapters"]
