"""Open every page of the built book in headless Chromium, served from localhost.

Checks what a reader would notice offline: console errors, images that do not load, internal
links that lead nowhere, and any request that would leave the machine (all are blocked and
reported). Saves a full-page screenshot of each page.

    python tests/browser_check.py book/_build/html [screenshots_dir]
"""
from __future__ import annotations

import functools
import http.server
import shutil
import socketserver
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

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


def check_site(root: Path, screenshots: Path | None = None) -> dict:
    """Problems per page: {'page.html': ['...', ...]} (empty lists mean the page is clean)."""
    from playwright.sync_api import sync_playwright

    root = Path(root)
    pages = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                   if not p.relative_to(root).parts[0].startswith(("_", "mathjax")))
    server, base = serve(root)
    host = urlparse(base).netloc
    problems: dict[str, list[str]] = {}
    link_status: dict[str, int] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1200, "height": 900})
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
                if screenshots is not None:
                    out = Path(screenshots) / (page_path.replace("/", "__")[:-5] + ".png")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(out), full_page=True)
                problems[page_path] = found
                page.close()
            browser.close()
    finally:
        server.shutdown()
    return problems


if __name__ == "__main__":
    site = Path(sys.argv[1] if len(sys.argv) > 1 else "book/_build/html")
    shots = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("results/screenshots")
    result = check_site(site, shots)
    bad = {p: v for p, v in result.items() if v}
    for p, v in result.items():
        print(f"{'FAIL' if v else 'ok  '} {p}")
        for line in v:
            print(f"       {line}")
    print(f"{len(result)} pages, {len(bad)} with problems; screenshots in {shots}")
    sys.exit(1 if bad else 0)
