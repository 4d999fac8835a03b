"""littlebig_utils.book.chapters.limits_open_questions: what it reads from the Titans chapter
(and that a missing file is a note, not an error), the objections' status, the page's verdict."""
import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import verdicts
from littlebig_utils.book.chapters import limits_open_questions as chapter


def _students(seeds=(0,)):
    """The Titans chapter's students table (`chapters.titans_distillation.cascade_row` rows:
    one per student and seed, fractions)."""
    one = pd.DataFrame({"student": ["labels", "hinton", "titans_teacher_prob", "titans_student_loss"],
                        "student_accuracy": [0.80, 0.82, 0.815, 0.81], "teacher_accuracy": 0.85,
                        "macs_reduction": [-0.05, np.nan, -0.02, -0.01],
                        "acc_at_0.1": [0.81, 0.83, 0.82, 0.82], "acc_at_0.25": [0.82, 0.84, 0.83, 0.83],
                        "acc_at_0.5": [0.83, 0.85, 0.84, 0.84]})
    return pd.concat([one.assign(seed=s) for s in seeds], ignore_index=True)


def test_titans_summary_and_status():
    students = _students()
    s = chapter.titans_summary(students)
    assert s["n_costlier"] == 4 and s["titans_best"] == "titans_teacher_prob"
    assert s["hinton_accuracy"] == 0.82 and s["titans_best_accuracy"] == 0.815
    students.loc[2, "macs_reduction"] = 0.1
    assert chapter.titans_summary(students)["n_costlier"] == 3
    assert chapter.status(verdicts.Verdict(verdicts.NOT_REPRODUCED, "x")) == "Answered against the paper"
    assert chapter.status(verdicts.Verdict(verdicts.NOT_TESTABLE, "x")) == "Open"
    assert set(chapter.STATUS) == set(verdicts.LABELS)  # every verdict has a status
    assert chapter.status(verdicts.Verdict(verdicts.INCONCLUSIVE, "x")).startswith("Open")
    with pytest.raises(KeyError):
        chapter.titans_summary(students.drop(columns="macs_reduction"))


def test_titans_students_missing_file_is_none_and_wrong_columns_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    assert chapter.titans_students(smoke=True) is None  # the chapter then shows a note
    path = tmp_path / "smoke" / "titans_distillation" / "students.csv"
    _students().to_csv(path, index=False)
    got = chapter.titans_students(smoke=True)
    assert list(got["student"]) == list(_students()["student"])
    _students().rename(columns={"student_accuracy": "accuracy"}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"lacks the columns \['student_accuracy'\] that the limits chapter reads"):
        chapter.titans_students(smoke=True)
    assert chapter.titans_students(smoke=False) is None  # the full build's file is another one


def test_chapter_verdicts_without_titans_results_say_so():
    held = dict(n_splits=20, loss_rate=0.55, mean_change=-0.0028, worst_loss=0.0187,
                heldout_reduction=0.8776)
    guar = pd.Series({"violation_rate": 0.0, "violation_se": 0.0, "n": 20, "max_loss": 0.005,
                      "macs_reduction": 0.6})
    real_head = pd.Series({"change": -0.0004, "ci_lo": -0.002, "ci_hi": 0.001})
    v = chapter.chapter_verdicts(held, guar, 0.05, real_head, None)
    assert list(v) == list(chapter.CHAPTERS)
    assert v["titans"].label == verdicts.NOT_TESTABLE and "not in this build" in v["titans"].reason
    assert v["guar"].label == verdicts.REPRODUCED and v["held"].label == verdicts.NOT_REPRODUCED
    assert v["real"].label == verdicts.PARTLY  # -0.2 to +0.1 points straddles -0.04
    page = chapter.overall_verdict(held, v)
    assert page.label == verdicts.PARTLY  # "no loss" fails on new images, the guarantee holds
    assert "87.8 % with a held-out T" in page.reason and "lost in 55 % of splits" in page.reason
    assert chapter.overall_verdict(dict(held, loss_rate=0.05), v).label == verdicts.REPRODUCED
    own = dict(v, guar=verdicts.Verdict(verdicts.VERIFIED, "the guarantee held"))
    assert chapter.overall_verdict(held, own).label == verdicts.PARTLY  # ours: Verified holds too
    failed = dict(v, guar=verdicts.Verdict(verdicts.NOT_VERIFIED, "the guarantee failed"))
    assert chapter.overall_verdict(held, failed).label == verdicts.NOT_REPRODUCED
    table = chapter.verdict_table(v).splitlines()
    assert table[0] == "| chapter | verdict | status | reason |" and len(table) == 2 + len(v)
    assert table[5].startswith("| Titans distillation | Not testable here | Open |")
    assert "Titans chapter's results are not in this build" in chapter.titans_sentence(v["titans"], None)
    students = _students(seeds=(0, 1))
    with_titans = chapter.chapter_verdicts(held, guar, 0.05, real_head, students)
    from littlebig_utils.book import claims
    from littlebig_utils.book.chapters import titans_distillation
    # the one verdict of claim titans-cascade, as the Titans chapter records it
    assert with_titans["titans"] == claims.decide("titans-cascade",
                                                  **titans_distillation.claim_numbers(students))
    assert with_titans["titans"].claim_id == "titans-cascade"
    sentence = chapter.titans_sentence(with_titans["titans"], chapter.titans_summary(students))
    assert sentence.startswith(with_titans["titans"].reason[:1].upper() + with_titans["titans"].reason[1:20])
    assert "Of its 8 cascades, 8 cost more than the teacher alone" in sentence
    assert "81.50 % against 82.00 % with plain distillation" in sentence
