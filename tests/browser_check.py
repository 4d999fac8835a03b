"""Open every page of the built book in headless Chromium, served from localhost.

Checks what a reader would notice offline, at a desktop (1400 px) and a phone (390 px) width:
console errors, images that do not load, internal links that lead nowhere, any request that
would leave the machine (all are blocked and reported), page-level horizontal overflow on the
phone, table cells without padding, raw LaTeX (``\\(``) outside typeset math (also in the
page title), traceback/exception text in outputs, absolute paths of the build machine, image
alt text that is missing or a file path, and explorer numbers that disagree with its data or
with the pair table. Saves a full-page screenshot of each page at each width
(``<page>__w1400.png``, ``<page>__w390.png``).

    python tests/browser_check.py book/_build/html [screenshots_dir] [pairs.csv]
"""
from __future__ import annotations

import functools
import http.server
import json
import math
import shutil
import socketserver
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

WIDTHS = (1400, 390)
MIN_PADDING_PX = 4.0

# Layout and text checks run inside the page; each returns a list of problem strings.
# `root`: the article when the theme has one (navigation chrome is checked only for raw LaTeX).
PAGE_CHECKS_JS = r"""
(width) => {
  const out = [];
  const doc = document.documentElement;
  const root = document.querySelector("article, main, [role=main]") || document.body;
  if (width <= 500 && doc.scrollWidth > doc.clientWidth + 1)
    out.push(`page scrolls sideways at ${width} px: content is ${doc.scrollWidth} px wide`);
  const cells = Array.from(root.querySelectorAll("table td, table th"));
  let tight = 0, example = "";
  for (const c of cells) {
    const st = getComputedStyle(c);
    const l = parseFloat(st.paddingLeft), r = parseFloat(st.paddingRight);
    if (Math.min(l, r) < %(MIN_PAD)s) { tight++; if (!example) example = (c.textContent || "").trim().slice(0, 30); }
  }
  if (tight) out.push(`${tight} table cells with less than %(MIN_PAD)s px horizontal padding (e.g. "${example}")`);
  // raw LaTeX: text outside typeset math, code and scripts (whole body: sidebar, prev/next too)
  const skip = "mjx-container, .MathJax, script, style, pre, code, textarea, .math";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = new Set();
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const t = n.nodeValue;
    if ((t.includes("\\(") || t.includes("\\[")) && !(n.parentElement && n.parentElement.closest(skip)))
      raw.add(t.trim().slice(0, 60));
  }
  if (document.title.includes("\\(") || document.title.includes("$"))
    out.push(`raw LaTeX in the page title: "${document.title}"`);
  for (const t of raw) out.push(`raw LaTeX outside math: "${t}"`);
  // tracebacks and exceptions: anywhere outside code *inputs*; "XxxError:" in outputs
  const inputs = Array.from(document.querySelectorAll(".cell_input, .highlight-python, .highlight-ipython3"));
  const clone = root.cloneNode(true);
  clone.querySelectorAll(".cell_input, .highlight-python, .highlight-ipython3, script, style").forEach(e => e.remove());
  const text = clone.textContent || "";
  if (/Traceback \(most recent call last\)/.test(text)) out.push("a Python traceback is shown");
  for (const o of root.querySelectorAll(".cell_output, .output")) {
    const m = (o.textContent || "").match(/\b\w*(Error|Exception|Warning):/);
    if (m) { out.push(`exception/warning text in an output: "${m[0]}"`); break; }
  }
  const paths = (document.body.innerText || "").match(/(\/work\/|\/root\/|\/home\/)[^\s"'<>]*/g);
  if (paths) out.push(`absolute path of the build machine: ${paths[0]}`);
  // alt text: present and descriptive, not a file name or path
  for (const img of root.querySelectorAll("img")) {
    const alt = (img.getAttribute("alt") || "").trim();
    if (!alt || /\.(png|svg|jpe?g|gif|pdf|webp)$/i.test(alt) || /^[\w.\-]*\/[\w.\/\-]*$/.test(alt)
        || alt.split(/\s+/).length < 3)
      out.push(`image without descriptive alt text: ${JSON.stringify(alt || img.getAttribute("src"))}`);
  }
  return out;
}
""".replace("%(MIN_PAD)s", str(MIN_PADDING_PX))

