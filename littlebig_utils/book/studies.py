"""The result chapters' studies, once: held-out thresholds, guarantees, label transfer.

Several chapters report the same quantity (the held-out loss rate of a pair, the violation rate
of a guaranteed threshold, the accuracy change after a label shift). Computing it here, with one
definition and one split convention (`engine.split_masks`: split s uses seed ``seed + s``),
is what makes the same pair, splits and definition give the same number in every chapter.

Sign convention: accuracy *changes* are cascade − big (negative = the cascade loses);
*losses* are big − cascade, as in `engine.evaluate_thresholds`.

Units: the frames of per-split results (`heldout_runs`, `label_transfer`,
`pair_study`, `summarize_study`) are fractions, like the core's; parameters are fractions too
(max_loss 0.005, min_gap 0.01). The dicts of numbers a chapter quotes (`heldout_summary`,
`guarantee_numbers`), the markdown tables, the figures and the verdicts' text are in percent
and accuracy points: the one place where this module multiplies by 100.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core import experiments
from littlebig_utils.core import uncertainty
from littlebig_utils.core.checks import check_delta, check_max_loss
from littlebig_utils.book.notebook import ParameterError
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book.selection import MIN_GAP, meaningful_pairs
from littlebig_utils.data.reference import real_correct  # re-exported: the notebooks call studies.real_correct

__all__ = ["HELDOUT_SPLITS", "CALIB_FRAC", "RULE_NAMES", "STATUS",
           "imagenet_setup", "heldout_runs", "heldout_summary", "heldout_pairs",
           "heldout_pairs_markdown", "heldout_verdict", "plot_heldout", "plot_heldout_pairs",
           "little_meets_max_loss", "guarantee_pair", "guarantee_warning", "pair_study",
           "summarize_study", "pick", "guarantee_numbers", "guarantee_verdict", "rules_markdown",
           "plot_guarantee", "cifar10h_guarantee", "real_correct", "cascade_correct",
           "label_transfer", "transfer_markdown", "plot_transfer",
           "titans_summary", "titans_verdict", "status", "transfer_row"]

HELDOUT_SPLITS = 200  # the default number of random splits of every held-out number in the book
CALIB_FRAC = 0.2      # the authors' protocol for new tasks: choose T on 20 %, judge on 80 %


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
    oracle T chosen on the test side itself."""
    return experiments.heldout_study(*_pair_args(little, big), little_gmacs, big_gmacs, n_splits,
                                     calib_frac, seed)


def heldout_summary(runs: pd.DataFrame) -> dict:
    """The held-out numbers the chapters quote, each with one definition, in the page's units
    (accuracy points and percent):
    loss_rate (% of splits where the held-out T loses against big), mean_change (cascade − big),
    mean_loss_when_lost, worst_loss (>= 0), p05_change (5th percentile of the change),
    heldout_reduction / oracle_reduction (mean MACs reduction %), lost_cheaper (% of losing
    splits whose held-out T saved more than the oracle T), t_lo / t_hi (5th / 95th percentile
    of the held-out T), n_splits."""
    lost = runs["lost"].to_numpy(bool)
    change = runs["change"]
    return dict(
        n_splits=len(runs), loss_rate=100.0 * lost.mean(), mean_change=100 * float(change.mean()),
        mean_loss_when_lost=100 * float(-change[lost].mean()) if lost.any() else 0.0,
        worst_loss=100 * float(max(0.0, -change.min())),
        p05_change=100 * float(change.quantile(0.05)),
        heldout_reduction=100 * float(runs["macs_reduction"].mean()),
        oracle_reduction=100 * float(runs["oracle_macs_reduction"].mean()),
        lost_cheaper=(100.0 * float((runs["macs_reduction"][lost]
                                     > runs["oracle_macs_reduction"][lost]).mean())
                      if lost.any() else np.nan),
        t_lo=float(runs["threshold"].quantile(0.05)), t_hi=float(runs["threshold"].quantile(0.95)))


