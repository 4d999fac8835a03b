"""`littlebig` command line: a thin loop over the public API, one result per command.

    littlebig models | pairs | threshold | curve | predict   [--format table|csv|json] [--out FILE]

Each command parses its arguments, checks the cheap ones and the output path first, calls the
public API (`load`, `pairs_table`, `split`, `Cascade`, `predict`) and writes one table: an
aligned table with units in the headers and one line saying the decision in words on a
terminal, CSV otherwise (fractions), or JSON (the version, the command, every parameter and the
rows). Every usage or data error exits with status 2 and one line naming the problem and the fix.

Building the parser imports nothing heavy (no numpy, pandas or torch: the choices come from
the registries' plain-name modules), so `--help` answers at once; torch is imported only by
`predict` and by datasets whose predictions a network must compute.
"""
from __future__ import annotations

import argparse
import difflib
import math
import os
import sys
from pathlib import Path

from littlebig_utils import __version__
from littlebig_utils import _format
from littlebig_utils._io import OutputError, atomic_write, check_output, terminate_as_exit
from littlebig_utils.core.names import METHODS, RULES
from littlebig_utils.data import DATASETS
from littlebig_utils.run import IMAGE_DATASETS

__all__ = ["main", "build_parser"]


class UsageError(ValueError):
    """A command line that cannot run as given (exit status 2)."""


# ------------------------------------------------------------------ data

def _load(dataset: str, models=None) -> dict:
    """Predictions by model name: `littlebig_utils.load`; for the JPEG CIFAR-10 test copy, which
    has no reference predictions, the pretrained CIFAR ResNets' predictions, computed once by
    the run layer and cached."""
    if dataset == "cifar10-test-jpeg":
        from littlebig_utils.run.cifar import CHECKPOINTS
        from littlebig_utils.run.predict import cached_predictions
        known = [f"cifar_resnet{d}" for d in CHECKPOINTS]
        names = known if models is None else list(models)
        for name in names:
            if name not in known:
                raise UsageError(_unknown("model", name, known, f" of {dataset}"))
        return {m: cached_predictions(m, dataset) for m in names}
    from littlebig_utils import load
    return load(dataset, models)


def _models_table(dataset: str):
    """`littlebig models` rows (DESIGN.md columns, fractions): for imagenet-val the data
    layer's table, otherwise the models' own metadata."""
    import pandas as pd
    columns = ["model", "source", "timm_tag", "img_size", "top1", "real_top1", "gmacs", "params_m"]
    if dataset == "imagenet-val":
        from littlebig_utils.data.reference import models_table
        return models_table()[columns].copy()
    rows = [dict(model=name, source=p.model.get("source", ""),
                 timm_tag=p.model.get("timm_tag", ""), img_size=p.model.get("img_size"),
                 top1=p.accuracy, real_top1=math.nan, gmacs=p.model.get("gmacs"),
                 params_m=p.model.get("params_m")) for name, p in _load(dataset).items()]
    return pd.DataFrame(rows, columns=columns)


def _pairs_table(records: dict, gmacs: dict):
    """`littlebig_utils.pairs_table`: fractions, the contract's columns."""
    from littlebig_utils import pairs_table
    return pairs_table(records, gmacs)


def _reference_paths() -> list[str]:
    """Every place reference data is read from (the data layer's list) and the package's
    committed tables: no output may touch them."""
    from littlebig_utils.data import registry
    paths = [str(p) for p in registry.reference_paths()]
    try:  # the whole reference cache; a bad LITTLEBIG_DATA_DIR must not stop a --files run
        paths.append(str(registry.cache_dir()))
    except registry.DataError:
        pass
    return paths


def _check_max_loss(value: float) -> float:
    """The core's one max_loss validator (fractions; points refused with both readings)."""
    from littlebig_utils.core.checks import check_max_loss
    return check_max_loss(value, "--max-loss")


# ------------------------------------------------------------------ argument types

def _unknown(what: str, name: str, known, where: str = "") -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"unknown {what} '{name}'{where}{hint}; choose one of {', '.join(known)}"


def _typed(check, name: str):
    """An argparse type: `check(text)`, whose ValueError becomes argparse's one-line error."""
    def convert(text: str):
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    convert.__name__ = name
    return convert


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"expected a number, got '{text}'") from None


