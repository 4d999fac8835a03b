"""Chapter `transfer_cifar10h` (notebooks/transfer_cifar10h.ipynb): the no-loss threshold fixed
on the original CIFAR-10 labels, scored against the CIFAR-10H human majority; its verdict, the
numbers of its prose, and the same transfer on the JPEG copy the chapter used before.

The label transfer itself (`studies.label_transfer`, `transfer_row`, `transfer_markdown`,
`plot_transfer`) is shared with the ImageNet-ReaL chapter and stays in `book.studies`.
Units: fractions in frames; percent and points in the prose numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.book import studies, verdicts
from littlebig_utils.core.engine import route
from littlebig_utils.core.pairs import pairs_table
from littlebig_utils.core.predictions import Predictions

__all__ = ["REPORTED_LOSS", "human_labels", "verdict", "numbers", "jpeg_numbers"]

#: the paper's reported loss under the relabelled ImageNet-ReaL (authors' response), a fraction
REPORTED_LOSS = 0.0004


def human_labels(records: dict[str, Predictions]) -> tuple[dict, np.ndarray, np.ndarray]:
    """(model -> correct against the CIFAR-10H majority, valid mask, soft labels), joined to the
    records' images by sample id (`run.datasets.cifar10h_join`): no image is matched by position
    alone. Images whose top two classes got equally many votes are not valid."""
    from littlebig_utils.run.datasets import cifar10h_join
    first = next(iter(records.values()))
    majority, valid, soft = cifar10h_join(first.sample_ids)
    for name, p in records.items():
        if not np.array_equal(p.sample_ids, first.sample_ids):
            raise ValueError(f"{name} holds other images than {first.name}: align the records")
    return {m: p.preds == majority for m, p in records.items()}, valid, soft


def verdict(head: pd.Series, little: str, big: str) -> verdicts.Verdict:
    """The reported marginal loss (0.04 points on ImageNet-ReaL) against the chapter's pair's
    change cascade − big under CIFAR-10H, with its exact McNemar interval."""
    return verdicts.verdict_no_loss(100 * head["change"], 100 * head["ci_lo"], 100 * head["ci_hi"],
                                    tolerance=100 * REPORTED_LOSS,
                                    what=f"The cascade {little} → {big} under CIFAR-10H")


def numbers(records: dict[str, Predictions], table: pd.DataFrame, head: pd.Series, valid,
            soft, little: str, big: str) -> dict:
    """The numbers the chapter's prose quotes (percent, points, counts)."""
    lo, bi = records[little], records[big]
    pred = np.where(route(lo.conf, head["threshold"]), bi.preds, lo.preds)
    rows = np.arange(len(pred))
    return dict(
        little=little, big=big, n_images=len(pred), n_valid=int(np.sum(valid)), n_pairs=len(table),
        gap=100 * head["gap"], t=head["threshold"], reduction=100 * head["macs_reduction"],
        orig_change=100 * head["original_change"], change=100 * head["change"],
        ci_lo=100 * head["ci_lo"], ci_hi=100 * head["ci_hi"], cascade_only=int(head["cascade_only"]),
        big_only=int(head["big_only"]),
        soft_change=100 * (soft[rows, pred].mean() - soft[rows, bi.preds].mean()),
        median_change=100 * table["change"].median(), n_resolved=int((table["ci_hi"] < 0).sum()))


def jpeg_numbers(jpeg: dict[str, Predictions], little: str, big: str) -> dict:
    """The chapter's pair on the JPEG copy (what the chapter showed before it moved to the
    lossless images): T fixed on the JPEG copy's original labels, scored under CIFAR-10H."""
    gmacs = {m: float(p.model["gmacs"]) for m, p in jpeg.items()}
    pairs = pairs_table(jpeg, gmacs)
    correct, valid, _ = human_labels(jpeg)
    row = studies.label_transfer(pairs[(pairs["little"] == little) & (pairs["big"] == big)],
                                 jpeg, correct, valid)
    if row.empty:
        return dict(jpeg_change="no threshold to transfer (the cascade never matches the big "
                                "model there)", jpeg_t=float("nan"))
    r = row.iloc[0]
    return dict(jpeg_change=f"{100 * r['change']:+.2f} points (95 % CI {100 * r['ci_lo']:+.2f} to "
                            f"{100 * r['ci_hi']:+.2f})",
                jpeg_t=float(r["threshold"]))
