"""The claims registry: every claim the book decides, once, with the rule that decides it.

Each claim of each paper (Little-Big, arXiv 2406.17117, and its authors' response to the ICLR
2025 reviews; Titans, arXiv 2110.10305; the prior work a chapter tests), each reviewer objection
the book answers, and each of the book's own methods is ONE entry of `CLAIMS` (id -> `Claim`):
its paper and source (figure, table, section), the paper's number (always shown as
*reported*), the statistic that decides it, the rule, and the chapter (notebook name) that
decides it. One claim, one statistic, one verdict, on every page.

In the ONE chapter that decides a claim::

    from littlebig_utils.book import claims
    res = claims.record("lb-heldout", smoke=smoke, loss_rate=0.54, heldout_reduction=0.865)
    glue("verdict_heldout", res, display=False)
    # markdown cell:  ```{glue:md} verdict_heldout
    #                 :format: myst
    #                 ```

`record` applies the claim's rule (`decide`), writes ``results/claims/<id>.json``
(``results/smoke/claims/<id>.json`` in smoke mode; fractions, as in every file) and returns a
`ClaimResult`. Its Markdown is the verdict admonition, with the claim, its source and reported
number, the reason computed from the numbers and the rule; the admonition carries the CSS
classes ``lb-verdict verdict-<label> claim-<id>`` (tests/browser_check.py checks that a claim
shows one verdict on every page). The result also carries its record as a JSON display item
(`MIME`): the landing page's scoreboard is built from the executed notebooks
(book/_ext/claims_scoreboard.py), so that it and the chapters come from the same run.

Any OTHER page that touches a claim links to the chapter that decides it, without a verdict of
its own: ``glue("claim_heldout", claims.reference("lb-heldout"), display=False)``.

Numbers are FRACTIONS (0.867 MACs reduction, -0.0104 accuracy difference); each `Statistic`
says how the page shows it (percent, accuracy points, a count, a ratio). A statistic with an
interval also takes ``<key>_lo`` and ``<key>_hi``: a confidence interval (or a range over
seeds) that lies across a rule's bound makes the claim Inconclusive; a spread over pairs or
models across it makes it Partly reproduced. ``None`` or NaN means "cannot be computed here"
(Not testable here); a missing or unknown keyword, or a number in percent, is an error.

The rule: each `Rule` of a claim holds, fails, holds in part (a spread across its bound) or is
open (an interval across it). All hold: Reproduced (ours: Verified (ours)). Some fail and none
holds: Not reproduced. Some hold or hold in part and some fail: Partly reproduced. Otherwise
(open ones, none failing): Inconclusive. For the book's own methods any failure is Not verified
(ours). A claim that nothing here can test has a fixed reason (`Claim.not_testable`).

`scoreboard()` reads the results files (or records) back into one table: claim, paper's
number, ours, verdict, chapter; a claim without a result shows ``NOT_COMPUTED``.
"""
from __future__ import annotations

import json
import math
import numbers as _numbers
import re
from dataclasses import dataclass
from pathlib import Path

from littlebig_utils._io import atomic_write, results_dir
from littlebig_utils.book import verdicts as _v
from littlebig_utils.book.verdicts import Verdict

__all__ = ["MIME", "NOT_COMPUTED", "Statistic", "Rule", "Claim", "ClaimResult", "CLAIMS", "get",
           "decide", "record", "reference", "claims_dir", "load_records", "records_from_notebooks",
           "scoreboard", "chapter_doc"]

MIME = "application/vnd.littlebig.claim+json"
NOT_COMPUTED = "not computed in this build"

_UNITS = ("%", "points", "count", "x")
_INTERVALS = {None: "", "ci": "95 % CI", "seeds": "range over seeds", "splits": "range over splits",
              "spread": "lowest to highest"}
_UNCERTAIN = ("ci", "seeds", "splits")  # an interval across a bound: the data cannot decide
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

HOLDS, PARTLY, FAILS, OPEN = "holds", "holds in part", "fails", "open"


# ------------------------------------------------------------------ statistics and rules

@dataclass(frozen=True)
class Statistic:
    """One number a claim is decided on: keyword `key`, what it is (`text`, for the reader),
    its `short` name for the scoreboard, how it is shown (`unit`: "%" and "points" are
    fractions shown x100, "count", "x" a ratio) and its interval, if any ("ci", "seeds",
    "splits": uncertainty; "spread": lowest to highest over pairs or models)."""
    key: str
    text: str
    unit: str
    interval: str | None = None
    short: str = ""

    def __post_init__(self):
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.key) or self.key.endswith(("_lo", "_hi")):
            raise ValueError(f"statistic key {self.key!r}: use snake_case without _lo/_hi")
        if self.unit not in _UNITS:
            raise ValueError(f"statistic {self.key}: unit must be one of {_UNITS}, got {self.unit!r}")
        if self.interval not in _INTERVALS:
            raise ValueError(f"statistic {self.key}: interval must be one of "
                             f"{[k for k in _INTERVALS if k]} or None, got {self.interval!r}")

    def fmt(self, x: float, sign: bool | None = None, unit: bool = True) -> str:
        """`x` as the page shows it: 0.867 -> "86.7 %", -0.0104 -> "−1.04 points" (accuracy
        points carry their sign unless `sign` is False; `unit=False` leaves the unit off)."""
        if self.unit == "%":
            text, tail = f"{100 * x:.1f}", " %"
        elif self.unit == "points":
            text, tail = f"{100 * x:{'+' if sign is not False else ''}.2f}", " points"
        elif self.unit == "count":
            text, tail = f"{x:,.0f}", ""
        else:
            text, tail = f"{x:.2f}", "x"
        return _minus(text + (tail if unit else ""))

    def describe(self, numbers: dict) -> str:
        """The value with its interval, e.g. "−1.04 points (95 % CI −1.96 to −0.11)"."""
        value = numbers.get(self.key)
        lo, hi = numbers.get(self.key + "_lo"), numbers.get(self.key + "_hi")
        if self.interval == "spread":
            span = (f"{self.fmt(lo, unit=False)} to {self.fmt(hi)}" if lo != hi else self.fmt(lo))
            return span if value is None else f"{self.fmt(value)} ({span})"
        if lo is None or hi is None or (lo == value == hi):
            return self.fmt(value)
        return (f"{self.fmt(value)} ({_INTERVALS[self.interval]} {self.fmt(lo, unit=False)} to "
                f"{self.fmt(hi, unit=False)})")


