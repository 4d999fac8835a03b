"""Chapter `tutorial_own_models` (notebooks/tutorial_own_models.ipynb): its parameter checks and
the command-line steps its hidden cells run.

The tutorial teaches the public API (`from littlebig_utils import ...`) and the `littlebig`
command; it runs the commands it shows as they are, through the installed script in a
subprocess, so that the page cannot drift from the command line. Every bad parameter stops the
chapter with one line (`ParameterError`), as in the other chapters: an unknown model or dataset,
a `limit` that is not a positive integer, little and big the same or swapped (the little model
must be the cheaper one).
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

from littlebig_utils.book import notebook
from littlebig_utils.book.notebook import ParameterError
from littlebig_utils.book.selection import validate_pair
from littlebig_utils.core.checks import check_calib_frac, check_delta, check_max_loss

__all__ = ["check_parameters", "littlebig", "predict_pair", "cli_thresholds", "cli_agreement",
           "threshold_text", "guarantee_sentence", "solution"]


def _checked(check, name: str, value):
    try:
        return check(value, f"parameter {name}")
    except ValueError as e:
        raise ParameterError(str(e)) from None


def check_parameters(little, big, dataset, limit, max_loss, delta, calib_frac, seed) -> tuple:
    """(limit, max_loss, delta, calib_frac, seed), checked: one-line `ParameterError` naming the
    parameter.

    Model names are checked by `littlebig predict` itself (it knows every timm name) when their
    predictions are made; here only what needs no model: names are strings and differ, the
    dataset is one `littlebig predict` reads, `limit` is None or an integer >= 1, and the
    fractions are fractions (`max_loss` 0.005 is half a point; 0.5 is refused as points)."""
    from littlebig_utils.run import IMAGE_DATASETS
    for role, name in (("little", little), ("big", big)):
        if not isinstance(name, str) or not name.strip():
            raise ParameterError(f"parameter {role} must be a model name, got {name!r} "
                                 f"(e.g. -p {role} cifar_resnet20)")
    if little == big:
        raise ParameterError(f"little and big are both {little!r}: choose two different models")
    if dataset not in IMAGE_DATASETS:
        raise ParameterError(f"unknown dataset {dataset!r}: one of {', '.join(IMAGE_DATASETS)}")
    return (None if limit is None else notebook.integer("limit", limit, minimum=1, example=500),
            _checked(check_max_loss, "max_loss", max_loss), _checked(check_delta, "delta", delta),
            _checked(check_calib_frac, "calib_frac", calib_frac),
            notebook.integer("seed", seed, minimum=0, example=0))


def _script() -> list[str]:
    """The `littlebig` console script of this environment (beside the kernel's Python, else on
    PATH); `python -m littlebig_utils.cli` when the package is not installed as a script."""
    here = Path(sys.executable).with_name("littlebig")
    if here.is_file():
        return [str(here)]
    found = shutil.which("littlebig")
    return [found] if found else [sys.executable, "-m", "littlebig_utils.cli"]


def littlebig(*args: str, role: str | None = None) -> str:
    """Run ``littlebig ARGS`` and return its standard output. A command that fails (status 2:
    a usage or data error, e.g. an unknown model) stops the chapter with the command's own
    one-line message, prefixed by the parameter it concerns (`role`)."""
    r = subprocess.run([*_script(), *map(str, args)], capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()] or [f"exit status {r.returncode}"]
        prefix = f"parameter {role}: " if role else ""
        raise ParameterError(f"{prefix}{lines[-1].strip()}")
    return r.stdout


def predict_pair(little: str, big: str, dataset: str, limit: int | None, out: Path) -> dict:
    """`littlebig predict` for both models (skipped when the file is already there: it is
    resumable and cached), then the little model checked to be the cheaper one by the GMACs
    the files record. Returns {"little": path, "big": path}."""
    tag = f"__n{limit}" if limit else ""
    files = {"little": out / f"{little}__{dataset}{tag}.npz", "big": out / f"{big}__{dataset}{tag}.npz"}
    for role, model in (("little", little), ("big", big)):
        if not files[role].is_file():
            littlebig("predict", "--model", model, "--dataset", dataset, "--out", files[role],
                      *(["--limit", limit] if limit else []), role=role)
    from littlebig_utils import Predictions
    gmacs = {role: Predictions.load(files[role]).model.get("gmacs") for role in files}
    if all(g is not None for g in gmacs.values()):
        validate_pair(little, big, [little, big], {little: gmacs["little"], big: gmacs["big"]})
    return files


def cli_thresholds(files: dict, max_loss: float, delta: float, calib_frac: float, seed: int):
    """`littlebig threshold` on the two files (CSV on standard output), as a frame by rule."""
    import pandas as pd
    text = littlebig("threshold", "--little-file", files["little"], "--big-file", files["big"],
                     "--max-loss", max_loss, "--delta", delta, "--calib-frac", calib_frac,
                     "--seed", seed, "--format", "csv")
    return pd.read_csv(io.StringIO(text)).set_index("rule")


def cli_agreement(files: dict, rules, max_loss: float, delta: float, calib_frac: float,
                  seed: int) -> str:
    """A sentence saying whether `littlebig threshold` on the same files and parameters gives
    the thresholds of `rules` (the chapter's `Cascade` fits, one row per rule; NaN = none)."""
    import numpy as np
    cli = cli_thresholds(files, max_loss, delta, calib_frac, seed)
    ours = rules["threshold"].astype(float)
    theirs = cli["threshold"].reindex(ours.index).astype(float)
    if np.allclose(theirs, ours, rtol=0, atol=1e-9, equal_nan=True):
        return "Run on this chapter's two files, it gives the same three thresholds as above."
    return ("**Run on this chapter's two files, it gives other thresholds than above**: "
            + ", ".join(f"{r} {theirs[r]:.6g} vs {ours[r]:.6g}" for r in ours.index) + ".")


def threshold_text(t) -> str:
    """A fitted threshold as the page says it (None: no threshold certified)."""
    return "no threshold (use the big model alone)" if t is None else f"T = {t:.3f}"


def guarantee_sentence(casc, report, n_calib: int, n_test: int) -> str:
    """What the guaranteed cascade (`casc`, fitted) did on the test part (`report`), in words:
    percent and points, or the honest answer when no threshold was certified."""
    if casc.threshold_ is None:
        return (f"With only {n_calib:,} calibration images no threshold can be certified: the "
                "honest answer is the big model alone, or more calibration images.")
    return (f"The guaranteed rule finds {threshold_text(casc.threshold_)}: on the {n_test:,} test "
            f"images the cascade sends {100 * report.frac_big:.1f} % of them to the big model; its "
            f"accuracy minus the big model's is {-100 * report.accuracy_loss:+.2f} points (allowed: "
            f"down to {-100 * casc.max_loss:g}) and it saves {100 * report.cost_reduction:.1f} % of "
            "the big model's compute.")


def solution(name: str, source: str, namespace: dict) -> None:
    """Run an exercise's solution in the notebook's namespace and glue its source: the code
    shown is the code run."""
    from IPython.display import Markdown
    exec(source, namespace)
    notebook.glue(name, Markdown(f"```python\n{source.strip()}\n```"))
