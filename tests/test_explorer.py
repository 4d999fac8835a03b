"""The explorer page: package data, every substitution escaped (a model name cannot inject script)."""
import json
from html.parser import HTMLParser

import numpy as np
import pytest

from littlebig_utils import cascade, explorer
from littlebig_utils.predictions import Predictions

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
    pairs = cascade.pairs_table(recs, {k: p.model["gmacs"] for k, p in recs.items()})
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
