"""What every notebook does first: where its output goes, and one-line parameter errors.

A bad parameter (an unknown model name, a reversed pair) must stop the notebook with ONE line
that names the problem and the fix, not 25 lines of traceback through pandas. In IPython the
interpreter's ``sys.tracebacklimit`` is ignored, so `ParameterError` is registered with
``InteractiveShell.set_custom_exc``: the kernel then reports only ``ParameterError: <line>``
(papermill prints that line as the cell's error). Outside IPython it is an ordinary ValueError.
"""
from __future__ import annotations

from pathlib import Path

from littlebig_utils._io import results_dir

__all__ = ["ParameterError", "output_dir", "short_errors", "hide_injected_parameters", "glue", "glue_many", "plain"]


class ParameterError(ValueError):
    """A notebook or command parameter is invalid; the message is the whole explanation."""


def output_dir(name: str, smoke: bool = False) -> Path:
    """The notebook's results folder; smoke runs go to results/smoke/<name>, so a test run never
    overwrites the book's full results."""
    if not name or "/" in name or "\\" in name or name in (".", "..", "smoke"):
        raise ParameterError(f"output folder name must be a plain name, got {name!r}")
    return results_dir("smoke", name) if smoke else results_dir(name)


def _one_line(shell, etype, value, tb, tb_offset=None):
    # IPython ignores the handler's return value: the handler must show the error itself.
    # _showtraceback is what the kernel uses to send an `error` message (ename, evalue, and
    # this one-line "traceback"), so papermill and Jupyter report the line and nothing more.
    stb = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, stb)
    return stb


def short_errors(shell=None) -> bool:
    """Make `ParameterError` print as one line in the running IPython kernel (True if installed)."""
    if shell is None:
        import sys
        if "IPython" not in sys.modules:  # not in a kernel: nothing to do, and no slow import
            return False
        shell = sys.modules["IPython"].get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((ParameterError,), _one_line)
    return True


short_errors()  # importing this module in a notebook is enough


def hide_injected_parameters(path) -> None:
    """Collapse papermill's injected "# Parameters" cell in an executed notebook: the page shows
    the chapter's own parameters cell, and the injected values one click away."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
            changed = True
    if changed:
        nbformat.write(nb, path)


def main(argv=None) -> int:
    """`python -m littlebig_utils.book.notebook IN.ipynb OUT.ipynb -p little X ...`: papermill, but a
    failing notebook ends with its error in one line (cell and message) instead of papermill's
    own 25-line Python traceback. Every papermill option is accepted."""
    import sys
    from papermill.cli import papermill
    from papermill.exceptions import PapermillExecutionError
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        papermill.main(args=args, prog_name="littlebig_utils.book.notebook", standalone_mode=False)
    except PapermillExecutionError as e:
        print(f"error in cell {e.exec_count} of the notebook: {e.ename}: {e.evalue}", file=sys.stderr)
        return 1
    positional = [a for a in args if a.endswith(".ipynb")]
    if len(positional) >= 2 and Path(positional[1]).is_file():
        hide_injected_parameters(positional[1])
    return 0



def markdown_table(frame, formats: dict | None = None, headers: dict | None = None,
                   missing: str = "–") -> str:
    """A MyST pipe table of `frame` for a numbered ``{table}`` (glue it with
    ``glue(key, Markdown(...))`` and paste with ``{glue:md}`` ``:format: myst``).

    Numeric columns are right-aligned (``--:``) and formatted with `formats` (column ->
    format spec, e.g. ``".1f"``; default ``".2f"`` for floats); NaN/None shows as `missing`,
    never "nan"; `headers` renames columns for the reader. Pipes in cells are escaped.
    """
    import math
    import numbers

    formats = formats or {}
    headers = headers or {}
    cols = list(frame.columns)
    numeric = [frame[c].dtype.kind in "iuf" for c in cols]

    def cell(value, col):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return missing
        if isinstance(value, numbers.Number) and not isinstance(value, bool):
            spec = formats.get(col, ".2f" if isinstance(value, float) else ",")
            return format(value, spec)
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(str(headers.get(c, c)).replace("|", "\\|") for c in cols) + " |",
             "|" + "|".join("--:" if n else ":--" for n in numeric) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v, c) for v, c in zip(row, cols)) + " |")
    return "\n".join(lines) + "\n"


__all__.append("markdown_table")


# numbers for the book's prose: glued from the computation, never typed


def plain(value):
    """numpy scalars -> Python scalars, so that glue's text/plain is formattable ({glue:text}`x:.1f`)."""
    import numpy as np
    if isinstance(value, np.generic):
        return value.item()
    return value