def _integer(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"expected an integer >= {low}, got '{text}'") from None
    if value < low:
        raise UsageError(f"must be an integer >= {low}, got {value}")
    return value


def _dataset(text: str, known=DATASETS, what: str = "dataset") -> str:
    if text not in known:
        raise UsageError(_unknown(what, text, known))
    return text


def _delta(text: str) -> float:
    from littlebig_utils.core.checks import check_delta
    return check_delta(_number(text))


def _calib_frac(text: str) -> float:
    from littlebig_utils.core.checks import check_calib_frac
    return check_calib_frac(_number(text))


def gmacs_arg(text: str) -> tuple[str, float]:
    """`NAME=VALUE` of --gmacs: a model name and its positive, finite GMACs per sample."""
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise UsageError(f"expected NAME=VALUE (e.g. resnet20=0.041), got '{text}'")
    try:
        v = float(value)
    except ValueError:
        raise UsageError(f"GMACs of '{name}' must be a number, got '{value}'") from None
    if not (math.isfinite(v) and v > 0):
        raise UsageError(f"GMACs of '{name}' must be positive and finite, got {value}")
    return name, v


MAX_LOSS = _typed(lambda t: _check_max_loss(_number(t)), "max_loss")
SEED = _typed(lambda t: _integer(t, 0), "seed")
POSITIVE = _typed(lambda t: _integer(t, 1), "positive integer")
NON_NEGATIVE = _typed(lambda t: _integer(t, 0), "non-negative integer")
DATASET = _typed(_dataset, "dataset")
IMAGE_DATASET = _typed(lambda t: _dataset(t, IMAGE_DATASETS, "image dataset"), "image dataset")
DELTA = _typed(_delta, "delta")
CALIB_FRAC = _typed(_calib_frac, "calib_frac")
GMACS = _typed(gmacs_arg, "gmacs")


class _Renamed(argparse.Action):
    """--epsilon (accuracy points) became --max-loss (a fraction): say so, with the conversion."""

    def __call__(self, parser, namespace, values, option_string=None):
        try:
            hint = f": --epsilon {values} is --max-loss {float(values) / 100:g}"
        except ValueError:
            hint = ""
        parser.error(f"--epsilon (accuracy points) is now --max-loss, a fraction{hint}")


# ------------------------------------------------------------------ outputs

def _check_out(args, inputs=()) -> None:
    """Refuse a bad --out before any work (see _io.check_output)."""
    out = getattr(args, "out", None)
    if out not in (None, "-"):
        check_output(out, inputs=[i for i in inputs if i], protected=_reference_paths())


def _params(args) -> dict:
    skip = {"func", "command"}
    params = {k: v for k, v in vars(args).items() if k not in skip}
    if params.get("gmacs") is not None:
        params["gmacs"] = dict(params["gmacs"])
    return params


def _emit(args, df, decision: str = "", columns=None, stream=None) -> None:
    """Write the result in the chosen format to --out (atomically) or to standard output."""
    stream = stream or sys.stdout
    out = None if args.command == "predict" else args.out
    text = _format.render(df, args.format, command=args.command, params=_params(args),
                          version=__version__, decision=decision, columns=columns)
    if out in (None, "-"):
        # in pieces: a text stream drops the rest of one big write to a closed pipe silently,
        # while the next piece raises BrokenPipeError (main() turns it into a quiet exit)
        for start in range(0, len(text), 1 << 16):
            stream.write(text[start:start + (1 << 16)])
        stream.flush()
        return
    with atomic_write(out) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    print(f"wrote {len(df)} rows to {out}" + (f"; {decision}" if decision else ""),
          file=sys.stderr)


def _warn(args, message: str) -> None:
    print(f"littlebig {args.command}: warning: {message}", file=sys.stderr)


# ------------------------------------------------------------------ records and GMACs

def _load_files(files) -> tuple[dict, dict]:
    """Predictions files by model name (metadata name, else the file stem), and where each
    came from."""
    from littlebig_utils import Predictions
    records, where = {}, {}
    for f in files:
        p = Predictions.load(f)
        name = p.name or Path(f).stem
        if name in records:
            raise UsageError(f"two files hold a model named '{name}' ({where[name]} and {f}); "
                             "give each file a distinct model name (metadata 'name' or file name)")
        p.model["name"] = name
        records[name], where[name] = p, f
    return records, where


