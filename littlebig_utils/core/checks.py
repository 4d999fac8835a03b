"""One validator per quantity: every public function of the core checks its inputs here, once.

Each validator returns the value in the form the core computes with (a float, a float64 or
bool array) or raises `InputError` (a ValueError) with one line that names the field, what
was found and what to pass instead. Nothing here guesses: a float label is refused rather
than truncated, a probability-or-logit array is refused rather than softmaxed "just in case",
and a `max_loss` that reads as accuracy points is refused rather than taken as a fraction.

Units: fractions everywhere (accuracy 0.7577, max_loss 0.005 = half an accuracy point).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from littlebig_utils.core import names as _names

__all__ = ["InputError", "MAX_LOSS_LIMIT", "check_conf", "check_correct", "check_labels",
           "check_threshold", "check_cost", "check_costs", "check_max_loss", "check_delta",
           "check_calib_frac", "check_seed", "check_choice", "check_probabilities",
           "check_scores_2d", "INPUT_KINDS"]

#: the largest max_loss accepted (a fraction): 0.1 = 10 accuracy points. Above it a value is far
#: more likely meant in points (max_loss=0.5 for half a point) than as a loss of 50 points, and
#: a cascade allowed to lose that much defers nothing: refused with both readings shown.
MAX_LOSS_LIMIT = 0.1

#: how an (n, C) array of model outputs is read: see `check_scores_2d`
INPUT_KINDS = ("auto", "probs", "logits")

# rows of probabilities sum to 1 within float rounding (float32 softmax: ~1e-7 per row for
# C up to a few thousand); rounded probabilities (4 decimals: up to ~3e-4) are NOT accepted as
# "probabilities" by inputs="auto": they are ambiguous and refused (see check_scores_2d)
_SUM_ATOL = 1e-5


class InputError(ValueError):
    """An input the core cannot use as given; the message says which field and the fix."""


def _float(value, what: str, expect: str) -> float:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)):
        raise InputError(f"{what} must be {expect}, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be {expect}, got {value!r}") from None
    if not math.isfinite(x):
        raise InputError(f"{what} must be {expect}, got {value!r}")
    return x


def _array(values, what: str) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be an array of numbers ({exc})") from None
    if arr.dtype == object:
        raise InputError(f"{what} must be an array of numbers, got mixed or ragged values")
    return arr


def _length(arr: np.ndarray, what: str, n: int | None) -> None:
    if arr.ndim != 1:
        raise InputError(f"{what} must be 1-d (one value per sample), got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise InputError(f"{what} has {len(arr)} values, expected {n} (one per sample)")


def check_conf(conf, what: str = "conf", n: int | None = None) -> np.ndarray:
    """Confidences (or keep-scores): 1-d, finite, in [0, 1] (max softmax, not logits)."""
    arr = _array(conf, what)
    if arr.dtype.kind not in "iufb":
        raise InputError(f"{what} must hold numbers in [0, 1], got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    _length(arr, what, n)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(f"{int(bad.sum())} of {len(arr)} {what} values are NaN or infinite")
    if len(arr) and (arr.min() < 0 or arr.max() > 1):
        raise InputError(f"{what} must lie in [0, 1] (max softmax probabilities, not logits), "
                         f"found [{arr.min():.4g}, {arr.max():.4g}]")
    return arr


def check_correct(values, what: str, n: int | None = None) -> np.ndarray:
    """A correctness (or mask) vector: booleans, or numbers all exactly 0 or 1."""
    arr = _array(values, what)
    _length(arr, what, n)
    if arr.dtype != bool:
        if arr.dtype.kind not in "iuf" or not np.isin(arr, (0, 1)).all():
            raise InputError(f"{what} must be booleans (or 0/1), got dtype {arr.dtype} with "
                             "other values; pass preds == labels")
        arr = arr.astype(bool)
    return arr


def check_labels(values, what: str = "labels", n: int | None = None,
                 n_classes: int | None = None) -> np.ndarray:
    """Class indices: integers >= 0 (and < n_classes when known), as int64.

    Floats are accepted only when every value is an exact integer (1.0, not 1.7: never
    truncated); -1, NaN, strings and booleans are refused with the field's name.
    """
    arr = _array(values, what)
    _length(arr, what, n)
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InputError(f"{what} must be integer class indices, found {int(bad.sum())} "
                             "NaN or infinite values")
        frac = arr != np.round(arr)
        if frac.any():
            raise InputError(f"{what} must be integer class indices, found non-integer values "
                             f"such as {float(arr[np.argmax(frac)]):g} (never truncated: round or fix them)")
    elif arr.dtype.kind not in "iu":
        raise InputError(f"{what} must be integer class indices, got dtype {arr.dtype} "
                         f"(e.g. {arr.ravel()[:2].tolist()}); map class names to 0..C-1 first")
    out = arr.astype(np.int64)
    if len(out) and out.min() < 0:
        raise InputError(f"{what} must be class indices >= 0, found {out.min()} (a -1 "
                         "'unknown' label is not a class: drop those samples or mask them)")
    if n_classes is not None and len(out) and out.max() >= n_classes:
        raise InputError(f"{what} must lie in [0, {n_classes}) (the models have {n_classes} "
                         f"classes), found {out.max()}")
    return out


def check_threshold(threshold, what: str = "threshold") -> float:
    """A threshold is compared with a probability: a number in [0, 1]."""
    t = _float(threshold, what, "a number in [0, 1]")
    if not 0.0 <= t <= 1.0:
        raise InputError(f"{what} must lie in [0, 1] (it is compared with a max-softmax "
                         f"probability), got {threshold!r}")
    return t


def check_cost(value, what: str = "cost") -> float:
    """A cost per sample (e.g. GMACs): a finite positive number."""
    g = _float(value, what, "a finite positive number (cost per sample, e.g. GMACs)")
    if g <= 0:
        raise InputError(f"{what} must be a finite positive number, got {value!r}; give the "
                         "model's cost per sample (e.g. GMACs)")
    return g


def check_costs(costs, what: str = "costs") -> tuple[float, float] | None:
    """(little_cost, big_cost), or None."""
    if costs is None:
        return None
    if isinstance(costs, (str, bytes)) or not hasattr(costs, "__len__") or len(costs) != 2:
        raise InputError(f"{what} must be a pair (little_cost, big_cost), e.g. (0.6, 4.1), "
                         f"got {costs!r}")
    return check_cost(costs[0], f"little cost of {what}"), check_cost(costs[1], f"big cost of {what}")


def check_max_loss(value, what: str = "max_loss") -> float:
    """Tolerated accuracy loss against the big model, a FRACTION in [0, MAX_LOSS_LIMIT].

    0.005 is half an accuracy point. A value above MAX_LOSS_LIMIT (10 points) is refused with
    both readings, since it is almost always meant in points (0.5 for half a point).
    """
    e = _float(value, what, "a fraction of accuracy (0.005 = half a point)")
    if e < 0:
        raise InputError(f"{what} must be >= 0 (a fraction of accuracy), got {value!r}")
    if e > MAX_LOSS_LIMIT:
        raise InputError(f"{what}={e:g} is refused: as a fraction it means {100 * e:g} "
                         f"accuracy points; if you meant {e:g} points pass {e / 100:g} "
                         f"(fractions up to {MAX_LOSS_LIMIT:g} are accepted)")
    return e


def check_delta(delta, what: str = "delta") -> float:
    """The risk level: the probability that a guarantee fails, strictly in (0, 1)."""
    d = _float(delta, what, "a probability in (0, 1)")
    if not 0.0 < d < 1.0:
        raise InputError(f"{what} is the probability that the guarantee fails and must lie "
                         f"strictly between 0 and 1, got {delta!r}")
    return d


def check_calib_frac(calib_frac, what: str = "calib_frac") -> float:
    """The calibration share of a split: strictly between 0 and 1."""
    f = _float(calib_frac, what, "a number in (0, 1)")
    if not 0.0 < f < 1.0:
        raise InputError(f"{what} must lie strictly between 0 and 1, got {calib_frac!r}")
    return f


def check_seed(seed, what: str = "seed") -> int:
    """A random seed: an integer >= 0 (numpy refuses negative seeds with its own message)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        if isinstance(seed, float) and seed.is_integer():
            seed = int(seed)
        else:
            raise InputError(f"{what} must be an integer >= 0, got {seed!r}")
    if seed < 0:
        raise InputError(f"{what} must be an integer >= 0, got {seed}")
    return int(seed)


