"""Chapter all_pairs: heat map, saving against the gap, verdict, counts and companion choice."""
import pytest
from littlebig_utils.book import verdicts
from littlebig_utils.book.chapters import all_pairs as chapter
from test_headlines import brute_meaningful
from test_selection import _pairs as selection_pairs


def test_heatmap_text_is_readable_and_cells_are_classified(zoo):
    import matplotlib.pyplot as plt
    fig = chapter.reduction_heatmap(zoo.pairs)
    ax = fig.axes[0]
    assert min(t.get_fontsize() for t in ax.texts) >= 9
    cells = [t.get_text() for t in ax.texts]
    assert cells.count("deg.") == int(zoo.pairs.degenerate.sum())
    n_none = int((~zoo.pairs.degenerate & ~(zoo.pairs.macs_reduction > 0)).sum())
    assert cells.count("none") == n_none
    plt.close(fig)


def test_verdict_all_pairs(zoo):
    v = chapter.verdict_all_pairs(zoo.pairs)
    assert v.label in verdicts.LABELS and str(len(zoo.pairs)) in v.reason
    assert chapter.verdict_all_pairs(zoo.pairs, min_gap=0.99).label == verdicts.NOT_TESTABLE


def test_companion_choice_against_the_meaningful_pairs(zoo):
    ch = chapter.companion_choice(zoo.pairs)
    ref = brute_meaningful(zoo.pairs)
    for _, r in ch.iterrows():
        rows = ref[ref.big == r.big]
        assert r.best == rows.sort_values("macs_reduction").little.iloc[-1]
        assert r.cheapest == rows.sort_values("little_gmacs").little.iloc[0]
        assert r.differ == (r.best != r.cheapest)


def test_reduction_vs_gap_figure_marks_small_gaps_hollow_and_labels_the_headline():
    p = selection_pairs()
    fig = chapter.reduction_vs_gap(p)
    ax = fig.axes[0]
    filled, hollow = ax.collections[0], ax.collections[1]
    assert len(filled.get_offsets()) == 5 and len(hollow.get_offsets()) == 1  # tiny->small
    assert [t.get_text() for t in ax.texts] == ["small → mid"]
    alt = chapter.reduction_vs_gap_alt(p)
    assert "6 pairs" in alt and "5 pairs with a gap of at least 1 point save 40 to 75 %" in alt


def test_pair_counts_against_a_loop_over_the_pair_table(zoo):
    c = chapter.pair_counts(zoo.pairs)
    rows = list(zoo.pairs.itertuples())
    genuine = [r for r in rows if not r.degenerate]
    reached = [r for r in genuine if r.macs_reduction == r.macs_reduction]
    assert (c["n_pairs"], c["n_degenerate"], c["n_genuine"]) == (len(rows), len(rows) - len(genuine), len(genuine))
    assert c["n_unreached"] == len(genuine) - len(reached)
    assert c["n_no_saving"] == sum(r.macs_reduction <= 0 for r in reached)
    assert c["n_near"] == sum(r.big_accuracy - r.little_accuracy < 0.01 for r in reached)
    worst = min(reached, key=lambda r: r.macs_reduction)
    assert c["worst_pair"] == f"{worst.little} → {worst.big}"
    assert c["worst_reduction"] == pytest.approx(100 * worst.macs_reduction)
    assert c["worst_frac_pct"] == pytest.approx(100 * worst.frac_big)
