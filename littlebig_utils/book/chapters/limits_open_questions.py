"""Chapter `limits_open_questions` (notebooks/limits_open_questions.ipynb): every result
chapter's verdict recomputed in one table, the reviewers' objections and their status, the
CIFAR-10 pairs it quotes, and what it reads from the Titans chapter's results.

The Titans chapter's results file (``results/titans_distillation/students.csv``, under
``results/smoke/`` in smoke mode) is read by `titans_students`; the columns read are
`TITANS_COLUMNS` here and those of `chapters.titans_distillation.claim_numbers` (student, seed,
acc_at_<budget> for its default budgets, macs_reduction), all fractions."""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book import verdicts as vd
from littlebig_utils.book.notebook import markdown_table, output_dir
from littlebig_utils.book.studies import guarantee_verdict, heldout_percent, heldout_verdict

__all__ = ["TITANS_COLUMNS", "CHAPTERS", "STATUS", "status", "titans_students", "titans_summary",
           "titans_verdict", "titans_sentence", "chapter_verdicts", "overall_verdict",
           "verdict_table", "CIFAR_MODELS", "cifar_predictions"]

#: the columns of the Titans chapter's students table that `titans_summary` reads
TITANS_COLUMNS = ("student", "student_accuracy", "macs_reduction")


def titans_students(smoke: bool = False) -> pd.DataFrame | None:
    """The Titans chapter's students table (one row per student objective and seed), or None
    when that chapter has not run in this build (the page then says so). A table without the
    columns read here stops the chapter with one line naming them."""
    path = output_dir("titans_distillation", smoke) / "students.csv"
    if not path.is_file():
        return None
    students = pd.read_csv(path)
    missing = [c for c in TITANS_COLUMNS if c not in students.columns]
    if missing:
        raise ValueError(f"{path} lacks the columns {missing} that the limits chapter reads: "
                         "re-run notebooks/titans_distillation.ipynb with this version")
    return students


def titans_summary(students: pd.DataFrame) -> dict:
    """From the Titans chapter's students table (one row per student objective and seed:
    ``student`` in labels / hinton / titans_*, ``student_accuracy``, ``macs_reduction`` of the
    cascade at the teacher's accuracy, NaN where it never reaches it; fractions): how many cascades cost
    more than the teacher alone (reduction < 0 or never reaching it), and the Titans students'
    accuracy against plain (Hinton) distillation, averaged over seeds."""
    need = {"student", "student_accuracy", "macs_reduction"}
    if not need <= set(students.columns):
        raise KeyError(f"not the Titans chapter's students table (needs {sorted(need)})")
    acc = students.groupby("student")["student_accuracy"].mean()
    titans = acc[acc.index.str.startswith("titans")]
    if "hinton" not in acc.index or titans.empty:
        raise KeyError("the students table needs a 'hinton' row and at least one 'titans_*' row")
    red = students["macs_reduction"]
    return dict(n_cascades=len(students), n_costlier=int((red.isna() | (red < 0)).sum()),
                hinton_accuracy=float(acc["hinton"]), titans_best=str(titans.idxmax()),
                titans_best_accuracy=float(titans.max()),
                best_reduction=float(red.max()) if red.notna().any() else np.nan)


def titans_verdict(students: pd.DataFrame):
    """The verdict on claim "titans-cascade" (the claims registry's rule on
    `chapters.titans_distillation.claim_numbers` at its default budgets), recomputed from that
    chapter's students table, so that both chapters say the same."""
    from littlebig_utils.book import claims
    from littlebig_utils.book.chapters import titans_distillation
    return claims.decide("titans-cascade", **titans_distillation.claim_numbers(students))


#: a reviewer objection's status from the verdict of the chapter that answers it (every label
#: of `verdicts.LABELS`: a verdict the table cannot place is a KeyError, never a guess)
STATUS = {vd.REPRODUCED: "Answered", vd.PARTLY: "Partly answered",
          vd.NOT_REPRODUCED: "Answered against the paper",
          vd.INCONCLUSIVE: "Open (the data cannot decide)", vd.NOT_TESTABLE: "Open",
          vd.VERIFIED: "Answered", vd.NOT_VERIFIED: "Answered against the method"}


