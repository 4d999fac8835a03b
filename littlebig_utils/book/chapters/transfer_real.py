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

__all__ = ["second_folder", "second_dataset", "second_markdown", "real_threshold"]


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
    """The second-dataset section: a note that it is not testable here (`table` None), else
    the table of `second_dataset` in percent and points."""
    if table is None:
        return (f"```{{note}}\nNot testable here: per-image {name} predictions of the "
                "reference models are not in the offline reference data. Pass a folder of "
                "`MODEL.npz` Predictions (`littlebig predict`) as `second_dir` to add them.\n```")
    shown = table.assign(macs_reduction=100 * table["macs_reduction"],
                         accuracy_change=100 * table["accuracy_change"])
    return markdown_table(shown[["little", "big", "macs_reduction", "accuracy_change"]],
                          headers={"accuracy_change": "change (points, cascade − big)"})


def real_threshold(little: Predictions, big: Predictions, little_correct, big_correct,
                   valid) -> float:
    """The exercise: the no-loss threshold chosen on the ReaL labels themselves (per-image
    correctness of each model under ReaL, `valid` the images ReaL labels); NaN when no
    threshold reaches the big model there."""
    sweep = engine.sweep(little, big, valid=valid, little_correct=little_correct,
                         big_correct=big_correct)
    point = engine.no_loss_point(sweep)
    return np.nan if point is None else float(point["threshold"])
