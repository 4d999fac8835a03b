"""The browser check itself, on a tiny hand-made site: it must flag each defect it claims to
catch, and pass a clean page (fast: no book build)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser_check import check_site, find_chromium  # noqa: E402

from littlebig_utils.book import explorer  # noqa: E402

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (make browser)")

PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"
       "z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
HEAD = ("<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>{title}</title><style>td, th {{ padding: {pad}px; }}"
        ".wrap {{ overflow-x: auto; }}</style></head><body><main>")

GOOD = (HEAD.format(title="Threshold curves", pad=4) +
        "<h1>Curves</h1><p>The rule: <code>conf &lt; \\(T\\)</code> goes to big.</p>"
        "<div class='wrap'><table><tr><th>pair</th><th>x</th></tr>"
        + "<tr><td>mobilenetv3_large_100 → densenet161</td>" + "<td>86.66</td>" * 12 + "</tr>"
        "</table></div>"
        f"<img src='{PNG}' alt='Cascade accuracy against the threshold T for one pair'>"
        "<div class='cell_output'><pre>pair: a -&gt; b</pre></div></main></body></html>")

BAD = (HEAD.format(title="Choosing \\(T\\)", pad=1) +
       "<nav><a href='good.html'>Choosing \\(T\\) on held-out data</a></nav>"
       "<div style='width:800px'>a wide table without its own scroll box</div>"
       "<table><tr><td>77.1</td><td>77.3</td></tr></table>"
       f"<img src='{PNG}' alt='../_images/fig03.png'>"
       "<div class='cell_output'><pre>Traceback (most recent call last):\n"
       "ConnectionError: /work/shared/cache/x.npz</pre></div></main></body></html>")

DATA = {"dataset": "test", "models": [{"name": "a", "gmacs": 1.0, "accuracy": 70.0},
                                      {"name": "b", "gmacs": 4.0, "accuracy": 72.0}],
        "littles": {"a": {"t": [0.0, 0.5, 1.0], "frac": [0.0, 0.3, 1.0]}},
        "pairs": {"a|b": {"acc": [70.0, 72.1, 72.0], "degenerate": False,
                          "point": {"threshold": 0.5, "accuracy": 72.1, "frac_big": 0.3,
                                    "gmacs": 2.2, "macs_reduction": 45.0}}}}
PAIRS = ("little,big,threshold,accuracy,little_accuracy,big_accuracy,gmacs,little_gmacs,big_gmacs,"
         "macs_reduction,frac_big,degenerate\na,b,0.5,{acc},70.0,72.0,2.2,1.0,4.0,45.0,0.3,False\n")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    (root / "good.html").write_text(GOOD)
    (root / "bad.html").write_text(BAD)
    (root / "explorer.html").write_text(HEAD.format(title="Explorer", pad=4)
                                        + explorer.explorer_html(DATA, "a", "b")
                                        + "</main></body></html>")
    (root / "pairs_ok.csv").write_text(PAIRS.format(acc=72.1))
    (root / "pairs_bad.csv").write_text(PAIRS.format(acc=72.3))
    return root


@pytest.fixture(scope="module")
def checked(site, tmp_path_factory):
    shots = tmp_path_factory.mktemp("shots")
    return check_site(site, shots, pairs_csv=site / "pairs_ok.csv"), shots


def test_clean_pages_pass_and_screenshots_at_both_widths(checked):
    problems, tmp_path = checked
    assert problems["good.html"] == []
    assert problems["explorer.html"] == []
    shots = sorted(p.name for p in tmp_path.iterdir())
    assert "good__w1400.png" in shots and "good__w390.png" in shots and len(shots) == 6


def test_each_defect_is_flagged(checked):
    found = "\n".join(checked[0]["bad.html"])
    assert "page scrolls sideways at 390 px" in found
    assert "less than 4.0 px horizontal padding" in found
    assert 'raw LaTeX in the page title' in found
    assert 'raw LaTeX outside math: "Choosing \\(T\\) on held-out data"' in found
    assert "a Python traceback is shown" in found
    assert 'exception/warning text in an output: "ConnectionError:"' in found
    assert "absolute path of the build machine: /work/shared/cache/x.npz" in found
    assert 'image without descriptive alt text: "../_images/fig03.png"' in found


def test_explorer_must_equal_the_pair_table(site):
    found = check_site(site, widths=(1400,), pairs_csv=site / "pairs_bad.csv",
                       pages=["explorer.html"])["explorer.html"]
    assert found == ["explorer a -> b: accuracy 72.1 differs from the pair table's 72.3"]
