"""Chapter `deferral_rules` (notebooks/deferral_rules.ipynb): the CIFAR and ImageNet deferral
studies it runs, their verdicts, tables and figures, and the numbers its prose quotes.

CIFAR-10 images: the lossless test set (`cifar10-test`; clean and label-noise regimes), its
corruptions (`run.corruptions`, CIFAR-10-C parameters) and its JPEG copy (`cifar10-test-jpeg`),
the last two as distribution shifts. Clean and JPEG predictions are the cached ones every CIFAR
chapter reads (`run.predict.cached_predictions`). Units: fractions in frames, percent and points
in tables and prose.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.experiments import (conf_pred_rules, deferral_study, example_curves,
                                             guarantee_by_score, guarantee_pairs, human_labels,
                                             paired_gain, regime_study, summarize_deferral)

__all__ = ["VERDICTS", "JPEG", "OUTCOMES", "verdict", "verdict_table", "cifar_studies",
           "imagenet_studies", "regime_verdicts", "cifar_clean", "chapter_numbers", "claim_numbers",
           "check_parameters", "SMOKE", "imagenet_pairs", "accuracy_markdown", "verdicts_markdown",
           "guarantee_summary", "guarantee_markdown", "curves_figure", "kept_figure",
           "guarantee_numbers", "guarantee_by_score", "guarantee_pairs"]

#: the evaluation set of the JPEG copy of the test images (a natural distribution shift)
JPEG = "JPEG copy"

#: smoke-mode sizes (tests): few splits, draws and images, one corruption
SMOKE = dict(n_splits=2, n_clean=1000, n_shift=300, mc_draws=3, imagenet_pairs=1,
             corruptions=["gaussian_noise"], severities=[3])


VERDICTS = ("Reproduced", "Partly reproduced", "Not reproduced", "Not testable here")


def verdict(gains: pd.DataFrame, min_gain: float = 0.001) -> str:
    """Does the learned rule beat confidence? From :func:`paired_gain` rows of one regime.

    Gains are fractions of accuracy; `min_gain` (default 0.001 = 0.1 accuracy points) is the
    smallest gain that counts: below it no user would notice. Reproduced: at some share the
    learned rule is better by more than min_gain on *every* split (the gain exceeds the spread
    over splits). Partly reproduced: better by more than min_gain on average at some share, but
    not on every split. Not reproduced: never. Not testable here: no rows.
    """
    if gains.empty:
        return "Not testable here"
    if (gains["min"] > min_gain).any():
        return "Reproduced"
    if (gains["mean"] > min_gain).any():
        return "Partly reproduced"
    return "Not reproduced"


def verdict_table(studies: dict, baseline: str = "confidence",
                  min_gain: float = 0.001) -> pd.DataFrame:
    """One row per regime, evaluation set, learned rule and share: mean accuracy (percent) of
    the baseline and the rule, the paired gain over splits (points: mean, min, max) and the
    verdict of that regime/eval/rule (see :func:`verdict`). `studies`: regime -> study."""
    rows = []
    for regime, st in studies.items():
        s = summarize_deferral(st)
        learned = [r for r in st["rule"].unique() if r.startswith("learned")]
        for rule in learned:
            g = paired_gain(st, rule, baseline)
            for ev, ge in g.groupby("eval", sort=False):
                v = verdict(ge, min_gain)
                for _, r in ge.iterrows():
                    at = s[(s["eval"] == ev) & (s["share"] == r["share"])].set_index("rule")
                    rows.append(dict(regime=regime, eval=ev, rule=rule, share=100 * r["share"],
                                     confidence=100 * at.loc[baseline, "mean"],
                                     learned=100 * at.loc[rule, "mean"],
                                     oracle=100 * at.loc["oracle", "mean"] if "oracle" in at.index
                                     else np.nan,
                                     gain=100 * r["mean"], gain_min=100 * r["min"],
                                     gain_max=100 * r["max"], verdict=v))
    return pd.DataFrame(rows)


def _cifar(little, big, source, severity, seed, n, n_clean=None):
    """(little probs, little preds, big preds, labels, sample ids) on the first `n` test images:
    `source` None = lossless, `JPEG` = the JPEG copy (both from the cached predictions of the
    first `n_clean` images, None = all), else a corruption of the lossless images."""
    from littlebig_utils.core.scores import softmax
    if source is None or source == JPEG:
        from littlebig_utils.run.predict import cached_predictions
        dataset = "cifar10-test" if source is None else "cifar10-test-jpeg"
        pl, pb = (cached_predictions(m, dataset, limit=n_clean) for m in (little, big))
        k = len(pl) if n is None else int(n)
        if k > len(pl):
            raise ValueError(f"{k} images asked for, but only the first {len(pl)} are predicted "
                             "(n_clean): ask for at most n_clean")
        pl, pb = pl.subset(np.arange(k)), pb.subset(np.arange(k))
    else:
        from littlebig_utils.run.corruptions import corrupted_predictions
        pl, pb = (corrupted_predictions(m, source, severity, seed, n) for m in (little, big))
    return softmax(pl.logits), pl.preds, pb.preds, pl.labels, pl.sample_ids


def cifar_studies(little: str = "cifar_resnet20", big: str = "cifar_resnet56",
                  n_clean: int | None = None, n_shift: int = 3000,
                  corruptions=("gaussian_blur", "gaussian_noise"), severities=(1, 3, 5),
                  seed: int = 0, n_splits: int = 10, calib_frac: float = 0.5,
                  shares=(0.1, 0.2, 0.3), jpeg: bool = True):
    """The CIFAR-10 regimes: clean, human label noise, distribution shift.

    Returns (studies: regime -> :func:`regime_study`, accuracy table of both models per image
    set (percent), example curves for a figure). Clean = the lossless test images (the first
    `n_clean`, None = all); label noise = one CIFAR-10H annotator's label per image
    (:func:`human_labels`, joined by sample id), rule fitted on noisy or on original labels;
    shift = the first `n_shift` images as the JPEG copy (`jpeg`) and with CIFAR-10-C blur or
    noise, the rule fitted on the clean images or on the shifted ones themselves.
    """
    from littlebig_utils.run.datasets import cifar10h_join
    kw = dict(n_splits=n_splits, calib_frac=calib_frac, seed=seed, shares=shares)
    probs, pred_l, pred_b, y, ids = _cifar(little, big, None, 0, seed, n_clean, n_clean)
    y_noisy = human_labels(cifar10h_join(ids)[2], seed)
    clean = (probs, pred_l == y, pred_b == y)
    noisy = (probs, pred_l == y_noisy, pred_b == y_noisy)
    studies = {"clean": regime_study(clean, {"original labels": clean}, **kw),
               "label noise (fit on noisy)": regime_study(noisy, {"one annotator": noisy}, **kw),
               "label noise (fit on original)": regime_study(clean, {"one annotator": noisy},
                                                             **kw)}
    p, a, b, yy, _ = _cifar(little, big, None, 0, seed, n_shift, n_clean)
    base = (p, a == yy, b == yy)
    sources = ([(JPEG, JPEG, 0)] if jpeg else []) + [
        (f"{c} {s}", c, s) for c in corruptions for s in severities]
    shifted = {}
    for name, source, severity in sources:
        p, a, b, yy, _ = _cifar(little, big, source, severity, seed, n_shift, n_clean)
        shifted[name] = (p, a == yy, b == yy)
    studies["shift (fit on clean)"] = regime_study(base, shifted, **kw)
    for name, data in shifted.items():
        studies[f"shift (fit on {name})"] = regime_study(data, {name: data}, **kw)
    acc = pd.DataFrame([dict(images=k, n=len(v[1]), little=100 * v[1].mean(),
                             big=100 * v[2].mean()) for k, v in
                        {"clean (all)": clean, "one annotator": noisy, "clean": base,
                         **shifted}.items()])
    last = list(shifted)[-1]
    curves = pd.concat([example_curves(clean, {"clean": clean}, calib_frac, seed),
                        example_curves(noisy, {"label noise": noisy}, calib_frac, seed),
                        example_curves(base, {f"{last} (fit on clean)": shifted[last]},
                                       calib_frac, seed)], ignore_index=True)
    return studies, acc, curves


def imagenet_studies(records: dict, pairs: pd.DataFrame, seed: int = 0, n_splits: int = 10,
                     calib_frac: float = 0.5, shares=(0.1, 0.2, 0.3)) -> dict:
    """Confidence vs the per-class rule on ImageNet reference pairs (rows little, big)."""
    out = {}
    for _, r in pairs.iterrows():
        lp, bp = records[r["little"]], records[r["big"]]
        k = int(max(lp.labels.max(), lp.preds.max())) + 1
        rules = conf_pred_rules(lp.conf, lp.preds, lp.correct, bp.correct, k, seed)
        out[f"ImageNet {r['little']} → {r['big']}"] = deferral_study(
            rules, lp.correct, bp.correct, n_splits, calib_frac, seed, shares)
    return out


def regime_verdicts(table: pd.DataFrame) -> pd.Series:
    """Verdict per regime over its (evaluation set, learned rule) rows of :func:`verdict_table`.

    Reproduced when at least half of its rows are Reproduced; Partly reproduced when some row
    is Reproduced or Partly reproduced; else Not reproduced (Not testable here: no rows).
    """
    def one(s):
        if len(s) == 0:
            return "Not testable here"
        if (s == "Reproduced").mean() >= 0.5:
            return "Reproduced"
        if s.isin(["Reproduced", "Partly reproduced"]).any():
            return "Partly reproduced"
        return "Not reproduced"
    rows = table.drop_duplicates(["regime", "eval", "rule"])
    return rows.groupby("regime", sort=False)["verdict"].agg(one)


def cifar_clean(little: str = "cifar_resnet20", big: str = "cifar_resnet56",
                n: int | None = None, seed: int = 0) -> tuple:
    """(little probs, little correct, big correct) on the first n lossless CIFAR-10 test images."""
    probs, pred_l, pred_b, y, _ = _cifar(little, big, None, 0, seed, n, n)
    return probs, pred_l == y, pred_b == y


def chapter_numbers(table: pd.DataFrame) -> dict:
    """Verdicts and mean gains (points) per regime group for the chapter's prose.

    Groups: the regimes of :func:`cifar_studies` with every "fit on <corruption>" regime
    pooled as "shift (fit on corrupted)", and all ImageNet pairs as "ImageNet".
    """
    from littlebig_utils.run.corruptions import CORRUPTIONS
    group = (table["regime"].str.replace(rf"fit on (?:{'|'.join(CORRUPTIONS)}).*\)",
                                         "fit on corrupted)", regex=True)
             .where(~table["regime"].str.startswith("ImageNet"), "ImageNet"))
    v = regime_verdicts(table.assign(regime=group))
    gain = table.groupby(group, sort=False)["gain"]
    names = {"ImageNet": "imagenet", "clean": "clean", "label noise (fit on noisy)": "noise",
             "label noise (fit on original)": "noise_orig", "shift (fit on clean)": "shift_clean",
             "shift (fit on corrupted)": "shift_fit", f"shift (fit on {JPEG})": "jpeg"}
    out = {"regimes": "; ".join(f"{k}: {OUTCOMES[x]}" for k, x in v.items())}
    for k, key in names.items():
        if k in v.index:
            out[f"v_{key}"] = OUTCOMES[v[k]]
            out[f"gain_{key}"] = float(gain.mean()[k])
            out[f"best_{key}"] = float(gain.max()[k])
    jpeg = table[(table["regime"] == "shift (fit on clean)") & (table["eval"] == JPEG)]
    if len(jpeg):
        out["gain_jpeg_clean"] = float(jpeg["gain"].mean())
    if "ImageNet" in v.index:
        g = table.loc[group == "ImageNet", "gain"]
        out.update(imnet_gain_min=float(g.min()), imnet_gain_max=float(g.max()),
                   imnet_enough="on average over the splits the learned rule stays within 0.1 "
                                "points of max-softmax" if g.abs().max() < 0.1
                   else "the per-class rule moves the accuracy by more than 0.1 points on average")
    return out


#: how the tables and prose name the outcome of a (regime, evaluation set, rule) row of
#: :func:`verdict_table`: the claims' verdicts come from `book.claims`, one per claim
OUTCOMES = {"Reproduced": "better on every split", "Partly reproduced": "better on average only",
            "Not reproduced": "not better", "Not testable here": "–"}


def claim_numbers(table: pd.DataFrame) -> dict[str, dict]:
    """The statistics (fractions) of the chapter's claims in `book.claims`, from
    :func:`verdict_table` rows: ``defer-confidence-suffices`` from the ImageNet row where the
    learned rule gains most (mean over splits, with the lowest and highest split), and
    ``defer-learned-helps`` from the CIFAR-10 label-noise or shift row where it gains most;
    each with ``row``, that row's description for the prose (not a statistic)."""
    imagenet = table["regime"].str.startswith("ImageNet")
    helps = ~imagenet & (table["regime"] != "clean")
    out = {}
    for cid, rows in (("defer-confidence-suffices", table[imagenet]),
                      ("defer-learned-helps", table[helps])):
        if rows.empty:
            out[cid] = dict(gain=None, gain_lo=None, gain_hi=None, row="–")
            continue
        r = rows.sort_values("gain", ascending=False, kind="stable").iloc[0]
        out[cid] = dict(gain=r["gain"] / 100, gain_lo=r["gain_min"] / 100,
                        gain_hi=r["gain_max"] / 100,
                        row=f"{r['regime']}, evaluated on {r['eval']}, {r['rule']}, "
                            f"{r['share']:.0f} % sent to big (best of {len(rows)} rows)")
    return out


