"""How the command line writes a result: an aligned table for people, CSV or JSON for programs.

Values arrive as fractions (accuracy 0.7577, frac_big 0.12, macs_reduction 0.486) and stay
fractions in CSV and JSON. Only the human table shows percent and accuracy points, and then the
unit is in the column header. Standard library only: the caller hands over a pandas DataFrame,
nothing here imports pandas.
"""
from __future__ import annotations

import json
import math

__all__ = ["FORMATS", "format_for", "render", "pct", "points", "num"]

FORMATS = ("table", "csv", "json")
EXTENSIONS = {".csv": "csv", ".json": "json", ".txt": "table"}

# column -> (header of the human table, how its value is shown). Kinds: "pct" and "pct1" are
# fractions shown in percent (2 and 1 decimals), "pts" a fraction of accuracy shown in points,
# "thr" a threshold, "g" a number with 4 significant digits, "int" a count, "bool", "text".
COLUMNS = {
    "rule": ("rule", "text"), "little": ("little", "text"), "big": ("big", "text"),
    "model": ("model", "text"), "source": ("source", "text"), "timm_tag": ("timm tag", "text"),
    "method": ("method", "text"),
    "threshold": ("T", "thr"),
    "accuracy": ("accuracy (%)", "pct"), "little_accuracy": ("little (%)", "pct"),
    "big_accuracy": ("big (%)", "pct"), "top1": ("top-1 (%)", "pct"),
    "real_top1": ("ReaL top-1 (%)", "pct"),
    "accuracy_loss": ("loss (points)", "pts"), "max_loss": ("max loss (points)", "pts"),
    "frac_big": ("to big (%)", "pct1"), "macs_reduction": ("GMACs saved (%)", "pct1"),
    "gmacs": ("GMACs", "g"), "little_gmacs": ("little GMACs", "g"),
    "big_gmacs": ("big GMACs", "g"), "params_m": ("params (M)", "g"),
    "img_size": ("size (px)", "int"), "n": ("n", "int"), "n_big": ("n to big", "int"),
    "n_correct": ("n correct", "int"), "n_calib": ("n calib", "int"), "n_test": ("n test", "int"),
    "delta": ("delta", "g"), "degenerate": ("degenerate", "bool"), "violated": ("violated", "bool"),
}


class FormatError(ValueError):
    """--format and --out disagree, or the format cannot be told from --out."""


def format_for(fmt: str | None, out: str | None, terminal: bool) -> str:
    """The output format: --format if given, else from --out's extension, else the stream."""
    to_file = out not in (None, "-")
    ext = ""
    if to_file:
        dot = out.rfind(".")
        ext = out[dot:].lower() if dot > max(out.rfind("/"), 0) else ""
    by_ext = EXTENSIONS.get(ext)
    if fmt is not None:
        if by_ext is not None and by_ext != fmt:
            raise FormatError(f"--format {fmt} but --out {out} ends in {ext}, which means "
                              f"{by_ext}; change one of them")
        return fmt
    if to_file:
        if by_ext is None:
            raise FormatError(f"cannot tell the format of --out {out} from its extension; "
                              f"name it .csv, .json or .txt, or give --format")
        return by_ext
    return "table" if terminal else "csv"


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def pct(v, decimals: int = 1) -> str:
    """A fraction as a percent number (no sign of the unit: the header or the text has it)."""
    return "-" if _missing(v) else f"{100 * v:.{decimals}f}"


def points(v, decimals: int = 2, sign: bool = False) -> str:
    """A fraction of accuracy in accuracy points."""
    return "-" if _missing(v) else f"{100 * v:{'+' if sign else ''}.{decimals}f}"


def num(v) -> str:
    return "-" if _missing(v) else f"{v:.4g}"


def _cell(v, kind: str) -> str:
    if _missing(v):
        return "-"
    if kind == "pct":
        return pct(v, 2)
    if kind == "pct1":
        return pct(v, 1)
    if kind == "pts":
        return points(v)
    if kind == "thr":
        return f"{v:.4f}"
    if kind == "g":
        return num(float(v))
    if kind == "int":
        return f"{int(v):,}"
    if kind == "bool":
        return "yes" if v else "no"
    if isinstance(v, float):
        return num(v)
    return str(v)


def _plain(v):
    """A JSON value: NaN and missing become null, numpy scalars become Python ones."""
    if hasattr(v, "item") and not isinstance(v, (list, tuple, dict, str)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def table(df, columns=None) -> str:
    """An aligned text table of `columns` (default: all), units in the headers."""
    columns = [c for c in (columns or list(df.columns)) if c in df.columns]
    heads = [COLUMNS.get(c, (c, ""))[0] for c in columns]
    kinds = [COLUMNS.get(c, (c, ""))[1] for c in columns]
    cells = [[_cell(_plain(v), k) for v, k in zip(row, kinds)]
             for row in df[columns].itertuples(index=False, name=None)]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(heads)]
    left = [k in ("text", "") and not all(_is_number(r[i]) for r in cells)
            for i, k in enumerate(kinds)]

    def line(values):
        return "  ".join(v.ljust(w) if lf else v.rjust(w)
                         for v, w, lf in zip(values, widths, left)).rstrip()
    return "\n".join([line(heads)] + [line(r) for r in cells])


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return text == "-"
    return True


def render(df, fmt: str, *, command: str, params: dict, version: str, decision: str = "",
           columns=None) -> str:
    """The text of a result in `fmt`: CSV (every column, fractions), JSON (the version, the
    command, every parameter and the rows; NaN as null) or the human table (`columns`, units
    in the headers, then one line saying the decision in words)."""
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        rows = [{k: _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
        doc = {"littlebig": version, "command": command,
               "params": {k: _plain(v) for k, v in params.items()}, "rows": rows}
        return json.dumps(doc, indent=1, allow_nan=False) + "\n"
    text = table(df, columns) if len(df) else "(no rows)"
    return text + ("\n" + decision if decision else "") + "\n"
