"""Chapter `transfer_real` (notebooks/transfer_real.ipynb): thresholds fixed on ImageNet-1k
applied to a second dataset of the user's Predictions files, and the exercise's threshold
chosen on the ReaL labels themselves. The ReaL transfer itself is `studies.label_transfer`
(shared with transfer_cifar10h and limits_open_questions)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core.pairs import transfer_table
from littlebig_utils.core.predictions import Predictions
from littlebig_utils.book.notebook import ParameterError, markdown_table

__all__ = ["claim_numbers", "second_folder", "second_dataset", "second_markdown", "real_threshold"]


def claim_numbers(head: pd.Series) -> dict:
    """The statistics of claim ``lb-transfer-real`` (`book.claims`), fractions, from the
    headline pair's `studies.transfer_row`: the MACs reduction with T fixed on ImageNet-1k val
    (the same under ReaL) and the accuracy difference cascade − big under ReaL with its exact
    McNemar 95 % interval."""
    return dict(reduction=float(head["macs_reduction"]), diff=float(head["change"]),
                diff_lo=float(head["ci_lo"]), diff_hi=float(head["ci_hi"]))


def second_folder(second_dir) -> Path | None:
    """The `second_dir` parameter: None (no second dataset) or a folder, checked before any
    computation; anything else is a one-line `ParameterError`."""
    if second_dir is None:
        return None
    folder = Path(second_dir).expanduser() if isinstance(second_dir, (str, Path)) else None
    if folder is None or not folder.is_dir():
        raise ParameterError(f"parameter second_dir={second_dir!r} is not a folder of MODEL.npz "
                             "Predictions files (e.g. -p second_dir ~/imagenet_v2_predictions)")
    return folder


def second_dataset(second_dir, records: dict[str, Predictions], pairs: pd.DataFrame) -> pd.DataFrame:
    """`pairs.transfer_table` of `pairs` (thresholds fixed on ImageNet-1k) on the MODEL.npz
    Predictions in folder `second_dir` (`second_folder`; the models of `records` found there,
    as `littlebig predict` writes them); fractions, accuracy_change = cascade − big on the
    second dataset."""
    folder = second_folder(second_dir)
    second = {k: Predictions.load(folder / f"{k}.npz") for k in records
              if (folder / f"{k}.npz").is_file()}
    return transfer_table(pairs, second)


def second_markdown(table: pd.DataFrame | None, name: str) -> str:
    """The second-dataset section after its claims' verdicts (`lb-transfer-v2`,
    `lb-v2-threshold`): how to add the data (`table` None), else the numbered table of
    `second_dataset` in percent and points."""
    if table is None:
        return (f"Pass a folder of `MODEL.npz` Predictions on {name} (`littlebig predict`) as "
                "`second_dir` to add them.")
    shown = table.assign(macs_reduction=100 * table["macs_reduction"],
                         accuracy_change=100 * table["accuracy_change"])
    body = markdown_table(shown[["little", "big", "macs_reduction", "accuracy_change"]],
                          formats={"macs_reduction": ".1f", "accuracy_change": "+.2f"},
                          headers={"macs_reduction": "MACs red. (%)",
                                   "accuracy_change": "change (points, cascade − big)"})
    return (f":::{{table}} The meaningful pairs with T fixed on ImageNet-1k val, applied to "
            f"{name}: MACs reduction and accuracy change cascade − big.\n"
            f":name: tab-transfer-second\n\n{body}\n:::\n")


def real_threshold(little: Predictions, big: Predictions, little_correct, big_correct,
                   valid) -> float:
    """The exercise: the no-loss threshold chosen on the ReaL labels themselves (per-image
    correctness of each model under ReaL, `valid` the images ReaL labels); NaN when no
    threshold reaches the big model there."""
    sweep = engine.sweep(little, big, valid=valid, little_correct=little_correct,
                         big_correct=big_correct)
    point = engine.no_loss_point(sweep)
    return np.nan if point is None else float(point["threshold"])
