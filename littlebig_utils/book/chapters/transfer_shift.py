"""Chapter `transfer_shift` (notebooks/transfer_shift.ipynb): the no-loss threshold chosen on the
lossless CIFAR-10 test images and applied unchanged to shifted copies of the same images (the
JPEG copy; CIFAR-10-C blur and noise), the CIFAR counterpart of the paper's ImageNet →
ImageNet-V2 transfer; the chapter's tables, figure, verdict and prose numbers.

Every difference is cascade − big on the same images (the book's one sign), with its exact
McNemar 95 % interval (`core.uncertainty.mcnemar_difference`: paired, from the discordant
images). Units: fractions in frames, percent and points in tables, figure and prose.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.book.notebook import ParameterError, markdown_table
from littlebig_utils.core.engine import route
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core.uncertainty import mcnemar_difference

__all__ = ["REPORTED_LOSS", "LOSSLESS", "JPEG", "first", "corrupted", "transfer", "shift_table",
           "pair_markdown", "pairs_markdown", "shift_figure", "outcome", "claim_numbers", "numbers"]

#: the paper's reported loss of the transferred threshold on ImageNet-V2 (authors' response),
#: the bound of claim ``lb-transfer-shift``
REPORTED_LOSS = 0.0007
LOSSLESS, JPEG = "lossless", "JPEG copy"
_COLUMNS = ["set", "little", "big", "threshold", "n", "little_accuracy", "big_accuracy",
            "accuracy", "frac_big", "macs_reduction", "diff", "lo", "hi", "cascade_only",
            "big_only"]


def first(records: dict[str, Predictions], n: int) -> dict[str, Predictions]:
    """The first `n` images of each record: the lossless images the corruptions start from."""
    return {m: p.subset(np.arange(min(n, len(p)))) for m, p in records.items()}


def corrupted(models, corruptions, severities, seed: int, n: int) -> dict[str, dict]:
    """{"<corruption> <severity>": {model: Predictions}} of the first `n` lossless test images
    corrupted with the CIFAR-10-C parameters (`run.corruptions`; cached, the deferral chapter's
    files when the arguments agree)."""
    from littlebig_utils.book.cifar_study import check_corruptions
    from littlebig_utils.run.corruptions import corrupted_predictions
    corruptions, severities = check_corruptions(corruptions, severities)
    return {f"{c} {s}": {m: corrupted_predictions(m, c, s, seed, n) for m in models}
            for c in corruptions for s in severities}


def transfer(little: Predictions, big: Predictions, threshold: float, little_gmacs: float,
             big_gmacs: float) -> dict:
    """The cascade with `threshold` fixed elsewhere, on these predictions: accuracy, share sent
    to big, MACs reduction and the paired difference cascade − big with its interval."""
    if not np.array_equal(little.sample_ids, big.sample_ids):
        raise ValueError(f"{little.name} and {big.name} do not hold the same images in the same "
                         "order: align them first")
    to_big = route(little.conf, threshold)
    cascade = np.where(to_big, big.correct, little.correct)
    d = mcnemar_difference(cascade, big.correct)
    frac = float(to_big.mean())
    return dict(threshold=float(threshold), n=len(little), little_accuracy=little.accuracy,
                big_accuracy=big.accuracy, accuracy=float(cascade.mean()), frac_big=frac,
                macs_reduction=1 - (little_gmacs + frac * big_gmacs) / big_gmacs, diff=d.diff,
                lo=d.lo, hi=d.hi, cascade_only=d.n_cascade_only, big_only=d.n_big_only)


def shift_table(pairs: pd.DataFrame, sets: dict[str, dict[str, Predictions]]) -> pd.DataFrame:
    """For every genuine pair of `pairs` (a pairs table of the lossless images: its no-loss T
    and GMACs) and every image set of `sets` (name -> {model: Predictions}) holding both of its
    models: the transferred cascade (`transfer`), one row each; fractions."""
    rows = []
    ok = pairs[~pairs["degenerate"].astype(bool) & pairs["threshold"].notna()]
    for _, p in ok.iterrows():
        for name, recs in sets.items():
            if p["little"] in recs and p["big"] in recs:
                rows.append(dict(set=name, little=p["little"], big=p["big"], **transfer(
                    recs[p["little"]], recs[p["big"]], p["threshold"], p["little_gmacs"],
                    p["big_gmacs"])))
    return pd.DataFrame(rows, columns=_COLUMNS)


def _ci(t: pd.DataFrame, unit: str = "") -> list[str]:
    ci = "95 % CI " if unit else ""
    return [f"{100 * d:+.2f}{unit} ({ci}{100 * lo:+.2f} to {100 * hi:+.2f})"
            for d, lo, hi in zip(t["diff"], t["lo"], t["hi"])]


def pair_markdown(table: pd.DataFrame) -> str:
    """One pair's rows (one per image set): the chapter's first table, percent and points."""
    shown = pd.DataFrame({"set": table["set"], "n": table["n"],
                          "big": 100 * table["big_accuracy"], "frac": 100 * table["frac_big"],
                          "red": 100 * table["macs_reduction"], "diff": _ci(table)})
    return markdown_table(shown, formats={"big": ".2f", "frac": ".1f", "red": ".1f"}, headers={
        "set": "images", "n": "n", "big": "big model top-1 (%)", "frac": "sent to big (%)",
        "red": "MACs reduction (%)", "diff": "cascade − big (points, 95 % CI)"})


def pairs_markdown(table: pd.DataFrame, shifted: str = JPEG) -> str:
    """Every genuine pair on the lossless images and on the `shifted` set side by side."""
    a = table[table["set"] == LOSSLESS].set_index(["little", "big"])
    b = table[table["set"] == shifted].set_index(["little", "big"])
    both = a.index.intersection(b.index)
    a, b = a.loc[both], b.loc[both]
    shown = pd.DataFrame({
        "pair": [f"{x} → {y}" for x, y in both], "T": a["threshold"].to_numpy(),
        "frac": [f"{100 * x:.1f} → {100 * y:.1f}" for x, y in zip(a["frac_big"], b["frac_big"])],
        "red": [f"{100 * x:.1f} → {100 * y:.1f}"
                for x, y in zip(a["macs_reduction"], b["macs_reduction"])],
        "diff": _ci(b)})
    return markdown_table(shown, formats={"T": ".3f"}, headers={
        "frac": "sent to big (%), lossless → shifted", "red": "MACs reduction (%), lossless → shifted",
        "diff": "cascade − big on the shifted images (points, 95 % CI)"})


def shift_figure(table: pd.DataFrame, title: str = ""):
    """Two panels over the image sets of one pair: cascade − big (points) with its 95 %
    interval and the tolerated reported loss; the share of images sent to the big model."""
    import matplotlib.pyplot as plt

    from littlebig_utils.book import plots as plotting
    y = np.arange(len(table))[::-1]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 0.45 * len(table) + 1.8), sharey=True,
                                  gridspec_kw=dict(width_ratios=[1.6, 1]))
    ax.errorbar(100 * table["diff"], y, xerr=[100 * (table["diff"] - table["lo"]),
                                              100 * (table["hi"] - table["diff"])],
                fmt="o", color=plotting.CASCADE, ecolor="0.5", capsize=3)
    ax.axvline(0, color=plotting.BIG, ls="--", lw=1.2)
    ax.axvline(-100 * REPORTED_LOSS, color="0.4", ls=":", lw=1)
    ax.set(yticks=y, yticklabels=list(table["set"]), xlabel="cascade − big (points, 95 % CI)")
    ax2.barh(y, 100 * table["frac_big"], color=plotting.PALETTE[0])
    ax2.set(xlabel="images sent to the big model (%)")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    return fig


def outcome(row, tolerance: float = REPORTED_LOSS) -> str:
    """"holds" when the interval of cascade − big lies at or above −tolerance, "fails" when it
    lies wholly below, "open" when it straddles −tolerance (the data cannot decide)."""
    if row["lo"] >= -tolerance:
        return "holds"
    return "fails" if row["hi"] < -tolerance else "open"


def claim_numbers(pair: pd.DataFrame) -> dict:
    """The statistics of claim ``lb-transfer-shift`` (`book.claims`), fractions, from one pair's
    rows of `shift_table`: cascade − big on the JPEG copy with its interval, and the corrupted
    set with the largest loss (lowest difference) with its interval (None without one)."""
    jpeg = pair[pair["set"] == JPEG]
    corr = pair[~pair["set"].str.startswith(LOSSLESS) & (pair["set"] != JPEG)]
    out = {}
    for key, rows in (("jpeg_diff", jpeg), ("corrupted_diff", corr)):
        if rows.empty:
            out.update({key: None, f"{key}_lo": None, f"{key}_hi": None})
        else:
            r = rows.sort_values("diff", kind="stable").iloc[0]
            out.update({key: float(r["diff"]), f"{key}_lo": float(r["lo"]),
                        f"{key}_hi": float(r["hi"])})
    return out


def numbers(pair: pd.DataFrame, table: pd.DataFrame) -> dict:
    """The numbers the chapter's prose quotes (percent and points): the pair on the lossless
    images and on the JPEG copy, the corrupted sets, and every pair on the JPEG copy."""
    by = pair.set_index("set")
    lossless, jpeg = by.loc[LOSSLESS], by.loc[JPEG]
    corr = pair[~pair["set"].isin([LOSSLESS, JPEG]) & ~pair["set"].str.startswith("lossless")]
    out_c = corr.apply(outcome, axis=1) if len(corr) else pd.Series(dtype=str)
    worst = corr.sort_values("diff").iloc[0] if len(corr) else None
    pj = table[table["set"] == JPEG]
    return dict(
        n_images=int(lossless["n"]), t=float(lossless["threshold"]),
        acc_big=100 * float(lossless["big_accuracy"]), acc_big_jpeg=100 * float(jpeg["big_accuracy"]),
        acc_little=100 * float(lossless["little_accuracy"]),
        acc_little_jpeg=100 * float(jpeg["little_accuracy"]),
        frac=100 * float(lossless["frac_big"]), frac_jpeg=100 * float(jpeg["frac_big"]),
        red=100 * float(lossless["macs_reduction"]), red_jpeg=100 * float(jpeg["macs_reduction"]),
        diff_lossless=_ci(by.loc[[LOSSLESS]])[0], diff_jpeg=_ci(by.loc[[JPEG]])[0],
        n_corr=len(corr), n_corr_holds=int((out_c == "holds").sum()),
        n_corr_fails=int((out_c == "fails").sum()), n_corr_open=int((out_c == "open").sum()),
        worst_set="–" if worst is None else worst["set"],
        worst_diff="–" if worst is None else _ci(corr.loc[[worst.name]])[0],
        worst_frac=float("nan") if worst is None else 100 * float(worst["frac_big"]),
        n_pairs=len(pj), n_pairs_fail=int((pj.apply(outcome, axis=1) == "fails").sum())
        if len(pj) else 0,
        median_diff_pairs=100 * float(pj["diff"].median()) if len(pj) else float("nan"),
        frac_up_pairs=int((pj.set_index(["little", "big"])["frac_big"]
                           > table[table["set"] == LOSSLESS].set_index(["little", "big"])
                           ["frac_big"].reindex(pj.set_index(["little", "big"]).index)).sum()))
