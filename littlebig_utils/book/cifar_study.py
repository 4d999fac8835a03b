"""What the CIFAR-10 chapters share: the four pretrained CIFAR ResNets' predictions on the
lossless test set or on its JPEG copy, read through one cached path.

Used by the chapters cifar_pairs, confidence_scores, transfer_cifar10h and transfer_shift (the
deferral chapter reads the same cache through `chapters.deferral_rules`, and checks its
corruptions with `check_corruptions` as transfer_shift does). Each model's
predictions on a dataset are computed once from the images (`run.predict.cached_predictions`)
and then reused; a smoke run takes the first `smoke_n` test images under a cache key of its
own, so that it never reads or overwrites the full run's file.

Datasets: ``cifar10-test`` is the lossless test set (the checkpoints score their published
accuracy on it); ``cifar10-test-jpeg`` is the JPEG copy of the same images in the same order, a
shifted CIFAR-10 on which they score about 10 points less. Units: fractions.
"""
from __future__ import annotations

import json

from littlebig_utils.book.notebook import ParameterError, integer, listed
from littlebig_utils.core.predictions import Predictions

__all__ = ["MODELS", "DATASETS", "check_models", "predictions", "gmacs_of", "check_corruptions"]

#: the four pretrained option-A CIFAR ResNets (akamaster checkpoints), cheapest first
MODELS = ("cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56")

#: the CIFAR-10 test sets the chapters read: name -> how a caption names it
DATASETS = {"cifar10-test": "CIFAR-10 test, lossless",
            "cifar10-test-jpeg": "CIFAR-10 test, JPEG copy"}


def check_models(models) -> list[str]:
    """`models` as a list of at least two distinct CIFAR ResNets, else a one-line ParameterError
    (papermill's ``-p models '[...]'`` text is read as the list it spells)."""
    models = listed(models)
    if isinstance(models, str) or not isinstance(models, (list, tuple)):
        raise ParameterError(f"parameter models must be a list of CIFAR ResNets, got {models!r} "
                             f"(e.g. -p models '{json.dumps(list(MODELS))}')")
    unknown = [m for m in models if m not in MODELS]
    if unknown or len(set(models)) < 2 or len(set(models)) != len(models):
        raise ParameterError(f"parameter models must list two or more different models of "
                             f"{', '.join(MODELS)}; got {list(models)!r}")
    return list(models)


def predictions(models=MODELS, dataset: str = "cifar10-test", smoke: bool = False,
                smoke_n: int = 1000) -> dict[str, Predictions]:
    """{model: Predictions (with logits)} on `dataset`, every model on the same images in the
    original test order; in smoke mode the first `smoke_n` images only (own cache key)."""
    from littlebig_utils.run.predict import cached_predictions
    models = check_models(models)
    if dataset not in DATASETS:
        raise ParameterError(f"parameter dataset must be one of {', '.join(DATASETS)}, got "
                             f"{dataset!r} (e.g. -p dataset cifar10-test)")
    limit = integer("smoke_n", smoke_n, minimum=100, example=1000) if smoke else None
    return {m: cached_predictions(m, dataset, limit=limit) for m in models}


def gmacs_of(records: dict[str, Predictions]) -> dict[str, float]:
    """GMACs per image of each model, from its predictions' metadata (counted at 32 x 32)."""
    return {m: float(p.model["gmacs"]) for m, p in records.items()}


def check_corruptions(corruptions, severities) -> tuple[list[str], list[int]]:
    """The corruptions (names of `run.corruptions.CORRUPTIONS`) and severities (1..5) as lists,
    papermill's ``-p NAME '[...]'`` text read as the list it spells; else one ParameterError.
    Used by the chapters deferral_rules and transfer_shift (the same corrupted images)."""
    from littlebig_utils.run.corruptions import CORRUPTIONS
    corruptions, severities = listed(corruptions), listed(severities)
    ok = (isinstance(corruptions, list) and corruptions and isinstance(severities, list)
          and severities and all(c in CORRUPTIONS for c in corruptions)
          and all(type(x) is int and 1 <= x <= 5 for x in severities))
    if not ok:
        raise ParameterError(f"parameters corruptions and severities must be lists of "
                             f"{', '.join(CORRUPTIONS)} and of levels 1..5, got {corruptions!r} and "
                             f"{severities!r} (e.g. -p corruptions '[\"gaussian_noise\"]' -p "
                             "severities '[1, 3, 5]')")
    return list(corruptions), list(severities)