def check_parameters(n_splits, calib_frac, shares, n_shift, corruptions, severities,
                     imagenet_pairs, mc_draws, n_calib, max_loss, delta, little, big,
                     seed=0) -> tuple:
    """Every parameter of the chapter, refused in one line (`notebook.ParameterError`) when bad.
    Returns (max_loss, shares, corruptions, severities): `max_loss` a fraction (0.005 is half a
    point; a value read as points is refused with both readings), the lists as lists
    (papermill's ``-p NAME '[...]'`` text read as the list it spells)."""
    from littlebig_utils.book.cifar_study import MODELS, check_corruptions
    from littlebig_utils.book.notebook import ParameterError, integer, listed, number
    from littlebig_utils.core.checks import check_max_loss
    integer("n_splits", n_splits, minimum=1, example=10)
    integer("seed", seed, minimum=0)
    number("calib_frac", calib_frac, 0.05, 0.95, example=0.5)
    shares = listed(shares)
    if not isinstance(shares, list) or not shares:
        raise ParameterError(f"parameter shares must be a list of fractions, got {shares!r} "
                             "(e.g. -p shares '[0.1, 0.2, 0.3]')")
    for x in shares:
        number("shares", x, 0.0, 1.0, example="'[0.1, 0.2, 0.3]'")
    integer("n_shift", n_shift, minimum=100, example=3000)
    corruptions, severities = check_corruptions(corruptions, severities)
    integer("imagenet_pairs", imagenet_pairs, minimum=1, example=2)
    integer("mc_draws", mc_draws, minimum=1, example=100)
    integer("n_calib", n_calib, minimum=100, example=5000)
    number("delta", delta, 1e-6, 0.5, example=0.1)
    if little not in MODELS or big not in MODELS or MODELS.index(little) >= MODELS.index(big):
        raise ParameterError(f"parameters little and big must be two CIFAR ResNets of "
                             f"{', '.join(MODELS)}, the little one cheaper; got {little!r} and "
                             f"{big!r}")
    try:
        max_loss = check_max_loss(max_loss, "parameter max_loss")
    except ValueError as e:
        raise ParameterError(f"{e} (e.g. -p max_loss 0.005)") from None
    return max_loss, list(shares), corruptions, severities