def heldout_pairs(records: dict[str, Predictions], pairs: pd.DataFrame,
                  n_splits: int = HELDOUT_SPLITS, calib_frac: float = CALIB_FRAC,
                  seed: int = 0) -> pd.DataFrame:
    """`heldout_summary` for every row of `pairs` (e.g. `selection.meaningful_pairs`), one row
    per pair with the pair's same-data MACs reduction (%) and accuracy gap (points) next to it."""
    rows = []
    for _, p in pairs.iterrows():
        runs = heldout_runs(records[p["little"]], records[p["big"]], p["little_gmacs"],
                            p["big_gmacs"], n_splits, calib_frac, seed)
        rows.append(dict(little=p["little"], big=p["big"],
                         gap=100 * float(p["big_accuracy"] - p["little_accuracy"]),
                         same_data_reduction=100 * float(p["macs_reduction"]),
                         **heldout_summary(runs)))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ guaranteed thresholds

def little_meets_max_loss(row: pd.Series, max_loss: float) -> bool:
    """True when the little model alone loses at most `max_loss` (a fraction) against big (on
    the pair table's images): then "a cascade within max_loss" is an empty claim, T = 0 meets it."""
    return bool(row["big_accuracy"] - row["little_accuracy"] <= check_max_loss(max_loss))


def guarantee_pair(pairs: pd.DataFrame, max_loss: float, min_gap: float = MIN_GAP) -> pd.Series:
    """The guarantee chapter's headline: the meaningful pair with the largest MACs reduction
    whose little model alone does NOT meet max_loss (its gap to big is larger than max_loss)."""
    eps = check_max_loss(max_loss)
    ok = meaningful_pairs(pairs, min_gap)
    ok = ok[ok["big_accuracy"] - ok["little_accuracy"] > eps]
    if ok.empty:
        raise ParameterError(f"no meaningful pair has a little model more than {100 * eps:g} "
                             "points below its big model: lower epsilon")
    return ok.iloc[0]


def summarize_study(runs: pd.DataFrame) -> pd.DataFrame:
    """`experiments.split_study` rows -> one row per (pair, labels, rule, max_loss, delta):
    n splits, violation_rate (share of splits whose test loss exceeds max_loss) with its
    standard error, found (share with a threshold), mean loss, frac_big, macs_reduction
    (means), and loss_rate (share of splits losing any accuracy); all fractions."""
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
    """The one row of `summary` matching `where` (delta=None matches the rules without delta)."""
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


# ------------------------------------------------------------------ chapter preamble and verdicts

def imagenet_setup(smoke: bool = False, seed: int = 0):
    """The ImageNet chapters' preamble (`headlines.load_zoo`): reference Predictions (the
    book's fixed random 5,000-image subset in smoke mode) and their pair table."""
    from littlebig_utils.book.headlines import load_zoo
    zoo = load_zoo(smoke, seed)
    return zoo.records, zoo.pairs


def heldout_verdict(summary: dict, tolerance: float = 0.1):
    """The held-out chapter's verdict on "no accuracy loss" when T is chosen on other images.

    Rule: the held-out T loses in at most 5 % of the splits -> Reproduced; else a mean change
    (cascade − big) of at least -`tolerance` points -> Partly reproduced (the literal "no loss"
    fails often, by little); else Not reproduced."""
    from littlebig_utils.book import verdicts
    rate, mean, worst = summary["loss_rate"], summary["mean_change"], summary["worst_loss"]
    text = (f"With T chosen on a calibration split the cascade loses against the big model in "
            f"{rate:.0f} % of {summary['n_splits']} splits (mean change {mean:+.3f} points, worst "
            f"loss {worst:.3f})")
    if rate <= 5.0:
        return verdicts.Verdict(verdicts.REPRODUCED, text + ": no loss in at least 95 % of splits.")
    if mean >= -abs(tolerance):
        return verdicts.Verdict(verdicts.PARTLY, text + f": the saving survives, the literal "
                                f"\"no loss\" does not (misses under {abs(tolerance):g} point on average).")
    return verdicts.Verdict(verdicts.NOT_REPRODUCED, text + ".")


