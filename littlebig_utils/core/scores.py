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
from littlebig_utils.core.checks import InputError, check_scores_2d

__all__ = ["softmax", "logits_and_probabilities", "max_softmax", "margin", "neg_entropy",
           "fit_temperature", "temperature_softmax", "SCORES", "score"]


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