def check_choice(value, choices, what: str) -> str:
    """One of a registry's names (a string; a list such as ["wsr"] is refused by name)."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")
    return value


def check_method(method) -> str:
    """A Learn-then-Test method name (core/names.py METHODS)."""
    return check_choice(method, _names.METHODS, "method")


__all__.append("check_method")


def check_scores_2d(values, what: str = "scores", inputs: str = "auto") -> tuple[np.ndarray, str]:
    """An (n, C) array of model outputs, finite, C >= 2, and how to read it.

    Returns (float64 array, kind) with kind "probs" or "logits". `inputs` says which it is;
    "auto" decides only the unambiguous cases: every value in [0, 1] and every row summing to
    1 within float rounding -> probabilities; any value below 0 or above 1 -> logits. Anything
    else (values in [0, 1] whose rows do not sum to 1, e.g. probabilities rounded to 4 decimals)
    is refused: it could be either, and softmaxing probabilities again silently changes every
    threshold. With inputs="probs", rows must be non-negative and sum to 1 within 1e-3.
    """
    check_choice(inputs, INPUT_KINDS, "inputs")
    x = _array(values, what)
    if x.dtype.kind not in "iuf":
        raise InputError(f"{what} must be numbers (logits or probabilities), got dtype {x.dtype}")
    x = x.astype(np.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise InputError(f"{what} must be 2-D (samples, classes >= 2), got shape {x.shape}")
    bad = ~np.isfinite(x)
    if bad.any():
        raise InputError(f"{what}: {int(bad.sum())} values are NaN or infinite")
    if inputs == "logits":
        return x, "logits"
    in_unit = not x.size or (x.min() >= 0 and x.max() <= 1)
    dev = float(np.abs(x.sum(axis=1) - 1).max()) if len(x) else 0.0
    if inputs == "probs":
        if not in_unit or dev > 1e-3:
            raise InputError(f"{what}: inputs='probs' needs rows of non-negative values summing "
                             f"to 1 (found a row sum off by {dev:.2g}); pass inputs='logits' "
                             "for logits")
        return x, "probs"
    if not in_unit:
        return x, "logits"
    if dev <= _SUM_ATOL:
        return x, "probs"
    raise InputError(f"{what}: cannot tell probabilities from logits (values in [0, 1], rows "
                     f"summing to 1 only within {dev:.2g}, e.g. rounded probabilities); pass "
                     "inputs='probs' or inputs='logits'")


def check_probabilities(values, what: str = "probs") -> np.ndarray:
    """(n, C) probabilities (rows non-negative, summing to 1 within 1e-3)."""
    return check_scores_2d(values, what, inputs="probs")[0]
