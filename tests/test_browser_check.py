"""The browser check itself, on a tiny hand-made site: it must flag each defect it claims to
catch, and pass a clean page (fast: no book build). The book's own chrome (book/_static) is
checked on a page laid out like the theme's: wide tables, captions and code lines fit."""
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from browser_check import check_site, find_chromium, report, verdict_problems  # noqa: E402

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
        "<div class='lb-table-caption' id='cap1'><span class='caption-number'>Table 1.1 </span>"
        "<span class='caption-text'>Pairs, caption outside the scroll box.</span></div>"
        "<div class='wrap'><table aria-labelledby='cap1'><tr><th>pair</th><th>x</th></tr>"
        + "<tr><td>mobilenetv3_large_100 → densenet161</td>" + "<td>86.66</td>" * 12 + "</tr>"
        "</table></div>"
        f"<figure><a href='{PNG}'><img src='{PNG}' alt='Cascade accuracy against the threshold T for one pair'></a>"
        "<figcaption><span class='caption-number'>Figure 1.1 </span><span class='caption-text'>"
        "Cascade accuracy (0.8690 at T = 0.5).</span></figcaption></figure>"
        "<div class='admonition lb-verdict verdict-partly-reproduced claim-lb-tab-a4'>"
        "<p class='admonition-title'>Verdict: Partly reproduced</p><p>Why.</p></div>"
        "<section><h2>Exercises</h2><p>1. Compute it.</p><details><summary>Solutions</summary>"
        "<div class='cell_output'><pre>T = 0.872</pre></div></details></section>"
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


WIDE = "".join(f"<th>column_{i}</th>" for i in range(30))
BAD2 = (HEAD.format(title="Layout", pad=4) +
        "<div class='wrap'><table><caption><span class='caption-number'>Table 2.1 </span>"
        "<span class='caption-text'>A wide table whose caption is inside its scroll box</span>"
        f"</caption><tr>{WIDE}</tr></table></div>"
        "<pre style='white-space: pre; overflow-x: auto'>result = "
        + "cascade.evaluate(little, big) + " * 12 + "0</pre>"
        "<p>METHODS = {'binomial': &lt;function _by_p_value.&lt;locals&gt;.reject&gt;}</p>"
        "<p>threshold_ = 0.8690557894670364, rounded 0.869</p>"
        "<figure><a href='x.png'><img src='" + PNG + "' alt='Scatter plot of savings against the gap'></a>"
        "<figcaption><span class='caption-number'>Figure 2.1 </span><span class='caption-text'>1. "
        "Savings.</span><p><strong>Scatter plot of savings against the gap</strong></p></figcaption></figure>"
        f"<img src='{PNG}' alt='A plain output image shown without a figure'>"
        "<table><tr><td>1</td><td>2</td></tr></table>"
        "<section><h2><span class='section-number'>9.5. </span>Exercises</h2>"
        "<div class='cell_output'><pre>1. T = 0.872: cascade 79.60 %</pre></div>"
        "<details><summary>Solutions</summary><div class='cell_output'><pre>hidden</pre></div></details></section>"
        "<div class='admonition lb-verdict verdict-reproduced'><p class='admonition-title'>Verdict: "
        "Reproduced</p></div>"
        "<div class='admonition lb-verdict verdict-reproduced claim-lb-heldout'><p class='admonition-title'>"
        "Verdict: Not reproduced</p></div>"
        "<table><caption><span class='caption-number'>Table 2.2 </span>Scoreboard</caption><tr>"
        "<td class='lb-verdict verdict-reproduced claim-lb-cifar'>Reproduced</td></tr></table>"
        "</main></body></html>")

