"""The claims registry: every rule gives the label its numbers call for (including Inconclusive),
bad numbers are refused with one line, and a recorded result reads back into the scoreboard."""
import json

import pytest

from littlebig_utils.book import claims
from littlebig_utils.book import verdicts as v


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    return tmp_path


def label(claim_id, **numbers):
    return claims.decide(claim_id, **numbers).label


def test_every_claim_is_complete_and_decided_in_a_real_chapter():
    from pathlib import Path
    notebooks = {p.stem for p in (Path(__file__).parents[1] / "notebooks").glob("*.ipynb")}
    assert len(claims.CLAIMS) >= 20
    for c in claims.CLAIMS.values():
        assert c.paper and c.source and c.claim and c.reported and c.statistic and c.rule
        assert c.chapter in notebooks | {"intro"}, c.id
        assert c.ours == (c.paper == "ours"), c.id
    papers = {c.paper for c in claims.CLAIMS.values()}
    assert {"Little-Big", "Titans", "Reviewers (ICLR 2025)", "ours"} <= papers
    # every reviewer objection the book answers appears once, as its own claim or attached
    objections = [c.objection for c in claims.CLAIMS.values() if c.objection]
    assert len(objections) == len(set(objections)) >= 4


def test_range_rule_inside_partly_outside_and_not_computable():
    # a spread over big models: inside, across an edge (Partly), outside (Not reproduced)
    assert label("lb-savings-range", reduction_lo=0.35, reduction_hi=0.79) == v.REPRODUCED
    assert label("lb-savings-range", reduction_lo=0.30, reduction_hi=0.80) == v.REPRODUCED
    assert label("lb-savings-range", reduction_lo=0.05, reduction_hi=0.867) == v.PARTLY
    assert label("lb-savings-range", reduction_lo=0.81, reduction_hi=0.95) == v.NOT_REPRODUCED
    assert label("lb-savings-range", reduction_lo=-0.2, reduction_hi=0.29) == v.NOT_REPRODUCED
    assert label("lb-savings-range", reduction_lo=None, reduction_hi=0.5) == v.NOT_TESTABLE
    r = claims.decide("lb-savings-range", reduction_lo=0.05, reduction_hi=0.867).reason
    assert "5.0 to 86.7 %" in r and "only partly inside 30.0–80.0 %" in r


def test_interval_across_the_bound_is_inconclusive_not_partly():
    # the CIFAR-10H case of the issue: +0.02 points, CI -0.58 to +0.62, bound -0.04 points
    assert label("lb-transfer-cifar10h", diff=0.0002, diff_lo=-0.0058, diff_hi=0.0062) == v.INCONCLUSIVE
    assert label("lb-transfer-cifar10h", diff=0.0002, diff_lo=-0.0003, diff_hi=0.0062) == v.REPRODUCED
    assert label("lb-transfer-cifar10h", diff=-0.01, diff_lo=-0.02, diff_hi=-0.0005) == v.NOT_REPRODUCED
    # without an interval the point decides
    assert label("lb-transfer-cifar10h", diff=-0.0003) == v.REPRODUCED
    reason = claims.decide("lb-transfer-cifar10h", diff=0.0002, diff_lo=-0.0058, diff_hi=0.0062).reason
    assert "+0.02 points (95 % CI −0.58 to +0.62)" in reason and "cannot decide" in reason


