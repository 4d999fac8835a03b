"""`littlebig` command line: thin wrappers over the package, tables written atomically."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from .predictions import atomic_write

DATASETS = ("imagenet-val",)


def write_table(df: pd.DataFrame, out: str | None) -> None:
    """CSV to `out` (atomically: a failed run leaves no partial file) or to stdout."""
    if out in (None, "-"):
        df.to_csv(sys.stdout, index=False)
        return
    with atomic_write(out, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    print(f"wrote {len(df)} rows to {out}", file=sys.stderr)


def _check_dataset(name: str) -> None:
    if name not in DATASETS:
        raise SystemExit(f"littlebig: unknown dataset '{name}'; choose one of {', '.join(DATASETS)}")


def cmd_models(args) -> None:
    from .reference import models_table
    _check_dataset(args.dataset)
    write_table(models_table(), args.out)


def cmd_pairs(args) -> None:
    from .cascade import pairs_table
    from .reference import load_reference
    _check_dataset(args.dataset)
    records = load_reference()
    gmacs = {k: p.model["gmacs"] for k, p in records.items()}
    write_table(pairs_table(records, gmacs), args.out)


def _load_side(side: str, name: str | None, file: str | None):
    """One model's Predictions: a reference ImageNet model by name, or a `littlebig predict` file."""
    from . import data
    from .predictions import Predictions
    if (name is None) == (file is None):
        raise ValueError(f"give exactly one of --{side} NAME (a reference model) or "
                         f"--{side}-file FILE.npz (Predictions saved by `littlebig predict`)")
    if file is not None:
        p = Predictions.load(file)
        if not p.name:
            p.model["name"] = Path(file).stem
        return p
    if name not in data.IMAGENET_MODELS:
        raise ValueError(f"unknown reference model '{name}'. Known ImageNet reference models: "
                         f"{', '.join(sorted(data.IMAGENET_MODELS))}.")
    from .reference import load_reference
    return load_reference([name])[name]


def cmd_threshold(args) -> None:
    from . import thresholds as th
    # check the cheap arguments before loading anything
    th.check_epsilon(args.epsilon)
    th.check_delta(args.delta)
    th.check_calib_frac(args.calib_frac)
    _check_dataset(args.dataset)
    little = _load_side("little", args.little, args.little_file)
    big = _load_side("big", args.big, args.big_file)
    write_table(th.threshold_table(little, big, args.epsilon, args.delta, args.calib_frac,
                                   args.seed, args.method), args.out)


