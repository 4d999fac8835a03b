import numpy as np
import pandas as pd
import pytest

from littlebig_utils.book import selection as s
from littlebig_utils.book.notebook import ParameterError, output_dir

# name: (GMACs, top-1, a fraction like the pair table's)
MODELS = {"tiny": (0.2, 0.750), "small": (0.4, 0.751), "mid": (2.0, 0.770), "large": (8.0, 0.785),
          "huge": (20.0, 0.740)}


def _pairs():
    rows = []
    red = {("tiny", "small"): 0.90, ("tiny", "mid"): 0.60, ("tiny", "large"): 0.70,
           ("small", "mid"): 0.75, ("small", "large"): 0.50, ("mid", "large"): 0.40}
    for a, (ga, aa) in MODELS.items():
        for b, (gb, ab) in MODELS.items():
            if not ga < gb:
                continue
            r = red.get((a, b), np.nan)
            rows.append(dict(little=a, big=b, threshold=0.3, accuracy=ab, little_accuracy=aa,
                             big_accuracy=ab, gmacs=gb * (1 - r) if r == r else np.nan,
                             little_gmacs=ga, big_gmacs=gb, macs_reduction=r, frac_big=0.1,
                             degenerate=aa >= ab))
    return pd.DataFrame(rows)


def test_meaningful_pairs_exclude_small_gaps_degenerate_and_no_operating_point():
    m = s.meaningful_pairs(_pairs())
    got = list(zip(m["little"], m["big"]))
    # tiny->small (0.1 point) is the largest reduction but not meaningful; huge is less accurate
    assert got == [("small", "mid"), ("tiny", "large"), ("tiny", "mid"), ("small", "large"),
                   ("mid", "large")]
    assert m["accuracy_gap"].min() >= 0.01
    assert list(s.meaningful_pairs(_pairs(), min_gap=0.0)["little"])[:1] == ["tiny"]
    assert s.headline_pair(_pairs())[["little", "big"]].tolist() == ["small", "mid"]
    with pytest.raises(ParameterError, match="lower min_gap"):
        s.headline_pair(_pairs(), min_gap=0.10)


def test_validate_pair_refuses_with_one_line():
    p = _pairs()
    names = set(MODELS)
    g = {k: v[0] for k, v in MODELS.items()}
    acc = {k: v[1] for k, v in MODELS.items()}
    with pytest.raises(ParameterError, match=r"unknown little model 'smal': did you mean small") as e:
        s.validate_pair("smal", "large", names, g)
    assert "\n" not in str(e.value)
    with pytest.raises(ParameterError, match="same model"):
        s.validate_pair("mid", "mid", names, g)
    with pytest.raises(ParameterError, match=r"not cheaper .* swap them \(-p little tiny -p big large\)"):
        s.validate_pair("large", "tiny", names, g)
    assert isinstance(ParameterError("x"), ValueError)
    assert s.validate_pair("tiny", "large", names, g, acc) is None
    assert "Near-degenerate" in s.validate_pair("tiny", "small", names, g, acc)
    assert "Degenerate" in s.validate_pair("mid", "huge", names, g, acc)
    assert "(77.00 %) is at least as accurate as the big model huge (74.00 %)" in \
        s.validate_pair("mid", "huge", names, g, acc)
    assert "only 0.10 points more" in s.validate_pair("tiny", "small", names, g, acc)
    assert s.choose_pair("mid", "huge", p).warning.startswith("**Degenerate")


def test_resolve_pair_honours_little_alone_and_big_alone():
    p = _pairs()
    assert s.resolve_pair(None, None, p) == ("small", "mid")
    assert s.resolve_pair("tiny", None, p) == ("tiny", "large")  # not the 0.1-point tiny->small
    assert s.resolve_pair("small", None, p) == ("small", "mid")
    assert s.resolve_pair(None, "mid", p) == ("small", "mid")
    assert s.resolve_pair("mid", None, p) == ("mid", "large")
    with pytest.raises(ParameterError, match="unknown little model 'nope'"):
        s.resolve_pair("nope", None, p)
    with pytest.raises(ParameterError, match="no model is costlier than little model 'huge'"):
        s.resolve_pair("huge", None, p)
    c = s.choose_pair("tiny", None, p)
    assert (c.little, c.big, c.warning) == ("tiny", "large", None)
    assert c.row["macs_reduction"] == 0.70
    with pytest.raises(ParameterError, match="not cheaper"):
        s.choose_pair("large", "tiny", p)


def test_smoke_output_dir_is_separate_from_full_results(tmp_path, monkeypatch):
    monkeypatch.setenv("LITTLEBIG_RESULTS_DIR", str(tmp_path))
    assert output_dir("fig03", smoke=True) == tmp_path / "smoke" / "fig03"
    assert output_dir("fig03") == tmp_path / "fig03"
    assert (tmp_path / "smoke" / "fig03").is_dir()
    with pytest.raises(ParameterError):
        output_dir("../x", smoke=True)


def test_markdown_table_right_aligns_numbers_and_hides_nan():
    from littlebig_utils.book.notebook import markdown_table
    df = pd.DataFrame({"pair": ["a|b", "c"], "reduction": [86.663, np.nan], "n": [50000, 12]})
    md = markdown_table(df, formats={"reduction": ".1f"}, headers={"reduction": "MACs reduction (%)"})
    assert md.splitlines() == ["| pair | MACs reduction (%) | n |", "|:--|--:|--:|",
                               "| a\\|b | 86.7 | 50,000 |", "| c | – | 12 |"]
