"""Chapter `confidence_scores` (notebooks/confidence_scores.ipynb): four routing scores of the
little model's logits compared on the meaningful CIFAR pairs, the verdict, the figure, and the
same comparison on the JPEG copy the chapter used before.

Units: frames are fractions (macs_reduction 0.4); tables, figure and verdict print percent.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.book import claims
from littlebig_utils.book.notebook import markdown_table
from littlebig_utils.core import engine, scores
from littlebig_utils.core.engine import no_loss_point, sweep_arrays
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core.scores import score

__all__ = ["SCORE_NAMES", "evaluation_pairs", "score_comparison", "score_summary", "claim_numbers",
           "summary_markdown", "score_bars", "numbers", "jpeg_numbers",
           # what the exercise's solution uses from the core
           "score", "sweep_arrays", "no_loss_point"]

#: routing scores compared in the chapter (key of `scores.score` -> reader's name)
SCORE_NAMES = {"max_softmax": "max softmax", "margin": "margin", "neg_entropy": "negative entropy",
               "temperature": "temperature-scaled softmax"}


def evaluation_pairs(records: dict[str, Predictions], gmacs: dict[str, float],
                     evaluation: np.ndarray) -> pd.DataFrame:
    """The meaningful pairs (big model at least 1 point more accurate), judged on the
    `evaluation` images; when none is (a smoke run's few images), every genuine pair."""
    from littlebig_utils.book.selection import meaningful_pairs
    from littlebig_utils.core.pairs import pairs_table
    pairs = pairs_table({m: p.subset(evaluation) for m, p in records.items()}, gmacs)
    meaningful = meaningful_pairs(pairs)
    return meaningful if len(meaningful) else meaningful_pairs(pairs, min_gap=0.0)


def score_comparison(records: dict[str, Predictions], gmacs: dict[str, float],
                     pairs: pd.DataFrame, calib: np.ndarray, evaluation: np.ndarray,
                     names: dict[str, str] = SCORE_NAMES) -> tuple[pd.DataFrame, dict]:
    """MACs reduction at the no-loss point of each routing score, per pair of `pairs` (rows
    with little/big), on the `evaluation` images; the temperature of "temperature" is fitted on
    `calib` (disjoint). Returns (one row per pair and score, fitted temperature per model)."""
    if len(np.intersect1d(calib, evaluation)):
        raise ValueError("calibration and evaluation images overlap: the temperature would be "
                         "fitted on the images it is scored on")
    temperature = {m: scores.fit_temperature(p.logits[calib], p.labels[calib])
                   for m, p in records.items()}
    rows = []
    for a, b in zip(pairs["little"], pairs["big"]):
        lp, bp = records[a].subset(evaluation), records[b].subset(evaluation)
        for key, name in names.items():
            conf = scores.score(key, lp.logits, temperature[a] if key == "temperature" else None)
            point = engine.no_loss_point(engine.sweep_arrays(
                conf, lp.correct, bp.correct, little_gmacs=gmacs[a], big_gmacs=gmacs[b]))
            rows.append(dict(little=a, big=b, score=name,
                             accuracy_gap=bp.accuracy - lp.accuracy,
                             macs_reduction=np.nan if point is None else float(point["macs_reduction"]),
                             frac_big=np.nan if point is None else float(point["frac_big"]),
                             threshold=np.nan if point is None else float(point["threshold"])))
    return pd.DataFrame(rows), temperature


def score_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per score over the pairs: median, min and max MACs reduction (a score that never reaches
    no loss on a pair counts as nothing saved there: the big model alone) and the pairs it wins
    (ties count for every tied score); best median first."""
    c = comparison.assign(saved=comparison["macs_reduction"].fillna(0.0))
    best = c.groupby(["little", "big"])["saved"].transform("max")
    out = c.assign(win=c["saved"] >= best - 1e-9).groupby("score", sort=False).agg(
        median=("saved", "median"), min=("saved", "min"), max=("saved", "max"),
        wins=("win", "sum"), pairs=("saved", "size"))
    return out.sort_values(["median", "wins"], ascending=False, kind="stable").reset_index()


def claim_numbers(summary: pd.DataFrame) -> dict:
    """The statistic of claim ``lb-max-softmax`` (`book.claims`), a fraction: the median MACs
    reduction of the best other score minus that of max softmax over the pairs of `summary`
    (negative: max softmax saves most)."""
    by = summary.set_index("score")["median"]
    msp = SCORE_NAMES["max_softmax"]
    return dict(best_gain=float(by.drop(msp).max() - by[msp]))


def summary_markdown(summary: pd.DataFrame) -> str:
    """`score_summary` as the chapter's table (percent)."""
    shown = summary.assign(**{k: 100 * summary[k] for k in ("median", "min", "max")})
    return markdown_table(shown, formats={"median": ".1f", "min": ".1f", "max": ".1f"}, headers={
        "median": "median MACs reduction (%)", "min": "min (%)", "max": "max (%)",
        "wins": "pairs won", "pairs": "pairs"})


def score_bars(comparison: pd.DataFrame, title: str):
    """Grouped bars of the MACs reduction at no loss per pair (little → big) and score."""
    import matplotlib.pyplot as plt
    import seaborn as sns
    shown = comparison.assign(
        macs_reduction=100 * comparison["macs_reduction"],
        pair=comparison["little"].str.removeprefix("cifar_") + " → "
        + comparison["big"].str.removeprefix("cifar_"))
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    sns.barplot(shown, x="pair", y="macs_reduction", hue="score", ax=ax)
    ax.set_xlabel("pair (little → big)")
    ax.set_ylabel("MACs reduction at no loss (%)")
    ax.set_title(title)
    ax.legend(title="confidence score", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
              frameon=False)
    return fig


def numbers(summary: pd.DataFrame, temperature: dict, n_pairs: int) -> dict:
    """The numbers the chapter's prose quotes (percent), glued as they are."""
    from IPython.display import Markdown
    best, worst = summary.iloc[0], summary.iloc[-1]
    msp = summary.set_index("score").loc[SCORE_NAMES["max_softmax"]]
    return dict(
        best_gain=100 * claim_numbers(summary)["best_gain"],
        best_score=Markdown(best["score"]), best_median=100 * float(best["median"]),
        best_wins=int(best["wins"]), msp_median=100 * float(msp["median"]),
        msp_min=100 * float(msp["min"]), msp_max=100 * float(msp["max"]),
        worst_score=Markdown(worst["score"]), worst_median=100 * float(worst["median"]),
        n_pairs=n_pairs, t_min=float(min(temperature.values())),
        t_max=float(max(temperature.values())),
        confidence_word=Markdown("overconfident (temperature above 1)"
                                 if np.mean(list(temperature.values())) > 1
                                 else "underconfident (temperature below 1)"),
        scores_alt=(f"Grouped bar chart of the MACs reduction at no loss for four confidence "
                    f"scores on {n_pairs} pairs of CIFAR ResNets; {best['score']} has the highest "
                    f"median ({100 * best['median']:.1f} %); max softmax, the papers' score, "
                    f"{100 * msp['median']:.1f} %."))


def jpeg_numbers(jpeg: dict[str, Predictions], gmacs: dict[str, float], calib: np.ndarray,
                 evaluation: np.ndarray) -> dict:
    """The chapter's comparison recomputed on the JPEG copy of the same images (what the
    chapter showed before it moved to the lossless images): pairs, best score, max-softmax
    median (percent), the best other score's advantage (points), the fitted temperatures and
    the verdict label there (`claims.decide`, not recorded)."""
    pairs = evaluation_pairs(jpeg, gmacs, evaluation)
    comparison, temperature = score_comparison(jpeg, gmacs, pairs, calib, evaluation)
    summary = score_summary(comparison)
    msp = summary.set_index("score").loc[SCORE_NAMES["max_softmax"]]
    return dict(jpeg_n_pairs=len(pairs), jpeg_best=str(summary.iloc[0]["score"]),
                jpeg_best_median=100 * float(summary.iloc[0]["median"]),
                jpeg_msp_median=100 * float(msp["median"]),
                jpeg_t_min=float(min(temperature.values())),
                jpeg_t_max=float(max(temperature.values())),
                jpeg_best_gain=100 * claim_numbers(summary)["best_gain"],
                jpeg_verdict=claims.decide("lb-max-softmax", **claim_numbers(summary)).label)