def guarantee_verdict(row: pd.Series, delta: float):
    """Learn-then-Test's promise P(test loss > max_loss) <= delta against the measured violation
    rate (`summarize_study` row of the guaranteed rule): at most delta -> Reproduced; above delta
    by more than two standard errors -> Not reproduced; in between -> Partly reproduced."""
    from littlebig_utils.book import verdicts
    v, se = 100 * row["violation_rate"], 100 * row["violation_se"]
    d = 100 * check_delta(delta)
    text = (f"The guaranteed T exceeded epsilon = {100 * row['max_loss']:g} points in {v:.1f} % "
            f"(± {se:.1f}) of {int(row['n'])} splits, allowed {d:g} %, keeping "
            f"{100 * row['macs_reduction']:.1f} % of the MACs saved")
    if v <= d:
        return verdicts.Verdict(verdicts.REPRODUCED, text + ".")
    if v - 2 * se > d:
        return verdicts.Verdict(verdicts.NOT_REPRODUCED, text + ".")
    return verdicts.Verdict(verdicts.PARTLY, text + ": above delta, within two standard errors.")


# ------------------------------------------------------------------ figures

def plot_heldout(runs: pd.DataFrame, big_name: str, title: str):
    """Left: histogram of the held-out change (cascade − big, points); right: held-out vs oracle
    MACs reduction per split, splits that lose in the big model's colour. Legends below."""
    import matplotlib.pyplot as plt
    from littlebig_utils.book import plots as plotting
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    ax1.hist(100 * runs["change"], bins=30, color=plotting.CASCADE, alpha=0.8,
             label="held-out T (one count per split)")
    ax1.axvline(0, color=plotting.BIG, ls="--", lw=1.2, label=f"{big_name} alone")
    ax1.set_xlabel("accuracy change on the test split (points, cascade − big)")
    ax1.set_ylabel("splits (count)")
    lost = runs["lost"].to_numpy(bool)
    for mask, color, label in ((~lost, plotting.CASCADE, "held-out T: no loss"),
                               (lost, plotting.BIG, "held-out T: below big")):
        ax2.scatter(100 * runs["oracle_macs_reduction"][mask], 100 * runs["macs_reduction"][mask], s=14,
                    color=color, alpha=0.7, label=label)
    both = 100 * runs[["macs_reduction", "oracle_macs_reduction"]]
    lim = [float(both.min().min()) - 1, float(both.max().max()) + 1]
    ax2.plot(lim, lim, color="0.4", lw=0.8, label="held-out = oracle")
    ax2.set(xlim=lim, ylim=lim, xlabel="MACs reduction, oracle T (%)",
            ylabel="MACs reduction, held-out T (%)")
    for ax in (ax1, ax2):
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2,
                  frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_heldout_pairs(table: pd.DataFrame, title: str):
    """Share of losing splits against the pair's accuracy gap, colour = mean change."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    sc = ax.scatter(table["gap"], table["loss_rate"], s=36, c=table["mean_change"], cmap="coolwarm_r",
                    vmin=-0.1, vmax=0.1, edgecolor="k", lw=0.4)
    fig.colorbar(sc, ax=ax).set_label("mean change on test splits (points, cascade − big)")
    ax.axhline(50, color="0.5", ls=":", lw=1)
    ax.set(xlabel="accuracy gap: big − little (top-1 points)",
           ylabel="splits where the held-out T loses (%)", ylim=(-3, 103), title=title)
    return fig


def heldout_pairs_markdown(table: pd.DataFrame, top: int = 10) -> str:
    """The held-out chapter's numbered table: the `top` pairs by same-data MACs reduction."""
    from littlebig_utils.book.notebook import markdown_table
    t = table.sort_values("same_data_reduction", ascending=False).head(top)
    t = t.assign(pair=t["little"] + " → " + t["big"])
    cols = ["pair", "gap", "same_data_reduction", "heldout_reduction", "loss_rate", "mean_change",
            "p05_change"]
    return markdown_table(
        t[cols], formats={"gap": ".2f", "same_data_reduction": ".1f", "heldout_reduction": ".1f",
                          "loss_rate": ".0f", "mean_change": "+.3f", "p05_change": "+.3f"},
        headers={"gap": "gap (points)", "same_data_reduction": "MACs red. same-data (%)",
                 "heldout_reduction": "MACs red. held-out (%)", "loss_rate": "splits losing (%)",
                 "mean_change": "mean change (points)", "p05_change": "5th pct change (points)"})


