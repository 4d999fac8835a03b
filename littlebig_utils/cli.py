"""`littlebig` command line: thin wrappers over the package, tables written atomically.

Building the parser imports nothing heavy (no numpy, pandas or torch), so `--help` and argument
errors answer at once; each command imports what it needs when it runs. Every output path is
checked before any work (`outputs.check_output`) and written atomically.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import textwrap
from pathlib import Path

from littlebig_utils._names import (CIFAR_RESNETS, IMAGE_DATASETS, PAIRS_DATASETS, REFERENCE_DATASETS,
                     THRESHOLD_METHODS)
from littlebig_utils._io import atomic_write, check_output


def _protected() -> list[str]:
    """Folders an output must never be written into: the reference data."""
    folder = os.environ.get("LITTLEBIG_DATA_DIR")
    return [folder] if folder else []


def _check_out(out: str | None, inputs=()) -> None:
    if out not in (None, "-"):
        check_output(out, inputs=inputs, protected=_protected())


def write_table(df, out: str | None) -> None:
    """CSV to `out` (atomically: a failed run leaves no partial file) or to stdout."""
    if out in (None, "-"):
        df.to_csv(sys.stdout, index=False)
        return
    with atomic_write(out, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    print(f"wrote {len(df)} rows to {out}", file=sys.stderr)


def _check_dataset(name: str, known=REFERENCE_DATASETS) -> None:
    if name not in known:
        raise SystemExit(f"littlebig: unknown dataset '{name}'; choose one of {', '.join(known)}")


def cmd_models(args) -> None:
    _check_dataset(args.dataset)
    _check_out(args.out)
    from littlebig_utils.data.reference import models_table
    write_table(models_table(), args.out)


# ------------------------------------------------------------------------------------ pairs

def gmacs_arg(text: str) -> tuple[str, float]:
    """`NAME=VALUE` of --gmacs: a model name and its positive, finite GMACs per sample."""
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. resnet20=0.041), got '{text}'")
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"GMACs of '{name}' must be a number, got '{value}'") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"GMACs of '{name}' must be positive and finite, got {value}")
    return name, v


def _gmacs_overrides(pairs) -> dict[str, float]:
    out = {}
    for name, value in pairs or ():
        if name in out:
            raise ValueError(f"--gmacs gives '{name}' twice; give each model once")
        out[name] = value
    return out


def _load_files(files) -> dict:
    """Predictions files by model name (metadata name, else the file stem), aligned by sample id."""
    from littlebig_utils.core.predictions import Predictions, align
    if len(files) < 2:
        raise ValueError(f"--files needs at least two Predictions files to pair, got {len(files)}")
    records, where = {}, {}
    for f in files:
        p = Predictions.load(f)
        name = p.name or Path(f).stem
        if name in records:
            raise ValueError(f"two files hold a model named '{name}' ({where[name]} and {f}); "
                             "give each file a distinct model name (metadata 'name' or file name)")
        p.model["name"] = name
        records[name], where[name] = p, f
    aligned = align(*records.values())
    return dict(zip(records, aligned)), where


def _dataset_records(name: str) -> tuple[dict, dict]:
    """Reference predictions of a dataset (PAIRS_DATASETS), by model name."""
    if name == "imagenet-val":
        from littlebig_utils.data.reference import load_reference
        records = load_reference()
    elif name == "cifar10-test":
        from littlebig_utils.run.datasets import CIFAR10_REFERENCE, load_cifar10_reference
        records = {m: load_cifar10_reference(m) for m in CIFAR10_REFERENCE}
    else:  # cifar10-test-jpeg
        from littlebig_utils.run.predict import cached_predictions
        records = {m: cached_predictions(m, name) for m in CIFAR_RESNETS}
    return records, {m: f"reference model '{m}' of {name}" for m in records}


def _gmacs_of(records: dict, where: dict, overrides: dict) -> dict[str, float]:
    unknown = sorted(set(overrides) - set(records))
    if unknown:
        raise ValueError(f"--gmacs names unknown model(s) {', '.join(unknown)}; "
                         f"the models are {', '.join(records)}")
    gmacs = {}
    for name, p in records.items():
        if name in overrides:
            gmacs[name] = overrides[name]
            continue
        g = p.model.get("gmacs")
        if g is None:
            raise ValueError(f"no GMACs for model '{name}' ({where[name]}); "
                             f"give them with --gmacs {name}=VALUE (GMACs per sample)")
        try:
            g = float(g)
        except (TypeError, ValueError):
            g = float("nan")
        if not (math.isfinite(g) and g > 0):
            raise ValueError(f"GMACs of model '{name}' ({where[name]}) are {p.model.get('gmacs')!r}, "
                             f"not a positive number; give them with --gmacs {name}=VALUE")
        gmacs[name] = g
    return gmacs


def cmd_pairs(args) -> None:
    overrides = _gmacs_overrides(args.gmacs)
    if args.files:
        _check_out(args.out, inputs=args.files)
    else:
        _check_dataset(args.dataset, tuple(PAIRS_DATASETS))
        _check_out(args.out)
    from littlebig_utils.core.pairs import pairs_table
    if args.files:
        records, where = _load_files(args.files)
    else:
        records, where = _dataset_records(args.dataset)
    gmacs = _gmacs_of(records, where, overrides)
    write_table(pairs_table(records, gmacs), args.out)


# ------------------------------------------------------------------------------------ threshold

def _load_side(side: str, name: str | None, file: str | None):
    """One model's Predictions: a reference ImageNet model by name, or a `littlebig predict` file."""
    from littlebig_utils.data import registry as data
    from littlebig_utils.core.predictions import Predictions
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
    from littlebig_utils.data.reference import load_reference
    return load_reference([name])[name]


