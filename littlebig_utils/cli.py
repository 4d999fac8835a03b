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