def test_two_rules_combine_hold_fail_partly_open():
    # the CIFAR-pairs case of the issue: savings in range, held-out result all a loss
    held = dict(heldout_diff=-0.0104, heldout_diff_lo=-0.0196, heldout_diff_hi=-0.0011)
    assert label("lb-cifar", median_reduction=0.55, **held) == v.PARTLY
    assert label("lb-cifar", median_reduction=0.10, **held) == v.NOT_REPRODUCED
    ok = dict(heldout_diff=0.002, heldout_diff_lo=0.0005, heldout_diff_hi=0.004)
    assert label("lb-cifar", median_reduction=0.55, **ok) == v.REPRODUCED
    open_ = dict(heldout_diff=0.0, heldout_diff_lo=-0.01, heldout_diff_hi=0.01)
    assert label("lb-cifar", median_reduction=0.55, **open_) == v.INCONCLUSIVE
    # one rule fails, the other is open: nothing holds -> Not reproduced
    assert label("lb-cifar", median_reduction=0.10, **open_) == v.NOT_REPRODUCED
    # held-out chapter: the saving survives, "no loss" fails in 54 % of splits
    assert label("lb-heldout", loss_rate=0.54, heldout_reduction=0.865) == v.PARTLY
    assert label("lb-heldout", loss_rate=0.04, heldout_reduction=0.865) == v.REPRODUCED
    assert label("lb-heldout", loss_rate=0.54, heldout_reduction=0.10) == v.NOT_REPRODUCED
    assert label("lb-transfer-real", reduction=0.867, diff=-0.0002, diff_lo=-0.0009,
                 diff_hi=0.0005) == v.INCONCLUSIVE
    assert label("lb-all-pairs", n_without=4, median_reduction=0.424) == v.REPRODUCED
    assert label("lb-all-pairs", n_without=0, median_reduction=0.424) == v.PARTLY


def test_at_most_rules_and_spreads_of_ratios():
    assert label("lb-fig3-curves", frac_big=0.2) == v.REPRODUCED
    assert label("lb-fig3-curves", frac_big=0.6) == v.NOT_REPRODUCED
    assert label("lb-tab-a4", speedup_lo=1.1, speedup_hi=2.0) == v.REPRODUCED
    assert label("lb-tab-a4", speedup_lo=0.8, speedup_hi=1.3) == v.PARTLY
    assert label("lb-tab-a4", speedup_lo=0.5, speedup_hi=0.9) == v.NOT_REPRODUCED
    assert "0.80 to 1.30x" in claims.decide("lb-tab-a4", speedup_lo=0.8, speedup_hi=1.3).reason
    assert label("defer-confidence-suffices", gain=0.0002, gain_lo=-0.001, gain_hi=0.0008) == v.REPRODUCED
    assert label("defer-confidence-suffices", gain=0.003, gain_lo=0.002, gain_hi=0.004) == v.NOT_REPRODUCED
    assert label("defer-confidence-suffices", gain=0.001, gain_lo=0.0, gain_hi=0.003) == v.INCONCLUSIVE
    assert label("rev-degenerate", n_degenerate=32) == v.REPRODUCED
    assert label("rev-degenerate", n_degenerate=0) == v.NOT_REPRODUCED


def test_own_methods_get_verified_never_a_reproduction_label():
    assert label("ours-guaranteed", violation_rate=0.03, violation_rate_lo=0.01,
                 violation_rate_hi=0.045, delta=0.05) == v.VERIFIED
    assert label("ours-guaranteed", violation_rate=0.12, violation_rate_lo=0.08,
                 violation_rate_hi=0.17, delta=0.05) == v.NOT_VERIFIED
    assert label("ours-guaranteed", violation_rate=0.05, violation_rate_lo=0.03,
                 violation_rate_hi=0.08, delta=0.05) == v.INCONCLUSIVE
    assert label("ours-guaranteed", violation_rate=0.03, delta=None) == v.NOT_TESTABLE
    reason = claims.decide("ours-guaranteed", violation_rate=0.12, delta=0.05).reason
    assert reason.endswith("is 12.0 %, above delta (5.0 %).")
    for c in claims.CLAIMS.values():
        if c.ours:
            assert set(c.label_set).isdisjoint({v.REPRODUCED, v.PARTLY, v.NOT_REPRODUCED})