def _minus(text: str) -> str:
    return text.replace("-", "−")


_OPS = {">=": "at least", "<=": "at most", "in": "inside"}


@dataclass(frozen=True)
class Rule:
    """One condition on a statistic: ``op`` ">=" / "<=" a bound, or "in" a (lo, hi) range.
    A bound is a fraction, or the key of another statistic of the claim (e.g. "delta")."""
    stat: str
    op: str
    bound: float | str | tuple

    def __post_init__(self):
        if self.op not in _OPS:
            raise ValueError(f"rule on {self.stat}: op must be one of {list(_OPS)}, got {self.op!r}")
        if (self.op == "in") != isinstance(self.bound, tuple):
            raise ValueError(f"rule on {self.stat}: 'in' takes a (lo, hi) bound, the others one")

    def bound_text(self, stat: Statistic, stats: dict, numbers: dict | None = None) -> str:
        def one(b):
            if isinstance(b, str):  # another statistic: its name, and its value when known
                name = stats[b].text.split(",")[0]
                value = (numbers or {}).get(b)
                return name if value is None else f"{name} ({stats[b].fmt(value)})"
            return stat.fmt(b, sign=b < 0 if stat.unit == "points" else None)
        if self.op != "in":
            return one(self.bound)
        lo, hi = (one(b) for b in self.bound)
        unit = {"%": " %", "points": " points"}.get(stat.unit, "")
        if unit and lo.endswith(unit) and hi.endswith(unit):
            lo = lo[:-len(unit)]
        return f"{lo}–{hi}"

    def describe(self, stats: dict) -> str:
        s = stats[self.stat]
        return f"{s.short or s.text} is {_OPS[self.op]} {self.bound_text(s, stats)}"

    def check(self, stats: dict, numbers: dict) -> tuple[str, str]:
        """(outcome, phrase): outcome one of holds / holds in part / fails / open."""
        s = stats[self.stat]
        value = numbers.get(self.stat)
        lo = numbers.get(self.stat + "_lo", value)
        hi = numbers.get(self.stat + "_hi", value)
        lo = value if lo is None else lo
        hi = value if hi is None else hi
        if self.op == "in":
            blo, bhi = (numbers[b] if isinstance(b, str) else b for b in self.bound)
        else:
            b = numbers[self.bound] if isinstance(self.bound, str) else self.bound
            blo, bhi = (b, math.inf) if self.op == ">=" else (-math.inf, b)
        if blo <= lo and hi <= bhi:
            outcome = HOLDS
        elif hi < blo or lo > bhi:
            outcome = FAILS
        else:
            outcome = OPEN if s.interval in _UNCERTAIN else PARTLY
        target = self.bound_text(s, stats, numbers)
        word = {">=": ("at least", "below", "on both sides of"),
                "<=": ("at most", "above", "on both sides of"),
                "in": ("inside", "outside", "on both sides of the range")}[self.op]
        if outcome == HOLDS:
            tail = f"{word[0]} {target}"
        elif outcome == FAILS:
            side = word[1] if self.op != "in" else ("below" if hi < blo else "above")
            tail = f"{side} {target}"
        elif outcome == OPEN:
            tail = f"its interval lies {word[2]} {target}: the data cannot decide"
        else:
            tail = f"only partly {word[0]} {target}"
        return outcome, f"{s.text} is {s.describe(numbers)}, {tail}"


# ------------------------------------------------------------------ claims