def imagenet_pairs(records: dict, max_loss: float, k: int) -> pd.DataFrame:
    """The `k` ImageNet reference pairs with the largest in-sample saving whose little model
    alone loses more than `max_loss` (`experiments.eligible_pairs`)."""
    from littlebig_utils.core.experiments import eligible_pairs
    return eligible_pairs(records, {m: p.model["gmacs"] for m, p in records.items()},
                          max_loss, k)


def accuracy_markdown(acc: pd.DataFrame, little: str, big: str) -> str:
    """The top-1 of both models on each CIFAR-10 evaluation set (readable headers)."""
    from littlebig_utils.book.notebook import markdown_table
    return markdown_table(acc, formats={"little": ".2f", "big": ".2f"}, headers={
        "images": "evaluation set", "n": "images", "little": f"{little} top-1 (%)",
        "big": f"{big} top-1 (%)"})


def verdicts_markdown(table: pd.DataFrame, share: float) -> str:
    """The verdict table at one deferral budget `share` (a fraction): accuracy at equal
    deferral of each rule (percent), the paired gain (points, mean with min to max over
    splits) and the verdict, 7 columns."""
    from littlebig_utils.book.notebook import markdown_table
    t = table[np.isclose(table["share"], 100 * share)]
    shown = pd.DataFrame({
        "regime": t["regime"],
        "eval": t["eval"] + " · " + t["rule"].str.removeprefix("learned (").str.removesuffix(")"),
        "confidence": t["confidence"], "learned": t["learned"], "oracle": t["oracle"],
        "gain": [f"{g:+.2f} ({lo:+.2f} to {hi:+.2f})"
                 for g, lo, hi in zip(t["gain"], t["gain_min"], t["gain_max"])],
        "verdict": t["verdict"].map(OUTCOMES)})
    return markdown_table(shown, headers={"verdict": "learned rule",
        "eval": "evaluated on · learned rule", "confidence": "confidence (%)",
        "learned": "learned (%)", "oracle": "oracle (%)",
        "gain": "learned − confidence (points): mean (min to max)"})