# ------------------------------------------------------------------ other labels, guarantee figure

def guarantee_warning(row: pd.Series, max_loss: float) -> str | None:
    """Markdown for the top of the guarantee chapter when the chosen pair's little model alone
    already meets max_loss (the guarantee is then empty: T = 0 satisfies it)."""
    if not little_meets_max_loss(row, max_loss):
        return None
    gap = 100 * float(row["big_accuracy"] - row["little_accuracy"])
    return (f"**Empty guarantee:** {row['little']} alone is only {gap:.2f} points below "
            f"{row['big']}, within epsilon = {100 * max_loss:g}: every threshold, T = 0 included, meets "
            "the bound, so this chapter's guarantee says nothing about cascades for this pair.")


RULE_NAMES = {"guaranteed": "guaranteed T (Learn-then-Test)", "empirical-no-loss":
              "empirical no-loss T (paper's rule)", "empirical-max-loss": "empirical T at epsilon (plug-in)",
              "oracle": "oracle T (tuned on the test split)"}


def rules_markdown(summary: pd.DataFrame, labels: str, max_loss: float, delta: float) -> str:
    """One row per threshold rule at (max_loss, delta) for a label set: the guarantee chapter's
    table (percent and points)."""
    from littlebig_utils.book.notebook import markdown_table
    s = summary[(summary["labels"] == labels) & (summary["max_loss"] == max_loss)
                & (summary["delta"].isna() | (summary["delta"] == delta))]
    s = s.set_index("rule").loc[[r for r in RULE_NAMES if r in set(s["rule"])]].reset_index()
    t = pd.DataFrame({"rule": s["rule"].map(RULE_NAMES), "found": 100 * s["found"],
                      "violation": 100 * s["violation_rate"], "loss_rate": 100 * s["loss_rate"],
                      "loss": 100 * s["loss"], "frac_big": 100 * s["frac_big"],
                      "macs_reduction": 100 * s["macs_reduction"]})
    return markdown_table(t, formats={"found": ".0f", "violation": ".1f", "loss_rate": ".0f",
                                      "loss": "+.3f", "frac_big": ".1f", "macs_reduction": ".1f"},
                          headers={"found": "T found (%)", "violation": "loss > epsilon (%)",
                                   "loss_rate": "any loss (%)", "loss": "mean loss (points)",
                                   "frac_big": "to big (%)", "macs_reduction": "MACs red. (%)"})