@dataclass(frozen=True)
class Claim:
    """One claim, decided in one chapter (`chapter`: notebook name, or "intro")."""
    id: str
    paper: str
    source: str
    claim: str
    reported: str
    chapter: str
    statistics: tuple = ()
    rules: tuple = ()
    not_testable: str | None = None
    objection: str | None = None
    ours: bool = False
    cite: str | None = None

    def __post_init__(self):
        if not _ID.match(self.id):
            raise ValueError(f"claim id {self.id!r}: lowercase words joined by single hyphens")
        if self.not_testable is None and not self.rules:
            raise ValueError(f"claim {self.id}: give its rules, or why it is not testable here")
        keys = {s.key for s in self.statistics}
        for r in self.rules:
            bounds = r.bound if isinstance(r.bound, tuple) else (r.bound,)
            if r.stat not in keys or any(isinstance(b, str) and b not in keys for b in bounds):
                raise ValueError(f"claim {self.id}: rule on {r.stat!r} names a statistic it lacks")

    @property
    def stats(self) -> dict:
        return {s.key: s for s in self.statistics}

    @property
    def statistic(self) -> str:
        """What decides the claim, for the reader."""
        if self.not_testable:
            return "none: " + self.not_testable
        used = {r.stat for r in self.rules}
        return "; ".join(s.text for s in self.statistics if s.key in used)

    @property
    def rule(self) -> str:
        """The rule in one sentence."""
        if self.not_testable:
            return f"{_v.NOT_TESTABLE}: {self.not_testable}"
        stats = self.stats
        conds = " and ".join(r.describe(stats) for r in self.rules)
        used = [stats[r.stat] for r in self.rules]
        if self.ours:
            text = f"{_v.VERIFIED} when {conds}; {_v.NOT_VERIFIED} when it fails"
        elif len(self.rules) == 1:
            text = f"{_v.REPRODUCED} when {conds}; {_v.NOT_REPRODUCED} when it fails"
            if used[0].interval == "spread":
                text += f"; {_v.PARTLY} when only part of the range is"
        else:
            text = (f"{_v.REPRODUCED} when {conds}; {_v.NOT_REPRODUCED} when none holds; "
                    f"{_v.PARTLY} when some do")
        if any(s.interval in _UNCERTAIN for s in used):
            text += f"; {_v.INCONCLUSIVE} when an interval lies across a bound"
        return text + "."

    @property
    def keys(self) -> tuple[set, set]:
        """(required, allowed) keyword names of `decide`."""
        required, allowed = set(), set()
        for s in self.statistics:
            lohi = {s.key + "_lo", s.key + "_hi"} if s.interval else set()
            allowed |= {s.key} | lohi
            required |= lohi if s.interval == "spread" else {s.key}
        return required, allowed

    @property
    def label_set(self) -> tuple:
        return _v.OWN_LABELS if self.ours else _v.PAPER_LABELS


def _c(**kw) -> Claim:
    return Claim(**kw)


_GAP = "the big model at least 1 point more accurate"
_ONLY_IMAGENET = ("Experiments solely focuses on ImageNet dataset. More experiments needed to "
                  "understand the robustness of the proposed method.")