def cmd_predict(args) -> None:
    """Validate everything cheap first, so that bad input fails before any model runs."""
    from .datasets import DATASETS, ROOT_ENV, resolve_root
    from .predict import check_model_name, predict
    out = Path(args.out)
    if out.suffix != ".npz":
        raise ValueError(f"--out must name an .npz file (Predictions are saved as npz), got {out}")
    if args.dataset not in DATASETS:
        import difflib
        close = difflib.get_close_matches(args.dataset, DATASETS, n=3, cutoff=0.3)
        raise ValueError(f"unknown dataset '{args.dataset}'"
                         + (f" (did you mean {', '.join(close)}?)" if close else "")
                         + f"; choose one of {', '.join(DATASETS)}")
    if args.dataset in ROOT_ENV:
        resolve_root(args.dataset, args.data_root)
    check_model_name(args.model)
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be positive, got {args.batch_size}")
    result = predict(args.model, args.dataset, pretrained=args.pretrained, out=out,
                     batch_size=args.batch_size, device=args.device, data_root=args.data_root,
                     limit=args.limit, chunk_size=args.chunk_size, num_workers=args.workers,
                     seed=args.seed)
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():  # under torchrun
        dist.destroy_process_group()
    if result is not None:  # rank 0
        print(f"{result.name} on {result.dataset}: top-1 {100 * result.accuracy:.2f} % over "
              f"{len(result)} images, {result.model['gmacs']:.4g} GMACs; wrote {out}",
              file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="littlebig", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="reference models: timm tag, input size, top-1, ReaL, GMACs")
    p.add_argument("--dataset", default="imagenet-val", help="dataset (default: imagenet-val)")
    p.add_argument("--out", help="CSV file to write (default: stdout)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("pairs", help="every little/big pair at its no-accuracy-loss threshold")
    p.add_argument("--dataset", default="imagenet-val", help="dataset (default: imagenet-val)")
    p.add_argument("--out", help="CSV file to write (default: stdout)")
    p.set_defaults(func=cmd_pairs)

    from .thresholds import METHODS
    p = sub.add_parser(
        "threshold",
        help="threshold with a finite-sample guarantee (Learn-then-Test) vs the empirical one",
        description="Split the samples at random into a calibration part (--calib-frac) and a "
                    "test part; choose T on the calibration part (empirical no-loss rule, "
                    "empirical at epsilon, and guaranteed: with probability >= 1 - delta the "
                    "accuracy loss against big on new exchangeable data is <= epsilon points); "
                    "report each T on the test part.")
    p.add_argument("--little", help="reference ImageNet model name of the little model")
    p.add_argument("--big", help="reference ImageNet model name of the big model")
    p.add_argument("--little-file", help="little model's Predictions .npz (`littlebig predict`)")
    p.add_argument("--big-file", help="big model's Predictions .npz (`littlebig predict`)")
    p.add_argument("--epsilon", type=float, default=0.5,
                   help="accuracy points you accept to lose against big (default 0.5)")
    p.add_argument("--delta", type=float, default=0.05,
                   help="probability that the guarantee may fail, in (0, 1) (default 0.05)")
    p.add_argument("--calib-frac", type=float, default=0.2,
                   help="fraction of samples used for calibration (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split (default 0)")
    p.add_argument("--method", choices=METHODS, default="clopper-pearson",
                   help="p-value of the guarantee (default clopper-pearson)")
    p.add_argument("--dataset", default="imagenet-val", help="dataset (default: imagenet-val)")
    p.add_argument("--out", help="CSV file to write (default: stdout)")
    p.set_defaults(func=cmd_threshold)


    from .datasets import DATASETS as IMAGE_DATASETS
    p = sub.add_parser("predict", help="run a timm model over an image dataset into Predictions",
                       description="Labels, predictions, confidences and full logits of a timm "
                       "model on a dataset, saved as .npz. Resumable: run the same command "
                       "again after an interruption. Data-parallel with torchrun "
                       "(`torchrun --nproc-per-node 4 -m littlebig_utils.cli predict ...`).")
    p.add_argument("--model", required=True, help="timm model name, e.g. cifar_resnet20, "
                   "resnet50.a1_in1k")
    p.add_argument("--dataset", required=True, choices=None,
                   help="one of: " + ", ".join(IMAGE_DATASETS))
    p.add_argument("--out", required=True, help="Predictions file to write (.npz)")
    p.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=True,
                   help="load pretrained weights (default); --no-pretrained: seeded random init")
    p.add_argument("--batch-size", type=int, default=256,
                   help="images per forward pass; halved automatically on out-of-memory")
    p.add_argument("--data-root", help="image folder of imagenet-val / imagenet-v2 (else "
                   "$LITTLEBIG_IMAGENET_VAL / $LITTLEBIG_IMAGENET_V2), or the path of "
                   "cifar-10-python.tar.gz for cifar10-test")
    p.add_argument("--device", help="torch device (default: this process's GPU if any, else cpu)")
    p.add_argument("--limit", type=int, help="only the first N samples")
    p.add_argument("--chunk-size", type=int, default=2048,
                   help="samples per resumable chunk (default 2048)")
    p.add_argument("--workers", type=int, help="DataLoader worker processes (default: none for "
                   "CIFAR-10, held in memory; up to 8 per process for image folders)")
    p.add_argument("--seed", type=int, default=0, help="seed of a random initialisation")
    p.set_defaults(func=cmd_predict)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .data import DataError
    from .predictions import PredictionsError
    try:
        args.func(args)
    except (DataError, PredictionsError, ValueError, FileNotFoundError, KeyError) as exc:
        print(f"littlebig {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