def _gmacs_overrides(pairs) -> dict[str, float]:
    out = {}
    for name, value in pairs or ():
        if name in out:
            raise UsageError(f"--gmacs gives '{name}' twice; give each model once")
        out[name] = value
    return out


def _apply_gmacs(records: dict, where: dict, overrides: dict, required: bool) -> dict:
    """GMACs per model: --gmacs, else the metadata. Missing ones are an error when `required`
    (pairs need every cost), else left out (the cost columns stay empty)."""
    unknown = sorted(set(overrides) - set(records))
    if unknown:
        raise UsageError(f"--gmacs names unknown model(s) {', '.join(unknown)}; "
                         f"the models are {', '.join(records)}")
    gmacs = {}
    for name, p in records.items():
        if name in overrides:
            p.model["gmacs"] = gmacs[name] = overrides[name]
            continue
        g = p.model.get("gmacs")
        if g is None:
            if required:
                raise UsageError(f"no GMACs for model '{name}' ({where[name]}); "
                                 f"give them with --gmacs {name}=VALUE (GMACs per sample)")
            continue
        try:
            g = float(g)
        except (TypeError, ValueError):
            g = math.nan
        if not (math.isfinite(g) and g > 0):
            raise UsageError(f"GMACs of model '{name}' ({where[name]}) are {p.model.get('gmacs')!r}, "
                             f"not a positive number; give them with --gmacs {name}=VALUE")
        p.model["gmacs"] = gmacs[name] = g
    return gmacs


def _side(args, side: str):
    """One model of a pair: a model of --dataset by name, or a Predictions file."""
    name, file = getattr(args, side), getattr(args, f"{side}_file")
    if (name is None) == (file is None):
        raise UsageError(f"give exactly one of --{side} NAME (a model of --dataset) or "
                         f"--{side}-file FILE.npz (Predictions saved by `littlebig predict`)")
    if file is not None:
        records, where = _load_files([file])
        return next(iter(records.values())), file
    return _load(args.dataset, [name])[name], f"model '{name}' of {args.dataset}"


def _pair(args):
    """The little and big Predictions of `threshold` and `curve`, aligned, GMACs applied."""
    from littlebig_utils import align
    (little, lw), (big, bw) = _side(args, "little"), _side(args, "big")
    if little.name == big.name:
        raise UsageError(f"little and big are both '{little.name}'; a cascade needs two models "
                         "(a file's model name is its metadata 'name', else its file name)")
    records = {little.name: little, big.name: big}
    gmacs = _apply_gmacs(records, {little.name: lw, big.name: bw},
                         _gmacs_overrides(args.gmacs), required=False)
    if len(gmacs) == 2 and gmacs[little.name] >= gmacs[big.name]:
        raise UsageError(f"the little model '{little.name}' ({gmacs[little.name]:.4g} GMACs) is "
                         f"not cheaper than the big one '{big.name}' ({gmacs[big.name]:.4g} "
                         "GMACs); swap --little and --big")
    return align(little, big)


def _saving(reduction) -> str:
    if reduction != reduction:  # NaN: no costs
        return "GMACs unknown (give --gmacs NAME=VALUE)"
    word = "fewer" if reduction >= 0 else "more"
    return f"{_format.pct(abs(reduction))} % {word} GMACs"


def _routing(t, frac_big, accuracy, big_accuracy, reduction, big: str, images: str) -> str:
    return (f"T = {t:.3f}: {_format.pct(frac_big)} % of {images} go to {big}; accuracy "
            f"{_format.points(accuracy - big_accuracy, sign=True)} points vs {big} alone; "
            f"{_saving(reduction)}")


# ------------------------------------------------------------------ commands

def cmd_models(args) -> None:
    _check_out(args)
    df = _models_table(args.dataset)
    decision = ""
    if len(df):
        known = df.dropna(subset=["gmacs"])
        best = df.loc[df["top1"].idxmax()]
        decision = f"{len(df)} models of {args.dataset}; the most accurate is {best['model']} " \
                   f"({_format.pct(best['top1'], 2)} % top-1, {_format.num(best['gmacs'])} GMACs)"
        if len(known):
            cheap = known.loc[known["gmacs"].idxmin()]
            decision += f", the cheapest {cheap['model']} ({_format.num(cheap['gmacs'])} GMACs, " \
                        f"{_format.pct(cheap['top1'], 2)} % top-1)"
    _emit(args, df, decision)