_CLAIM_LIST = [
    # ---------------------------------------------------------------- Little-Big, ImageNet-1k
    _c(id="lb-savings-range", paper="Little-Big", source="Abstract; Figure 1",
       cite="liu2024littlebig",
       claim="Pairing each big model with a little companion cuts its MACs by 30–80 % at no "
             "ImageNet-1k accuracy loss, for CNN, transformer and hybrid models of 1 to 3,000 GMACs.",
       reported="30–80 % fewer MACs at no accuracy loss", chapter="fig01_macs_vs_accuracy",
       statistics=(Statistic("reduction", "the MACs reduction of each big model's best meaningful "
                             "companion at its no-loss threshold (chosen on the scored images, as "
                             "in the paper)", "%", "spread", short="best companion per big model"),),
       rules=(Rule("reduction", "in", (0.30, 0.80)),)),
    _c(id="lb-named-models", paper="Little-Big", source="Abstract; Table 2", cite="liu2024littlebig",
       claim="76 % fewer MACs for EfficientViT-L3-384, 81 % for EfficientNet-B7-600 and 71 % for "
             "DeiT3-L-384 at no ImageNet-1k accuracy loss; InternImage-G-512 62 % faster at 90 % top-1.",
       reported="76 %, 81 %, 71 % fewer MACs; 62 % faster", chapter="tab02_model_pairs",
       not_testable="none of these four models is among the 14 reference models whose per-image "
                    "predictions the book has."),
    _c(id="lb-diminishing-returns", paper="Little-Big", source="Abstract", cite="liu2024littlebig",
       claim="EfficientViT-L3-384 is less than 2 points more accurate than EfficientViT-L1-224 "
             "for 14 times the MACs.",
       reported="< 2 points for 14x the MACs", chapter="fig01_macs_vs_accuracy",
       not_testable="neither EfficientViT model is among the reference models."),
    _c(id="lb-fig3-curves", paper="Little-Big", source="Figure 3", cite="liu2024littlebig",
       claim="As the threshold T rises, the share of images sent to the big model grows from 0 "
             "to 1, and the cascade reaches the big model's accuracy long before every image is "
             "escalated.",
       reported="curves only; no number in our sources", chapter="fig03_threshold_curves",
       statistics=(Statistic("frac_big", "the share of images sent to the big model at the "
                             "no-loss threshold of the chapter's pair", "%", short="sent to big"),),
       rules=(Rule("frac_big", "<=", 0.5),)),
    _c(id="lb-all-pairs", paper="Little-Big (authors' response)",
       source="Response to the reviews: all 1,953 pairs of 63 models", cite="liu2024littlebigreviews",
       claim="Over all pairs of the models, loss-free speed-ups are common but not universal: "
             "some pairs have none.",
       reported="1,953 pairs evaluated; EfficientViT speeds up EfficientNet-B3 to B7 by 29–38 %",
       objection="The choice of \"Little\" network seems arbitrary ... the results look cherry-picked.",
       chapter="all_pairs",
       statistics=(Statistic("n_without", "the number of genuine (not degenerate) pairs without a "
                             "loss-free speed-up", "count", short="genuine pairs without a speed-up"),
                   Statistic("median_reduction", "the median MACs reduction at no loss over the "
                             f"meaningful pairs ({_GAP})", "%", short="median, meaningful pairs")),
       rules=(Rule("n_without", ">=", 1), Rule("median_reduction", "in", (0.30, 0.80)))),
    _c(id="rev-degenerate", paper="Reviewers (ICLR 2025)", source="Review of Table 3: the T = 0 row",
       cite="liu2024littlebigreviews",
       claim="Some pairs need no cascade: at T = 0 the cheaper model alone is already as accurate "
             "as the \"big\" one, and its saving says nothing about cascades.",
       reported="a T = 0 row in the paper's Table 3 (removed by the authors after the review)",
       chapter="tab02_model_pairs",
       statistics=(Statistic("n_degenerate", "the number of degenerate pairs (the cheaper model at "
                             "least as accurate as the costlier one)", "count",
                             short="degenerate pairs"),),
       rules=(Rule("n_degenerate", ">=", 1),)),
    _c(id="lb-tab3-baselines", paper="Little-Big", source="Table 3", cite="liu2024littlebig",
       claim="With DeiT-S and DeiT-B as big models, Little-Big beats adaptive-computation (A-ViT, "
             "DynamicViT) and pruning methods at equal accuracy.",
       reported="Table 3's rows (not in our sources)", chapter="tab03_baselines",
       not_testable="our sources hold neither the accuracy and GMACs of Table 3's rows nor "
                    "per-image DeiT predictions."),
    _c(id="rev-recipe", paper="Reviewers (ICLR 2025)", source="Review of Table 3: fairness of the "
       "baselines", cite="liu2024littlebigreviews",
       claim="The gains over the pruning baselines may come from newer training recipes: the same "
             "architecture at the same cost scores higher with a newer recipe.",
       reported="DeiT-S: 78.9 % as A-ViT reports it, 79.81 % in the DeiT paper",
       chapter="tab03_baselines",
       statistics=(Statistic("recipe_gain", "the top-1 of timm's DeiT-S minus the 78.9 % that "
                             "A-ViT reports for the same architecture at the same cost", "points",
                             short="recipe alone"),),
       rules=(Rule("recipe_gain", ">=", 0.001),)),
    _c(id="lb-transfer-real", paper="Little-Big (authors' response)",
       source="Response to the reviews: threshold transfer", cite="liu2024littlebigreviews",
       claim="A threshold fixed on ImageNet-1k val keeps more than 75 % of the MACs savings on "
             "ImageNet-ReaL, at a marginal accuracy loss.",
       reported="> 75 % fewer MACs at a 0.04-point loss", chapter="transfer_real",
       statistics=(Statistic("reduction", "the headline pair's MACs reduction with T fixed on "
                             "ImageNet-1k val", "%", short="saving"),
                   Statistic("diff", "its accuracy difference cascade − big under the ReaL labels",
                             "points", "ci", short="cascade − big (ReaL)")),
       rules=(Rule("reduction", ">=", 0.75), Rule("diff", ">=", -0.0004))),
    _c(id="lb-transfer-v2", paper="Little-Big (authors' response)",
       source="Response to the reviews: threshold transfer", cite="liu2024littlebigreviews",
       claim="A threshold fixed on ImageNet-1k val keeps more than 75 % of the MACs savings on "
             "ImageNet-V2, at a marginal accuracy loss.",
       reported="> 75 % fewer MACs at a 0.07-point loss", chapter="transfer_real",
       not_testable="per-image ImageNet-V2 predictions of the reference models are not in the "
                    "offline reference data."),
    _c(id="lb-v2-threshold", paper="Little-Big (authors' response)",
       source="Response to the reviews; appendix Figure 7", cite="liu2024littlebigreviews",
       claim="A threshold chosen on ImageNet-V2 and applied to ImageNet-1k saves more than 80 % "
             "of the MACs with no accuracy loss.",
       reported="> 80 % fewer MACs, no loss", chapter="transfer_real",
       not_testable="per-image ImageNet-V2 predictions of the reference models are not in the "
                    "offline reference data."),
    _c(id="lb-heldout", paper="Little-Big (authors' response)",
       source="Section 4.2; response: T on 20 % of held-out data, scored on 80 %",
       cite="liu2024littlebigreviews",
       claim="With the threshold chosen on held-out images, the cascade keeps its MACs savings at "
             "no accuracy loss.",
       reported="> 80 % fewer MACs with no drop, T chosen on ImageNet-V2",
       objection="The method seems to rely on finding an optimal threshold T on the test set ... "
                 "Results should be provided using a threshold determined on the training or a "
                 "held-out portion of the validation set.",
       chapter="heldout_thresholds",
       statistics=(Statistic("loss_rate", "the share of random calibration/test splits in which "
                             "the headline cascade with the held-out T is less accurate than the "
                             "big model", "%", short="splits with a loss"),
                   Statistic("heldout_reduction", "the median MACs reduction with the held-out T",
                             "%", short="held-out saving")),
       rules=(Rule("loss_rate", "<=", 0.05), Rule("heldout_reduction", ">=", 0.30))),
    _c(id="lb-tab-a4", paper="Little-Big (authors' response)", source="Table A.4",
       cite="liu2024littlebigreviews",
       claim="The MACs a cascade saves become wall-clock throughput gains at no accuracy loss, "
             "even when only one model fits in memory at a time.",
       reported="+12 % to +338 % throughput (EfficientNet-B7-600 big, GPU, models swapped)",
       objection="How long does it take to load and unload models compared with the inference "
                 "latency for each batch? ... whether the method can be used for online inference.",
       chapter="tabA4_throughput_latency",
       statistics=(Statistic("speedup", "the measured throughput of the cascade over the big "
                             "model alone, one model in memory at a time, over settings and "
                             "repeats", "x", "spread", short="measured speedup"),),
       rules=(Rule("speedup", ">=", 1.0),)),
    # ---------------------------------------------------------------- on CIFAR-10 (a second dataset)
    _c(id="lb-cifar", paper="Little-Big", source="Abstract, on a second dataset (CIFAR-10)",
       cite="liu2024littlebig",
       claim="The cascade saves 30–80 % of the MACs at no accuracy loss on a dataset other than "
             "ImageNet: real CIFAR-10 ResNets, run from the images.",
       reported="30–80 % at no loss (ImageNet-1k); about 40 % at a small loss on other tasks",
       objection=_ONLY_IMAGENET, chapter="cifar_pairs",
       statistics=(Statistic("median_reduction", "the median MACs reduction at no loss over the "
                             f"meaningful CIFAR pairs ({_GAP}; T chosen on the scored images)",
                             "%", short="median saving"),
                   Statistic("heldout_diff", "the headline pair's accuracy difference cascade − big "
                             "on held-out images (T chosen on the other half)", "points", "ci",
                             short="held-out cascade − big")),
       rules=(Rule("median_reduction", "in", (0.30, 0.80)), Rule("heldout_diff", ">=", 0.0))),
    _c(id="lb-transfer-cifar10h", paper="Little-Big (authors' response)",
       source="Threshold transfer, on human labels (CIFAR-10H)", cite="liu2024littlebigreviews",
       claim="A threshold fixed on the original labels keeps its savings under cleaner, human "
             "labels at a marginal accuracy loss.",
       reported="a 0.04-point loss (ImageNet-ReaL)", chapter="transfer_cifar10h",
       statistics=(Statistic("diff", "the headline pair's accuracy difference cascade − big "
                             "against the CIFAR-10H majority labels", "points", "ci",
                             short="cascade − big (CIFAR-10H)"),),
       rules=(Rule("diff", ">=", -0.0004),)),
    _c(id="lb-transfer-shift", paper="Little-Big (authors' response)",
       source="Threshold transfer to new images (ImageNet-V2); here shifted CIFAR-10 images",
       cite="liu2024littlebigreviews",
       claim="A threshold fixed on one set of images keeps its promise on shifted images of the "
             "same classes: at most a marginal accuracy loss against the big model.",
       reported="> 75 % fewer MACs at a 0.07-point loss (ImageNet-V2)", chapter="transfer_shift",
       statistics=(Statistic("jpeg_diff", "the chapter's pair's accuracy difference cascade − big "
                             "on the JPEG copy of the lossless images its T was chosen on",
                             "points", "ci", short="cascade − big (JPEG copy)"),
                   Statistic("corrupted_diff", "its largest loss over the CIFAR-10-C corruptions "
                             "of the same images", "points", "ci",
                             short="cascade − big (worst corruption)")),
       rules=(Rule("jpeg_diff", ">=", -0.0007), Rule("corrupted_diff", ">=", -0.0007))),
    _c(id="lb-max-softmax", paper="Little-Big", source="Section 3: routing on the max softmax",
       cite="liu2024littlebig",
       claim="Low confidence marks the hard inputs: routing on the little model's max softmax "
             "saves as much as any other confidence score computed from the same logits.",
       reported="max softmax (the paper's score)",
       objection="Is low confidence always indicative of a hard sample, or are there cases where "
                 "this assumption does not hold?",
       chapter="confidence_scores",
       statistics=(Statistic("best_gain", "the median MACs reduction of the best other score minus "
                             "that of max softmax over the meaningful CIFAR pairs", "points",
                             short="best other score − max softmax"),),
       rules=(Rule("best_gain", "<=", 0.01),)),
    # ---------------------------------------------------------------- Titans
    _c(id="titans-cascade", paper="Titans", source="Abstract", cite="rawat2021titans",
       claim="Distilling the student to be right on the easy examples, and deferring the hard "
             "ones to the teacher, gives a better accuracy at equal cost than a cascade with a "
             "standard (Hinton) distilled student.",
       reported="no number in the abstract", chapter="titans_distillation",
       statistics=(Statistic("gain", "the accuracy of the better Titans cascade minus the Hinton "
                             "cascade at equal cost (mean over the deferral budgets)", "points",
                             "seeds", short="Titans − Hinton"),),
       rules=(Rule("gain", ">=", 0.001),)),
    # ---------------------------------------------------------------- prior work tested here
    _c(id="woc-multistage", paper="Wisdom of Committees", source="Abstract", cite="wang2022wisdom",
       claim="Cascades of more than two off-the-shelf models, each exiting on its max "
             "probability, are cheaper at equal accuracy than two-model cascades.",
       reported="EfficientNet cascade 5.4x faster than B7; ViT cascade 2.3x faster than ViT-L-384",
       chapter="multistage",
       statistics=(Statistic("gain", "the MACs reduction of each big model's best three-model "
                             "cascade minus its best pair's, at no loss", "points", "spread",
                             short="three models − two"),),
       rules=(Rule("gain", ">=", 0.001),)),
    _c(id="defer-confidence-suffices", paper="Jitkrittum et al. (2023)", source="Abstract",
       cite="jitkrittum2023deferral",
       claim="Confidence-based deferral works remarkably well: with a generalist big model and "
             "clean data, a learned post-hoc deferral rule gains little over max softmax.",
       reported="no number in the abstract", chapter="deferral_rules",
       statistics=(Statistic("gain", "the accuracy of the learned rule minus the confidence rule "
                             "at equal deferral on ImageNet", "points", "splits",
                             short="learned − confidence (ImageNet)"),),
       rules=(Rule("gain", "<=", 0.001),)),
    _c(id="defer-learned-helps", paper="Jitkrittum et al. (2023)", source="Abstract",
       cite="jitkrittum2023deferral",
       claim="Post-hoc learned deferral can improve significantly on confidence under label noise "
             "or distribution shift.",
       reported="no number in the abstract", chapter="deferral_rules",
       statistics=(Statistic("gain", "the accuracy of the learned rule minus the confidence rule "
                             "at equal deferral, under label noise or shift (CIFAR-10, best "
                             "regime)", "points", "splits", short="learned − confidence (shift)"),),
       rules=(Rule("gain", ">=", 0.001),)),
    _c(id="defer-specialists", paper="Jitkrittum et al. (2023)", source="Abstract",
       cite="jitkrittum2023deferral",
       claim="Post-hoc deferral improves on confidence when the downstream models are specialists.",
       reported="no number in the abstract", chapter="deferral_rules",
       not_testable="no big model here is a specialist: each is trained on all classes and is "
                    "better than its little model almost everywhere."),
    # ---------------------------------------------------------------- not testable offline
    _c(id="lb-extensions", paper="Little-Big (authors' response)", source="Appendix A.1",
       cite="liu2024littlebigreviews",
       claim="The cascade saves MACs at a small loss beyond ImageNet classification: CLIP zero-shot, "
             "CelebA multi-label, segmentation and IMDB sentiment.",
       reported="about 40 % (CLIP, −0.35 points), 40.1 % (CelebA), 39.2 % (segmentation), 58.75 % (IMDB)",
       chapter="limits_open_questions",
       not_testable="the offline reference data hold no predictions for these tasks."),
    _c(id="rev-prior-art", paper="Reviewers (ICLR 2025)", source="Review: prior work",
       cite="park2015biglittle",
       claim="The rule is not new: Park et al. (2015), \"Big/Little Deep Neural Network\", use the "
             "same threshold on the little model's max softmax.",
       reported="up to 53.7 % energy saved on ImageNet at a 0.90-point loss (Park et al.)",
       chapter="intro",
       not_testable="a question of priority, not of measurement; the landing page's prior-art table "
                    "answers it, and the authors withdrew the submission over it."),
    # ---------------------------------------------------------------- the book's own methods
    _c(id="ours-guaranteed", paper="ours", source="Learn-then-Test thresholds", ours=True,
       cite="angelopoulos2021ltt",
       claim="A threshold chosen on a calibration split with Learn-then-Test loses more than "
             "epsilon against the big model with probability at most delta.",
       reported="the method's promise: at most delta", chapter="guaranteed_thresholds",
       statistics=(Statistic("violation_rate", "the share of random splits in which the "
                             "guaranteed threshold loses more than epsilon on the test part", "%",
                             "ci", short="splits beyond epsilon"),
                   Statistic("delta", "delta, the allowed probability", "%", short="delta")),
       rules=(Rule("violation_rate", "<=", "delta"),)),
]

