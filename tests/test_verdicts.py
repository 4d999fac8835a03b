import math

import pytest

from littlebig_utils.book import verdicts as v


def test_range_rule_inside_partly_outside_untestable():
    assert v.verdict_range(50, 30, 80).label == v.REPRODUCED
    assert v.verdict_range(None, 30, 80, value_lo=20, value_hi=60).label == v.PARTLY
    assert v.verdict_range(None, 30, 80, value_lo=40, value_hi=79).label == v.REPRODUCED
    assert v.verdict_range(None, 30, 80, value_lo=81, value_hi=90).label == v.NOT_REPRODUCED
    assert v.verdict_range(29.9, 30, 80).label == v.NOT_REPRODUCED
    assert v.verdict_range(float("nan"), 30, 80).label == v.NOT_TESTABLE
    assert v.verdict_range(50, None, None).label == v.NOT_TESTABLE
    # edges count as inside
    assert v.verdict_range(80, 30, 80).label == v.REPRODUCED
    # the reason carries both numbers and the side
    r = v.verdict_range(-12.0, 30, 80, what="the median MACs reduction", unit=" %")
    assert "-12.0 %" in r.reason and "below" in r.reason and "30.0 %–80.0 %" in r.reason


def test_no_loss_rule_uses_the_interval_with_sign_cascade_minus_big():
    # the chapters' legacy rule; the claims registry says Inconclusive here (test_claims)
    assert v.verdict_no_loss(0.1, -0.05, 0.3).label == v.PARTLY
    assert v.verdict_no_loss(0.1, 0.02, 0.3).label == v.REPRODUCED
    assert v.verdict_no_loss(-0.4, -0.6, -0.2).label == v.NOT_REPRODUCED
    assert v.verdict_no_loss(-0.4, -0.6, -0.2, tolerance=0.7).label == v.REPRODUCED
    assert v.verdict_no_loss(0.0).label == v.REPRODUCED
    assert v.verdict_no_loss(math.nan).label == v.NOT_TESTABLE
    with pytest.raises(ValueError, match="outside its interval"):
        v.verdict_no_loss(1.0, -0.5, 0.5)


def test_verdict_vocabulary_is_fixed_and_renders_as_admonition():
    with pytest.raises(ValueError, match="one of"):
        v.Verdict("Claim reproduced", "x")
    with pytest.raises(ValueError, match="reason"):
        v.Verdict(v.REPRODUCED, " ")
    md = v.Verdict(v.NOT_REPRODUCED, "every cascade costs more.").markdown(claim="cheaper cascades")
    assert md.startswith("```{admonition} Verdict: Not reproduced\n:class: warning lb-verdict verdict-not-reproduced\n")
    assert "*Claim:* cheaper cascades" in md and "Every cascade costs more." in md
    assert md.rstrip().endswith("```")
    classes = {v.Verdict(lab, "r").markdown().splitlines()[1].split()[1] for lab in v.LABELS}
    assert len(classes) == len(v.LABELS) == 7  # each label has its own admonition colour


def test_verdict_admonition_carries_label_and_claim_markers():
    md = v.Verdict(v.VERIFIED, "r", claim_id="ours-guaranteed").markdown()
    assert md.splitlines()[1] == ":class: hint lb-verdict verdict-verified-ours claim-ours-guaranteed"
    assert v.Verdict(v.PARTLY, "r").markdown().splitlines()[1] == (
        ":class: important lb-verdict verdict-partly-reproduced")
    assert {v.label_slug(lab) for lab in v.LABELS} == {
        "reproduced", "partly-reproduced", "not-reproduced", "inconclusive", "not-testable-here",
        "verified-ours", "not-verified-ours"}
    with pytest.raises(ValueError, match="one of"):
        v.label_slug("Claim reproduced")


def test_verdict_markdown_is_one_directive_block():
    """What the chapters glue (`Verdict.markdown`): one fenced admonition, nothing outside it."""
    from markdown_it import MarkdownIt
    text = v.Verdict(v.PARTLY, "the median is 42 % here.").markdown(claim="30–80 % (reported).")
    assert text.splitlines()[0] == "```{admonition} Verdict: Partly reproduced"
    assert ":class: important" in text and "The median is 42 % here." in text
    assert [t.type for t in MarkdownIt().parse(text)] == ["fence"]