# The explorer (littlebig_utils.book.explorer): the displayed pair, its embedded no-loss point and
# the sentence under the plot. Returns [] when the page has no explorer.
EXPLORER_JS = r"""
() => Array.from(document.querySelectorAll(".lb-explorer")).map(root => {
  const data = JSON.parse(root.querySelector(".lb-data").textContent);
  const little = root.querySelector(".lb-little").value, big = root.querySelector(".lb-big").value;
  const pair = data.pairs[little + "|" + big] || null;
  return {little, big, point: pair && pair.point, degenerate: pair && pair.degenerate,
          summary: root.querySelector(".lb-summary").textContent};
})
"""

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # the browser drops connections it no longer needs (e.g. when a page closes)
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def serve(root: Path):
    handler = functools.partial(_Quiet, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _explorer_problems(explorers: list[dict], pairs_csv: Path | None) -> list[str]:
    """The sentence under the explorer states the embedded no-loss point of the displayed pair,
    and that point equals the pair table's row (when a pair table is given)."""
    found = []
    table = None
    if pairs_csv is not None:
        import pandas as pd
        table = pd.read_csv(pairs_csv).set_index(["little", "big"])
    for ex in explorers:
        name = f"{ex['little']} -> {ex['big']}"
        point = ex["point"]
        if point is not None:
            for key, scale, digits in (("threshold", 1, 3), ("accuracy", 1, 3), ("frac_big", 100, 2),
                                       ("gmacs", 1, 3)):
                shown = f"{scale * point[key]:.{digits}f}"
                if shown not in ex["summary"]:
                    found.append(f"explorer {name}: {key} {shown} of its data is not in the text "
                                 f"under the plot: {ex['summary']!r}")
        if table is None:
            continue
        if (ex["little"], ex["big"]) not in table.index:
            found.append(f"explorer {name}: pair not in the pair table {pairs_csv.name}")
            continue
        row = table.loc[(ex["little"], ex["big"])]
        if point is None:
            if not math.isnan(float(row["threshold"])):
                found.append(f"explorer {name}: no operating point, the pair table has "
                             f"T = {row['threshold']}")
            continue
        for key in ("threshold", "accuracy", "frac_big", "gmacs", "macs_reduction"):
            if not abs(float(row[key]) - float(point[key])) <= 1e-5 * max(1.0, abs(float(row[key]))):
                found.append(f"explorer {name}: {key} {point[key]} differs from the pair table's "
                             f"{row[key]}")
    return found


def check_site(root: Path, screenshots: Path | None = None, widths=WIDTHS,
               pairs_csv: Path | None = None, pages=None) -> dict:
    """Problems per page: {'page.html': ['...', ...]} (empty lists mean the page is clean).

    Every page is opened at each of `widths` (px); problems found at a width other than the
    first are prefixed with it. `pairs_csv`: the pair table the explorer must agree with.
    `pages`: only these pages (paths relative to `root`; default all).
    """
    from playwright.sync_api import sync_playwright

    root = Path(root)
    all_pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                   if not p.relative_to(root).parts[0].startswith(("_", "mathjax")))
    if pages is not None:
        pages = [p for p in all_pages if p in set(pages)]
    else:
        pages = all_pages
    server, base = serve(root)
    host = urlparse(base).netloc
    problems: dict[str, list[str]] = {p: [] for p in pages}
    link_status: dict[str, int] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            for width in widths:
                context = browser.new_context(viewport={"width": width, "height": 900})
                for page_path in pages:
                    found: list[str] = []
                    page = context.new_page()

                    def block_external(route, found=found):
                        url = route.request.url
                        if urlparse(url).netloc != host and not url.startswith(("data:", "blob:")):
                            found.append(f"request leaves localhost: {url}")
                            return route.abort()
                        return route.continue_()

                    page.route("**/*", block_external)
                    page.on("console", lambda m, found=found: m.type == "error" and found.append(
                        f"console error: {m.text}"))
                    page.on("pageerror", lambda e, found=found: found.append(f"page error: {e}"))
                    page.on("response", lambda r, found=found: r.status >= 400 and found.append(
                        f"HTTP {r.status}: {r.url}"))
                    page.goto(f"{base}/{page_path}", wait_until="networkidle")
                    # MathJax typesets asynchronously: wait until it reports being done (if present)
                    page.wait_for_function(
                        "() => !window.MathJax || !MathJax.startup || !MathJax.startup.promise"
                        " || MathJax.startup.promise.then(() => true)", timeout=15000)
                    broken = page.eval_on_selector_all(
                        "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0))"
                               ".map(e => e.getAttribute('src'))")
                    found += [f"image does not load: {src}" for src in broken]
                    if width == widths[0]:  # links do not depend on the width
                        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
                        for href in hrefs:
                            url, _ = urldefrag(href)
                            if urlparse(url).netloc != host:
                                continue  # external links are allowed as links, not as requests
                            if url not in link_status:
                                try:
                                    with urllib.request.urlopen(url) as r:
                                        link_status[url] = r.status
                                except urllib.error.HTTPError as e:
                                    link_status[url] = e.code
                            if link_status[url] >= 400:
                                found.append(f"internal link {link_status[url]}: {href}")
                        found += _explorer_problems(page.evaluate(EXPLORER_JS),
                                                    None if pairs_csv is None else Path(pairs_csv))
                    found += page.evaluate(PAGE_CHECKS_JS, width)
                    if screenshots is not None:
                        out = Path(screenshots) / (page_path.replace("/", "__")[:-5] + f"__w{width}.png")
                        out.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(out), full_page=True)
                    prefix = "" if width == widths[0] else f"[{width} px] "
                    problems[page_path] += [prefix + f for f in dict.fromkeys(found)
                                            if f not in problems[page_path]]
                    page.close()
                context.close()
            browser.close()
    finally:
        server.shutdown()
    return problems


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "book/_build/html")
    shots = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("results/screenshots")
    table = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    result = check_site(site, shots, pairs_csv=table)
    bad = {p: v for p, v in result.items() if v}
    for p, v in result.items():
        print(f"{'FAIL' if v else 'ok  '} {p}")
        for line in v:
            print(f"       {line}")
    print(f"{len(result)} pages, {len(bad)} with problems; screenshots in {shots}")
    sys.exit(1 if bad else 0)