def _pairs_warnings(args, gmacs: dict) -> None:
    by_cost: dict[float, list[str]] = {}
    for name, g in gmacs.items():
        by_cost.setdefault(g, []).append(name)
    ties = [names for names in by_cost.values() if len(names) > 1]
    if len(by_cost) == 1:
        raise UsageError(f"no pair: every model costs {next(iter(by_cost)):.4g} GMACs "
                         f"({', '.join(gmacs)}), and a pair needs little_gmacs < big_gmacs; "
                         "check --gmacs")
    for names in ties:
        _warn(args, f"{' and '.join(names)} cost the same {gmacs[names[0]]:.4g} GMACs: no pair "
                    "between them (a pair needs little_gmacs < big_gmacs)")


def cmd_pairs(args) -> None:
    overrides = _gmacs_overrides(args.gmacs)
    if args.files is not None and len(args.files) < 2:
        raise UsageError(f"--files needs at least two Predictions files to pair, got {len(args.files)}")
    _check_out(args, inputs=args.files or ())
    if args.files:
        records, where = _load_files(args.files)
    else:
        records = _load(args.dataset)
        where = {m: f"model '{m}' of {args.dataset}" for m in records}
        if len(records) < 2:
            raise UsageError(f"{args.dataset} has {len(records)} model(s) here; a pair needs two")
    gmacs = _apply_gmacs(records, where, overrides, required=True)
    df = _pairs_table(records, gmacs)
    _pairs_warnings(args, gmacs)
    ok = df[df["threshold"].notna()]
    real = ok[~ok["degenerate"].astype(bool)]
    parts = [f"{len(df)} pairs: {len(real)} reach their big model's accuracy"]
    if len(real):
        best = real.loc[real["macs_reduction"].idxmax()]
        parts[0] += (f" (most saved: {best['little']} -> {best['big']}, "
                     f"{_saving(best['macs_reduction'])} at T = {best['threshold']:.3f})")
    parts.append(f"{len(ok) - len(real)} degenerate (the little model alone is as accurate)")
    parts.append(f"{len(df) - len(ok)} never reach it")
    if len(df) and not len(ok):
        _warn(args, "no pair reaches its big model's accuracy at any threshold")
    _emit(args, df, "; ".join(parts),
          columns=["little", "big", "threshold", "accuracy", "little_accuracy", "big_accuracy",
                   "frac_big", "gmacs", "big_gmacs", "macs_reduction", "degenerate"])


THRESHOLD_COLUMNS = ["rule", "little", "big", "method", "max_loss", "delta", "calib_frac", "seed",
                     "n_calib", "n_test", "threshold", "accuracy", "little_accuracy",
                     "big_accuracy", "accuracy_loss", "frac_big", "gmacs", "little_gmacs",
                     "big_gmacs", "macs_reduction", "violated"]


def cmd_threshold(args) -> None:
    """`Cascade(rule=r, ...).fit(calibration).evaluate(test)` for each rule, on one split."""
    _check_out(args, inputs=[args.little_file, args.big_file])
    little, big = _pair(args)
    from littlebig_utils import Cascade, split
    calib, test = split(len(little), args.calib_frac, args.seed)
    lc, bc, lt, bt = little.subset(calib), big.subset(calib), little.subset(test), big.subset(test)
    rows = []
    for rule in RULES:
        casc = Cascade(rule=rule, max_loss=args.max_loss, delta=args.delta, method=args.method)
        rep = casc.fit(lc, bc).evaluate(lt, bt)
        max_loss = 0.0 if rule == "no_loss" else args.max_loss
        rows.append(dict(
            rule=rule, little=little.name, big=big.name,
            method=args.method if rule == "guaranteed" else "", max_loss=max_loss,
            delta=args.delta if rule == "guaranteed" else math.nan, calib_frac=args.calib_frac,
            seed=args.seed, n_calib=len(calib), n_test=len(test),
            threshold=math.nan if rep.threshold is None else rep.threshold,
            accuracy=rep.accuracy, little_accuracy=rep.little_accuracy,
            big_accuracy=rep.big_accuracy, accuracy_loss=rep.accuracy_loss,
            frac_big=rep.frac_big, gmacs=rep.cost, little_gmacs=little.model.get("gmacs", math.nan),
            big_gmacs=big.model.get("gmacs", math.nan), macs_reduction=rep.cost_reduction,
            violated=bool(rep.accuracy_loss > max_loss + 1e-12)))
    import pandas as pd
    df = pd.DataFrame(rows, columns=THRESHOLD_COLUMNS)
    g = rows[-1]
    bound = (f"guaranteed ({args.method}: loss <= {_format.points(args.max_loss):s} points with "
             f"probability >= {1 - args.delta:g})")
    if g["threshold"] != g["threshold"]:
        decision = (f"{bound}: no threshold is certified on {len(calib):,} calibration images; "
                    f"use {big.name} alone, or allow a larger --max-loss or calibrate on more images")
    else:
        decision = f"{bound}: " + _routing(g["threshold"], g["frac_big"], g["accuracy"],
                                           g["big_accuracy"], g["macs_reduction"], big.name,
                                           f"{len(test):,} test images")
    _emit(args, df, decision,
          columns=["rule", "threshold", "frac_big", "accuracy", "big_accuracy", "accuracy_loss",
                   "max_loss", "gmacs", "macs_reduction", "violated"])