def cmd_threshold(args) -> None:
    _check_out(args.out, inputs=[args.little_file, args.big_file])
    from littlebig_utils.core import checks
    from littlebig_utils.core.experiments import threshold_table
    # check the cheap arguments before loading anything; --epsilon is in points, the core
    # takes fractions
    max_loss = checks.check_max_loss(args.epsilon / 100, "--epsilon / 100")
    checks.check_delta(args.delta, "--delta")
    checks.check_calib_frac(args.calib_frac, "--calib-frac")
    checks.check_seed(args.seed, "--seed")
    _check_dataset(args.dataset)
    little = _load_side("little", args.little, args.little_file)
    big = _load_side("big", args.big, args.big_file)
    write_table(threshold_table(little, big, max_loss, args.delta, args.calib_frac,
                                args.seed, args.method), args.out)


# ------------------------------------------------------------------------------------ predict

def cmd_predict(args) -> None:
    """Validate everything cheap first, so that bad input fails before any model runs."""
    out = Path(args.out)
    if out.suffix != ".npz":
        raise ValueError(f"--out must name an .npz file (Predictions are saved as npz), got {out}")
    check_output(out, inputs=[args.data_root], protected=_protected())
    from littlebig_utils.run.datasets import DATASETS, ROOT_ENV, resolve_root
    from littlebig_utils.run.predict import check_model_name, predict
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
    """The parser; imports nothing heavy (tests/test_cli.py checks)."""
    parser = argparse.ArgumentParser(prog="littlebig", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="reference models: timm tag, input size, top-1, ReaL, GMACs")
    p.add_argument("--dataset", default="imagenet-val", help="dataset (default: imagenet-val)")
    p.add_argument("--out", help="CSV file to write (default: stdout)")
    p.set_defaults(func=cmd_models)

    datasets = "\n".join(textwrap.fill(f"{k}: {v}", 88, initial_indent="  ",
                                        subsequent_indent="    ", break_on_hyphens=False)
                          for k, v in PAIRS_DATASETS.items())
    p = sub.add_parser(
        "pairs", help="every little/big pair at its no-accuracy-loss threshold",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "One row per ordered pair with little GMACs < big GMACs, at the cheapest threshold "
            "whose cascade accuracy reaches the big model's (accuracies and MACs reduction as fractions). Either "
            "reference predictions (--dataset) or your own Predictions files (--files, e.g. "
            "made by `littlebig predict`), aligned by sample id.", 88)
        + "\n\ndatasets with reference predictions (--dataset):\n" + datasets)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", default="imagenet-val",
                     help="reference predictions, one of the datasets below "
                          "(default: imagenet-val)")
    src.add_argument("--files", nargs="+", metavar="FILE.npz",
                     help="two or more Predictions files of the same samples; model names from "
                          "their metadata, else the file name")
    p.add_argument("--gmacs", action="append", type=gmacs_arg, metavar="NAME=VALUE",
                   help="GMACs per sample of model NAME (repeatable); needed for a model whose "
                        "file has no GMACs in its metadata, and overrides the metadata otherwise")
    p.add_argument("--out", help="CSV file to write (default: stdout)")
    p.set_defaults(func=cmd_pairs)

    p = sub.add_parser(
        "threshold",
        help="threshold with a finite-sample guarantee (Learn-then-Test) vs the empirical one",
        description="Split the samples at random into a calibration part (--calib-frac) and a "
                    "test part; choose T on the calibration part (empirical no-loss rule, "
                    "empirical at epsilon, and guaranteed: with probability >= 1 - delta the "
                    "accuracy loss against big on new exchangeable data is <= epsilon points); "
                    "report each T on the test part. On the command line --epsilon is in "
                    "accuracy points (0.5 = half a point); the output, like the Python API "
                    "(littlebig_utils.Cascade, max_loss=0.005), is in fractions.")
    p.add_argument("--little", help="reference ImageNet model name of the little model")
    p.add_argument("--big", help="reference ImageNet model name of the big model")
    p.add_argument("--little-file", help="little model's Predictions .npz (`littlebig predict`)")
    p.add_argument("--big-file", help="big model's Predictions .npz (`littlebig predict`)")
    p.add_argument("--epsilon", type=float, default=0.5,
                   help="accuracy points (not a fraction) you accept to lose against big "
                        "(default 0.5 points)")
    p.add_argument("--delta", type=float, default=0.05,
                   help="probability that the guarantee may fail, in (0, 1) (default 0.05)")
    p.add_argument("--calib-frac", type=float, default=0.2,
                   help="fraction of samples used for calibration (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split (default 0)")
    p.add_argument("--method", choices=THRESHOLD_METHODS, default="clopper-pearson",
                   help="p-value of the guarantee (default clopper-pearson)")
    p.add_argument("--dataset", default="imagenet-val", help="dataset (default: imagenet-val)")
    p.add_argument("--out", help="CSV file to write (default: stdout)")
    p.set_defaults(func=cmd_threshold)

    p = sub.add_parser("predict", help="run a timm model over an image dataset into Predictions",
                       description="Labels, predictions, confidences and full logits of a timm "
                       "model on a dataset, saved as .npz. Resumable: run the same command "
                       "again after an interruption. Data-parallel with torchrun "
                       "(`torchrun --nproc-per-node 4 -m littlebig_utils.cli predict ...`).")
    p.add_argument("--model", required=True, help="timm model name, e.g. cifar_resnet20, "
                   "resnet50.a1_in1k")
    p.add_argument("--dataset", required=True, help="one of: " + ", ".join(IMAGE_DATASETS))
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
    from littlebig_utils.data.registry import DataError
    from littlebig_utils.core.predictions import PredictionsError
    try:
        args.func(args)
    except (DataError, PredictionsError, ValueError, FileNotFoundError, KeyError) as exc:
        print(f"littlebig {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
