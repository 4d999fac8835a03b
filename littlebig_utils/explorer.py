"""An all-pairs explorer that works in the static book: no server, no network.

The paper's authors needed a hosted app to let readers pick a little and a big model. Here the
threshold curves of every pair are evaluated exactly on a small grid of thresholds (a few
hundred per little model) and embedded as JSON in one HTML output, with a few lines of vanilla
JavaScript drawing an inline SVG. Nothing is fetched: the page works offline.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from . import cascade
from .predictions import Predictions, align

__all__ = ["threshold_grid", "explorer_data", "explorer_html"]


def threshold_grid(conf, n_points: int = 200, decimals: int = 4) -> np.ndarray:
    """Thresholds at which the explorer shows the curves (values are exact there, not interpolated).

    Half are evenly spaced in T, half at quantiles of the little model's confidence (where the
    fraction sent to big changes fastest: confidences pile up near 1). Rounded to `decimals`
    to keep the embedded JSON small; 0 and 1 are always included.
    """
    if n_points < 4:
        raise ValueError(f"n_points must be at least 4, got {n_points}")
    conf = np.asarray(conf, dtype=np.float64)
    n_lin = n_points // 2
    grid = np.r_[0.0, 1.0, np.linspace(0.0, 1.0, n_lin),
                 np.quantile(conf, np.linspace(0.0, 1.0, n_points - n_lin))]
    return np.unique(np.clip(np.round(grid, decimals), 0.0, 1.0))


def _point(row: pd.Series) -> dict | None:
    if pd.isna(row["threshold"]):
        return None
    return {k: round(float(row[k]), 6) for k in
            ["threshold", "accuracy", "frac_big", "gmacs", "macs_reduction"]}


def explorer_data(records: dict[str, Predictions], pairs: pd.DataFrame, n_points: int = 200,
                  dataset: str = "ImageNet-1k val") -> dict:
    """Everything the explorer shows, as plain JSON-able values.

    `pairs` is the pairs table of `records` (`cascade.pairs_table`); its no-loss points are
    shown as they are, so the explorer agrees with the book's tables. Per little model: the
    threshold grid and the fraction sent to big on it (it does not depend on the big model); per
    pair: the cascade's top-1 (percent, 3 decimals: one image of 50,000 is 0.002 points) on
    that grid.
    """
    names = sorted(set(pairs["little"]) | set(pairs["big"]))
    gmacs = dict(zip(pairs["little"], pairs["little_gmacs"])) | dict(zip(pairs["big"], pairs["big_gmacs"]))
    models = [{"name": k, "gmacs": round(float(gmacs[k]), 4),
               "accuracy": round(100.0 * records[k].accuracy, 3)}
              for k in sorted(names, key=lambda k: (gmacs[k], k))]
    littles, out_pairs = {}, {}
    for _, row in pairs.iterrows():
        little, big = align(records[row["little"]], records[row["big"]])
        if row["little"] not in littles:
            grid = threshold_grid(little.conf, n_points)
            frac = cascade.sweep_arrays(little.conf, little.correct, little.correct,
                                        thresholds=grid)["frac_big"].to_numpy()
            littles[row["little"]] = {"t": grid.tolist(), "frac": np.round(frac, 5).tolist()}
        grid = np.asarray(littles[row["little"]]["t"])
        table = cascade.sweep_arrays(little.conf, little.correct, big.correct, thresholds=grid)
        out_pairs[f"{row['little']}|{row['big']}"] = {
            "acc": np.round(table["accuracy"].to_numpy(), 3).tolist(),
            "point": _point(row), "degenerate": bool(row["degenerate"])}
    return {"dataset": dataset, "models": models, "littles": littles, "pairs": out_pairs}


_TEMPLATE = r"""<div id="__ID__" class="lb-explorer" style="font-family:sans-serif;max-width:760px">
<div style="margin-bottom:6px">
<label>little model <select class="lb-little"></select></label>
<label style="margin-left:1em">big model <select class="lb-big"></select></label>
</div>
<svg class="lb-plot" viewBox="0 0 720 400" width="100%" role="img"
 aria-label="cascade accuracy and fraction sent to big against the threshold"
 xmlns="http://www.w3.org/2000/svg" style="background:#fff"></svg>