# a page laid out like the theme's, with the book's own stylesheet and script
CHROME = ("<!doctype html><html><head><meta charset='utf-8'>"
          "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Chrome</title>"
          "<link rel='stylesheet' href='littlebig.css'><script src='littlebig.js'></script>"
          "<style>body { margin: 0; } .bd-article { max-width: 780px; margin: 0 auto; padding: 0 16px; }"
          "</style></head><body><main><article class='bd-article'><h1>Chrome</h1>"
          "<div class='pst-scrollable-table-container'><table class='table' id='tab-wide'><caption>"
          "<span class='caption-number'>Table 3.1 </span><span class='caption-text'>Ten columns of "
          "model names and numbers, as wide as a chapter's widest table.</span></caption><thead><tr>"
          + "".join(f"<th>column {i} (%)</th>" for i in range(10)) + "</tr></thead><tbody>"
          + ("<tr><td>mobilenetv3_large_100</td><td>resnext101_32x8d</td>"
             + "<td>86.66</td>" * 8 + "</tr>") * 4
          + "</tbody></table></div>"
          "<div class='highlight'><pre>records = {m: cached_predictions(m, dataset, limit=smoke_n "
            "if smoke else None) for m in models}  # a long line of code that must wrap</pre></div>"
          "<figure><img src='wide.png' alt='A wide figure that opens at full size on a tap'>"
          "<figcaption><span class='caption-number'>Figure 3.1 </span><span class='caption-text'>"
          "A figure (<code class='docutils literal'><span class='pre'>notebooks/tabA4_throughput_latency.ipynb</span></code>)."
          "</span></figcaption></figure></article></main></body></html>")


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    (root / "good.html").write_text(GOOD)
    (root / "bad.html").write_text(BAD)
    (root / "explorer.html").write_text(HEAD.format(title="Explorer", pad=4) + "<figure>"
                                        + explorer.explorer_html(DATA, "a", "b")
                                        + "<figcaption><span class='caption-number'>Figure 4.1 "
                                        "</span>Explorer.</figcaption></figure></main></body></html>")
    (root / "explorer_bare.html").write_text(HEAD.format(title="Explorer", pad=4)
                                             + explorer.explorer_html(DATA, "a", "b")
                                             + "</main></body></html>")
    (root / "bad2.html").write_text(BAD2)
    (root / "verdict_other.html").write_text(
        HEAD.format(title="Other", pad=4) + "<div class='admonition lb-verdict "
        "verdict-partly-reproduced claim-lb-cifar'><p class='admonition-title'>Verdict: Partly "
        "reproduced</p></div></main></body></html>")
    static = Path(__file__).parents[1] / "book" / "_static"
    for name in ("littlebig.css", "littlebig.js"):
        shutil.copy(static / name, root / name)
    (root / "wide.png").write_bytes(_png(1200, 500))
    (root / "chrome.html").write_text(CHROME)
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
    assert "good__w1400.png" in shots and "good__w390.png" in shots and len(shots) == 2 * len(problems)


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


def test_each_layout_text_and_structure_defect_is_flagged(checked):
    found = checked[0]["bad2.html"]
    text = "\n".join(found)
    assert "table wider than its box at 1400 px" in text
    assert "code line cut at 1400 px: \"result = cascade.evaluate(little, big)" in text
    assert 'caption clipped at 1400 px' in text and "[390 px] caption clipped at 390 px" in text
    assert "raw Python repr in the page text" in text and "<locals>" in text
    assert "unrounded float in the page text (more than 6 decimals): 0.8690557894670364" in text
    assert "0.869 " not in text  # six decimals or fewer are fine
    assert 'alt text shown as page text (it belongs only in alt): "Scatter plot of savings' in text
    assert 'figure without a number: "A plain output image shown without a figure"' in text
    assert "figure that does not open full size" in text  # the plain image, not the linked one
    assert sum("figure that does not open full size" in f for f in found) == 1
    assert 'table without a number: "12"' in text
    assert 'doubled numbering: "Figure 2.1 1. Savings.' in text
    assert 'exercise output in plain view (outside a collapsed solution): "1. T = 0.872' in text
    assert "hidden" not in text  # the collapsed solution's output is allowed
    assert 'verdict without a claim id (render it with littlebig_utils.book.claims): "Verdict: Reproduced"' in text
    assert "claim lb-heldout: verdict marker 'reproduced' disagrees with the text shown: " in text
    # good.html shows claim lb-cifar as Partly reproduced, bad2.html as Reproduced: both flagged
    assert "claim lb-cifar: Reproduced here, but Partly reproduced on verdict_other.html" in text
    assert checked[0]["verdict_other.html"] == [
        "claim lb-cifar: Partly reproduced here, but Reproduced on bad2.html"]
    assert checked[0]["explorer_bare.html"] == ["the explorer has no figure number"]