def guarantee_summary(gs: pd.DataFrame) -> pd.DataFrame:
    """Mean share sent to big and loss against big (fractions) per score and p-value method."""
    return gs.groupby(["score", "method"])[["frac_big", "loss"]].mean().reset_index()


def guarantee_markdown(gsum: pd.DataFrame) -> str:
    """`guarantee_summary` in percent and points (readable headers)."""
    from littlebig_utils.book.notebook import markdown_table
    shown = gsum.assign(frac_big=100 * gsum["frac_big"], loss=100 * gsum["loss"])
    return markdown_table(shown, headers={"score": "keep-score", "method": "p-values",
                                          "frac_big": "sent to big (%)",
                                          "loss": "loss against big (points)"})


def curves_figure(curves: pd.DataFrame):
    """Deferral curves per evaluation set (one panel each, at most three), rules coloured,
    the oracle dashed; accuracies drawn in percent, one legend below the panels."""
    import matplotlib.pyplot as plt

    from littlebig_utils.book import plots as plotting
    groups = list(curves.groupby("eval", sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(13, 4), sharex=True, squeeze=False)
    for ax, (ev, c) in zip(axes[0], groups):
        for i, (rule, g) in enumerate(c.groupby("rule", sort=False)):
            ax.plot(100 * g["frac_deferred"], 100 * g["accuracy"], label=rule,
                    color=plotting.PALETTE[i], ls="--" if rule == "oracle" else "-")
        ax.set(title=ev, xlabel="share of samples sent to big (%)", xlim=(0, 60))
    axes[0, 0].set_ylabel("cascade top-1 (%)")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncol=4,
               bbox_to_anchor=(0.5, -0.08), fontsize="small", frameon=False)
    return fig