def glue(name: str, value, display: bool = False) -> None:
    """myst-nb glue of a value (numpy scalars converted)."""
    from myst_nb import glue as _glue
    _glue(name, plain(value), display=display)


def glue_many(display: bool = False, **values) -> None:
    for name, value in values.items():
        glue(name, value, display=display)


def difference_text(d) -> str:
    """An accuracy difference (`core.uncertainty.Difference`, fractions) as the book prints it:
    points, with its interval and the discordant images."""
    return (f"{100 * d.diff:+.2f} points ({100 * d.confidence:.0f} % CI {100 * d.lo:+.2f} to "
            f"{100 * d.hi:+.2f}; {d.n_cascade_only} vs {d.n_big_only} discordant images of {d.n:,})")


__all__.append("difference_text")


# ------------------------------------------------------------------ parameter checks
# papermill injects `-p NAME VALUE` as a Python literal when it parses as one, else as a
# string: `-p n_splits abc` arrives as 'abc', `-p max_losses 0.005` as a bare float. Each
# notebook checks its parameters right after the parameters cell with these, so that a bad
# value stops the notebook with one line naming the parameter and an example that works.

def _example(name: str, example) -> str:
    shown = repr(example) if not isinstance(example, str) else example
    return f"(e.g. -p {name} {shown!r})" if isinstance(example, list) else f"(e.g. -p {name} {shown})"


def integer(name: str, value, minimum: int = 0, example=None) -> int:
    """`value` as an int >= `minimum`, else a one-line ParameterError."""
    import numbers
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if not ok or value < minimum:
        raise ParameterError(f"parameter {name} must be an integer >= {minimum}, got {value!r} "
                             f"{_example(name, example if example is not None else max(minimum, 1))}")
    return int(value)


def number(name: str, value, low: float | None = None, high: float | None = None,
           example=None) -> float:
    """`value` as a finite float in [low, high], else a one-line ParameterError."""
    import math
    import numbers
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok and ((low is not None and value < low) or (high is not None and value > high)):
        ok = False
    if not ok:
        where = f" in [{low:g}, {high:g}]" if low is not None and high is not None else (
            f" >= {low:g}" if low is not None else (f" <= {high:g}" if high is not None else ""))
        raise ParameterError(f"parameter {name} must be a number{where}, got {value!r} "
                             f"{_example(name, example if example is not None else low or 0)}")
    return float(value)


def listed(value):
    """papermill's ``-p NAME VALUE`` passes a list as its text (``-p max_losses '[0.005]'``
    arrives as the string "[0.005]"): such a text is read as the list literal it spells
    (`ast.literal_eval`: literals only, never code); any other value is returned as it is."""
    if isinstance(value, str) and value.strip().startswith("["):
        import ast
        try:
            parsed = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return value
        if isinstance(parsed, list):
            return parsed
    return value


def max_losses(name: str, values) -> list[float]:
    """A list of tolerated accuracy losses as FRACTIONS (0.005 = half a point): a bare number is
    refused (papermill passes `-p NAME 0.5` as a float), and so is a value that reads as points,
    with both readings shown (the core's one max_loss validator). The text of a list (what
    ``-p NAME '[0.005]'`` passes) is read as that list (`listed`)."""
    from littlebig_utils.core.checks import check_max_loss
    values = listed(values)
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ParameterError(f"parameter {name} must be a list of fractions of accuracy, got "
                             f"{values!r} (e.g. -p {name} '[0.005]' for half a point)")
    if not values:
        raise ParameterError(f"parameter {name} is empty (e.g. -p {name} '[0.005]')")
    out = []
    for v in values:
        try:
            out.append(check_max_loss(v, f"parameter {name}"))
        except ValueError as e:
            raise ParameterError(str(e)) from None
    return out


__all__ += ["integer", "number", "listed", "max_losses"]


if __name__ == "__main__":
    raise SystemExit(main())