CLAIMS: dict[str, Claim] = {}
for _claim in _CLAIM_LIST:
    if _claim.id in CLAIMS:
        raise ValueError(f"claim {_claim.id} is registered twice")
    CLAIMS[_claim.id] = _claim
del _claim


def get(claim_id: str) -> Claim:
    """The claim `claim_id`, or a ValueError naming the known ids."""
    try:
        return CLAIMS[claim_id]
    except (KeyError, TypeError):
        raise ValueError(f"unknown claim {claim_id!r}; known claims: {', '.join(CLAIMS)}") from None


def chapter_doc(chapter: str) -> str:
    """The book document of a chapter name: "all_pairs" -> "generated/all_pairs"."""
    return chapter if chapter in ("intro", "notation", "api", "references") else f"generated/{chapter}"


# ------------------------------------------------------------------ deciding

def _clean(claim: Claim, numbers: dict) -> dict:
    required, allowed = claim.keys
    unknown = sorted(set(numbers) - allowed)
    if unknown:
        raise ValueError(f"claim {claim.id} takes {', '.join(sorted(allowed)) or 'no numbers'}; "
                         f"got unknown {', '.join(unknown)}")
    missing = sorted(required - set(numbers))
    if missing:
        raise ValueError(f"claim {claim.id} needs {', '.join(missing)} (None when it cannot be "
                         "computed here)")
    out = {}
    for key, value in numbers.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, _numbers.Real)):
            raise ValueError(f"claim {claim.id}: {key} must be a number or None, got {value!r}")
        x = None if value is None or not math.isfinite(float(value)) else float(value)
        stat = claim.stats[re.sub(r"_(lo|hi)$", "", key)]
        if x is not None and stat.unit in ("%", "points") and abs(x) > 1:
            raise ValueError(f"claim {claim.id}: {key} = {x:g} is not a fraction; pass "
                             f"{x / 100:g} for {x:g} {stat.unit} (fractions everywhere in code)")
        out[key] = x
    for s in claim.statistics:
        lo, hi, v = out.get(s.key + "_lo"), out.get(s.key + "_hi"), out.get(s.key)
        if (s.key + "_lo" in out) != (s.key + "_hi" in out):
            raise ValueError(f"claim {claim.id}: give both {s.key}_lo and {s.key}_hi, or neither")
        if lo is not None and hi is not None:
            if lo > hi:
                raise ValueError(f"claim {claim.id}: {s.key}_lo = {lo:g} is above {s.key}_hi = {hi:g}")
            if v is not None and not lo <= v <= hi:
                raise ValueError(f"claim {claim.id}: {s.key} = {v:g} lies outside its interval "
                                 f"[{lo:g}, {hi:g}]")
    return out