def status(verdict) -> str:
    """A reviewer objection's status from the verdict of the chapter that answers it."""
    return STATUS[verdict.label]


def titans_sentence(verdict, titans: dict | None) -> str:
    """The Titans section's sentence: the verdict's reason and, when the Titans chapter ran,
    its cascades and students in percent."""
    reason = verdict.reason[:1].upper() + verdict.reason[1:]
    if titans is None:
        return reason
    return (f"{reason} Of its {titans['n_cascades']} cascades, {titans['n_costlier']} cost more than "
            f"the teacher alone at the teacher's accuracy; the best Titans student alone scores "
            f"{100 * titans['titans_best_accuracy']:.2f} % against "
            f"{100 * titans['hinton_accuracy']:.2f} % with plain distillation.")


#: the chapters this one summarizes, in the order of its table
CHAPTERS = {"held": "Held-out thresholds", "guar": "Thresholds with a guarantee",
            "real": "Threshold transfer to ReaL", "titans": "Titans distillation",
            "tab03": "Table 3 baselines"}


def chapter_verdicts(held: dict, guar: pd.Series, delta: float, real_head: pd.Series,
                     students: pd.DataFrame | None) -> dict:
    """Each summarized chapter's verdict (keys of `CHAPTERS`), recomputed with that chapter's
    own rule: `held` (`studies.heldout_summary`), `guar` (the guaranteed rule's
    `studies.summarize_study` row), `real_head` (the headline pair's `studies.label_transfer`
    row, judged against the paper's reported 0.04-point loss), `students` (None: not testable)."""
    return {
        "held": heldout_verdict(held), "guar": guarantee_verdict(guar, delta),
        "real": vd.verdict_no_loss(100 * real_head["change"], 100 * real_head["ci_lo"],
                                   100 * real_head["ci_hi"], tolerance=0.04,
                                   what="The headline cascade under ReaL"),
        "titans": titans_verdict(students) if students is not None else vd.verdict_not_testable(
            "The Titans chapter's results are not in this build (run that chapter first)."),
        "tab03": vd.verdict_not_testable(
            "The paper's Table 3 numbers are not in our sources (shared/papers/REPORTED.md), so "
            "the baselines chapter shows our numbers without a reported counterpart.")}


def overall_verdict(held: dict, chapter_verdicts: dict):
    """The page's verdict on "30–80 % fewer MACs at no accuracy loss": Reproduced when the
    held-out T keeps no loss in 95 % of the splits; else Partly reproduced when the guarantee
    holds (the saving survives with a stated loss), Not reproduced when it does not."""
    page = heldout_percent(held)
    guar = chapter_verdicts["guar"]
    label = (vd.REPRODUCED if held["loss_rate"] <= 0.05 else
             vd.PARTLY if guar.label in (vd.REPRODUCED, vd.VERIFIED) else vd.NOT_REPRODUCED)
    return vd.Verdict(label, (
        f"Large MACs savings hold up on new images ({page['heldout_reduction']:.1f} % with a held-out T "
        f"for the headline pair), \"no accuracy loss\" does not (lost in {page['loss_rate']:.0f} % of "
        f"splits); a guaranteed T bounds the loss ({guar.label.lower()} here)."))


def verdict_table(chapter_verdicts: dict) -> str:
    """The page's table: chapter, verdict, the objection's status, reason."""
    return markdown_table(pd.DataFrame(
        [dict(chapter=CHAPTERS[k], verdict=v.label, status=status(v), reason=v.reason)
         for k, v in chapter_verdicts.items()]))


#: the four pretrained CIFAR-10 ResNets of the "ImageNet only" section
CIFAR_MODELS = ("cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56")


def cifar_predictions(limit: int | None = None) -> dict[str, Predictions]:
    """`CIFAR_MODELS` on the CIFAR-10 test images (the JPEG copy; the first `limit`), computed
    once and cached (`run.predict.cached_predictions`)."""
    from littlebig_utils.run.predict import cached_predictions
    return {n: cached_predictions(n, "cifar10-test-jpeg", limit=limit) for n in CIFAR_MODELS}
