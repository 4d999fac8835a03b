"""The explorer page: package data, every substitution escaped (a model name cannot inject script)."""
import json
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from littlebig_utils.core import pairs as pt
from littlebig_utils.book import explorer
from littlebig_utils.core.predictions import Predictions

EVIL = "</script><script>alert(1)</script><!--"


class Scripts(HTMLParser):
    """The <script> elements of a page as the browser's tokenizer splits them."""

    def __init__(self):
        super().__init__()
        self.scripts, self.ids, self._in = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "script":
            self._in = [attrs.get("class"), ""]

    def handle_data(self, data):
        if self._in is not None:
            self._in[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._in is not None:
            self.scripts.append(tuple(self._in))
            self._in = None


def records(names, n=400, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    out = {}
    for k, name in enumerate(names):
        right = rng.random(n) < 0.5 + 0.2 * k
        preds = np.where(right, labels, (labels + 1) % 10)
        conf = np.clip(0.3 + 0.6 * right * rng.random(n) + 0.1 * rng.random(n), 0, 1).round(3)
        out[name] = Predictions(np.arange(n).astype(str), labels, preds, conf,
                                model={"name": name, "gmacs": 1.0 + 3 * k})
    return out


def page(names, element_id="x1"):
    recs = records(names)
    pairs = pt.pairs_table(recs, {k: p.model["gmacs"] for k, p in recs.items()})
    data = explorer.explorer_data(recs, pairs, n_points=20, dataset=EVIL)
    return data, explorer.explorer_html(data, names[0], names[-1], element_id=element_id)


@pytest.mark.parametrize("evil_at", [0, 1])
def test_a_hostile_model_name_cannot_break_out(evil_at):
    names = ["small", "large"]
    names[evil_at] = EVIL
    data, html = page(names, element_id='x"><script>alert(2)</script>')
    assert "alert(1)</script>" not in html and "<script>alert" not in html and "<!--" not in html
    parsed = Scripts()
    parsed.feed(html)
    assert [c for c, _ in parsed.scripts] == ["lb-data", "lb-config", None]  # no extra script
    assert json.loads(parsed.scripts[0][1]) == json.loads(json.dumps(data))
    assert json.loads(parsed.scripts[1][1]) == {"little": names[0], "big": names[-1]}
    assert parsed.ids == ['x"><script>alert(2)</script>']  # the attribute holds the id as given
    assert 'getElementById("x\\"\\u003e\\u003cscript\\u003ealert(2)' in parsed.scripts[2][1]


def test_placeholders_are_filled_once_and_all_of_them():
    # a value that looks like a placeholder is not substituted again
    assert explorer.render("a __X__ b __Y_ATTR__", X="__Y_ATTR__", Y_ATTR="<&>") == \
        'a "__Y_ATTR__" b &lt;&amp;&gt;'
    with pytest.raises(KeyError, match="__Z__"):
        explorer.render("__Z__")
    data, html = page(["__DATA__", "__CONFIG__"])
    assert "__" not in html.replace("__DATA__", "").replace("__CONFIG__", "")


def test_template_is_package_data():
    text = explorer.template("explorer.html")
    assert "__DATA__" in text and "__CONFIG__" in text and "<svg" in text


def test_grid_holds_every_no_loss_threshold_with_the_pair_tables_numbers():
    """The slider can stand exactly on a pair's no-loss point, and what it reads there
    (accuracy, share sent to big, little + share x big GMACs) is the pair table's row."""
    recs = records(["s", "m", "l"], n=400)
    gm = {k: p.model["gmacs"] for k, p in recs.items()}
    pairs = pt.pairs_table(recs, gm)
    data = explorer.explorer_data(recs, pairs, n_points=8)
    checked = 0
    for _, row in pairs.dropna(subset=["threshold"]).iterrows():
        grid = data["littles"][row["little"]]
        i = grid["t"].index(float(row["threshold"]))
        assert data["pairs"][f"{row['little']}|{row['big']}"]["acc"][i] == pytest.approx(100 * row["accuracy"], abs=5e-4)
        assert grid["frac"][i] == pytest.approx(row["frac_big"], abs=5e-6)
        assert gm[row["little"]] + grid["frac"][i] * gm[row["big"]] == pytest.approx(row["gmacs"], abs=1e-4)
        checked += 1
    assert checked >= 2
    assert all(np.all(np.diff(g["t"]) > 0) for g in data["littles"].values())


NODE_DOM = r"""
const [dataText, configText, script, width] = JSON.parse(require("fs").readFileSync(0, "utf8"));
function node(cls) {
  return {cls, children: [], attrs: {}, textContent: "", value: "", max: "", listeners: {},
    get firstChild() { return this.children[0] || null; },
    appendChild(c) { this.children.push(c); if (this.cls === "select" && this.value === "") this.value = c.value; return c; },
    removeChild(c) { this.children.splice(this.children.indexOf(c), 1); },
    setAttribute(k, v) { this.attrs[k] = v; },
    set innerHTML(v) { this.children = []; this.value = ""; },
    addEventListener(k, f) { this.listeners[k] = f; }};
}
const parts = {".lb-data": Object.assign(node(), {textContent: dataText}),
  ".lb-config": Object.assign(node(), {textContent: configText}),
  ".lb-little": node("select"), ".lb-big": node("select"), ".lb-plot": node(), ".lb-summary": node(),
  ".lb-t": node(), ".lb-t-value": node(), ".lb-readout": node()};
const root = {clientWidth: width, querySelector: (s) => parts[s]};
global.document = {getElementById: () => root, createElement: () => node(), createElementNS: () => node()};
global.window = {addEventListener() {}};
eval(script);
const out = {little: parts[".lb-little"].value, big: parts[".lb-big"].value, slider: parts[".lb-t"].value,
             summary: parts[".lb-summary"].textContent, readout: parts[".lb-readout"].textContent,
             viewBox: parts[".lb-plot"].attrs.viewBox, n_svg: parts[".lb-plot"].children.length};
parts[".lb-t"].value = "0"; parts[".lb-t"].listeners.input();
out.readout0 = parts[".lb-readout"].textContent;
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's script")
@pytest.mark.parametrize("width", [720, 360])
def test_page_script_opens_at_the_no_loss_point_and_reads_any_threshold(width):
    recs = records(["s", "m", "l"], n=400)
    gm = {k: p.model["gmacs"] for k, p in recs.items()}
    pairs = pt.pairs_table(recs, gm)
    row = pairs.dropna(subset=["threshold"]).iloc[0]
    data = explorer.explorer_data(recs, pairs, n_points=8)
    html = explorer.explorer_html(data, row["little"], row["big"])
    parsed = Scripts()
    parsed.feed(html)
    (_, d), (_, c), (_, js) = parsed.scripts
    r = subprocess.run(["node", "-e", NODE_DOM], input=json.dumps([d, c, js, width]),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert (out["little"], out["big"]) == (row["little"], row["big"]) and out["n_svg"] > 10
    # what the browser check reads: the no-loss point's numbers in the sentence under the plot
    for shown in (f"{row['threshold']:.3f}", f"{100 * row['accuracy']:.3f}", f"{100 * row['frac_big']:.2f}",
                  f"{row['gmacs']:.3f}"):
        assert shown in out["summary"]
    # the slider starts on that point: its readout shows the same accuracy, share and cost
    for shown in (f"{100 * row['accuracy']:.3f} %", f"{100 * row['frac_big']:.2f} %", f"cost {row['gmacs']:.3f} GMACs"):
        assert shown in out["readout"]
    # at T = 0 nothing goes to big: the little model's accuracy at its own cost
    little_acc = 100 * recs[row["little"]].accuracy
    assert f"top-1 {little_acc:.3f} %" in out["readout0"] and "0.00 % of images" in out["readout0"]
    assert f"cost {gm[row['little']]:.3f} GMACs" in out["readout0"]
    assert out["viewBox"] == ("0 0 400 380" if width < 520 else "0 0 720 400")


def test_page_has_a_threshold_slider_and_a_readout():
    _, html = page(["a", "b"])
    assert 'type="range" class="lb-t"' in html and 'class="lb-readout"' in html
    assert 'class="lb-summary"' in html  # the sentence the browser check compares