def _missing(claim: Claim, numbers: dict) -> list[Statistic]:
    needed = {r.stat for r in claim.rules} | {b for r in claim.rules for b in
                                              (r.bound if isinstance(r.bound, tuple) else (r.bound,))
                                              if isinstance(b, str)}
    out = []
    for s in claim.statistics:
        if s.key not in needed:
            continue
        keys = ([s.key + "_lo", s.key + "_hi"] if s.interval == "spread" else [s.key])
        if any(numbers.get(k) is None for k in keys):
            out.append(s)
    return out


def _label(outcomes: list[str], ours: bool) -> str:
    if all(o == HOLDS for o in outcomes):
        return _v.VERIFIED if ours else _v.REPRODUCED
    fails, part = FAILS in outcomes, PARTLY in outcomes
    held = HOLDS in outcomes
    if ours:
        return _v.NOT_VERIFIED if fails or part else _v.INCONCLUSIVE
    if fails and not held and not part:
        return _v.NOT_REPRODUCED
    if fails or part:
        return _v.PARTLY
    return _v.INCONCLUSIVE


def decide(claim_id: str, **numbers) -> Verdict:
    """The verdict on claim `claim_id` from its statistics (fractions), by the claim's rule."""
    claim = get(claim_id)
    if claim.not_testable is not None:
        if numbers:
            raise ValueError(f"claim {claim_id} is not testable here and takes no numbers; "
                             f"got {', '.join(sorted(numbers))}")
        return Verdict(_v.NOT_TESTABLE, claim.not_testable, claim_id=claim_id)
    values = _clean(claim, numbers)
    gone = _missing(claim, values)
    if gone:
        what = " and ".join(s.text for s in gone)
        return Verdict(_v.NOT_TESTABLE, f"{what} cannot be computed from the data of this run.",
                       claim_id=claim_id)
    checks = [r.check(claim.stats, values) for r in claim.rules]
    label = _label([o for o, _ in checks], claim.ours)
    return Verdict(label, "; ".join(p for _, p in checks) + ".", claim_id=claim_id)


