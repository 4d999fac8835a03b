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