def plot_guarantee(summary: pd.DataFrame, deltas, title: str):
    """Left: violation rate (% of splits with test loss > max_loss, ±2 SE) per rule against
    max_loss (in points), with the allowed delta; right: mean MACs reduction (%). Original
    labels; legend below."""
    import matplotlib.pyplot as plt
    from littlebig_utils.book import plots as plotting
    s = summary[summary["labels"] == "original"]
    eps = sorted(s["max_loss"].unique())
    x = {e: i for i, e in enumerate(eps)}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.6))
    series = [("guaranteed", d, f"guaranteed T, delta = {d:g}", plotting.PALETTE[2 + 2 * i], "o")
              for i, d in enumerate(deltas)]
    series += [("empirical-no-loss", None, RULE_NAMES["empirical-no-loss"], plotting.LITTLE, "s"),
               ("empirical-max-loss", None, RULE_NAMES["empirical-max-loss"], plotting.BIG, "^"),
               ("oracle", None, RULE_NAMES["oracle"], "0.3", "D")]
    for i, (rule, d, label, color, marker) in enumerate(series):
        g = s[(s["rule"] == rule) & (s["delta"].isna() if d is None else s["delta"] == d)]
        g = g.sort_values("max_loss")
        xs = g["max_loss"].map(x) + 0.06 * (i - (len(series) - 1) / 2)
        if rule != "oracle":
            ax1.errorbar(xs, 100 * g["violation_rate"], yerr=200 * g["violation_se"], marker=marker,
                         capsize=3, color=color, label=label)
        ax2.plot(xs, 100 * g["macs_reduction"], marker=marker, color=color, label=label)
    for i, d in enumerate(deltas):
        ax1.axhline(100 * d, color=plotting.PALETTE[2 + 2 * i], ls="--", lw=1)
    ax1.set_ylabel("splits with test loss > epsilon (%)")
    ax2.set_ylabel("MACs reduction vs big alone (%)")
    for ax in (ax1, ax2):
        ax.set_xticks(list(x.values()), [f"{100 * e:g}" for e in eps])
        ax.set_xlabel("epsilon (accuracy points one accepts to lose)")
    ax2.legend(fontsize="small", loc="upper center", bbox_to_anchor=(-0.1, -0.18), ncol=3,
               frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


_RULE_KEYS = {"guar": "guaranteed", "noloss": "empirical-no-loss", "plugin": "empirical-max-loss",
              "oracle": "oracle"}


def guarantee_numbers(summary: pd.DataFrame, max_loss: float, delta: float) -> dict:
    """The guarantee chapter's glued numbers at (max_loss, delta), for every label set of
    `summary`: ``{prefix}{viol|viol_se|loss|red|found}_{guar|noloss|plugin|oracle}`` with prefix
    "" for the original labels, else the label set's name lower-cased without "-" plus "_"
    ("real_", "cifar10h_"); rates in percent, losses in points (big − cascade)."""
    out = {}
    for labels in summary["labels"].unique():
        prefix = "" if labels == "original" else labels.lower().replace("-", "") + "_"
        for key, rule in _RULE_KEYS.items():
            r = pick(summary, labels=labels, rule=rule, max_loss=max_loss,
                     delta=delta if rule == "guaranteed" else None)
            out.update({f"{prefix}viol_{key}": 100 * r["violation_rate"],
                        f"{prefix}viol_se_{key}": 100 * r["violation_se"],
                        f"{prefix}loss_{key}": 100 * r["loss"],
                        f"{prefix}red_{key}": 100 * r["macs_reduction"],
                        f"{prefix}found_{key}": 100 * r["found"], f"{prefix}frac_{key}": 100 * r["frac_big"]})
    return out


def cifar10h_guarantee(max_loss: float, delta: float, n_splits: int, calib_frac: float = CALIB_FRAC,
                       seed: int = 0, method: str = "clopper-pearson"):
    """`split_study` on the published CIFAR-10 test predictions of ResNet-110 and DenseNet-40
    (the less accurate one as little), judged on the CIFAR-10 labels and on the CIFAR-10H human
    majority (images without a majority left out). Returns (summary, little, big)."""
    from littlebig_utils.run import cifar
    from littlebig_utils.run.datasets import cifar10h_labels, load_cifar10_reference
    labels = cifar.test_labels()
    majority, has_majority, _ = cifar10h_labels()
    little, big = sorted((load_cifar10_reference(m) for m in ("resnet110", "densenet40")),
                         key=lambda p: p.accuracy)
    runs = experiments.split_study(
        little.conf, little.preds == labels, big.preds == labels, [max_loss], [delta], n_splits,
        calib_frac, seed, method,
        shifted={"CIFAR-10H": (little.preds == majority, big.preds == majority, has_majority)})
    return summarize_study(runs), little, big


def pair_study(records: dict[str, Predictions], row: pd.Series, max_losses, deltas, n_splits: int,
               calib_frac: float = CALIB_FRAC, seed: int = 0, method: str = "clopper-pearson",
               real: bool = True) -> pd.DataFrame:
    """`experiments.split_study` for one row of the pair table (its models and GMACs), judged on
    the original labels and, with `real`, on ImageNet-ReaL too."""
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
    """The verdict on claim "titans-cascade" (the claims registry's rule, the Titans chapter's
    statistic at its default budgets), recomputed from that chapter's students table, so that
    both chapters say the same."""
    from littlebig_utils.book import claims
    from littlebig_utils.book.chapters import titans_distillation
    return claims.decide("titans-cascade", **titans_distillation.claim_numbers(students))


STATUS = {"Reproduced": "Answered", "Partly reproduced": "Partly answered",
          "Not reproduced": "Answered against the paper", "Inconclusive": "Open",
          "Not testable here": "Open"}


def status(verdict) -> str:
    """A reviewer objection's status from the verdict of the chapter that answers it."""
    return STATUS[verdict.label]


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
