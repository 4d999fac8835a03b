"""Open every page of the built book in headless Chromium, served from localhost.

Checks what a reader would notice offline, at a desktop (1400 px) and a phone (390 px) width:
console errors, images that do not load, internal links that lead nowhere, any request that
would leave the machine (all are blocked and reported), page-level horizontal overflow on the
phone, table cells without padding, raw LaTeX (``\\(``) outside typeset math (also in the
page title), traceback/exception text in outputs, absolute paths of the build machine, image
alt text that is missing or a file path, and explorer numbers that disagree with its data or
with the pair table. Saves a full-page screenshot of each page at each width
(``<page>__w1400.png``, ``<page>__w390.png``).

What the reader of issue 19 met, measured (`LAYOUT_JS`, `TEXT_JS`):

- at the desktop width, no table, caption or code block in the content column wider than its
  box (a table whose scroll box scrolls, a code line that needs scrolling); at every width no
  caption clipped and none inside a scroll box;
- no ``<function``, ``<locals>`` or float with more than 6 decimals in the page text (code
  inputs aside), no image alt text shown as page text;
- every figure (image, explorer) and every table numbered, no doubled numbering ("16.1. 1.");
  every figure opens full size (a link to the image, or the book's lightbox);
- in an "Exercises" section, no cell output in plain view (only inside collapsed solutions);
- every verdict admonition names its claim (``claim-<id>`` class, `littlebig_utils.book.claims`)
  and one claim shows one verdict on every page (`verdict_problems`, across pages).

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
DESKTOP_MIN_PX = 1000  # widths from here on get the "nothing wider than its box" checks

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

# Layout: tables, captions and code blocks that do not fit the box they are shown in.
# A "box" is the nearest ancestor inside the article that clips sideways (overflow-x not
# visible: a scroll box), else the article itself.
LAYOUT_JS = r"""
(args) => {
  const [width, desktop] = args;
  const out = [];
  const root = document.querySelector(".bd-article, article, main, [role=main]") || document.body;
  const clips = (e) => { const o = getComputedStyle(e).overflowX; return o !== "visible" && o !== "clip" ? o : ""; };
  const scrollBox = (e) => {
    for (let a = e.parentElement; a && a !== root && root.contains(a); a = a.parentElement)
      if (clips(a)) return a;
    return null;
  };
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const label = (e) => {
    const cap = e.querySelector && e.querySelector("caption, figcaption, .caption-number");
    const t = ((cap || e).textContent || "").replace(/\s+/g, " ").trim();
    return t.slice(0, 50);
  };
  const rootRect = root.getBoundingClientRect();
  const skip = ".highlighttable, .lb-explorer, .lb-lightbox, mjx-container";
  if (desktop) {
    for (const t of root.querySelectorAll("table")) {
      if (t.closest(skip) || !shown(t)) continue;
      const box = scrollBox(t);
      const tw = Math.ceil(t.getBoundingClientRect().width);
      if (box && box.scrollWidth > box.clientWidth + 1)
        out.push(`table wider than its box at ${width} px (${tw} px in ${box.clientWidth} px, the rest scrolls out of view): "${label(t)}"`);
      else if (!box && t.getBoundingClientRect().right > rootRect.right + 1)
        out.push(`table wider than the content column at ${width} px (${tw} px, column ${Math.round(rootRect.width)} px): "${label(t)}"`);
    }
    for (const pre of root.querySelectorAll("pre")) {
      if (pre.closest(".lb-lightbox") || !shown(pre)) continue;
      const boxes = [pre, pre.parentElement, scrollBox(pre)].filter(Boolean);
      const cut = boxes.find(b => clips(b) && b.scrollWidth > b.clientWidth + 1);
      if (cut || pre.getBoundingClientRect().right > rootRect.right + 1) {
        const line = (pre.textContent || "").split("\n").sort((a, b) => b.length - a.length)[0] || "";
        out.push(`code line cut at ${width} px: "${line.trim().slice(0, 60)}"`);
      }
    }
  }
  // captions: never clipped (at any width) and never inside a scroll box
  for (const c of root.querySelectorAll("caption, figcaption, .lb-table-caption")) {
    if (!shown(c)) continue;
    const box = scrollBox(c);
    const r = c.getBoundingClientRect();
    const b = (box || root).getBoundingClientRect();
    const text = (c.textContent || "").replace(/\s+/g, " ").trim().slice(0, 50);
    if (r.right > b.right + 1 || r.left < b.left - 1 || c.scrollWidth > c.clientWidth + 1)
      out.push(`caption clipped at ${width} px (${Math.round(r.width)} px wide in a ${Math.round(b.width)} px box): "${text}"`);
    else if (box && box.scrollWidth > box.clientWidth + 1)
      out.push(`caption inside a scroll box at ${width} px: "${text}"`);
  }
  return out;
}
"""

# Text and structure: raw reprs, unrounded floats, alt text as page text, numbering, figures that
# open full size, exercise outputs outside the solutions, verdict markers. Returns
# {problems: [...], verdicts: [{claim, slug, title}]}.
TEXT_JS = r"""
() => {
  const out = [];
  const root = document.querySelector(".bd-article, article, main, [role=main]") || document.body;
  // shown: rendered, and not inside a collapsed <details> (whose content keeps its boxes)
  const shown = (e) => (e.checkVisibility ? e.checkVisibility({visibilityProperty: true})
                                          : e.getClientRects().length > 0)
                       && !e.closest("details:not([open]) > :not(summary)");
  const norm = (t) => (t || "").replace(/\s+/g, " ").trim();
  // page text without code inputs, scripts and styles
  const clone = root.cloneNode(true);
  clone.querySelectorAll(".cell_input, script, style, .lb-lightbox, mjx-container").forEach(e => e.remove());
  const text = norm(clone.textContent);
  for (const raw of ["<function", "<locals>", "<bound method", " object at 0x"]) {
    const i = text.indexOf(raw);
    if (i >= 0) out.push(`raw Python repr in the page text: "${text.slice(Math.max(0, i - 20), i + 40)}"`);
  }
  const floats = text.match(/(^|[^\w.])-?\d+\.\d{7,}(?![\d])/g);
  if (floats) out.push(`unrounded float in the page text (more than 6 decimals): ${floats[0].trim()}` +
                       (floats.length > 1 ? ` and ${floats.length - 1} more` : ""));
  // alt text shown as text: a descriptive alt (4+ words) that also appears in the page text
  const seen = new Set();
  for (const img of root.querySelectorAll("img[alt]")) {
    const alt = norm(img.getAttribute("alt"));
    if (alt.split(" ").length >= 4 && text.includes(alt) && !seen.has(alt)) {
      seen.add(alt);
      out.push(`alt text shown as page text (it belongs only in alt): "${alt.slice(0, 60)}"`);
    }
  }
  // numbering: every figure (image, explorer) and every table
  const numbered = (e) => !!(e && e.querySelector(":scope > figcaption .caption-number, :scope > caption .caption-number"));
  const captionOf = (t) => {
    const id = t.getAttribute("aria-labelledby");
    return (id && document.getElementById(id)) || t.querySelector(":scope > caption");
  };
  for (const img of root.querySelectorAll("img")) {
    if (img.closest(".lb-lightbox")) continue;
    const fig = img.closest("figure");
    if (!numbered(fig)) out.push(`figure without a number: ${JSON.stringify(norm(img.getAttribute("alt")).slice(0, 50) || img.getAttribute("src"))}`);
    if (!img.closest("a[href]") && !img.hasAttribute("data-lb-zoom"))
      out.push(`figure that does not open full size: ${JSON.stringify(img.getAttribute("src"))}`);
  }
  for (const ex of root.querySelectorAll(".lb-explorer"))
    if (!numbered(ex.closest("figure"))) out.push("the explorer has no figure number");
  for (const t of root.querySelectorAll("table")) {
    if (t.closest(".highlighttable, .lb-explorer, .lb-lightbox")) continue;
    const cap = captionOf(t);
    if (!(cap && cap.querySelector(".caption-number")) && !numbered(t.closest("figure")))
      out.push(`table without a number: "${norm(t.textContent).slice(0, 50)}"`);
  }
  for (const n of root.querySelectorAll(".caption-number")) {
    const rest = n.nextElementSibling ? norm(n.nextElementSibling.textContent) : "";
    if (/^\d+(\.\d+)*[.)]\s/.test(rest)) out.push(`doubled numbering: "${norm(n.textContent)} ${rest.slice(0, 20)}"`);
  }
  // exercises: outputs only inside collapsed solutions
  for (const sec of root.querySelectorAll("section")) {
    const h = sec.querySelector(":scope > h1, :scope > h2, :scope > h3, :scope > h4");
    if (!h || !/^(\d+(\.\d+)*\.?\s*)?Exercises?\b/i.test(norm(h.textContent))) continue;
    for (const o of sec.querySelectorAll(".cell_output")) {
      if (shown(o) && (norm(o.textContent) || o.querySelector("img, svg, table")))
        out.push(`exercise output in plain view (outside a collapsed solution): "${norm(o.textContent).slice(0, 50)}"`);
    }
  }
  // verdicts: every verdict admonition names its claim
  const verdicts = [];
  for (const v of root.querySelectorAll(".admonition, .lb-verdict")) {
    const title = v.querySelector(".admonition-title");
    const isVerdict = v.classList.contains("lb-verdict") || (title && /^Verdict\b/.test(norm(title.textContent)));
    if (!isVerdict) continue;
    const cls = Array.from(v.classList);
    const claim = (cls.find(c => c.startsWith("claim-")) || "").slice(6);
    const slug = (cls.find(c => c.startsWith("verdict-")) || "").slice(8);
    const shownText = norm(title ? title.textContent : v.textContent);
    if (!claim) out.push(`verdict without a claim id (render it with littlebig_utils.book.claims): "${shownText.slice(0, 50)}"`);
    else verdicts.push({claim, slug, title: shownText});
  }
  return {problems: out, verdicts};
}
"""

_LABEL_SLUGS = {"reproduced": "Reproduced", "partly-reproduced": "Partly reproduced",
                "not-reproduced": "Not reproduced", "inconclusive": "Inconclusive",
                "not-testable-here": "Not testable here", "verified-ours": "Verified (ours)",
                "not-verified-ours": "Not verified (ours)"}


def verdict_problems(found: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Across pages: one claim, one verdict. `found`: page -> [{claim, slug, title}] (TEXT_JS).
    A verdict whose label marker and visible text disagree is flagged on its page; a claim with
    two labels is flagged on every page that shows it, naming the others."""
    out: dict[str, list[str]] = {p: [] for p in found}
    labels: dict[str, dict[str, set]] = {}
    for page, items in found.items():
        for v in items:
            name = _LABEL_SLUGS.get(v["slug"])
            shown = v["title"].removeprefix("Verdict:").strip()
            if name is None or shown != name:
                out[page].append(f"claim {v['claim']}: verdict marker {v['slug']!r} disagrees "
                                 f"with the text shown: {v['title']!r}")
            labels.setdefault(v["claim"], {}).setdefault(name or v["slug"], set()).add(page)
    for claim, by_label in labels.items():
        if len(by_label) < 2:
            continue
        for label, pages in by_label.items():
            others = "; ".join(f"{other} on {', '.join(sorted(ps))}"
                               for other, ps in sorted(by_label.items()) if other != label)
            for page in pages:
                out[page].append(f"claim {claim}: {label} here, but {others}")
    return out


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
    verdicts: dict[str, list[dict]] = {p: [] for p in pages}
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
                    found += page.evaluate(LAYOUT_JS, [width, width >= DESKTOP_MIN_PX])
                    if width == widths[0]:  # text and structure do not depend on the width
                        text = page.evaluate(TEXT_JS)
                        found += text["problems"]
                        verdicts[page_path] = text["verdicts"]
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
    for page_path, found in verdict_problems(verdicts).items():
        problems[page_path] += found
    return problems


def report(problems: dict) -> str:
    """The problems as a readable list: one block per failing page, one line per problem."""
    lines = []
    for page, found in problems.items():
        if found:
            lines.append(f"{page}: {len(found)} problem(s)")
            lines += [f"    {f}" for f in found]
    return "\n".join(lines)


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