def test_not_testable_claims_need_no_numbers_and_refuse_some():
    assert label("lb-named-models") == v.NOT_TESTABLE
    with pytest.raises(ValueError, match="not testable here and takes no numbers"):
        claims.decide("lb-named-models", reduction=0.5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(diff=0.0002, diff_lo=-0.0058), "both diff_lo and diff_hi"),
    (dict(diff=0.02, diff_lo=-0.0058, diff_hi=0.0062), "outside its interval"),
    (dict(diff=0.0002, diff_lo=0.0062, diff_hi=-0.0058), "is above diff_hi"),
    (dict(diff=2.0), "not a fraction; pass 0.02 for 2 points"),
    (dict(diff="0.1"), "must be a number or None"),
    (dict(diff=True), "must be a number or None"),
    (dict(dif=0.1), "got unknown dif"),
    (dict(), "needs diff"),
])
def test_bad_numbers_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ValueError, match=message) as e:
        claims.decide("lb-transfer-cifar10h", **kwargs)
    assert "\n" not in str(e.value)


def test_unknown_claim_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown claim 'lb-nope'; known claims: lb-savings-range"):
        claims.decide("lb-nope")


def test_registry_refuses_malformed_claims():
    s = claims.Statistic("x", "x", "%")
    with pytest.raises(ValueError, match="lowercase words"):
        claims.Claim(id="Bad_Id", paper="p", source="s", claim="c", reported="r", chapter="x",
                     statistics=(s,), rules=(claims.Rule("x", ">=", 0.1),))
    with pytest.raises(ValueError, match="names a statistic it lacks"):
        claims.Claim(id="ok", paper="p", source="s", claim="c", reported="r", chapter="x",
                     statistics=(s,), rules=(claims.Rule("y", ">=", 0.1),))
    with pytest.raises(ValueError, match="give its rules"):
        claims.Claim(id="ok", paper="p", source="s", claim="c", reported="r", chapter="x")
    with pytest.raises(ValueError, match="unit must be one of"):
        claims.Statistic("x", "x", "percent")


def test_record_writes_json_and_renders_the_marked_admonition(results):
    res = claims.record("lb-cifar", smoke=True, median_reduction=0.55, heldout_diff=-0.0104,
                        heldout_diff_lo=-0.0196, heldout_diff_hi=float("nan"))
    path = results / "smoke" / "claims" / "lb-cifar.json"
    rec = json.loads(path.read_text())
    assert rec["label"] == v.PARTLY == res.verdict.label
    assert rec["numbers"]["heldout_diff_hi"] is None and rec["numbers"]["median_reduction"] == 0.55
    assert rec["chapter"] == "cifar_pairs" and rec["smoke"] is True
    md = res.markdown()
    first, second = md.splitlines()[:2]
    assert first == "```{admonition} Verdict: Partly reproduced"
    assert second.split()[1:] == ["important", "lb-verdict", "verdict-partly-reproduced", "claim-lb-cifar"]
    assert "reported: 30–80 %" in md and "Experiments solely focuses on ImageNet" in md
    bundle = res._repr_mimebundle_()
    assert bundle["text/markdown"] == md and bundle[claims.MIME]["claim"] == "lb-cifar"
    from markdown_it import MarkdownIt
    assert [t.type for t in MarkdownIt().parse(md)] == ["fence"]


def test_scoreboard_reads_results_and_marks_missing_ones(results):
    claims.record("lb-heldout", loss_rate=0.54, heldout_reduction=0.865)
    board = claims.scoreboard().set_index("claim")
    assert list(board.index) == list(claims.CLAIMS)
    assert board.loc["lb-heldout", "verdict"] == v.PARTLY
    assert board.loc["lb-heldout", "ours"] == "splits with a loss: 54.0 %; held-out saving: 86.5 %"
    assert board.loc["lb-named-models", "verdict"] == v.NOT_TESTABLE  # needs no run
    assert board.loc["lb-cifar", "verdict"] == claims.NOT_COMPUTED
    assert board.loc["lb-cifar", "doc"] == "generated/cifar_pairs"
    # smoke results are apart from the book's
    assert claims.scoreboard(smoke=True).set_index("claim").loc["lb-heldout", "verdict"] == claims.NOT_COMPUTED