def cmd_curve(args) -> None:
    """The sweep of a pair: `Cascade().curve` at every threshold that changes the routing."""
    _check_out(args, inputs=[args.little_file, args.big_file])
    little, big = _pair(args)
    from littlebig_utils import Cascade
    df = Cascade().curve(little, big).rename(
        columns={"cost": "gmacs", "cost_reduction": "macs_reduction"})
    if args.points is not None and args.points < len(df):
        import numpy as np
        df = df.iloc[np.unique(np.round(np.linspace(0, len(df) - 1, args.points)).astype(int))]
        df = df.reset_index(drop=True)
    rep = Cascade(rule="no_loss").fit(little, big).evaluate(little, big)
    if rep.threshold is None:
        decision = f"no threshold reaches {big.name}'s accuracy on these {len(little):,} images"
    else:
        decision = "the paper's no-loss point, chosen on these same images: " + _routing(
            rep.threshold, rep.frac_big, rep.accuracy, rep.big_accuracy, rep.cost_reduction,
            big.name, f"{len(little):,} images")
    _emit(args, df, decision,
          columns=["threshold", "frac_big", "accuracy", "accuracy_loss", "gmacs", "macs_reduction"])


def cmd_predict(args) -> None:
    """Validate everything cheap first, so that bad input fails before any model runs."""
    out = Path(args.out)
    if out.suffix != ".npz":
        raise UsageError(f"--out must name an .npz file (Predictions are saved as npz), got {out}")
    check_output(args.out, inputs=[args.data_root], protected=_reference_paths())
    from littlebig_utils.run.datasets import ROOT_ENV, resolve_root
    from littlebig_utils.run.predict import check_model_name, predict
    if args.dataset in ROOT_ENV:
        resolve_root(args.dataset, args.data_root)
    check_model_name(args.model)
    result = predict(args.model, args.dataset, pretrained=args.pretrained, out=out,
                     batch_size=args.batch_size, device=args.device, data_root=args.data_root,
                     limit=args.limit, chunk_size=args.chunk_size, num_workers=args.workers,
                     seed=args.seed)
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():  # under torchrun
        dist.destroy_process_group()
    if result is not None:  # rank 0
        import pandas as pd
        df = pd.DataFrame([dict(model=result.name, dataset=result.dataset, n=len(result),
                                top1=result.accuracy, gmacs=result.model.get("gmacs"),
                                out=str(out))])
        _emit(args, df, f"{result.name} on {result.dataset}: top-1 "
                        f"{_format.pct(result.accuracy, 2)} % over {len(result):,} images, "
                        f"{_format.num(result.model.get('gmacs'))} GMACs; wrote {out}")


# ------------------------------------------------------------------ parser

class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the usage too), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _common(p, out_help: str = "file to write: .csv, .json or .txt (the table); default: "
                                "standard output") -> None:
    p.add_argument("--format", choices=_format.FORMATS,
                   help="table (aligned, percent and points, units in the headers), csv or json "
                        "(fractions); default: from --out's extension, else table on a "
                        "terminal and csv otherwise")
    p.add_argument("--out", help=out_help)


