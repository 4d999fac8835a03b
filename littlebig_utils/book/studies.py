"""The studies several result chapters share: held-out thresholds, guarantees, label transfer.

Several chapters report the same quantity (the held-out loss rate of a pair, the violation rate
of a guaranteed threshold, the accuracy change after a label shift). Computing it here, with one
definition and one split convention (`engine.split_masks`: split s uses seed ``seed + s``),
is what makes the same pair, splits and definition give the same number in every chapter.
Code that only one chapter uses lives in ``book/chapters/<notebook>.py``; each function here
names the chapters that call it.

Sign convention: accuracy *changes* are cascade − big (negative = the cascade loses);
*losses* are big − cascade, as in `engine.evaluate_thresholds`.

Units: fractions, like the core's, in every frame and dict returned here (`heldout_runs`,
`heldout_summary`, `label_transfer`, `pair_study`, `summarize_study`)
and in the parameters (max_loss 0.005, min_gap 0.01). Percent and accuracy points only where a
person reads them: `heldout_percent` (the numbers a page quotes), the markdown tables, the
figures and the verdicts' text.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core import experiments
from littlebig_utils.core import uncertainty
from littlebig_utils.core.checks import (check_calib_frac, check_choice, check_delta,
                                         check_max_loss)
from littlebig_utils.core.names import METHODS
from littlebig_utils.book.notebook import ParameterError, listed
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book.selection import MIN_GAP, meaningful_pairs
from littlebig_utils.data.reference import real_correct  # re-exported: transfer_real and limits_open_questions call studies.real_correct

__all__ = ["HELDOUT_SPLITS", "CALIB_FRAC", "checked", "imagenet_setup", "heldout_runs",
           "heldout_summary", "heldout_percent", "guarantee_pair", "pair_study",
           "summarize_study", "pick", "real_correct", "cascade_correct",
           "label_transfer", "transfer_row", "transfer_markdown", "plot_transfer"]

HELDOUT_SPLITS = 200  # the default number of random splits of every held-out number in the book
CALIB_FRAC = 0.2      # the authors' protocol for new tasks: choose T on 20 %, judge on 80 %


def _check_method(value, what: str) -> str:
    return check_choice(value, METHODS, what)


#: the core's one validator per quantity that a notebook parameter can hold
_CHECKS = {"calib_frac": check_calib_frac, "delta": check_delta, "max_loss": check_max_loss,
           "method": _check_method}


def checked(quantity: str, name: str, value, example):
    """Notebook parameter `name` through the core's validator of its `quantity` ("calib_frac",
    "delta", "max_loss" (a fraction: a value that reads as points is refused with both
    readings), "method"): a bad value stops the notebook with one `ParameterError` line naming
    the parameter and `example`, a value that works. With a list `example` the parameter must
    be a non-empty list, checked item by item. (heldout_thresholds, guaranteed_thresholds,
    limits_open_questions; `notebook.integer` / `number` / `max_losses` cover the rest.)"""
    check = _CHECKS[quantity]
    if isinstance(example, list):
        value = listed(value)  # -p NAME '[0.05]' passes the list's text
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
            raise ParameterError(f"parameter {name} must be a non-empty list, got {value!r} "
                                 f"(e.g. -p {name} '{example!r}')")
        return [checked(quantity, name, v, example[0]) for v in value]
    try:
        return check(value, f"parameter {name}")
    except ValueError as e:
        raise ParameterError(f"{e} (e.g. -p {name} {example})") from None


def _pair_args(little: Predictions, big: Predictions):
    if len(little) != len(big) or not np.array_equal(little.sample_ids, big.sample_ids):
        raise ValueError(f"{little.name!r} and {big.name!r} must list the same samples in the same "
                         "order (align them first)")
    return little.conf, little.correct, big.correct


def heldout_runs(little: Predictions, big: Predictions, little_gmacs: float, big_gmacs: float,
                 n_splits: int = HELDOUT_SPLITS, calib_frac: float = CALIB_FRAC,
                 seed: int = 0) -> pd.DataFrame:
    """`experiments.heldout_study` of two aligned Predictions (fractions): per split, the
    paper's no-loss T chosen on the calibration side and judged on the test side, next to the
    oracle T chosen on the test side itself (heldout_thresholds, guaranteed_thresholds,
    limits_open_questions)."""
    return experiments.heldout_study(*_pair_args(little, big), little_gmacs, big_gmacs, n_splits,
                                     calib_frac, seed)


def heldout_summary(runs: pd.DataFrame) -> dict:
    """The held-out numbers the chapters quote, each with one definition, as fractions
    (heldout_thresholds, guaranteed_thresholds, limits_open_questions; `heldout_percent` turns
    them into the page's units):
    loss_rate (share of splits where the held-out T loses against big), mean_change (cascade −
    big), mean_loss_when_lost, worst_loss (>= 0), p05_change (5th percentile of the change),
    heldout_reduction / oracle_reduction (mean MACs reduction), lost_cheaper (share of losing
    splits whose held-out T saved more than the oracle T; NaN without a losing split), t_lo /
    t_hi (5th / 95th percentile of the held-out T), n_splits."""
    lost = runs["lost"].to_numpy(bool)
    change = runs["change"]
    return dict(
        n_splits=len(runs), loss_rate=float(lost.mean()), mean_change=float(change.mean()),
        mean_loss_when_lost=float(-change[lost].mean()) if lost.any() else 0.0,
        worst_loss=float(max(0.0, -change.min())), p05_change=float(change.quantile(0.05)),
        heldout_reduction=float(runs["macs_reduction"].mean()),
        oracle_reduction=float(runs["oracle_macs_reduction"].mean()),
        lost_cheaper=(float((runs["macs_reduction"][lost] > runs["oracle_macs_reduction"][lost]).mean())
                      if lost.any() else np.nan),
        t_lo=float(runs["threshold"].quantile(0.05)), t_hi=float(runs["threshold"].quantile(0.95)))


#: the keys of `heldout_summary` that are fractions of accuracy or of splits (the rest are
#: thresholds and a count, shown as they are)
HELDOUT_FRACTIONS = ("loss_rate", "mean_change", "mean_loss_when_lost", "worst_loss", "p05_change",
                     "heldout_reduction", "oracle_reduction", "lost_cheaper")


def heldout_percent(summary: dict) -> dict:
    """`heldout_summary` in the page's units (rates and reductions in percent, changes and
    losses in accuracy points; thresholds and n_splits unchanged), for glue and prose
    (heldout_thresholds, guaranteed_thresholds, limits_open_questions)."""
    return {k: 100 * v if k in HELDOUT_FRACTIONS else v for k, v in summary.items()}


# ------------------------------------------------------------------ guaranteed thresholds


def guarantee_pair(pairs: pd.DataFrame, max_loss: float, min_gap: float = MIN_GAP) -> pd.Series:
    """The guarantee's headline pair (guaranteed_thresholds, limits_open_questions): the
    meaningful pair with the largest MACs reduction whose little model alone does NOT meet
    max_loss (its gap to big is larger than max_loss, a fraction)."""
    eps = check_max_loss(max_loss)
    ok = meaningful_pairs(pairs, min_gap)
    ok = ok[ok["big_accuracy"] - ok["little_accuracy"] > eps]
    if ok.empty:
        raise ParameterError(f"no meaningful pair has a little model more than {100 * eps:g} "
                             f"points (max_loss {eps:g}) below its big model: lower max_loss")
    return ok.iloc[0]


def summarize_study(runs: pd.DataFrame) -> pd.DataFrame:
    """`experiments.split_study` rows -> one row per (pair, labels, rule, max_loss, delta):
    n splits, violation_rate (share of splits whose test loss exceeds max_loss) with its
    standard error, found (share with a threshold), mean loss, frac_big, macs_reduction
    (means), and loss_rate (share of splits losing any accuracy); all fractions
    (guaranteed_thresholds, limits_open_questions)."""
    keys = [k for k in ["pair", "labels", "rule", "max_loss", "delta"] if k in runs]
    df = runs.assign(lost=runs["n_lost"] > 0)
    s = (df.groupby(keys, dropna=False)
         .agg(n=("violated", "size"), violation_rate=("violated", "mean"), found=("found", "mean"),
              loss=("loss", "mean"), loss_rate=("lost", "mean"), frac_big=("frac_big", "mean"),
              macs_reduction=("macs_reduction", "mean"))
         .reset_index())
    s["violation_se"] = np.sqrt(s["violation_rate"] * (1 - s["violation_rate"]) / s["n"])
    return s


def pick(summary: pd.DataFrame, **where) -> pd.Series:
    """The one row of `summary` matching `where` (delta=None matches the rules without delta;
    guaranteed_thresholds, limits_open_questions)."""
    sel = summary
    for k, v in where.items():
        sel = sel[sel[k].isna()] if v is None else sel[sel[k] == v]
    if len(sel) != 1:
        raise KeyError(f"{len(sel)} rows match {where}, expected exactly one")
    return sel.iloc[0]


# ------------------------------------------------------------------ label transfer

def cascade_correct(conf, little_correct, big_correct, threshold: float) -> np.ndarray:
    """Per image: is the cascade at `threshold` right (big's answer below T, little's above)."""
    return np.where(engine.route(conf, threshold), np.asarray(big_correct, bool),
                    np.asarray(little_correct, bool))


def label_transfer(pairs: pd.DataFrame, records: dict[str, Predictions],
                   correct: dict[str, np.ndarray], valid=None) -> pd.DataFrame:
    """T fixed at each pair's no-loss point on the original labels, scored against other labels
    of the same images (ReaL, CIFAR-10H): per pair the change cascade − big with its exact
    McNemar 95 % interval (`uncertainty.mcnemar_difference`), the original-label change, and
    the no-loss T and MACs reduction had T been chosen on the new labels (the oracle); all
    fractions. Pairs without a threshold are left out; MACs reduction is unchanged (same images)."""
    rows = []
    for _, p in pairs[pairs["threshold"].notna()].iterrows():
        lo, bi = records[p["little"]], records[p["big"]]
        _pair_args(lo, bi)
        lc, bc = np.asarray(correct[p["little"]], bool), np.asarray(correct[p["big"]], bool)
        t = float(p["threshold"])
        d = uncertainty.mcnemar_difference(cascade_correct(lo.conf, lc, bc, t), bc, valid)
        orig = uncertainty.mcnemar_difference(cascade_correct(lo.conf, lo.correct, bi.correct, t),
                                              bi.correct)
        sweep = engine.sweep_arrays(lo.conf, lc, bc, valid=valid, little_gmacs=p["little_gmacs"],
                                    big_gmacs=p["big_gmacs"])
        point = engine.no_loss_point(sweep)
        change, ci_lo, ci_hi = d.diff, d.lo, d.hi
        rows.append(dict(
            little=p["little"], big=p["big"], gap=float(p["big_accuracy"] - p["little_accuracy"]),
            threshold=t, macs_reduction=float(p["macs_reduction"]), frac_big=float(p["frac_big"]),
            original_change=orig.diff, change=change, ci_lo=ci_lo, ci_hi=ci_hi,
            cascade_only=d.n_cascade_only, big_only=d.n_big_only, n=d.n,
            oracle_threshold=np.nan if point is None else float(point["threshold"]),
            oracle_reduction=np.nan if point is None else float(point["macs_reduction"])))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ chapter preamble

def imagenet_setup(smoke: bool = False, seed: int = 0):
    """The ImageNet chapters' preamble (heldout_thresholds, guaranteed_thresholds, transfer_real,
    limits_open_questions; `headlines.load_zoo`): reference Predictions (the book's fixed
    random 5,000-image subset in smoke mode) and their pair table."""
    from littlebig_utils.book.headlines import load_zoo
    zoo = load_zoo(smoke, seed)
    return zoo.records, zoo.pairs


# ------------------------------------------------------------------ figures


# ------------------------------------------------------------------ other labels, guarantee figure


def pair_study(records: dict[str, Predictions], row: pd.Series, max_losses, deltas, n_splits: int,
               calib_frac: float = CALIB_FRAC, seed: int = 0, method: str = "clopper-pearson",
               real: bool = True) -> pd.DataFrame:
    """`experiments.split_study` for one row of the pair table (its models and GMACs), judged on
    the original labels and, with `real`, on ImageNet-ReaL too (guaranteed_thresholds,
    limits_open_questions)."""
    lo, bi = records[row["little"]], records[row["big"]]
    _pair_args(lo, bi)
    shifted = None
    if real:
        correct, valid = real_correct({lo.name: lo, bi.name: bi})
        shifted = {"ReaL": (correct[lo.name], correct[bi.name], valid)}
    return experiments.split_study(lo.conf, lo.correct, bi.correct, max_losses, deltas, n_splits,
                                   calib_frac, seed, method, little_gmacs=row["little_gmacs"],
                                   big_gmacs=row["big_gmacs"], shifted=shifted)


def plot_transfer(table: pd.DataFrame, headline: tuple[str, str] | None, labels: str, title: str):
    """Accuracy change after the label transfer (cascade − big, drawn in points, exact McNemar
    95 % interval) against the MACs reduction (%), one point per pair; the headline pair ringed."""
    import matplotlib.pyplot as plt
    from littlebig_utils.book import plots as plotting
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.errorbar(100 * table["macs_reduction"], 100 * table["change"],
                yerr=[100 * (table["change"] - table["ci_lo"]), 100 * (table["ci_hi"] - table["change"])],
                fmt="o", ms=5, color=plotting.CASCADE, ecolor="0.6", capsize=2,
                label=f"pairs ({len(table)}), 95 % interval")
    if headline is not None:
        h = table[(table["little"] == headline[0]) & (table["big"] == headline[1])]
        ax.scatter(100 * h["macs_reduction"], 100 * h["change"], s=140, facecolor="none", edgecolor="k",
                   lw=1.2, zorder=4, label=f"headline: {headline[0]} → {headline[1]}")
    ax.axhline(0, color=plotting.BIG, ls="--", lw=1.2, label="big model alone")
    ax.set(xlabel="MACs reduction at T fixed on the original labels (%)",
           ylabel=f"accuracy change under {labels}\n(points, cascade − big)", title=title)
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              frameon=False)
    fig.tight_layout()
    return fig


def transfer_markdown(table: pd.DataFrame, labels: str, top: int = 10) -> str:
    """The transfer chapters' numbered table: the `top` pairs by MACs reduction (points, %)."""
    from littlebig_utils.book.notebook import markdown_table
    t = table.sort_values("macs_reduction", ascending=False).head(top)
    t = pd.DataFrame({"pair": t["little"] + " → " + t["big"], "gap": 100 * t["gap"],
                      "T": t["threshold"], "red": 100 * t["macs_reduction"],
                      "orig": 100 * t["original_change"], "change": 100 * t["change"],
                      "ci": [f"{100 * a:+.2f} to {100 * b:+.2f}"
                             for a, b in zip(t["ci_lo"], t["ci_hi"])],
                      "oracle_T": t["oracle_threshold"]})
    return markdown_table(t, formats={"gap": ".2f", "T": ".3f", "red": ".1f", "orig": "+.3f",
                                      "change": "+.3f", "oracle_T": ".3f"},
                          headers={"gap": "gap (points)", "red": "MACs red. (%)",
                                   "orig": "change, original (points)",
                                   "change": f"change, {labels} (points)", "ci": "95 % interval",
                                   "oracle_T": f"T chosen on {labels}"})


# ------------------------------------------------------------------ the limits chapter


def transfer_row(pairs: pd.DataFrame, records: dict[str, Predictions], correct: dict[str, np.ndarray],
                 valid, little: str, big: str) -> pd.Series:
    """`label_transfer` of one pair; a pair without a no-loss threshold on the original labels
    has nothing to transfer: one-line `ParameterError`."""
    rows = pairs[(pairs["little"] == little) & (pairs["big"] == big)]
    out = label_transfer(rows, records, correct, valid)
    if out.empty:
        raise ParameterError(f"{little} -> {big} never reaches the big model's accuracy on the "
                             "original labels, so there is no threshold to transfer: choose another pair")
    return out.iloc[0]
