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


def test_titans_sentence_numbers_or_a_note_and_no_verdict_of_its_own():
    assert "not in this build" in chapter.titans_sentence(None)
    students = _students(seeds=(0, 1))
    sentence = chapter.titans_sentence(chapter.titans_summary(students))
    assert "Of its 8 cascades, 8 cost more than the teacher alone" in sentence
    assert "81.50 % against 82.00 % with plain distillation" in sentence
    assert not any(label in sentence for label in verdicts.LABELS)


def test_claims_table_links_each_claim_to_the_chapter_that_decides_it_without_verdicts():
    from littlebig_utils.book import claims
    table = chapter.claims_table().splitlines()
    assert table[0] == "| objection | claim | source | decided in |"
    ids = [c for ids in chapter.OBJECTIONS.values() for c in ids]
    assert len(table) == 2 + len(ids) and all(c in claims.CLAIMS for c in ids)
    held = next(line for line in table if "`lb-heldout`" in line)
    assert held.startswith("| The threshold was tuned on the test set | `lb-heldout` |")
    assert held.endswith("| {doc}`/generated/heldout_thresholds` |")
    assert "| | `ours-guaranteed` |" in "\n".join(table).replace("|  |", "| |")  # objection once
    assert not any(label in line for line in table[2:] for label in verdicts.LABELS)
    with pytest.raises(ValueError, match="unknown claim"):
        chapter.claims_table({"x": ("no-such-claim",)})