def _pair_args(p) -> None:
    p.add_argument("--little", help="the little model: a model of --dataset, by name")
    p.add_argument("--big", help="the big model: a model of --dataset, by name")
    p.add_argument("--little-file", help="the little model's Predictions .npz (`littlebig predict`)")
    p.add_argument("--big-file", help="the big model's Predictions .npz (`littlebig predict`)")
    p.add_argument("--dataset", type=DATASET, default="imagenet-val",
                   help="dataset of --little / --big (default: imagenet-val)")
    p.add_argument("--gmacs", action="append", type=GMACS, metavar="NAME=VALUE",
                   help="GMACs per sample of model NAME (repeatable); overrides its metadata")


def _datasets_help() -> str:
    import textwrap
    return "\n".join(textwrap.fill(f"{k}: {v}", 88, initial_indent="  ", subsequent_indent="    ",
                                   break_on_hyphens=False) for k, v in DATASETS.items())


def build_parser() -> argparse.ArgumentParser:
    """The parser; imports nothing heavy (tests/test_cli.py checks)."""
    parser = _Parser(prog="littlebig", description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"littlebig {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    raw = argparse.RawDescriptionHelpFormatter
    datasets = "\n\ndatasets (--dataset):\n" + _datasets_help()

    p = sub.add_parser("models", help="the models of a dataset: top-1, GMACs, timm tag",
                       allow_abbrev=False, formatter_class=raw,
                       description="The models of a dataset: model, source, timm tag, input "
                                   "size, top-1, ReaL top-1, GMACs, params." + datasets)
    p.add_argument("--dataset", type=DATASET, default="imagenet-val",
                   help="dataset (default: imagenet-val)")
    _common(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "pairs", help="every little/big pair at its no-accuracy-loss threshold",
        allow_abbrev=False, formatter_class=raw,
        description="One row per ordered pair with little GMACs < big GMACs, at the cheapest "
                    "threshold whose cascade accuracy reaches the big model's, chosen on the same "
                    "data as the paper does (accuracies and macs_reduction as fractions in CSV "
                    "and JSON). Either the models of --dataset or your own Predictions files "
                    "(--files, e.g. made by `littlebig predict`), aligned by sample id." + datasets)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--dataset", type=DATASET, default="imagenet-val",
                     help="the models of a dataset below (default: imagenet-val)")
    src.add_argument("--files", nargs="+", metavar="FILE.npz",
                     help="two or more Predictions files of the same samples; model names from "
                          "their metadata, else the file name")
    p.add_argument("--gmacs", action="append", type=GMACS, metavar="NAME=VALUE",
                   help="GMACs per sample of model NAME (repeatable); needed for a model whose "
                        "file has no GMACs in its metadata, and overrides the metadata otherwise")
    _common(p)
    p.set_defaults(func=cmd_pairs)

    p = sub.add_parser(
        "threshold", help="the threshold of each rule, chosen on a calibration split, judged "
                          "on the rest", allow_abbrev=False, formatter_class=raw,
        description="Split the samples at random (littlebig_utils.split) into a calibration part "
                    "(--calib-frac) and a test part; on the calibration part fit "
                    "Cascade(rule=...) for each rule: no_loss (the paper's rule), max_loss "
                    "(empirical, loses at most --max-loss there) and guaranteed (Learn-then-Test: "
                    "with probability >= 1 - delta the accuracy loss against big on new "
                    "exchangeable data is <= max_loss); report each on the test part. "
                    "--max-loss is a FRACTION of accuracy, as in the Python API (0.005 = half "
                    "an accuracy point); a value above 0.1 is refused as probably meant in "
                    "points." + datasets)
    _pair_args(p)
    p.add_argument("--max-loss", type=MAX_LOSS, default=0.005,
                   help="accuracy loss against big you accept, a fraction (default 0.005 = "
                        "half a point)")
    p.add_argument("--epsilon", action=_Renamed, help=argparse.SUPPRESS, default=argparse.SUPPRESS)
    p.add_argument("--delta", type=DELTA, default=0.05,
                   help="probability that the guarantee may fail, in (0, 1) (default 0.05)")
    p.add_argument("--method", choices=METHODS, default="clopper-pearson",
                   help="test of the guaranteed rule (default clopper-pearson)")
    p.add_argument("--calib-frac", type=CALIB_FRAC, default=0.2,
                   help="share of the samples used for calibration (default 0.2)")
    p.add_argument("--seed", type=SEED, default=0,
                   help="seed of the random split, an integer >= 0 (default 0)")
    _common(p)
    p.set_defaults(func=cmd_threshold)

    p = sub.add_parser(
        "curve", help="the sweep of a pair: accuracy, share sent to big and GMACs at every "
                      "threshold", allow_abbrev=False, formatter_class=raw,
        description="Cascade().curve of a pair: one row per threshold that changes the routing "
                    "(a sample goes to big when conf < T), with the paper's no-loss point on "
                    "the same data in words." + datasets)
    _pair_args(p)
    p.add_argument("--points", type=POSITIVE,
                   help="keep N rows evenly spread over the curve (default: every threshold)")
    _common(p)
    p.set_defaults(func=cmd_curve)

    p = sub.add_parser("predict", help="run a timm model over an image dataset into Predictions",
                       allow_abbrev=False,
                       description="Labels, predictions, confidences and full logits of a timm "
                       "model on a dataset, saved as .npz. Resumable: run the same command "
                       "again after an interruption. Data-parallel with torchrun "
                       "(`torchrun --nproc-per-node 4 -m littlebig_utils.cli predict ...`). "
                       "--format shapes the one-row summary on standard output.")
    p.add_argument("--model", required=True, help="timm model name, e.g. cifar_resnet20, "
                   "resnet50.a1_in1k")
    p.add_argument("--dataset", required=True, type=IMAGE_DATASET,
                   help="image dataset: " + ", ".join(IMAGE_DATASETS))
    p.add_argument("--out", required=True, help="Predictions file to write (.npz)")
    p.add_argument("--format", choices=_format.FORMATS,
                   help="of the summary: table on a terminal, csv otherwise")
    p.add_argument("--pretrained", action=argparse.BooleanOptionalAction, default=True,
                   help="load pretrained weights (default); --no-pretrained: seeded random init")
    p.add_argument("--batch-size", type=POSITIVE, default=256,
                   help="images per forward pass; halved automatically on out-of-memory")
    p.add_argument("--data-root", help="image folder of imagenet-val / imagenet-v2 (else "
                   "$LITTLEBIG_IMAGENET_VAL / $LITTLEBIG_IMAGENET_V2), or the path of "
                   "cifar-10-python.tar.gz for cifar10-test")
    p.add_argument("--device", help="torch device (default: this process's GPU if any, else cpu)")
    p.add_argument("--limit", type=POSITIVE, help="only the first N samples")
    p.add_argument("--chunk-size", type=POSITIVE, default=2048,
                   help="samples per resumable chunk (default 2048)")
    p.add_argument("--workers", type=NON_NEGATIVE, help="DataLoader worker processes (default: "
                   "none for CIFAR-10, held in memory; up to 8 per process for image folders)")
    p.add_argument("--seed", type=SEED, default=0,
                   help="seed of a random initialisation, an integer >= 0")
    p.set_defaults(func=cmd_predict)
    parser.commands = sub.choices
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, OutputError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
        if isinstance(exc, PermissionError):
            text += " (check the permissions of that path, or write elsewhere)"
    elif isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _data_errors() -> tuple:
    from littlebig_utils.data.registry import DataError
    return (ValueError, OSError, KeyError, DataError)


def main(argv=None) -> int:
    parser = build_parser()
    try:  # usage errors (and --help) end here with their status, also when called in-process
        args, extra = parser.parse_known_args(argv)
        if extra:  # as the subcommand's one-line error, which names the command
            parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    with terminate_as_exit():
        try:
            out = None if args.command == "predict" else args.out  # predict: --out is the npz
            args.format = _format.format_for(args.format, out, sys.stdout.isatty())
            args.func(args)
        except BrokenPipeError:  # `littlebig curve ... | head`: the reader has what it wanted
            try:  # what is still buffered goes nowhere, not into a second error at exit
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):
                pass
            return 141
        except KeyboardInterrupt:
            print(f"littlebig {args.command}: interrupted; no partial output was written",
                  file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - only the data and usage errors below
            if not isinstance(exc, _data_errors()):
                raise
            print(f"littlebig {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
