"""`Cascade`: the public, scikit-learn-style face of the package.

    from littlebig_utils import Cascade
    casc = Cascade(rule="guaranteed", max_loss=0.005, delta=0.05, costs=(0.6, 4.1))
    casc.fit(little, big, y)          # (n, C) logits or probabilities, or two Predictions
    to_big = casc.route(little_new)   # score < threshold_ goes to the big model
    casc.evaluate(little, big, y).to_frame(); casc.curve(little, big, y)

A thin layer over the sweep engine (`engine`), the threshold rules (`ltt`) and the confidence
scores (`scores`): it turns a user's arrays or Predictions into the per-sample vectors those
take, checks them once (`checks`), and speaks fractions only. It follows scikit-learn's
conventions: ``__init__`` only stores its arguments, ``fit`` validates them, fitted attributes
end in ``_`` and a refit overwrites them, so ``get_params``, ``set_params`` and
``sklearn.base.clone`` work (`_Params`: scikit-learn's parameter protocol without importing
scikit-learn, which costs about a second at import). Nothing here imports torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from littlebig_utils.core import engine, ltt
from littlebig_utils.core import names as _names
from littlebig_utils.core import scores as _scores
from littlebig_utils.core.checks import (INPUT_KINDS, InputError, check_choice, check_cost,
                                         check_costs, check_delta, check_labels, check_max_loss,
                                         check_method)
from littlebig_utils.core.predictions import Predictions, align

__all__ = ["Cascade", "CascadeReport", "CascadeInputError", "NotFittedError", "RULES"]

RULES = _names.RULES

#: the error of every bad input to a Cascade (the checks' own error class)
CascadeInputError = InputError


class NotFittedError(InputError, AttributeError):
    """`route` / `evaluate` called before `fit` (a ValueError and an AttributeError, like
    scikit-learn's own NotFittedError)."""


class _Params:
    """scikit-learn's parameter protocol: the parameters are the arguments of ``__init__``,
    stored under their own names; ``sklearn.base.clone`` rebuilds an unfitted copy from them."""

    @classmethod
    def _signature(cls):
        import inspect
        return {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                if k != "self"}

    def get_params(self, deep: bool = True) -> dict:
        return {k: getattr(self, k) for k in self._signature()}

    def set_params(self, **params):
        names = self._signature()
        for k, v in params.items():
            if k not in names:
                raise InputError(f"invalid parameter {k!r} for {type(self).__name__}; "
                                 f"valid: {', '.join(names)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = self._signature()
        shown = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
        return f"{type(self).__name__}({', '.join(shown)})"


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return a is b


@dataclass(frozen=True)
class CascadeReport:
    """A fixed threshold judged on labelled data; accuracies and losses are fractions.

    accuracy_loss = big_accuracy - accuracy (negative: the cascade beats big). cost is the mean
    cost per sample in the unit of `costs` (little always runs; big on the escalated share; the
    big model alone when threshold is None), cost_reduction = 1 - cost / big cost.
    """
    threshold: float | None
    n: int
    accuracy: float
    little_accuracy: float
    big_accuracy: float
    accuracy_loss: float
    frac_big: float
    cost: float = float("nan")
    cost_reduction: float = float("nan")

    def to_dict(self) -> dict:
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame (threshold None becomes NaN)."""
        d = self.to_dict()
        d["threshold"] = np.nan if d["threshold"] is None else d["threshold"]
        return pd.DataFrame([d])


@dataclass
class _Data:
    conf: np.ndarray
    little_correct: np.ndarray
    big_correct: np.ndarray
    costs: tuple[float, float] | None


class Cascade(_Params):
    """Little-Big cascade: the little model answers unless its score is below ``threshold_``.

    Parameters
    ----------
    rule : {"no_loss", "max_loss", "guaranteed"}
        "no_loss" is the paper's rule: the cheapest T whose accuracy on the fit data is at
        least the big model's. "max_loss": the cheapest T losing at most `max_loss` on the fit
        data (no guarantee on new data). "guaranteed": Learn-then-Test, with probability
        >= 1 - delta over the fit data, the loss on new exchangeable data is <= max_loss.
    max_loss : float
        Tolerated accuracy loss against the big model, a FRACTION (0.005 = half a point).
        Values above ``checks.MAX_LOSS_LIMIT`` (0.1) are refused: they read as points.
    delta : float
        Risk level of "guaranteed".
    method : str
        Learn-then-Test test for "guaranteed", one of ``names.METHODS``.
    costs : tuple of float, optional
        (little_cost, big_cost) in any unit (e.g. GMACs); adds cost columns. With
        Predictions and costs=None, their ``model['gmacs']`` are used when both have one.
    score : str or callable
        "max_softmax" (default), a name in ``names.SCORES``, or a callable mapping the little
        model's (n, C) probabilities to an (n,) score in [0, 1], higher = keep with little.
        Predictions without logits only allow "max_softmax" (their stored conf).
    inputs : {"auto", "probs", "logits"}
        What the (n, C) arrays hold. "auto" accepts only unambiguous arrays (rows in [0, 1]
        summing to 1 within float rounding: probabilities; any value < 0 or > 1: logits) and
        refuses the rest (e.g. probabilities rounded to 4 decimals) instead of guessing.

    Notes
    -----
    Inputs of fit / evaluate / curve: `little`, `big` both (n, C) arrays with `y` (n,) integer
    labels in [0, C); or both Predictions, aligned by sample id, labelled by their own labels.
    With Predictions, a given `y` REPLACES those labels (e.g. ReaL or CIFAR-10H labels): one
    integer per sample, in `little`'s sample order.

    Fitted attributes: ``threshold_`` (float, or None when no T qualifies: use big alone),
    ``result_`` (ltt.ThresholdResult, fractions), ``n_fit_`` and ``n_classes_`` (None for
    Predictions without logits).
    """

    def __init__(self, rule: str = "no_loss", max_loss: float = 0.0, delta: float = 0.05,
                 method: str = "clopper-pearson", costs=None, score="max_softmax",
                 inputs: str = "auto"):
        self.rule = rule
        self.max_loss = max_loss
        self.delta = delta
        self.method = method
        self.costs = costs
        self.score = score
        self.inputs = inputs

    # ------------------------------------------------------------------ parameters
    def _params(self) -> dict:
        """The parameters, each checked by its one validator (called by every method)."""
        p = dict(rule=check_choice(self.rule, _names.RULES, "rule"),
                 max_loss=check_max_loss(self.max_loss),
                 delta=check_delta(self.delta),
                 method=check_method(self.method),
                 costs=check_costs(self.costs),
                 inputs=check_choice(self.inputs, INPUT_KINDS, "inputs"))
        if not callable(self.score):
            check_choice(self.score, _names.SCORES, "score (or pass a callable: probabilities "
                         "-> score in [0, 1])")
        return p

    # ------------------------------------------------------------------ inputs
    def _score_of(self, little, inputs: str) -> tuple[np.ndarray, int | None]:
        """The little model's score per sample and its class count (None: not known)."""
        if isinstance(little, Predictions):
            n_classes = None if little.logits is None else little.logits.shape[1]
            if self.score == "max_softmax":
                return little.conf, n_classes
            if little.logits is None:
                raise InputError(f"score {self.score!r} needs logits, but the Predictions of "
                                 f"'{little.name}' hold none: use score='max_softmax' (the "
                                 "stored confidence) or predictions saved with logits")
            raw, what, inputs = little.logits, f"logits of '{little.name}'", "logits"
        else:
            raw, what = little, "little"
        logits, probs = _scores.logits_and_probabilities(raw, what, inputs)
        if callable(self.score):
            s = np.asarray(self.score(probs), dtype=np.float64)
            if s.shape != (len(probs),):
                raise InputError(f"the score callable returned shape {s.shape}, expected "
                                 f"({len(probs)},)")
            if not np.isfinite(s).all() or (len(s) and (s.min() < 0 or s.max() > 1)):
                raise InputError("the score callable must return finite values in [0, 1] "
                                 "(higher = keep with little); map it there, e.g. a sigmoid")
            return s, probs.shape[1]
        if self.score == "max_softmax":
            return probs.max(axis=1), probs.shape[1]
        return _scores.SCORES[self.score](logits), probs.shape[1]

    def _data(self, little, big, y, p: dict) -> tuple[_Data, int | None]:
        if isinstance(little, Predictions) != isinstance(big, Predictions):
            raise InputError("give little and big both as arrays or both as Predictions, "
                             "not one of each")
        if isinstance(little, Predictions):
            little, big = align(little, big)
            if len(little) == 0:
                raise InputError("the Predictions hold no samples")
            costs = p["costs"]
            if costs is None and little.model.get("gmacs") and big.model.get("gmacs"):
                costs = (check_cost(little.model["gmacs"], f"GMACs of '{little.name}'"),
                         check_cost(big.model["gmacs"], f"GMACs of '{big.name}'"))
            n_classes = None if little.logits is None else little.logits.shape[1]
            if big.logits is not None and n_classes is not None and \
                    big.logits.shape[1] != n_classes:
                raise InputError(f"'{little.name}' has {n_classes} classes, '{big.name}' "
                                 f"{big.logits.shape[1]}: both models must share one label space")
            labels = little.labels if y is None else check_labels(y, "y", len(little), n_classes)
            conf, n_classes = self._score_of(little, p["inputs"])
            return _Data(conf, little.preds == labels, big.preds == labels, costs), n_classes
        lp = _scores.logits_and_probabilities(little, "little", p["inputs"])[1]
        bp = _scores.logits_and_probabilities(big, "big", p["inputs"])[1]
        if len(lp) == 0:
            raise InputError("little and big hold no samples")
        if lp.shape != bp.shape:
            raise InputError(f"little {lp.shape} and big {bp.shape} must have the same shape "
                             "(same samples in the same order, same classes)")
        if y is None:
            raise InputError("y (the labels) is required with arrays; only Predictions carry "
                             "their labels")
        labels = check_labels(y, "y", len(lp), lp.shape[1])
        conf, n_classes = self._score_of(lp, "probs")
        return _Data(conf, lp.argmax(axis=1) == labels, bp.argmax(axis=1) == labels,
                     p["costs"]), n_classes

    # ------------------------------------------------------------------ API
    def fit(self, little, big, y=None) -> "Cascade":
        """Choose ``threshold_`` on (little, big, y) with `rule`."""
        p = self._params()
        d, n_classes = self._data(little, big, y, p)
        args = (d.conf, d.little_correct, d.big_correct)  # checked once, in _data
        if p["rule"] == "no_loss":
            r = ltt._empirical(*args, 0.0)
        elif p["rule"] == "max_loss":
            r = ltt._empirical(*args, p["max_loss"])
        else:
            r = ltt._guaranteed(*args, p["max_loss"], p["delta"], p["method"])
        self.result_ = r
        self.threshold_ = r.threshold
        self.n_fit_ = len(d.conf)
        self.n_classes_ = n_classes
        return self

    def _check_fitted(self):
        if not hasattr(self, "result_"):
            raise NotFittedError("this Cascade is not fitted yet: call fit(little, big, y) first")

    def route(self, little) -> np.ndarray:
        """Boolean mask, True = send to the big model (score < ``threshold_``); all True when
        ``threshold_`` is None. Needs neither labels nor the big model."""
        self._check_fitted()
        p = self._params()
        conf, n_classes = self._score_of(little, p["inputs"])
        if None not in (n_classes, self.n_classes_) and n_classes != self.n_classes_:
            raise InputError(f"little has {n_classes} classes but the cascade was fitted on "
                             f"{self.n_classes_}: route outputs of the same model and label space")
        if self.threshold_ is None:
            return np.ones(len(conf), dtype=bool)
        return conf < self.threshold_  # conf < T goes to big (engine.route, already checked)

    def evaluate(self, little, big, y=None) -> CascadeReport:
        """The fitted threshold judged on (little, big, y): a CascadeReport (fractions)."""
        self._check_fitted()
        d, _ = self._data(little, big, y, self._params())
        t = np.array([np.nan if self.threshold_ is None else self.threshold_])
        r = engine._evaluate(d.conf, d.little_correct, d.big_correct, t,
                             np.ones((1, len(d.conf)), bool), np.ones(len(d.conf), bool), d.costs,
                             missing="big").iloc[0]
        return CascadeReport(
            threshold=self.threshold_, n=int(r["n"]), accuracy=float(r["accuracy"]),
            little_accuracy=float(r["little_accuracy"]), big_accuracy=float(r["big_accuracy"]),
            accuracy_loss=float(r["big_n_correct"] - r["n_correct"]) / float(r["n_valid"]),
            frac_big=float(r["frac_big"]),
            cost=float(r["gmacs"]) if d.costs else float("nan"),
            cost_reduction=float(r["macs_reduction"]) if d.costs else float("nan"))

    def curve(self, little, big, y=None) -> pd.DataFrame:
        """Every distinct threshold of the little model's scores on (little, big, y), tidy.

        Columns: threshold, n_big, frac_big, n_correct, accuracy, accuracy_loss (fractions),
        n, little_accuracy, big_accuracy, and cost, cost_reduction when costs are known. Does
        not need `fit`.
        """
        d, _ = self._data(little, big, y, self._params())
        t = engine._sweep(d.conf, d.little_correct, d.big_correct, costs=d.costs)
        n = t["n"]
        out = pd.DataFrame({
            "threshold": t["threshold"], "n_big": t["n_big"], "frac_big": t["frac_big"],
            "n_correct": t["n_correct"], "accuracy": t["accuracy"],
            "accuracy_loss": (t["big_n_correct"] - t["n_correct"]) / n, "n": n,
            "little_accuracy": t["little_n_correct"] / n, "big_accuracy": t["big_n_correct"] / n})
        if d.costs:
            out["cost"] = t["gmacs"]
            out["cost_reduction"] = t["macs_reduction"]
        return out