# ------------------------------------------------------------------ recording and showing

class _Markdown(str):
    """A str that Jupyter (and myst-nb's glue) shows as Markdown."""

    def _repr_markdown_(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ClaimResult:
    """A decided claim: its `verdict`, the `numbers` it was decided on, and how to show it."""
    claim: Claim
    verdict: Verdict
    numbers: dict
    smoke: bool = False

    def ours_text(self) -> str:
        """Our numbers for the scoreboard, e.g. "median saving 42.4 %; held-out ... "."""
        return ours_text(self.claim, self.numbers)

    def to_record(self) -> dict:
        from littlebig_utils import __version__
        c = self.claim
        return {"littlebig": __version__, "claim": c.id, "paper": c.paper, "source": c.source,
                "statement": c.claim, "reported": c.reported, "chapter": c.chapter,
                "label": self.verdict.label, "reason": self.verdict.reason,
                "numbers": dict(self.numbers), "ours": self.ours_text(), "smoke": bool(self.smoke)}

    def markdown(self) -> str:
        """The verdict admonition: the claim with its source and reported number (the reviewer's
        objection it answers, if any), the reason, and the rule."""
        c = self.claim
        head = (f"{c.claim} (ours: {c.source})" if c.ours
                else f"{c.claim} ({c.paper}, {c.source}; reported: {c.reported})")
        if c.objection:
            head += f"\n\n*Reviewer's objection:* “{c.objection}”"
        footer = (f"*Rule* (claim `{c.id}`): {c.rule}" if c.not_testable is None
                  else f"Claim `{c.id}`.")
        return self.verdict.markdown(claim=head, footer=footer)

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/markdown": self.markdown(), "text/plain": str(self.verdict),
                MIME: self.to_record()}


