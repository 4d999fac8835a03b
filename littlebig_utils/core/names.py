"""The names of the core's registries, as plain constants (standard library only).

The command line builds its parser from these without importing numpy, pandas or scipy
(`littlebig --help` stays instant). The implementations are keyed by these same names: a
method registered under a name that is not here is refused, so this file is the one source.
"""

#: threshold rules of `Cascade(rule=...)`
RULES = ("no_loss", "max_loss", "guaranteed")

#: Learn-then-Test methods of `Cascade(method=...)` and `littlebig threshold --method`
METHODS = ("clopper-pearson", "binomial", "hoeffding-bentkus", "wsr")

#: confidence scores of `Cascade(score=...)`
SCORES = ("max_softmax", "margin", "neg_entropy")

__all__ = ["RULES", "METHODS", "SCORES"]