def kept_figure(ms: pd.DataFrame):
    """Share of the oracle MACs saving kept per ImageNet pair and p-value method (bars), the
    violation rate above each bar, the 90 % goal dashed; legend below the axes."""
    import matplotlib.pyplot as plt

    from littlebig_utils.book import plots as plotting
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (m, g) in enumerate(ms.groupby("method")):
        x = np.arange(len(g)) + 0.2 * (2 * i - 1)
        ax.bar(x, 100 * g["kept"], width=0.4, color=plotting.PALETTE[i], label=f"{m}: kept share")
        for xi, k, vr in zip(x, g["kept"], g["violation"]):
            ax.annotate(f"viol. {100 * vr:.0f} %", (xi, 100 * k), ha="center", va="bottom",
                        fontsize=8)
    ax.axhline(90, color="0.3", ls="--", lw=1, label="goal: 90 %")
    ax.set(xticks=np.arange(len(g)), xticklabels=[p.replace(" -> ", " → ") for p in g["pair"]],
           ylim=(0, 105),
           ylabel="share of the oracle MACs saving kept (%)")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3,
              frameon=False)
    return fig


def guarantee_numbers(ms: pd.DataFrame) -> dict:
    """Kept share and violation rate (percent) per p-value method for the prose, and whether
    WSR meets the 90 % goal on every pair."""
    out = {}
    for m, g in ms.groupby("method"):
        key = "cp" if m == "clopper-pearson" else m
        out.update({f"{key}_kept_min": 100 * g["kept"].min(), f"{key}_kept_max": 100 * g["kept"].max(),
                    f"{key}_viol_max": 100 * g["violation"].max(),
                    f"{key}_viol_se": 100 * g["violation_se"].max()})
    wsr = ms.loc[ms["method"] == "wsr", "kept"]
    out["wsr_goal"] = "met" if len(wsr) and bool((wsr >= 0.9).all()) else "not met"
    return out
