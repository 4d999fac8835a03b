"""One figure style for the whole book, and the figures more than one chapter draws."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


PALETTE = sns.color_palette("colorblind")
LITTLE, BIG, CASCADE = PALETTE[0], PALETTE[3], PALETTE[2]


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", palette=PALETTE)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "axes.titlesize": "medium", "legend.frameon": True})


def save(fig, path) -> None:
    """PNG for the book and PDF for print, side by side."""
    from pathlib import Path
    path = Path(path)
    fig.savefig(path.with_suffix(".png"))
    fig.savefig(path.with_suffix(".pdf"))


def threshold_curves(table: pd.DataFrame, little: str, big: str, little_accuracy: float,
                     big_accuracy: float, point: pd.Series | None = None,
                     dataset: str = "ImageNet-1k val", ax=None):
    """Accuracy and fraction sent to big against the threshold T (the paper's Figure 3).

    `table` is a sweep (`sweep`), the accuracies are fractions; drawn in percent."""
    little_accuracy, big_accuracy = 100 * little_accuracy, 100 * big_accuracy
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.2))
    fig = ax.figure
    acc = ax.plot(table["threshold"], 100 * table["accuracy"], color=CASCADE, lw=2,
                  label="cascade top-1 (left axis)")
    ax.axhline(big_accuracy, color=BIG, ls="--", lw=1.2, label=f"{big} alone ({big_accuracy:.2f} %)")
    ax.axhline(little_accuracy, color=LITTLE, ls=":", lw=1.2,
               label=f"{little} alone ({little_accuracy:.2f} %)")
    ax.set_xlabel("threshold T (little's max softmax below T goes to big)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_xlim(0, 1)
    lo = min(little_accuracy, 100 * table["accuracy"].min())
    hi = max(big_accuracy, 100 * table["accuracy"].max())
    ax.set_ylim(lo - 0.15 * (hi - lo), hi + 0.1 * (hi - lo))
    ax2 = ax.twinx()
    frac = ax2.plot(table["threshold"], 100 * table["frac_big"], color="0.35", lw=1.5,
                    label="sent to big (right axis)")
    ax2.set_ylabel("samples sent to big (%)")
    ax2.set_ylim(0, 100)
    ax2.grid(False)
    handles = acc + frac + ax.get_lines()[1:3]
    if point is not None:
        t = float(point["threshold"])
        ax.axvline(t, color="k", lw=0.8)
        mk = ax.plot([t], [100 * point["accuracy"]], "o", color="k", ms=6,
                     label=f"no-loss point T={t:.3f}: {100 * point['frac_big']:.1f} % to big")
        handles += mk
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
              fontsize="small")
    ax.set_title(f"{little} \u2192 {big} on {dataset}")
    return fig
