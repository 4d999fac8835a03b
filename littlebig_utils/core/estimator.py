"""`Cascade`: the public, scikit-learn-like face of the package.

    from littlebig_utils import Cascade
    casc = Cascade(rule="guaranteed", max_loss=0.005, delta=0.05, costs=(0.6, 4.1))
    casc.fit(little, big, y)          # (n, C) logits or probabilities, or two Predictions
    to_big = casc.route(little_new)   # score < threshold_ goes to the big model
    casc.evaluate(little, big, y).to_frame(); casc.curve(little, big, y)

Everything here is a thin layer over `cascade` (sweeps), `thresholds` (the rules, Learn-then-Test)
and `scores` (confidence scores): it turns a user's arrays or Predictions into the per-sample
vectors those modules take, checks them once, and speaks fractions. Nothing imports torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from littlebig_utils.core import cascade as _cascade
from littlebig_utils.core import scores as _scores
from littlebig_utils.core import thresholds as _th
from littlebig_utils.core.predictions import Predictions, align

__all__ = ["Cascade", "CascadeReport", "CascadeInputError", "NotFittedError", "RULES"]

RULES = ("no_loss", "max_loss", "guaranteed")


class CascadeInputError(ValueError):
    """Inputs the Cascade cannot use (shapes, labels, NaN, unknown options)."""


class NotFittedError(CascadeInputError):
    """`route` / `evaluate` / `curve` called before `fit`."""


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


def _fail(msg: str):
    raise CascadeInputError(msg)


class Cascade:
    """Little-Big cascade: the little model answers unless its score is below ``threshold_``.

    Parameters
    ----------
    rule : {"no_loss", "max_loss", "guaranteed"}
        "no_loss" is the paper's rule: the cheapest T whose accuracy on the fit data is at
        least the big model's. "max_loss": the cheapest T losing at most `max_loss` on the fit
        data (no guarantee on new data). "guaranteed": Learn-then-Test, with probability
        >= 1 - delta over the fit data, the loss on new exchangeable data is <= max_loss.
    max_loss : float
        Tolerated accuracy loss against the big model, a FRACTION (0.005 = 0.5 points).
    delta : float
        Risk level of "guaranteed".
    method : str
        Learn-then-Test test for "guaranteed", a name in ``thresholds.METHODS``
        ("clopper-pearson", "binomial", "hoeffding-bentkus", and any registered later).
    costs : tuple of float, optional
        (little_cost, big_cost) in any unit (e.g. GMACs); adds cost columns. With
        Predictions and costs=None, their ``model['gmacs']`` are used when both have one.
    score : str or callable
        "max_softmax" (default), a name in ``scores.SCORES``, or a callable mapping the little
        model's (n, C) probabilities to an (n,) score in [0, 1], higher = keep with little
        (e.g. a learned deferral rule fitted elsewhere). Predictions without logits only allow
        "max_softmax" (their stored conf).

    Notes
    -----
    Inputs of fit / evaluate / curve: `little`, `big` are both (n, C) arrays of logits or
    probabilities (rows non-negative summing to 1 within 1e-6 are probabilities, otherwise
    softmax is applied) with `y` (n,) integer labels in [0, C) required; or both Predictions,
    aligned by sample id, labelled by their own labels. With Predictions, a given `y` REPLACES
    those labels (e.g. ReaL or CIFAR-10H labels): one integer per sample, in `little`'s sample
    order; correctness is then preds == y.

    Fitted attributes: ``threshold_`` (float, or None when no T qualifies: use big alone),
    ``result_`` (thresholds.ThresholdResult; its accuracies are in percent), ``n_fit_``.
    """

    def __init__(self, rule: str = "no_loss", max_loss: float = 0.0, delta: float = 0.05,
                 method: str = "clopper-pearson", costs=None, score="max_softmax"):
        if rule not in RULES:
            _fail(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
        try:
            ml = float(max_loss)
        except (TypeError, ValueError):
            _fail(f"max_loss must be a fraction in [0, 1), got {max_loss!r}")
        if not np.isfinite(ml) or not 0.0 <= ml < 1.0:
            _fail(f"max_loss is a FRACTION of accuracy in [0, 1) (0.005 = half a point), "
                  f"got {max_loss!r}")
        if rule == "guaranteed":
            try:
                _th.check_delta(delta)
            except ValueError as e:
                _fail(str(e))
            if method not in _th.METHODS:
                _fail(f"unknown method {method!r}; choose one of {', '.join(_th.METHODS)}")
        if costs is not None:
            if len(costs) != 2:
                _fail(f"costs must be (little_cost, big_cost), got {costs!r}")
            try:
                costs = (_cascade.check_gmacs(costs[0], "little cost"),
                         _cascade.check_gmacs(costs[1], "big cost"))
            except ValueError as e:
                _fail(str(e))
        if not callable(score) and score not in _scores.SCORES:
            _fail(f"unknown score {score!r}; choose one of {', '.join(_scores.SCORES)} "
                  "or pass a callable (probabilities -> score in [0, 1])")
        self.rule, self.max_loss, self.delta, self.method = rule, ml, float(delta), method
        self.costs, self.score = costs, score

    def __repr__(self) -> str:
        return (f"Cascade(rule={self.rule!r}, max_loss={self.max_loss}, delta={self.delta}, "
                f"method={self.method!r}, costs={self.costs}, score={self.score!r})")

    # ------------------------------------------------------------------ inputs
    def _score_of(self, little) -> np.ndarray:
        """The little model's score per sample, from an array or a Predictions."""
        if isinstance(little, Predictions):
            if self.score == "max_softmax":
                return little.conf
            if little.logits is None:
                _fail(f"score {self.score!r} needs logits, but the Predictions of "
                      f"'{little.name}' hold none: use score='max_softmax' (the stored "
                      "confidence) or predictions saved with logits")
            raw, what = little.logits, f"logits of '{little.name}'"
        else:
            raw, what = little, "little"
        try:
            logits, probs = _scores.as_logits_and_probabilities(raw, what)
        except ValueError as e:
            _fail(str(e))
        if callable(self.score):
            s = np.asarray(self.score(probs), dtype=np.float64)
            if s.shape != (len(probs),):
                _fail(f"the score callable returned shape {s.shape}, expected ({len(probs)},)")
            if not np.isfinite(s).all() or (len(s) and (s.min() < 0 or s.max() > 1)):
                _fail("the score callable must return finite values in [0, 1] (higher = keep "
                      "with little); map it there, e.g. with a sigmoid")
            return s
        if self.score == "max_softmax":
            return probs.max(axis=1)  # = scores.max_softmax(logits), bit for bit
        return _scores.SCORES[self.score](logits)

    def _data(self, little, big, y) -> _Data:
        if isinstance(little, Predictions) != isinstance(big, Predictions):
            _fail("give little and big both as arrays or both as Predictions, not one of each")
        if isinstance(little, Predictions):
            try:
                little, big = align(little, big)
            except ValueError as e:
                _fail(str(e))
            if len(little) == 0:
                _fail("the Predictions hold no samples")
            costs = self.costs
            if costs is None and little.model.get("gmacs") and big.model.get("gmacs"):
                costs = (_cascade.check_gmacs(little.model["gmacs"], f"GMACs of '{little.name}'"),
                         _cascade.check_gmacs(big.model["gmacs"], f"GMACs of '{big.name}'"))
            n_classes = None if little.logits is None else little.logits.shape[1]
            if big.logits is not None and n_classes is not None and \
                    big.logits.shape[1] != n_classes:
                _fail(f"'{little.name}' has {n_classes} classes, '{big.name}' "
                      f"{big.logits.shape[1]}: both models must share one label space")
            if y is None:
                labels = little.labels
            else:
                labels = self._labels(y, len(little), n_classes)
            conf = self._score_of(little)
            return _Data(conf, little.preds == labels, big.preds == labels, costs)
        try:
            lp = _scores.as_probabilities(little, "little")
            bp = _scores.as_probabilities(big, "big")
        except ValueError as e:
            _fail(str(e))
        if len(lp) == 0:
            _fail("little and big hold no samples")
        if lp.shape != bp.shape:
            _fail(f"little {lp.shape} and big {bp.shape} must have the same shape "
                  "(same samples in the same order, same classes)")
        if y is None:
            _fail("y (the labels) is required with arrays; only Predictions carry their labels")
        labels = self._labels(y, len(lp), lp.shape[1])
        conf = self._score_of(lp)
        return _Data(conf, lp.argmax(axis=1) == labels, bp.argmax(axis=1) == labels, self.costs)

    @staticmethod
    def _labels(y, n: int, n_classes: int | None) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n:
            _fail(f"y must be 1-d with one label per sample ({n}), got shape {y.shape}")
        if y.dtype.kind == "f":
            if not np.isfinite(y).all() or (y != np.round(y)).any():
                _fail("y must hold integer class labels (found NaN or non-integer floats)")
        elif y.dtype.kind not in "iu":
            _fail(f"y must hold integer class labels, got dtype {y.dtype}")
        y = y.astype(np.int64)
        if n and (y.min() < 0 or (n_classes is not None and y.max() >= n_classes)):
            _fail(f"y must lie in [0, {n_classes if n_classes is not None else 'C'}), found "
                  f"[{y.min()}, {y.max()}]")
        return y

    # ------------------------------------------------------------------ API
    def fit(self, little, big, y=None) -> "Cascade":
        """Choose ``threshold_`` on (little, big, y) with `rule`."""
        d = self._data(little, big, y)
        args = (d.conf, d.little_correct, d.big_correct)
        if self.rule == "no_loss":
            r = _th.empirical_threshold(*args, epsilon=0.0)
        elif self.rule == "max_loss":
            r = _th.empirical_threshold(*args, epsilon=100.0 * self.max_loss)
        else:
            r = _th.guaranteed_threshold(*args, 100.0 * self.max_loss, self.delta, self.method)
        self.result_ = r
        self.threshold_ = r.threshold
        self.n_fit_ = len(d.conf)
        return self

    def _check_fitted(self):
        if not hasattr(self, "result_"):
            raise NotFittedError("this Cascade is not fitted yet: call fit(little, big, y) first")

    def route(self, little) -> np.ndarray:
        """Boolean mask, True = send to the big model (score < ``threshold_``); all True when
        ``threshold_`` is None. Needs neither labels nor the big model."""
        self._check_fitted()
        conf = self._score_of(little)
        if self.threshold_ is None:
            return np.ones(len(conf), dtype=bool)
        return _cascade.route(conf, self.threshold_)

    def evaluate(self, little, big, y=None) -> CascadeReport:
        """The fitted threshold judged on (little, big, y): a CascadeReport (fractions)."""
        self._check_fitted()
        d = self._data(little, big, y)
        costs = dict(little_gmacs=d.costs[0], big_gmacs=d.costs[1]) if d.costs else {}
        r = _th.evaluate_thresholds(d.conf, d.little_correct, d.big_correct, [self.threshold_],
                                    missing="big", **costs).iloc[0]
        return CascadeReport(
            threshold=self.threshold_, n=int(r["n"]), accuracy=float(r["accuracy"]) / 100,
            little_accuracy=float(r["little_accuracy"]) / 100,
            big_accuracy=float(r["big_accuracy"]) / 100,
            accuracy_loss=float(r["big_n_correct"] - r["n_correct"]) / float(r["n_valid"]),
            frac_big=float(r["frac_big"]),
            cost=float(r["gmacs"]) if d.costs else float("nan"),
            cost_reduction=float(r["macs_reduction"]) / 100 if d.costs else float("nan"))

    def curve(self, little, big, y=None) -> pd.DataFrame:
        """Every distinct threshold of the little model's scores on (little, big, y), tidy.

        Columns: threshold, n_big, frac_big, n_correct, accuracy, accuracy_loss (fractions),
        n, little_accuracy, big_accuracy, and cost, cost_reduction when costs are known. Does
        not need `fit`.
        """
        d = self._data(little, big, y)
        costs = dict(little_gmacs=d.costs[0], big_gmacs=d.costs[1]) if d.costs else {}
        t = _cascade.sweep_arrays(d.conf, d.little_correct, d.big_correct, **costs)
        n = t["n"]
        out = pd.DataFrame({
            "threshold": t["threshold"], "n_big": t["n_big"], "frac_big": t["frac_big"],
            "n_correct": t["n_correct"], "accuracy": t["n_correct"] / n,
            "accuracy_loss": (t["big_n_correct"] - t["n_correct"]) / n, "n": n,
            "little_accuracy": t["little_n_correct"] / n, "big_accuracy": t["big_n_correct"] / n})
        if d.costs:
            out["cost"] = t["gmacs"]
            out["cost_reduction"] = t["macs_reduction"] / 100
        return out
