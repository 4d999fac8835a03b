"""Chapter `deferral_rules` (notebooks/deferral_rules.ipynb): the CIFAR and ImageNet deferral
studies it runs, their verdicts and the numbers its prose quotes."""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.experiments import (conf_pred_rules, deferral_study, example_curves,
                                             human_labels, paired_gain, regime_study,
                                             summarize_deferral)

__all__ = ["VERDICTS", "verdict", "verdict_table", "cifar_studies", "imagenet_studies", "regime_verdicts", "cifar_clean", "chapter_numbers"]


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


def _cifar(little, big, corruption, severity, seed, n):
    from littlebig_utils.run.corruptions import corrupted_predictions
    from littlebig_utils.core.scores import softmax
    pl, pb = (corrupted_predictions(m, corruption, severity, seed, n) for m in (little, big))
    return softmax(pl.logits), pl.preds, pb.preds, pl.labels


def cifar_studies(little: str = "cifar_resnet20", big: str = "cifar_resnet56",
                  n_clean: int | None = None, n_shift: int = 3000,
                  corruptions=("gaussian_blur", "gaussian_noise"), severities=(1, 3, 5),
                  seed: int = 0, n_splits: int = 10, calib_frac: float = 0.5,
                  shares=(0.1, 0.2, 0.3)):
    """The CIFAR-10 regimes: clean, human label noise, corruption shift.

    Returns (studies: regime -> :func:`regime_study`, accuracy table of both models per image
    set (percent), example curves for a figure). Clean = the JPEG test copy (first `n_clean`
    images); label noise = one CIFAR-10H annotator's label per image (:func:`human_labels`),
    rule fitted on noisy or on original labels; shift = CIFAR-10-C blur/noise on the first
    `n_shift` images, rule fitted on clean or on the same corrupted images.
    """
    from littlebig_utils.run.datasets import cifar10h_labels
    kw = dict(n_splits=n_splits, calib_frac=calib_frac, seed=seed, shares=shares)
    probs, pred_l, pred_b, y = _cifar(little, big, None, 0, seed, n_clean)
    y_noisy = human_labels(cifar10h_labels()[2][:len(y)], seed)
    clean = (probs, pred_l == y, pred_b == y)
    noisy = (probs, pred_l == y_noisy, pred_b == y_noisy)
    studies = {"clean": regime_study(clean, {"original labels": clean}, **kw),
               "label noise (fit on noisy)": regime_study(noisy, {"one annotator": noisy}, **kw),
               "label noise (fit on original)": regime_study(clean, {"one annotator": noisy},
                                                             **kw)}
    p, a, b, yy = _cifar(little, big, None, 0, seed, n_shift)
    base = (p, a == yy, b == yy)
    shifted = {}
    for c in corruptions:
        for s in severities:
            p, a, b, yy = _cifar(little, big, c, s, seed, n_shift)
            shifted[f"{c} {s}"] = (p, a == yy, b == yy)
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
        out[f"ImageNet {r['little']} -> {r['big']}"] = deferral_study(
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
    """(little probs, little correct, big correct) on the first n CIFAR-10 JPEG test images."""
    probs, pred_l, pred_b, y = _cifar(little, big, None, 0, seed, n)
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
             "shift (fit on corrupted)": "shift_fit"}
    out = {"regimes": "; ".join(f"{k}: {x}" for k, x in v.items())}
    for k, key in names.items():
        if k in v.index:
            out[f"v_{key}"] = v[k]
            out[f"gain_{key}"] = float(gain.mean()[k])
    if "ImageNet" in v.index:
        g = table.loc[group == "ImageNet", "gain"]
        out.update(imnet_gain_min=float(g.min()), imnet_gain_max=float(g.max()),
                   imnet_enough="max-softmax is enough" if g.abs().max() < 0.1
                   else "the per-class rule matters here")
    return out
