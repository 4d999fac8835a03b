"""Confidence scores from full logits, each mapped to [0, 1] (higher = more sure).

The Little-Big rule escalates a sample when the little model's confidence is below T. Max
softmax is the papers' choice; these are the usual alternatives, computed from the same
logits so that the cascade can be swept on any of them:

- ``max_softmax``: largest class probability.
- ``margin``: largest minus second-largest probability (how far the runner-up is).
- ``neg_entropy``: 1 - H(p) / log K (1 for a one-hot distribution, 0 for the uniform one).
- ``temperature-scaled softmax``: max softmax of logits / T, with T fitted by minimum NLL on a
  calibration split (Guo et al. 2017); T changes the order of confidences across samples,
  not the predicted classes.
"""
from __future__ import annotations

import numpy as np

from littlebig_utils.core import names as _names
from littlebig_utils.core.checks import (InputError, check_correct, check_probabilities,
                                         check_scores_2d)
from littlebig_utils.core.engine import curve_area, deferral_curve

__all__ = ["softmax", "logits_and_probabilities", "max_softmax", "margin", "neg_entropy",
           "fit_temperature", "temperature_softmax", "SCORES", "score", "oracle_score",
           "confidence_score", "LearnedDeferral", "KINDS", "C_GRID"]


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax in float64 (stable: the row maximum is subtracted first)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    if z.ndim != 2:
        raise InputError(f"logits must be 2-D (samples, classes), got shape {z.shape}")
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def logits_and_probabilities(values, what: str = "scores",
                             inputs: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(logits, probabilities) of an (n, C) array of either; which one it is comes from
    `inputs` ("probs", "logits", or "auto": only unambiguous arrays, see
    `checks.check_scores_2d`). Probabilities give log-probabilities as logits (the same
    softmax); logits are softmaxed. Never guessed from a tolerance."""
    x, kind = check_scores_2d(values, what, inputs)
    if kind == "probs":
        with np.errstate(divide="ignore"):
            return np.log(np.clip(x, 1e-300, None)), x
    return x, softmax(x)


def max_softmax(logits, temperature: float = 1.0) -> np.ndarray:
    return softmax(logits, temperature).max(axis=1)


def margin(logits) -> np.ndarray:
    p = np.sort(softmax(logits), axis=1)
    return p[:, -1] - p[:, -2]


def neg_entropy(logits) -> np.ndarray:
    p = softmax(logits)
    k = p.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return np.clip(1.0 - h / np.log(k), 0.0, 1.0)


def _nll(logits, labels, temperature: float) -> float:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def fit_temperature(logits, labels, bounds=(0.05, 20.0)) -> float:
    """Temperature minimising the negative log-likelihood of `labels` (a 1-D search in log T)."""
    from scipy.optimize import minimize_scalar
    labels = np.asarray(labels, dtype=np.int64)
    logits = np.asarray(logits, dtype=np.float64)
    if len(labels) != len(logits) or len(labels) == 0:
        raise InputError("fit_temperature needs as many labels as logit rows (and at least one)")
    res = minimize_scalar(lambda lt: _nll(logits, labels, float(np.exp(lt))),
                          bounds=np.log(bounds), method="bounded", options={"xatol": 1e-5})
    return float(np.exp(res.x))


def temperature_softmax(logits, temperature: float) -> np.ndarray:
    if not temperature > 0:
        raise InputError(f"temperature must be positive, got {temperature}")
    return max_softmax(logits, temperature)


#: name -> score function of logits, keyed by core/names.py SCORES
SCORES = {"max_softmax": max_softmax, "margin": margin, "neg_entropy": neg_entropy}
assert tuple(SCORES) == _names.SCORES


def score(name: str, logits, temperature: float | None = None) -> np.ndarray:
    """A score by name; 'temperature' needs the fitted `temperature`."""
    if name == "temperature":
        if temperature is None:
            raise InputError("score 'temperature' needs temperature= (see fit_temperature)")
        return temperature_softmax(logits, temperature)
    if not isinstance(name, str) or name not in SCORES:
        raise InputError(f"unknown confidence score '{name}'; known: "
                         f"{', '.join(list(SCORES) + ['temperature'])}")
    return SCORES[name](logits)


# ------------------------------------------------------------------ learned deferral scores
# Jitkrittum, Gupta, Menon, Narasimhan, Rawat, Kumar, "When Does Confidence-Based Cascade
# Deferral Suffice?", NeurIPS 2023 (arXiv 2307.02764). Every rule is a *keep-score* in [0, 1]:
# higher = keep the little model's answer, and a sample goes to big when ``score < T``, exactly
# like the confidence rule, so a learned score plugs into every threshold procedure (sweeps,
# Learn-then-Test, WSR). The oracle (needs the labels) bounds every rule at every budget; the
# post-hoc rules estimate P(little right | x) - P(big right | x) from the little model's output:
# "per-class" from (confidence, predicted class), "probs" from the whole probability vector,
# each with two L2-penalised logistic regressions; keep-score = (1 + P(little) - P(big)) / 2.

KINDS = ("per-class", "probs")


def oracle_score(little_correct, big_correct) -> np.ndarray:
    """Keep-score of the oracle: 0 where only big is right, 1 where only little is, 1/2 else."""
    lc = check_correct(little_correct, "little_correct")
    bc = check_correct(big_correct, "big_correct", len(lc))
    return (1.0 + lc - bc.astype(np.float64)) / 2


def confidence_score(probs) -> np.ndarray:
    """Max softmax probability of the little model."""
    return check_probabilities(probs).max(axis=1)


# ------------------------------------------------------------------ learned rules

def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


#: the inverse regularisation strengths that ``C="auto"`` chooses from
C_GRID = (0.003, 0.03, 0.3, 3.0)


def _keep(models, X):
    """(1 + P(little right) - P(big right)) / 2 from the two fitted models."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1):
        p = [np.full(X.shape[0], m) if isinstance(m, float) else m.predict_proba(X)[:, 1]
             for m in models]
    return (1.0 + p[0] - p[1]) / 2


class LearnedDeferral:
    """A post-hoc deferral rule fitted on a calibration split; ``rule(probs)`` -> keep-score.

    ``LearnedDeferral("per-class", num_classes=1000)`` needs only (conf, predicted class), so
    it can be fitted from the reference files, which carry no probability vectors:
    ``fit_conf_pred(conf, pred, little_correct, big_correct)``. ``"probs"`` needs the full
    probability vector: ``fit(probs, little_correct, big_correct)``. `C` is the inverse L2
    strength of scikit-learn's LogisticRegression; ``C="auto"`` picks it from :data:`C_GRID`
    by 2-fold cross-validation *within the calibration split* (largest area under the deferral
    curve), so the test split is never used to tune the rule. The chosen value is in `C_`.
    """

    def __init__(self, kind: str = "per-class", num_classes: int | None = None, C="auto",
                 seed: int = 0):
        if kind not in KINDS:
            raise InputError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
        if C != "auto" and not (isinstance(C, (int, float)) and C > 0):
            raise InputError(f"C must be a positive number or 'auto', got {C!r}")
        self.kind, self.num_classes, self.C, self.seed = kind, num_classes, C, seed
        self.models_ = None
        self.C_ = None

    # features ------------------------------------------------------------
    def _features_conf_pred(self, conf, pred):
        from scipy import sparse
        conf = np.asarray(conf, dtype=np.float64)
        pred = np.asarray(pred, dtype=np.int64)
        k = self.num_classes
        if k is None or pred.size and (pred.min() < 0 or pred.max() >= k):
            raise InputError(f"predicted classes must lie in [0, num_classes={k})")
        onehot = sparse.csr_matrix((np.ones(len(pred)), (np.arange(len(pred)), pred)),
                                   shape=(len(pred), k))
        return sparse.hstack([sparse.csr_matrix(_logit(conf)[:, None]), onehot]).tocsr()

    def _features(self, probs):
        p = check_probabilities(probs)
        if self.kind == "per-class":
            if self.num_classes is None:
                self.num_classes = p.shape[1]
            return self._features_conf_pred(p.max(1), p.argmax(1))
        logp = np.log(np.clip(p, 1e-12, 1))
        top = -np.sort(-p, axis=1)[:, :3]
        entropy = -(p * logp).sum(1, keepdims=True)
        pred = np.eye(p.shape[1])[p.argmax(1)]
        return np.hstack([logp, _logit(top), entropy, pred])

    # fitting -------------------------------------------------------------
    @staticmethod
    def _models(X, lc, bc, C, seed):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from threadpoolctl import threadpool_limits
        models = []
        for y in (lc, bc):
            if y.all() or not y.any():  # one class only: a constant probability
                models.append(float(y.mean()))
                continue
            # standardized features converge in a few dozen L-BFGS steps; one BLAS thread
            # avoids oversubscribing a busy machine (small problems gain nothing from threads)
            # (the sparse per-class design is left as it is: one-hot columns, one logit)
            m = LogisticRegression(C=C, max_iter=2000, random_state=seed)
            if not hasattr(X, "tocsr"):
                m = make_pipeline(StandardScaler(), m)
            with threadpool_limits(1):
                models.append(m.fit(X, y))
        return models

    def _fit(self, X, little_correct, big_correct):
        lc = check_correct(little_correct, "little_correct")
        bc = check_correct(big_correct, "big_correct", len(lc))
        if X.shape[0] != len(lc):
            raise InputError(f"{X.shape[0]} feature rows for {len(lc)} samples: one row per sample")
        if len(lc) == 0:
            raise InputError("cannot fit a deferral rule on an empty calibration split")
        C = self.C
        if C == "auto":
            folds = np.random.default_rng(self.seed).permutation(len(lc)) % 2
            areas = []
            for c in C_GRID:
                area = 0.0
                for f in (0, 1):
                    tr, te = folds != f, folds == f
                    models = self._models(X[tr], lc[tr], bc[tr], c, self.seed)
                    area += curve_area(deferral_curve(_keep(models, X[te]), lc[te], bc[te]))
                areas.append(area)
            C = C_GRID[int(np.argmax(areas))]
        self.C_ = C
        self.models_ = self._models(X, lc, bc, C, self.seed)
        return self

    def fit(self, probs, little_correct, big_correct) -> "LearnedDeferral":
        """Fit on the little model's probabilities of a calibration split."""
        return self._fit(self._features(probs), little_correct, big_correct)

    def fit_conf_pred(self, conf, pred, little_correct, big_correct) -> "LearnedDeferral":
        """Fit the per-class rule from confidences and predicted classes alone."""
        if self.kind != "per-class":
            raise InputError("fit_conf_pred is for kind='per-class'; use fit(probs, ...)")
        return self._fit(self._features_conf_pred(conf, pred), little_correct, big_correct)

    # scoring -------------------------------------------------------------
    def _score(self, X):
        if self.models_ is None:
            raise RuntimeError("fit the rule on a calibration split first")
        return _keep(self.models_, X)

    def score(self, probs) -> np.ndarray:
        """Keep-score in [0, 1] for new samples: (1 + P(little right) - P(big right)) / 2."""
        return self._score(self._features(probs))

    def score_conf_pred(self, conf, pred) -> np.ndarray:
        return self._score(self._features_conf_pred(conf, pred))

    __call__ = score
