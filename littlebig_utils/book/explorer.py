"""An all-pairs explorer that works in the static book: no server, no network.

The paper's authors needed a hosted app to let readers pick a little and a big model. Here the
threshold curves of every pair are evaluated exactly on a small grid of thresholds (a few
hundred per little model) and embedded as JSON in one HTML output, with a few lines of vanilla
JavaScript drawing an inline SVG. Nothing is fetched: the page works offline.
"""
from __future__ import annotations

import functools
import html
import json
import re
from importlib import resources

import numpy as np
import pandas as pd

from littlebig_utils.core import engine
from littlebig_utils.core.predictions import Predictions, align

__all__ = ["threshold_grid", "explorer_data", "explorer_html", "json_for_html", "render",
           "template"]


def threshold_grid(conf, n_points: int = 200, decimals: int = 4) -> np.ndarray:
    """Thresholds at which the explorer shows the curves (values are exact there, not interpolated).

    Half are evenly spaced in T, half at evenly spaced ranks of the little model's confidence
    (`engine.rank_thresholds`: where the fraction sent to big changes fastest, as confidences
    pile up near 1). Rounded to `decimals` to keep the embedded JSON small; 0 and 1 are always
    included.
    """
    if n_points < 4:
        raise ValueError(f"n_points must be at least 4, got {n_points}")
    n_lin = n_points // 2
    grid = np.r_[np.linspace(0.0, 1.0, n_lin),
                 engine.rank_thresholds(conf, np.linspace(0.0, 1.0, n_points - n_lin))]
    return np.unique(np.clip(np.round(grid, decimals), 0.0, 1.0))


def _point(row: pd.Series) -> dict | None:
    """A pair's no-loss point as the page prints it (accuracy and MACs reduction in percent)."""
    if pd.isna(row["threshold"]):
        return None
    scale = {"accuracy": 100, "macs_reduction": 100}
    return {k: round(scale.get(k, 1) * float(row[k]), 6) for k in
            ["threshold", "accuracy", "frac_big", "gmacs", "macs_reduction"]}


def explorer_data(records: dict[str, Predictions], pairs: pd.DataFrame, n_points: int = 200,
                  dataset: str = "ImageNet-1k val") -> dict:
    """Everything the explorer shows, as plain JSON-able values.

    `pairs` is the pairs table of `records` (`pairs_table`, fractions); its no-loss points are
    shown as they are, so the explorer agrees with the book's tables. Per little model: the
    threshold grid and the fraction sent to big on it (it does not depend on the big model); per
    pair: the cascade's top-1 (percent, 3 decimals: one image of 50,000 is 0.002 points) on
    that grid. The page's slider reads accuracy, share sent to big and mean GMACs (little +
    share x big) at any grid threshold. The JSON is what the page prints: accuracies and MACs
    reductions in percent, shares as fractions.
    """
    names = sorted(set(pairs["little"]) | set(pairs["big"]))
    gmacs = dict(zip(pairs["little"], pairs["little_gmacs"])) | dict(zip(pairs["big"], pairs["big_gmacs"]))
    models = [{"name": k, "gmacs": round(float(gmacs[k]), 4),
               "accuracy": round(100.0 * records[k].accuracy, 3)}
              for k in sorted(names, key=lambda k: (gmacs[k], k))]
    # each little model's grid also holds its pairs' exact no-loss thresholds, so the slider
    # can stand exactly on a pair's operating point (the readout then equals the pair table)
    exact: dict[str, list[float]] = {}
    for _, row in pairs.iterrows():
        if pd.notna(row["threshold"]):
            exact.setdefault(row["little"], []).append(float(row["threshold"]))
    littles, out_pairs = {}, {}
    for _, row in pairs.iterrows():
        little, big = align(records[row["little"]], records[row["big"]])
        if row["little"] not in littles:
            grid = np.unique(np.r_[threshold_grid(little.conf, n_points),
                                   exact.get(row["little"], [])])
            frac = engine.sweep_arrays(little.conf, little.correct, little.correct,
                                        thresholds=grid)["frac_big"].to_numpy()
            littles[row["little"]] = {"t": grid.tolist(), "frac": np.round(frac, 5).tolist()}
        grid = np.asarray(littles[row["little"]]["t"])
        table = engine.sweep_arrays(little.conf, little.correct, big.correct, thresholds=grid)
        out_pairs[f"{row['little']}|{row['big']}"] = {
            "acc": np.round(100 * table["accuracy"].to_numpy(), 3).tolist(),
            "point": _point(row), "degenerate": bool(row["degenerate"])}
    return {"dataset": dataset, "models": models, "littles": littles, "pairs": out_pairs}


def json_for_html(value) -> str:
    """JSON that is safe inside an HTML <script> element and as a JavaScript expression.

    ``<``, ``>`` and ``&`` are written as \\u escapes (so no value, e.g. a model named
    ``</script><script>alert(1)</script>``, can close the script element or open a comment),
    as are U+2028 / U+2029; JSON.parse and JavaScript read the same string back.
    """
    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


@functools.lru_cache(maxsize=None)
def template(name: str) -> str:
    """An HTML template shipped with the package (littlebig_utils/templates/)."""
    return resources.files("littlebig_utils.book").joinpath("templates", name).read_text("utf-8")


_PLACEHOLDER = re.compile(r"__([A-Z][A-Z0-9_]*)__")


def render(text: str, **values) -> str:
    """Fill ``__NAME__`` placeholders in one pass (a value is never re-scanned).

    A name ending in ``_ATTR`` is HTML-escaped for an attribute value; every other value is
    written as `json_for_html` (a JSON script body or a JavaScript expression). A placeholder
    without a value is an error, so a template and its caller cannot drift apart silently.
    """
    def fill(m):
        key = m.group(1)
        if key not in values:
            raise KeyError(f"template placeholder __{key}__ has no value")
        v = values[key]
        return html.escape(str(v), quote=True) if key.endswith("_ATTR") else json_for_html(v)
    return _PLACEHOLDER.sub(fill, text)


def explorer_html(data: dict, little: str | None = None, big: str | None = None,
                  element_id: str = "littlebig-explorer") -> str:
    """Self-contained HTML (JSON + vanilla JS + inline SVG) for `explorer_data` output.

    `little` / `big` choose the pair shown first (default: the first pair). No external
    resource is referenced. The page is templates/explorer.html; every value substituted into
    it is escaped (`render`), so model names cannot inject markup or script.
    """
    if little is None or big is None:
        little, big = next(iter(data["pairs"])).split("|")
    if f"{little}|{big}" not in data["pairs"]:
        raise KeyError(f"no pair {little} -> {big} in the explorer data (little must be cheaper)")
    return render(template("explorer.html"), ID_ATTR=element_id, ID_JS=element_id, DATA=data,
                  CONFIG={"little": little, "big": big})