def test_scoreboard_refuses_a_label_outside_the_claims_vocabulary(results):
    (results / "claims").mkdir()
    (results / "claims" / "ours-guaranteed.json").write_text(json.dumps(
        {"claim": "ours-guaranteed", "label": v.REPRODUCED, "reason": "r"}))
    with pytest.raises(ValueError, match="not allowed for claim ours-guaranteed"):
        claims.scoreboard()


def _notebook(path, *records, display=False):
    prefix = "" if display else "application/papermill.record/"
    outputs = [{"output_type": "display_data", "metadata": {},
                "data": {prefix + claims.MIME: r, prefix + "text/plain": "x"}} for r in records]
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": outputs}]}))
    return path


def test_records_come_from_the_executed_notebooks(results, tmp_path):
    rec = claims.record("lb-heldout", loss_rate=0.54, heldout_reduction=0.865).to_record()
    nb = _notebook(tmp_path / "heldout_thresholds.ipynb", rec)
    assert claims.records_from_notebooks([nb]) == [rec]
    wrong = _notebook(tmp_path / "all_pairs.ipynb", rec)
    with pytest.raises(ValueError, match="which chapter heldout_thresholds decides"):
        claims.records_from_notebooks([wrong])
    other = dict(rec, label=v.REPRODUCED, reason="other")
    twice = _notebook(tmp_path / "heldout_thresholds.ipynb", rec, other)
    with pytest.raises(ValueError, match="two verdicts"):
        claims.records_from_notebooks([twice])


def test_glue_stores_the_record_in_the_notebook_output(results):
    """myst-nb's glue keeps every mime type of the bundle (the scoreboard reads MIME back)."""
    from IPython.core.formatters import format_display_data
    res = claims.record("rev-degenerate", n_degenerate=32)
    data, _ = format_display_data(res)
    assert data["text/markdown"].startswith("```{admonition} Verdict: Reproduced")
    assert data[claims.MIME]["label"] == v.REPRODUCED


def test_reference_links_to_the_deciding_chapter_without_a_verdict():
    md = claims.reference("lb-heldout")
    assert "{doc}`/generated/heldout_thresholds`" in md and "Verdict" not in md
    assert "lb-verdict" not in md and md._repr_markdown_() == md




def test_notation_pair_count_matches_the_models():
    """The glossary's "14 models -> 91 unordered pairs -> 90 (one pair of equal GMACs dropped)"
    follows from the committed GMACs table of the reference models."""
    import itertools
    from pathlib import Path

    from littlebig_utils.data import reference
    gmacs = {name: float(row["gmacs"]) for (dataset, name), row in
             reference._committed_table().items() if dataset == "imagenet-val"}
    pairs = list(itertools.combinations(sorted(gmacs), 2))
    equal = [(a, b) for a, b in pairs if gmacs[a] == gmacs[b]]
    assert (len(gmacs), len(pairs), len(pairs) - len(equal)) == (14, 91, 90)
    assert equal == [("inception_v3", "tf_inception_v3")]
    text = (Path(__file__).parents[1] / "book" / "notation.md").read_text()
    assert "= 91$" in text and "**90 pairs**" in text
    assert f"{gmacs['inception_v3']:.2f} GMACs each" in text


@pytest.mark.parametrize("outcomes, paper, ours", [
    (["holds"], v.REPRODUCED, v.VERIFIED),
    (["holds", "holds"], v.REPRODUCED, v.VERIFIED),
    (["fails"], v.NOT_REPRODUCED, v.NOT_VERIFIED),
    (["fails", "open"], v.NOT_REPRODUCED, v.NOT_VERIFIED),
    (["holds", "fails"], v.PARTLY, v.NOT_VERIFIED),
    (["holds in part"], v.PARTLY, v.NOT_VERIFIED),
    (["holds in part", "open"], v.PARTLY, v.NOT_VERIFIED),
    (["open"], v.INCONCLUSIVE, v.INCONCLUSIVE),
    (["holds", "open"], v.INCONCLUSIVE, v.INCONCLUSIVE),
])
def test_rule_outcomes_combine_into_one_label(outcomes, paper, ours):
    assert claims._label(outcomes, ours=False) == paper
    assert claims._label(outcomes, ours=True) == ours
