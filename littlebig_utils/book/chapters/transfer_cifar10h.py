"""Chapter `transfer_cifar10h` (notebooks/transfer_cifar10h.ipynb): the no-loss threshold fixed
on the original CIFAR-10 labels, scored against the CIFAR-10H human majority; its verdict, the
numbers of its prose, and the same transfer on the JPEG copy the chapter used before.

The label transfer itself (`studies.label_transfer`, `transfer_row`, `transfer_markdown`,
`plot_transfer`) is shared with the ImageNet-ReaL chapter and stays in `book.studies`; this
module does not import it (`studies` imports a chapter module, and the book's modules form no
import circle).
Units: fractions in frames; percent and points in the prose numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from littlebig_utils.core.engine import no_loss_point, route, sweep
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.core.uncertainty import mcnemar_difference

__all__ = ["human_labels", "claim_numbers", "numbers", "jpeg_numbers"]


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


def claim_numbers(head: pd.Series) -> dict:
    """The statistic of claim ``lb-transfer-cifar10h`` (`book.claims`), fractions: the chapter's
    pair's change cascade − big under CIFAR-10H with its exact McNemar interval."""
    return dict(diff=float(head["change"]), diff_lo=float(head["ci_lo"]),
                diff_hi=float(head["ci_hi"]))


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
    lossless images): T at the no-loss point on the JPEG copy's original labels, the cascade
    scored under CIFAR-10H (cascade − big with its exact McNemar interval, as
    `studies.label_transfer` does for the lossless images)."""
    lo, bi = jpeg[little], jpeg[big]
    point = no_loss_point(sweep(lo, bi))
    if point is None:
        return dict(jpeg_change="no threshold to transfer (the cascade never matches the big "
                                "model there)", jpeg_t=float("nan"))
    correct, valid, _ = human_labels({little: lo, big: bi})
    t = float(point["threshold"])
    cascade = np.where(route(lo.conf, t), correct[big], correct[little])
    d = mcnemar_difference(cascade, correct[big], valid)
    return dict(jpeg_change=f"{100 * d.diff:+.2f} points (95 % CI {100 * d.lo:+.2f} to "
                            f"{100 * d.hi:+.2f})", jpeg_t=t)