def test_one_claim_one_verdict_across_pages():
    found = {"a.html": [{"claim": "x", "slug": "reproduced", "title": "Verdict: Reproduced"}],
             "b.html": [{"claim": "x", "slug": "inconclusive", "title": "Inconclusive"}],
             "c.html": [{"claim": "x", "slug": "reproduced", "title": "Reproduced"},
                        {"claim": "y", "slug": "verified-ours", "title": "Verified (ours)"}]}
    out = verdict_problems(found)
    assert out["b.html"] == ["claim x: Inconclusive here, but Reproduced on a.html, c.html"]
    assert out["a.html"] == ["claim x: Reproduced here, but Inconclusive on b.html"]
    assert out["c.html"] == out["a.html"]
    assert verdict_problems({"a.html": found["a.html"], "c.html": found["c.html"]}) == {
        "a.html": [], "c.html": []}


def test_report_lists_failing_pages_only(checked):
    text = report(checked[0])
    assert text.startswith("bad.html: ") and "good.html" not in text
    assert "\n    caption clipped at 1400 px" in text


def test_the_books_chrome_fits_tables_captions_code_and_opens_figures(checked, site):
    """book/_static/littlebig.{css,js} on a theme-like page: a ten-column table, a long code line
    and a figure pass every check at 1400 and 390 px; the caption is lifted out of the scroll box,
    the table stacks into labelled cards on the phone, the figure opens at full size."""
    assert checked[0]["chrome.html"] == []
    from browser_check import CHROMIUM_ARGS, serve
    from playwright.sync_api import sync_playwright
    server, base = serve(site)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 390, "height": 800})
            page.goto(f"{base}/chrome.html", wait_until="networkidle")
            state = page.evaluate("""() => {
              const t = document.querySelector("table[aria-labelledby='tab-wide']");
              return {classes: t.className, caption: !!t.querySelector("caption"),
                      lifted: document.querySelector(".lb-table-caption .caption-number").textContent,
                      label: t.querySelector("td").getAttribute("data-label"),
                      before: getComputedStyle(t.querySelector("td"), "::before").content,
                      link: document.querySelector("figure a.lb-zoom").getAttribute("href")};
            }""")
            assert "lb-stack" in state["classes"] and not state["caption"]
            assert state["lifted"].strip() == "Table 3.1" and state["label"] == "column 0 (%)"
            assert page.evaluate("() => document.getElementById('tab-wide').className") == (
                "lb-table-caption caption ")  # links to the table land on its caption
            assert state["before"] == '"column 0 (%)"' and state["link"].endswith("wide.png")
            page.click("figure img")
            shown = page.evaluate("() => { const i = document.querySelector('.lb-lightbox img');"
                                  " return [i.naturalWidth, Math.round(i.getBoundingClientRect().width)]; }")
            assert shown == [1200, 1200]  # full size, the overlay scrolls
            page.keyboard.press("Escape")
            assert page.evaluate("() => document.querySelector('.lb-lightbox')") is None
            page.set_viewport_size({"width": 1400, "height": 900})
            page.wait_for_timeout(400)  # the resize handler re-fits after 150 ms
            wide = page.evaluate("() => document.querySelector('table.table').className")
            assert "lb-stack" not in wide
            browser.close()
    finally:
        server.shutdown()
