"""Which pair a chapter shows: the "meaningful pair" rule and notebook parameter validation.

A pair whose big model is barely more accurate than its little model says nothing about
cascades (mixnet_m -> resnet101: 0.12 points apart, 0.9 % of images escalated, "94.8 % fewer
MACs"). Headline numbers, default pairs and medians therefore use *meaningful* pairs: the big
model at least `min_gap` accuracy points (default 1) more accurate than the little one, not
degenerate, and with a no-loss operating point.

Works on the contract's pair table (`pairs_table`): accuracies, `macs_reduction` and the
gaps are fractions, as in that table (MIN_GAP = 0.01 is one accuracy point); messages print
points and percent.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from littlebig_utils.book.notebook import ParameterError

__all__ = ["MIN_GAP", "accuracy_gap", "meaningful_pairs", "headline_pair", "validate_pair",
           "resolve_pair", "choose_pair", "PairChoice", "ParameterError"]

MIN_GAP = 0.01  # one accuracy point, as a fraction


def accuracy_gap(pairs: pd.DataFrame) -> pd.Series:
    """big − little top-1 accuracy (a fraction) per row of the pair table."""
    return pairs["big_accuracy"] - pairs["little_accuracy"]


def meaningful_pairs(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> pd.DataFrame:
    """Rows whose big model is at least `min_gap` (a fraction) more accurate than the little model,
    not degenerate and with an operating point (non-NaN MACs reduction); sorted best first
    (largest MACs reduction, then higher cascade accuracy, then names)."""
    if not np.isfinite(min_gap) or min_gap < 0:
        raise ValueError(f"min_gap is a non-negative fraction of accuracy (0.01 = one point), "
                         f"got {min_gap!r}")
    ok = ((accuracy_gap(pairs) >= min_gap) & ~pairs["degenerate"].astype(bool)
          & pairs["macs_reduction"].notna() & (pairs["little_gmacs"] < pairs["big_gmacs"]))
    out = pairs[ok].assign(accuracy_gap=accuracy_gap(pairs)[ok])
    return out.sort_values(["macs_reduction", "accuracy", "little", "big"],
                           ascending=[False, False, True, True], kind="stable").reset_index(drop=True)


def headline_pair(pairs: pd.DataFrame, min_gap: float = MIN_GAP) -> pd.Series:
    """The meaningful pair with the largest MACs reduction at no accuracy loss."""
    ok = meaningful_pairs(pairs, min_gap)
    if ok.empty:
        raise ParameterError(f"no pair has a big model at least {100 * min_gap:g} points more accurate "
                             "than its little model with a no-loss threshold: lower min_gap")
    return ok.iloc[0]


def _names_gmacs(pairs: pd.DataFrame) -> dict[str, float]:
    g = dict(zip(pairs["little"], pairs["little_gmacs"]))
    g.update(zip(pairs["big"], pairs["big_gmacs"]))
    return g


def _names_accuracy(pairs: pd.DataFrame) -> dict[str, float]:
    a = dict(zip(pairs["little"], pairs["little_accuracy"]))
    a.update(zip(pairs["big"], pairs["big_accuracy"]))
    return a


def _check_name(role: str, name, known) -> str:
    if not isinstance(name, str) or name not in known:
        close = difflib.get_close_matches(str(name), sorted(known), n=3, cutoff=0.5)
        hint = (f"did you mean {' or '.join(close)}?" if close
                else f"known models: {', '.join(sorted(known))}")
        raise ParameterError(f"unknown {role} model {name!r}: {hint}")
    return name


def validate_pair(little, big, known_names, gmacs: dict[str, float],
                  accuracy: dict[str, float] | None = None, min_gap: float = MIN_GAP) -> str | None:
    """Refuse a pair a chapter cannot be about, with one line (`ParameterError`): an unknown
    name (with close matches), little == big, a little model that is not cheaper than the big one.

    Returns a warning (markdown, for the top of the chapter) when the pair runs but its numbers
    say little about cascades: the little model is at least as accurate as the big one
    (degenerate: T = 0 is already "no loss"), or the gap is below `min_gap` points; else None.
    `accuracy` (a fraction, per name) enables those warnings.
    """
    known = set(known_names)
    little = _check_name("little", little, known)
    big = _check_name("big", big, known)
    if little == big:
        raise ParameterError(f"little and big are the same model ({little!r}): choose two models")
    gl, gb = float(gmacs[little]), float(gmacs[big])
    if not gl < gb:
        raise ParameterError(f"little model {little} ({gl:.2f} GMACs) is not cheaper than big model "
                             f"{big} ({gb:.2f} GMACs): swap them (-p little {big} -p big {little})")
    if accuracy is None:
        return None
    al, ab = float(accuracy[little]), float(accuracy[big])
    if al >= ab:
        return (f"**Degenerate pair:** the little model {little} ({100 * al:.2f} %) is at least as "
                f"accurate as the big model {big} ({100 * ab:.2f} %), so the little model alone already "
                "has no accuracy loss; this chapter's numbers say nothing about cascades.")
    if ab - al < min_gap:
        return (f"**Near-degenerate pair:** the big model {big} is only {100 * (ab - al):.2f} points "
                f"more accurate than the little model {little} (the book's headline pairs differ by "
                f"at least {100 * min_gap:g}); few images are escalated and the MACs reduction is mostly "
                "the little model's.")
    return None


def resolve_pair(little=None, big=None, pairs: pd.DataFrame | None = None,
                 min_gap: float = MIN_GAP) -> tuple[str, str]:
    """Complete a partly given pair: neither -> the headline pair; only `little` -> its best
    big model (largest MACs reduction among meaningful pairs, else among pairs with an
    operating point, else the most accurate costlier model); only `big` -> likewise its best
    little model; both -> unchanged. Names are checked (one-line `ParameterError`)."""
    if pairs is None:
        raise ValueError("resolve_pair needs the pair table")
    known = set(_names_gmacs(pairs))
    if little is None and big is None:
        row = headline_pair(pairs, min_gap)
        return str(row["little"]), str(row["big"])
    if little is not None and big is not None:
        return _check_name("little", little, known), _check_name("big", big, known)
    role, name, other = ("little", little, "big") if big is None else ("big", big, "little")
    _check_name(role, name, known)
    rows = pairs[pairs[role] == name]
    if rows.empty:
        side = "cheaper" if role == "big" else "costlier"
        raise ParameterError(f"no model is {side} than {role} model {name!r}: "
                             f"give -p {other} explicitly")
    for cand in (meaningful_pairs(rows, min_gap),
                 rows[rows["macs_reduction"].notna()].sort_values("macs_reduction", ascending=False,
                                                                  kind="stable")):
        if not cand.empty:
            return str(cand.iloc[0]["little"]), str(cand.iloc[0]["big"])
    best = rows.sort_values(["big_accuracy" if role == "little" else "little_accuracy", other],
                            ascending=[False, True], kind="stable").iloc[0]
    return str(best["little"]), str(best["big"])


@dataclass(frozen=True)
class PairChoice:
    little: str
    big: str
    warning: str | None  # markdown to show at the top of the chapter, or None
    row: pd.Series       # the pair's row of the pair table


def choose_pair(little=None, big=None, pairs: pd.DataFrame | None = None,
                min_gap: float = MIN_GAP) -> PairChoice:
    """`resolve_pair` then `validate_pair`: what a chapter's first code cell calls with its
    `little` / `big` parameters (either may be None)."""
    gmacs = _names_gmacs(pairs)
    if little is not None and big is not None:  # refuse reversed / equal pairs before lookup
        validate_pair(little, big, gmacs, gmacs)
    little, big = resolve_pair(little, big, pairs, min_gap)
    warning = validate_pair(little, big, gmacs, gmacs, _names_accuracy(pairs), min_gap)
    row = pairs[(pairs["little"] == little) & (pairs["big"] == big)].iloc[0]
    return PairChoice(little, big, warning, row)
