"""One verdict per claim, from a fixed vocabulary, computed from numbers where a rule exists.

A chapter must not open with "Claim reproduced." whatever the outcome: its verdict is one of
the labels below, with the reason in one sentence, and the rule functions derive the label
from the chapter's own numbers (a reported range, an accuracy difference with its confidence
interval) so that a re-run with other parameters cannot keep a verdict its numbers contradict.

Vocabulary. The papers' claims: Reproduced, Partly reproduced, Not reproduced, Inconclusive (an
interval that contains both outcomes: the data cannot decide), Not testable here. The book's own
methods (no paper claims them): Verified (ours), Not verified (ours) -- never a reproduction
label; Inconclusive and Not testable here apply to them too. The claims registry
(`littlebig_utils.book.claims`) binds each claim to its rule; `Verdict.markdown` renders the
admonition that every page shows, marked with the claim id for the browser check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["REPRODUCED", "PARTLY", "NOT_REPRODUCED", "INCONCLUSIVE", "NOT_TESTABLE", "VERIFIED",
           "NOT_VERIFIED", "PAPER_LABELS", "OWN_LABELS", "LABELS", "Verdict", "label_slug", "claim_class",
           "verdict_range", "verdict_no_loss", "verdict_not_testable"]

REPRODUCED = "Reproduced"
PARTLY = "Partly reproduced"
NOT_REPRODUCED = "Not reproduced"
INCONCLUSIVE = "Inconclusive"
NOT_TESTABLE = "Not testable here"
VERIFIED = "Verified (ours)"
NOT_VERIFIED = "Not verified (ours)"
# a paper's claim gets one of PAPER_LABELS; the book's own methods one of OWN_LABELS
PAPER_LABELS = (REPRODUCED, PARTLY, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE)
OWN_LABELS = (VERIFIED, NOT_VERIFIED, INCONCLUSIVE, NOT_TESTABLE)
LABELS = PAPER_LABELS + (VERIFIED, NOT_VERIFIED)

# MyST admonition class per label (sphinx-book-theme colours them differently)
_ADMONITION = {REPRODUCED: "tip", PARTLY: "important", NOT_REPRODUCED: "warning",
               INCONCLUSIVE: "caution", NOT_TESTABLE: "note", VERIFIED: "hint",
               NOT_VERIFIED: "error"}


def label_slug(label: str) -> str:
    """The label as a CSS class suffix: "Verified (ours)" -> "verified-ours" (the page marks
    every verdict with ``verdict-<slug>``; tests/browser_check.py reads it back)."""
    if label not in LABELS:
        raise ValueError(f"verdict label must be one of {', '.join(LABELS)}; got {label!r}")
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def claim_class(claim_id: str) -> str:
    """The CSS class that marks a verdict of claim `claim_id` on a page (``claim-<id>``)."""
    return "claim-" + claim_id


@dataclass(frozen=True)
class Verdict:
    """A label from `LABELS` and the reason, one sentence a reader can check against the page;
    `claim_id` (a key of `claims.CLAIMS`) marks the rendered admonition with its claim."""
    label: str
    reason: str
    claim_id: str | None = None

    def __post_init__(self):
        if self.label not in LABELS:
            raise ValueError(f"verdict label must be one of {', '.join(LABELS)}; got {self.label!r}")
        if not str(self.reason).strip():
            raise ValueError("a verdict needs its reason (one sentence)")

    def markdown(self, claim: str | None = None, footer: str | None = None) -> str:
        """A titled MyST admonition (```{admonition} Verdict: X``` with the label's colour as its
        class; tip/important/note/warning directives take no title) for `glue` with
        `IPython.display.Markdown`; `claim` is the paper's claim quoted above the reason,
        `footer` a last paragraph (e.g. where the claim is decided). Its classes mark it for the
        reader's stylesheet and the browser check: ``lb-verdict verdict-<label slug>`` and, with
        a `claim_id`, ``claim-<id>``."""
        reason = self.reason.strip()
        body = reason[:1].upper() + reason[1:]
        if claim:
            body = f"*Claim:* {claim.strip()}\n\n{body}"
        if footer:
            body = f"{body}\n\n{footer.strip()}"
        classes = [_ADMONITION[self.label], "lb-verdict", "verdict-" + label_slug(self.label)]
        if self.claim_id:
            classes.append(claim_class(self.claim_id))
        return (f"```{{admonition}} Verdict: {self.label}\n:class: {' '.join(classes)}\n\n"
                f"{body}\n```\n")

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


def _finite(*values) -> bool:
    return all(v is not None and math.isfinite(float(v)) for v in values)


def verdict_range(value, reported_lo, reported_hi, *, value_lo=None, value_hi=None,
                  what: str = "the value", unit: str = "", fmt: str = ".1f") -> Verdict:
    """Our number (or our range value_lo..value_hi, e.g. min..max over pairs or a CI) against
    the paper's reported range [reported_lo, reported_hi].

    Our range inside the reported one -> Reproduced; overlapping it in part -> Partly
    reproduced; disjoint -> Not reproduced; no number (None/NaN) -> Not testable here.
    Without value_lo/value_hi our range is the single `value`.
    """
    lo = value if value_lo is None else value_lo
    hi = value if value_hi is None else value_hi
    if not _finite(reported_lo, reported_hi):
        return Verdict(NOT_TESTABLE, f"the paper's number for {what} is not in our sources.")
    if not _finite(lo, hi):
        return Verdict(NOT_TESTABLE, f"{what} cannot be computed from the data available here.")
    lo, hi = sorted((float(lo), float(hi)))
    rlo, rhi = sorted((float(reported_lo), float(reported_hi)))

    def f(x):
        return f"{x:{fmt}}{unit}"
    ours = f(lo) if lo == hi else f"{f(lo)}–{f(hi)}"
    theirs = f(rlo) if rlo == rhi else f"{f(rlo)}–{f(rhi)}"
    if rlo <= lo and hi <= rhi:
        return Verdict(REPRODUCED, f"{what} is {ours} here, inside the paper's reported {theirs}.")
    if hi < rlo or lo > rhi:
        side = "below" if hi < rlo else "above"
        return Verdict(NOT_REPRODUCED, f"{what} is {ours} here, {side} the paper's reported {theirs}.")
    return Verdict(PARTLY, f"{what} is {ours} here, only partly inside the paper's reported {theirs}.")


def verdict_no_loss(diff, ci_lo=None, ci_hi=None, *, tolerance: float = 0.0, what: str = "the cascade",
                    unit: str = " points", fmt: str = ".2f") -> Verdict:
    """"No accuracy loss" from an accuracy difference cascade − big (the book's one sign
    convention; negative = the cascade is worse) and its confidence interval.

    Reproduced when the whole interval is at or above -tolerance; Not reproduced when the whole
    interval is below it (a loss the data resolve); Partly reproduced when the interval straddles
    it (the point estimate alone cannot settle it); Not testable here without a number.

    Kept as it was for the chapters that call it today (studies.status maps its four labels);
    the claims registry (`littlebig_utils.book.claims`) gives a straddling interval the label
    Inconclusive, and replaces this function once the chapters record their claims there.
    """
    lo = diff if ci_lo is None else ci_lo
    hi = diff if ci_hi is None else ci_hi
    if not _finite(diff, lo, hi):
        return Verdict(NOT_TESTABLE, f"no accuracy difference for {what} can be computed here.")
    diff, lo, hi = float(diff), *sorted((float(lo), float(hi)))
    if not lo <= diff <= hi:
        raise ValueError(f"difference {diff} lies outside its interval [{lo}, {hi}]")
    bound = -abs(float(tolerance))
    interval = "" if lo == hi else f" (95 % CI {lo:+{fmt}} to {hi:+{fmt}})"
    text = f"{what} minus the big model is {diff:+{fmt}}{unit}{interval}"
    allowed = "no loss" if bound == 0 else f"a loss of at most {abs(bound):{fmt}}{unit}"
    if lo >= bound:
        return Verdict(REPRODUCED, f"{text}: {allowed}.")
    if hi < bound:
        return Verdict(NOT_REPRODUCED, f"{text}: a loss beyond {allowed.replace('no loss', 'zero')}.")
    return Verdict(PARTLY, f"{text}: the interval includes both {allowed} and a larger loss.")


def verdict_not_testable(reason: str) -> Verdict:
    """Shortcut when the claim cannot be checked with the data here (say why)."""
    return Verdict(NOT_TESTABLE, reason)