<p class="lb-summary" style="margin-top:4px"></p>
<script type="application/json" class="lb-data">__DATA__</script>
<script>
(function () {
  var root = document.getElementById("__ID__");
  var D = JSON.parse(root.querySelector(".lb-data").textContent);
  var selL = root.querySelector(".lb-little"), selB = root.querySelector(".lb-big");
  var svg = root.querySelector(".lb-plot"), summary = root.querySelector(".lb-summary");
  var byName = {};
  D.models.forEach(function (m) { byName[m.name] = m; });
  var NS = "http://www.w3.org/2000/svg";
  var W = 720, H = 400, L = 62, R = 62, T = 30, B = 78;
  var colAcc = "#029e73", colFrac = "#555555", colBig = "#d55e00", colLittle = "#0173b2";
  function el(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e); return e;
  }
  function option(sel, name) {
    var o = document.createElement("option"); o.value = name;
    o.textContent = name + " (" + byName[name].gmacs.toFixed(2) + " GMACs, " + byName[name].accuracy.toFixed(2) + " %)";
    sel.appendChild(o);
  }
  D.models.forEach(function (m) { if (D.littles[m.name]) option(selL, m.name); });
  function fillBig(keep) {
    selB.innerHTML = "";
    D.models.forEach(function (m) { if (D.pairs[selL.value + "|" + m.name]) option(selB, m.name); });
    if (keep && D.pairs[selL.value + "|" + keep]) selB.value = keep;
  }
  function fmt(x, d) { return x.toFixed(d); }
  function draw() {
    var l = selL.value, b = selB.value, p = D.pairs[l + "|" + b], g = D.littles[l];
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (!p) { summary.textContent = "Pick a little model cheaper than the big one."; return; }
    var la = byName[l].accuracy, ba = byName[b].accuracy;
    var lo = Math.min(la, ba, Math.min.apply(null, p.acc)), hi = Math.max(la, ba, Math.max.apply(null, p.acc));
    var pad = 0.1 * (hi - lo || 1); lo -= 1.5 * pad; hi += pad;
    function x(t) { return L + t * (W - L - R); }
    function yA(a) { return T + (hi - a) / (hi - lo) * (H - T - B); }
    function yF(f) { return T + (1 - f) * (H - T - B); }
    el("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "#999"});
    for (var i = 0; i <= 5; i++) {
      var t = i / 5;
      el("line", {x1: x(t), x2: x(t), y1: T, y2: H - B, stroke: "#eee"});
      el("text", {x: x(t), y: H - B + 16, "text-anchor": "middle", "font-size": 12}, fmt(t, 1));
      var a = lo + (hi - lo) * i / 5;
      el("text", {x: L - 6, y: yA(a) + 4, "text-anchor": "end", "font-size": 12, fill: colAcc}, fmt(a, 2));
      el("text", {x: W - R + 6, y: yF(i / 5) + 4, "font-size": 12, fill: colFrac}, fmt(100 * i / 5, 0));
    }
    el("text", {x: (L + W - R) / 2, y: H - B + 34, "text-anchor": "middle", "font-size": 13},
       "threshold T (little's max softmax below T goes to big)");
    el("text", {transform: "translate(16," + (T + H - B) / 2 + ") rotate(-90)", "text-anchor": "middle", "font-size": 13, fill: colAcc}, "cascade top-1 accuracy (%)");
    el("text", {transform: "translate(" + (W - 14) + "," + (T + H - B) / 2 + ") rotate(90)", "text-anchor": "middle", "font-size": 13, fill: colFrac}, "images sent to big (%)");
    el("line", {x1: x(0), x2: x(1), y1: yA(ba), y2: yA(ba), stroke: colBig, "stroke-dasharray": "6 4"});
    el("line", {x1: x(0), x2: x(1), y1: yA(la), y2: yA(la), stroke: colLittle, "stroke-dasharray": "2 3"});
    function path(ys, color, width) {
      var d = g.t.map(function (t, i) { return (i ? "L" : "M") + x(t).toFixed(1) + "," + ys[i].toFixed(1); }).join("");
      el("path", {d: d, fill: "none", stroke: color, "stroke-width": width});
    }
    path(g.frac.map(yF), colFrac, 1.5);
    path(p.acc.map(yA), colAcc, 2.2);
    if (p.point) {
      el("line", {x1: x(p.point.threshold), x2: x(p.point.threshold), y1: T, y2: H - B, stroke: "#000", "stroke-width": 0.8});
      el("circle", {cx: x(p.point.threshold), cy: yA(p.point.accuracy), r: 5, fill: "#000"});
    }
    el("text", {x: L, y: T - 10, "font-size": 13, "font-weight": "bold"}, l + " \u2192 " + b + " on " + D.dataset);
    var items = [[colAcc, "cascade top-1 (left)", ""], [colFrac, "sent to big (right)", ""],
                 [colBig, b + " alone " + fmt(ba, 2) + " %", "6 4"], [colLittle, l + " alone " + fmt(la, 2) + " %", "2 3"]];
    items.forEach(function (it, i) {
      var xx = L + (i % 2) * 300, yy = H - 22 + Math.floor(i / 2) * 16;
      el("line", {x1: xx, x2: xx + 24, y1: yy - 4, y2: yy - 4, stroke: it[0], "stroke-width": 2, "stroke-dasharray": it[2]});
      el("text", {x: xx + 30, y: yy, "font-size": 12}, it[1]);
    });
    var s = l + " \u2192 " + b + ": ";
    if (p.degenerate) {
      s += "degenerate pair: " + l + " alone (" + fmt(la, 2) + " %) is already at least as accurate as " + b + " (" + fmt(ba, 2) + " %), so T = 0 (no cascade) is the no-loss point.";
    } else if (!p.point) {
      s += "no threshold reaches " + b + "'s accuracy (" + fmt(ba, 2) + " %).";
    } else {
      var q = p.point;
      s += "no loss at T = " + fmt(q.threshold, 3) + ": " + fmt(q.accuracy, 3) + " % top-1 (" + b + " alone " + fmt(ba, 3) + " %), "
        + fmt(100 * q.frac_big, 2) + " % of images sent to big, " + fmt(q.gmacs, 3) + " GMACs per image instead of "
        + fmt(byName[b].gmacs, 3) + ": " + (q.macs_reduction > 0 ? fmt(q.macs_reduction, 1) + " % fewer MACs."
        : fmt(-q.macs_reduction, 1) + " % more MACs than " + b + " alone: no loss-free speed-up for this pair.");
    }
    summary.textContent = s;
  }
  selL.value = "__LITTLE__"; fillBig("__BIG__");
  selL.addEventListener("change", function () { fillBig(selB.value); draw(); });
  selB.addEventListener("change", draw);
  draw();
})();
</script>
</div>"""


def explorer_html(data: dict, little: str | None = None, big: str | None = None,
                  element_id: str = "littlebig-explorer") -> str:
    """Self-contained HTML (JSON + vanilla JS + inline SVG) for `explorer_data` output.

    `little` / `big` choose the pair shown first (default: the first pair). No external
    resource is referenced.
    """
    if little is None or big is None:
        little, big = next(iter(data["pairs"])).split("|")
    if f"{little}|{big}" not in data["pairs"]:
        raise KeyError(f"no pair {little} -> {big} in the explorer data (little must be cheaper)")
    payload = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return (_TEMPLATE.replace("__ID__", element_id).replace("__LITTLE__", little)
            .replace("__BIG__", big).replace("__DATA__", payload))
