"""Chapter `limits_open_questions` (notebooks/limits_open_questions.ipynb): the reviewers'
objections with the claims that answer them and the chapters that decide those (`claims_table`;
the verdicts are the deciding chapters', shown on this page with `claims.reference`, never
recomputed here), the CIFAR-10 pairs it quotes, and what it reads from the Titans chapter's
results. It decides one claim itself: ``lb-extensions`` (not testable here).

The Titans chapter's results file (``results/titans_distillation/students.csv``, under
``results/smoke/`` in smoke mode) is read by `titans_students`; the columns read are
`TITANS_COLUMNS` (all fractions but the student's name)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book.notebook import markdown_table, output_dir

__all__ = ["TITANS_COLUMNS", "titans_students", "titans_summary", "titans_sentence", "OBJECTIONS",
           "claims_table", "CIFAR_MODELS", "cifar_predictions"]

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


def titans_sentence(titans: dict | None) -> str:
    """The Titans section's sentence from `titans_summary` (percent on the page), or a note
    when the Titans chapter has not run in this build; its verdict is that chapter's
    (`claims.reference("titans-cascade")`), never recomputed here."""
    if titans is None:
        return ("The Titans chapter's results are not in this build (run "
                "notebooks/titans_distillation.ipynb first).")
    return (f"Of its {titans['n_cascades']} cascades, {titans['n_costlier']} cost more than the "
            f"teacher alone at the teacher's accuracy; the best Titans student alone scores "
            f"{100 * titans['titans_best_accuracy']:.2f} % against "
            f"{100 * titans['hinton_accuracy']:.2f} % with plain distillation.")


#: the reviewers' objections this chapter answers, each with the claims that answer it (keys
#: of `claims.CLAIMS`); the chapters that decide them give the verdicts
OBJECTIONS = {
    "The idea is not new": ("rev-prior-art", "rev-degenerate"),
    "The threshold was tuned on the test set": ("lb-heldout", "ours-guaranteed"),
    "ImageNet only": ("lb-cifar", "lb-transfer-real", "lb-transfer-v2", "lb-extensions"),
    "The baselines and the student": ("lb-tab3-baselines", "rev-recipe", "titans-cascade"),
    "MACs are a proxy; models swapped in memory": ("lb-tab-a4",),
}


def claims_table(objections: dict | None = None) -> str:
    """The page's table: each objection, the claims that answer it (id, paper and source) and
    the chapter that decides each, linked; no verdict (those are the deciding chapters' and the
    landing page's scoreboard's)."""
    from littlebig_utils.book import claims
    rows = []
    for objection, ids in (OBJECTIONS if objections is None else objections).items():
        for i, cid in enumerate(ids):
            c = claims.get(cid)
            rows.append({"objection": objection if i == 0 else "", "claim": f"`{c.id}`",
                         "source": f"{c.paper}, {c.source}",
                         "decided in": f"{{doc}}`/{claims.chapter_doc(c.chapter)}`"})
    return markdown_table(pd.DataFrame(rows))


#: the four pretrained CIFAR-10 ResNets of the "ImageNet only" section
CIFAR_MODELS = ("cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56")


def cifar_predictions(limit: int | None = None) -> dict[str, Predictions]:
    """`CIFAR_MODELS` on the CIFAR-10 test images (the JPEG copy; the first `limit`), computed
    once and cached (`run.predict.cached_predictions`)."""
    from littlebig_utils.run.predict import cached_predictions
    return {n: cached_predictions(n, "cifar10-test-jpeg", limit=limit) for n in CIFAR_MODELS}