def ours_text(claim: Claim, numbers: dict) -> str:
    if claim.not_testable is not None:
        return "–"
    used = [s for s in claim.statistics if s.key in {r.stat for r in claim.rules}]
    parts = []
    for s in used:
        keys = [s.key + "_lo", s.key + "_hi"] if s.interval == "spread" else [s.key]
        if any(numbers.get(k) is None for k in keys):
            parts.append(f"{s.short or s.key}: –")
        else:
            parts.append(f"{s.short or s.key}: {s.describe(numbers)}")
    return "; ".join(parts)


def claims_dir(smoke: bool = False) -> Path:
    """results/claims (results/smoke/claims in smoke mode), created."""
    return results_dir("smoke", "claims") if smoke else results_dir("claims")


def record(claim_id: str, smoke: bool = False, **numbers) -> ClaimResult:
    """Decide claim `claim_id` (`decide`), write results/claims/<id>.json and return the result
    to glue; call it in the claim's own chapter only (`Claim.chapter`)."""
    claim = get(claim_id)
    verdict = decide(claim_id, **numbers)
    values = _clean(claim, numbers) if claim.not_testable is None else {}
    result = ClaimResult(claim, verdict, values, bool(smoke))
    with atomic_write(claims_dir(smoke) / f"{claim_id}.json") as tmp:
        tmp.write_text(json.dumps(result.to_record(), indent=1, ensure_ascii=False) + "\n")
    return result


def reference(claim_id: str) -> str:
    """For a page that touches a claim it does not decide: a short box with the claim and a
    link to the chapter whose verdict is the claim's one verdict (Markdown, for glue:md)."""
    c = get(claim_id)
    return _Markdown(
        f"```{{admonition}} Claim `{c.id}`: {c.paper}, {c.source}\n:class: seealso lb-claim-ref\n\n"
        f"{c.claim} (reported: {c.reported})\n\nIts verdict is decided in "
        f"{{doc}}`/{chapter_doc(c.chapter)}`, and listed with every other claim on the "
        f"{{doc}}`landing page </intro>`.\n```\n")


# ------------------------------------------------------------------ reading back

def _check_record(rec: dict, where) -> dict:
    if not isinstance(rec, dict) or "claim" not in rec or "label" not in rec:
        raise ValueError(f"{where}: not a claim record (needs 'claim' and 'label')")
    claim = get(rec["claim"])
    if rec["label"] not in claim.label_set:
        raise ValueError(f"{where}: label {rec['label']!r} is not allowed for claim {claim.id} "
                         f"({', '.join(claim.label_set)})")
    return rec


def load_records(folder=None, smoke: bool = False) -> list[dict]:
    """The claim records in `folder` (default `claims_dir(smoke)`), one per results file."""
    folder = claims_dir(smoke) if folder is None else Path(folder)
    out = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e.msg}); delete it and re-run its chapter") from None
        out.append(_check_record(rec, path))
    return out


def records_from_notebooks(paths) -> list[dict]:
    """The claim records embedded in executed notebooks (the glued `ClaimResult`s). A record
    found in a notebook other than its claim's chapter, or a claim recorded twice with
    different verdicts, is an error: one claim, one verdict."""
    found: dict[str, tuple] = {}
    for path in sorted(Path(p) for p in paths):
        nb = json.loads(Path(path).read_text())
        for cell in nb.get("cells", []):
            for out in cell.get("outputs", []) or []:
                for key, value in (out.get("data") or {}).items():
                    if not key.endswith(MIME):
                        continue
                    rec = _check_record(value, path)
                    if rec["chapter"] != path.stem:
                        raise ValueError(f"{path.name} records claim {rec['claim']}, which chapter "
                                         f"{rec['chapter']} decides; show it with "
                                         f"claims.reference({rec['claim']!r}) instead")
                    old = found.get(rec["claim"])
                    if old and (old[0]["label"], old[0]["reason"]) != (rec["label"], rec["reason"]):
                        raise ValueError(f"claim {rec['claim']} has two verdicts in {path.name}: "
                                         f"{old[0]['label']!r} and {rec['label']!r}")
                    found[rec["claim"]] = (rec, path)
    return [rec for rec, _ in found.values()]


def scoreboard(source=None, smoke: bool = False):
    """Every claim in registry order with its verdict: a DataFrame with columns claim, paper,
    source, statement, reported, ours, verdict, reason, chapter, doc.

    `source`: a folder of results files (default `claims_dir(smoke)`) or an iterable of
    records (e.g. `records_from_notebooks`). A claim that nothing here can test is decided
    without a record; any other claim without one shows `NOT_COMPUTED`."""
    import pandas as pd
    if source is None or isinstance(source, (str, Path)):
        records = load_records(source, smoke)
    else:
        records = [_check_record(r, "record") for r in source]
    by_id = {r["claim"]: r for r in records}
    rows = []
    for c in CLAIMS.values():
        rec = by_id.get(c.id)
        if rec is None and c.not_testable is not None:
            v = decide(c.id)
            rec = {"label": v.label, "reason": v.reason, "ours": "–"}
        if rec is None:
            rec = {"label": NOT_COMPUTED, "reason": "", "ours": "–"}
        rows.append({"claim": c.id, "paper": c.paper, "source": c.source, "statement": c.claim,
                     "reported": c.reported, "ours": rec.get("ours") or "–",
                     "verdict": rec["label"], "reason": rec["reason"], "chapter": c.chapter,
                     "doc": chapter_doc(c.chapter)})
    return pd.DataFrame(rows)
